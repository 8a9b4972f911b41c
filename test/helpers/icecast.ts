// Integration harness: a real Icecast 2 (Debian's icecast2) on a random loopback port, ezstream as its source
// client, and re-exports of the fixtures, listeners and client runners. See test/integration/harness.test.ts.
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, httpGet, makeTempDir, removeTempDir, spawnTracked, waitFor, type Exit, type HttpResult, type Proc } from './procs.js'
import type { Track } from './fixtures.js'

export * from './fixtures.js'
export * from './listen.js'
export * from './clients.js'
export * from './tools.js'
export { freePort, httpGet, makeTempDir, sleep, waitFor } from './procs.js'

export const ICECAST_BIN = '/usr/bin/icecast2'

/** Which Icecast to run: Debian's icecast2, or another build that takes the same icecast.xml (icecast-kh). */
export interface IcecastServer {
  /** in error messages */
  name: string
  bin: string
  /** the directory with its web/ and admin/ files */
  share: string
  /** its stats in the shape of Debian's /status-json.xsl (`base`: http://127.0.0.1:port) */
  readStatus: (base: string, admin: { user: string, password: string }) => Promise<{ icestats: Record<string, unknown> }>
}

export const DEBIAN_ICECAST: IcecastServer = {
  name: 'icecast2',
  bin: ICECAST_BIN,
  share: '/usr/share/icecast2',
  async readStatus (base) {
    const r = await httpGet(`${base}/status-json.xsl`)
    if (r.status !== 200) throw new Error(`/status-json.xsl: HTTP ${r.status}`)
    return JSON.parse(r.body.toString('utf8'))
  }
}

export interface IcecastOptions {
  /** the loopback address it binds and names itself by (<hostname>, which kh's slaves register as); default 127.0.0.1 */
  host?: string
  /** default: a free port (retried if Icecast cannot bind it); give one to restart on the same port */
  port?: number
  /** <burst-size> in bytes (Icecast's default 65535) */
  burstSize?: number
  /** <burst-on-connect> (default true) */
  burstOnConnect?: boolean
  /** <queue-size> in bytes (default 524288) */
  queueSize?: number
  clients?: number
  sources?: number
  /** <source-timeout> seconds (default 10) */
  sourceTimeout?: number
  /** <header-timeout> seconds (default 15) */
  headerTimeout?: number
  /** <client-timeout> seconds (default 30) */
  clientTimeout?: number
  sourcePassword?: string
  adminUser?: string
  adminPassword?: string
  relayUser?: string
  relayPassword?: string
  /** <loglevel>: 1 error, 2 warn, 3 info (default), 4 debug */
  logLevel?: number
  /**
   * Raw XML inserted inside <icecast> (after the generated blocks): <mount>, <relay>, <master-server>,
   * <master-server-port>, <master-update-interval>, <master-password>, <relays-on-demand>, more
   * <listen-socket>s... A function gets the chosen port and the server's temp dir.
   */
  extraXml?: string | ((ctx: { port: number, dir: string }) => string)
  /** ms to wait for /status-json.xsl to answer (default 5000) */
  startTimeoutMs?: number
  /** <paths> <ssl-certificate>: a PEM file with the key and the certificate, for <listen-socket>s with <ssl>1</ssl> */
  sslCertificate?: string
}

export interface IcecastSource {
  listenurl: string
  mount: string
  title?: string
  artist?: string
  server_type?: string
  server_name?: string
  listeners?: number
  [k: string]: unknown
}

export interface Icecast {
  host: string
  port: number
  sourcePassword: string
  adminUser: string
  adminPassword: string
  relayUser: string
  relayPassword: string
  /** the temp dir with icecast.xml and the logs (removed by stop()) */
  dir: string
  configFile: string
  pid: number
  /** http://127.0.0.1:port + mount ('/x' or 'x') */
  url (mount: string): string
  /** error log + anything Icecast printed (kept after stop()) */
  logs (): string
  accessLog (): string
  /** parsed /status-json.xsl */
  status (): Promise<{ icestats: Record<string, unknown> }>
  /** live mounts from /status-json.xsl (Icecast gives an object for one, an array for several) */
  sources (): Promise<IcecastSource[]>
  /** waits until `mount` is listed (or, with gone: true, no longer listed); returns its entry */
  waitForMount (mount: string, opts?: { timeoutMs?: number, gone?: boolean }): Promise<IcecastSource | undefined>
  /** GET /admin/... with the admin credentials, e.g. admin('/admin/killsource?mount=/a.mp3') */
  admin (pathAndQuery: string): Promise<HttpResult>
  /** sets the title of an MP3 mount through /admin/metadata (mode=updinfo) */
  updateMetadata (mount: string, song: string): Promise<void>
  /** SIGTERM, then SIGKILL after graceMs (default 250: Icecast takes ~2 s to exit on SIGTERM) */
  stop (opts?: { signal?: NodeJS.Signals, graceMs?: number }): Promise<Exit>
  readonly exited: Promise<Exit>
}

const xmlEscape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')

const secret = (): string => randomBytes(9).toString('base64url')

const normMount = (mount: string): string => (mount.startsWith('/') ? mount : `/${mount}`)

function icecastXml (o: Required<Omit<IcecastOptions, 'extraXml' | 'startTimeoutMs' | 'port' | 'host' | 'sslCertificate'>> & { ssl: string, host: string, port: number, dir: string, extra: string, location: string, share: string }): string {
  const e = xmlEscape
  return `<?xml version="1.0"?>
<icecast>
  <location>${e(o.location)}</location>
  <admin>test@localhost</admin>
  <hostname>${e(o.host)}</hostname>
  <limits>
    <clients>${o.clients}</clients>
    <sources>${o.sources}</sources>
    <queue-size>${o.queueSize}</queue-size>
    <client-timeout>${o.clientTimeout}</client-timeout>
    <header-timeout>${o.headerTimeout}</header-timeout>
    <source-timeout>${o.sourceTimeout}</source-timeout>
    <burst-on-connect>${o.burstOnConnect ? 1 : 0}</burst-on-connect>
    <burst-size>${o.burstSize}</burst-size>
  </limits>
  <authentication>
    <source-password>${e(o.sourcePassword)}</source-password>
    <relay-user>${e(o.relayUser)}</relay-user>
    <relay-password>${e(o.relayPassword)}</relay-password>
    <admin-user>${e(o.adminUser)}</admin-user>
    <admin-password>${e(o.adminPassword)}</admin-password>
  </authentication>
  <listen-socket>
    <port>${o.port}</port>
    <bind-address>${e(o.host)}</bind-address>
  </listen-socket>
  <fileserve>1</fileserve>
  <paths>
    <basedir>${e(o.share)}</basedir>
    <logdir>${e(o.dir)}</logdir>
    <webroot>${e(o.share)}/web</webroot>
    <adminroot>${e(o.share)}/admin</adminroot>${o.ssl}
  </paths>
  <logging>
    <accesslog>access.log</accesslog>
    <errorlog>error.log</errorlog>
    <loglevel>${o.logLevel}</loglevel>
    <logsize>100000</logsize>
  </logging>
  <security>
    <chroot>0</chroot>
    <changeowner>
      <user>nobody</user>
      <group>nogroup</group>
    </changeowner>
  </security>
${o.extra}
</icecast>
`
}

const readOr = (file: string): string => { try { return readFileSync(file, 'utf8') } catch { return '' } }

/** Starts Debian's icecast2 on a loopback port; throws with its error log if it is not answering in time. */
export async function startIcecast (opts: IcecastOptions = {}): Promise<Icecast> {
  if (!existsSync(ICECAST_BIN)) throw new Error(`${ICECAST_BIN} is not installed (apt-get install icecast2)`)
  return await startIcecastServer(DEBIAN_ICECAST, opts)
}

/** Starts `server` on a loopback port, as nobody; throws with its error log if it is not answering in time. */
export async function startIcecastServer (server: IcecastServer, opts: IcecastOptions = {}): Promise<Icecast> {
  let lastError: Error | undefined
  for (let i = 0; i < 3; i++) {
    const port = opts.port ?? await freePort(opts.host)
    try {
      return await startOnce(server, opts, port)
    } catch (e) {
      lastError = e as Error
      // Another process took the port between freePort() and Icecast's bind: try another one. Debian's
      // Icecast 2.4.4 also crashes now and then right after it started (SIGSEGV seen): start it again.
      const portTaken = /listening socket|bind|address already in use/i.test(lastError.message)
      const crashed = /exited \(code null, signal SIG(SEGV|ABRT|BUS)\)/.test(lastError.message)
      if (!(crashed || (portTaken && opts.port === undefined))) break
    }
  }
  throw lastError ?? new Error('startIcecast failed')
}

async function startOnce (server: IcecastServer, opts: IcecastOptions, port: number): Promise<Icecast> {
  const host = opts.host ?? '127.0.0.1'
  const dir = makeTempDir('icecast')
  chmodSync(dir, 0o777) // Icecast drops to nobody:nogroup and then writes its logs here
  const cfg = {
    burstSize: opts.burstSize ?? 65535,
    burstOnConnect: opts.burstOnConnect ?? true,
    queueSize: opts.queueSize ?? 524288,
    clients: opts.clients ?? 500,
    sources: opts.sources ?? 100,
    sourceTimeout: opts.sourceTimeout ?? 10,
    headerTimeout: opts.headerTimeout ?? 15,
    clientTimeout: opts.clientTimeout ?? 30,
    sourcePassword: opts.sourcePassword ?? secret(),
    adminUser: opts.adminUser ?? 'admin',
    adminPassword: opts.adminPassword ?? secret(),
    relayUser: opts.relayUser ?? 'relay',
    relayPassword: opts.relayPassword ?? secret(),
    logLevel: opts.logLevel ?? 3
  }
  const extra = typeof opts.extraXml === 'function' ? opts.extraXml({ port, dir }) : (opts.extraXml ?? '')
  const configFile = join(dir, 'icecast.xml')
  // a unique <location> tells our server from another one answering on the same port
  const location = `test ${randomBytes(6).toString('hex')}`
  const ssl = opts.sslCertificate === undefined ? '' : `\n    <ssl-certificate>${xmlEscape(opts.sslCertificate)}</ssl-certificate>`
  writeFileSync(configFile, icecastXml({ ...cfg, host, port, dir, extra, location, share: server.share, ssl }))
  chmodSync(configFile, 0o644)

  const proc: Proc = spawnTracked(server.bin, ['-c', configFile], { cwd: dir })
  const errorLog = join(dir, 'error.log')
  const accessLogFile = join(dir, 'access.log')
  let finalLogs: { error: string, access: string } | undefined
  const logs = (): string => {
    const err = finalLogs?.error ?? readOr(errorLog)
    const out = proc.output()
    return out ? `${err}\n--- ${server.name} output ---\n${out}` : err
  }
  const base = `http://${host}:${port}`
  const url = (mount: string): string => base + normMount(mount)

  const adminAuth = { user: cfg.adminUser, password: cfg.adminPassword }
  const status = async (): Promise<{ icestats: Record<string, unknown> }> => await server.readStatus(base, adminAuth)
  const sources = async (): Promise<IcecastSource[]> => {
    const s = (await status()).icestats.source
    const list = (s === undefined ? [] : Array.isArray(s) ? s : [s]) as IcecastSource[]
    for (const x of list) x.mount = new URL(x.listenurl).pathname
    return list
  }

  const abort = new AbortController()
  const ready = waitFor(async () => (await status()).icestats.location === location, {
    timeoutMs: opts.startTimeoutMs ?? 5000,
    message: `${server.name} on port ${port} to answer with its stats`,
    signal: abort.signal
  })
  const died = proc.onExit.then((x) => { throw new Error(`${server.name} exited (code ${x.code}, signal ${x.signal})`) })
  ready.catch(() => {})
  died.catch(() => {})
  try {
    await Promise.race([ready, died])
  } catch (e) {
    abort.abort()
    await proc.stop({ signal: 'SIGKILL' })
    const text = `${(e as Error).message}\n--- ${server.name} error log (${configFile}) ---\n${logs()}`
    removeTempDir(dir)
    throw new Error(text)
  }

  const admin = async (pathAndQuery: string): Promise<HttpResult> => await httpGet(base + pathAndQuery, { auth: adminAuth })

  return {
    host,
    port,
    sourcePassword: cfg.sourcePassword,
    adminUser: cfg.adminUser,
    adminPassword: cfg.adminPassword,
    relayUser: cfg.relayUser,
    relayPassword: cfg.relayPassword,
    dir,
    configFile,
    pid: proc.pid,
    url,
    logs,
    accessLog: () => finalLogs?.access ?? readOr(accessLogFile),
    status,
    sources,
    async waitForMount (mount, { timeoutMs = 5000, gone = false } = {}) {
      const m = normMount(mount)
      let entry: IcecastSource | undefined
      await waitFor(async () => {
        entry = (await sources()).find((s) => s.mount === m)
        return gone ? entry === undefined : entry !== undefined
      }, { timeoutMs, message: () => `mount ${m} to ${gone ? 'disappear' : 'appear'} on Icecast :${port}\n${logs()}` })
      return entry
    },
    admin,
    async updateMetadata (mount, song) {
      const q = new URLSearchParams({ mount: normMount(mount), mode: 'updinfo', song })
      const r = await admin(`/admin/metadata?${q}`)
      if (r.status !== 200) throw new Error(`/admin/metadata: HTTP ${r.status}: ${r.body.toString()}`)
    },
    async stop ({ signal = 'SIGTERM', graceMs = 250 } = {}) {
      const r = await proc.stop({ signal, graceMs })
      if (finalLogs === undefined) {
        finalLogs = { error: readOr(errorLog), access: readOr(accessLogFile) }
        removeTempDir(dir)
      }
      return r
    },
    get exited () { return proc.exited }
  }
}

export interface SourceOptions {
  /** an Icecast from startIcecast(), or any server taking Icecast source connections */
  icecast: Pick<Icecast, 'host' | 'port' | 'sourcePassword'> & Partial<Pick<Icecast, 'waitForMount'>>
  mount: string
  /** played in order */
  files: Array<string | Track>
  /** 'ogg' for Vorbis and Opus files alike */
  format: 'mp3' | 'ogg'
  /** start over after the last file (default true); false: ezstream exits and the mount goes away */
  loop?: boolean
  name?: string
  genre?: string
  description?: string
  url?: string
  /** informational (icy-br / ice-audio-info) */
  bitrate?: number
  samplerate?: number
  channels?: number
  public?: boolean
  /** ezstream <format_str> for the metadata sent on each track (default '@t@': ICY title = the title tag) */
  metadataFormat?: string
  /** false: <no_updates>Yes</no_updates> (no metadata sent at all) */
  metadata?: boolean
  user?: string
  /** default icecast.sourcePassword */
  password?: string
  /** wait until the mount is live (default true) */
  waitLive?: boolean
  timeoutMs?: number
}

export interface Source {
  mount: string
  pid: number
  configFile: string
  /** ezstream's log (-v): 'connected: …', 'streaming: Artist - Title (file)' per track */
  output (): string
  /** SIGUSR1: skip to the next track */
  skip (): void
  stop (): Promise<Exit>
  readonly exited: Promise<Exit>
}

/**
 * Streams files to an Icecast mount in real time with ezstream (files are sent as they are: no re-encoding;
 * libshout paces by the audio's own timing). Resolves when the mount is live.
 */
export async function startSource (o: SourceOptions): Promise<Source> {
  const mount = normMount(o.mount)
  const dir = makeTempDir('ezstream')
  const files = o.files.map((f) => (typeof f === 'string' ? f : f.file))
  for (const f of files) if (!existsSync(f)) throw new Error(`startSource: no such file ${f}`)
  const playlist = join(dir, 'playlist.m3u')
  writeFileSync(playlist, files.join('\n') + '\n')
  const e = xmlEscape
  const opt = (tag: string, v: string | number | undefined): string => (v === undefined ? '' : `\n      <${tag}>${e(String(v))}</${tag}>`)
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<ezstream>
  <servers>
    <server>
      <name>default</name>
      <protocol>HTTP</protocol>
      <hostname>${e(o.icecast.host)}</hostname>
      <port>${o.icecast.port}</port>
      <user>${e(o.user ?? 'source')}</user>
      <password>${e(o.password ?? o.icecast.sourcePassword)}</password>
      <tls>None</tls>
      <reconnect_attempts>1</reconnect_attempts>
    </server>
  </servers>
  <streams>
    <stream>
      <name>default</name>
      <mountpoint>${e(mount)}</mountpoint>
      <format>${o.format === 'mp3' ? 'MP3' : 'Ogg'}</format>
      <public>${o.public ? 'Yes' : 'No'}</public>${opt('stream_name', o.name)}${opt('stream_url', o.url)}${opt('stream_genre', o.genre)}${opt('stream_description', o.description)}${opt('stream_bitrate', o.bitrate)}${opt('stream_samplerate', o.samplerate)}${opt('stream_channels', o.channels)}
    </stream>
  </streams>
  <intakes>
    <intake>
      <name>default</name>
      <type>playlist</type>
      <filename>${e(playlist)}</filename>
      <shuffle>No</shuffle>
      <stream_once>${o.loop === false ? 'Yes' : 'No'}</stream_once>
    </intake>
  </intakes>
  <metadata>
    <format_str>${e(o.metadataFormat ?? '@t@')}</format_str>
    <no_updates>${o.metadata === false ? 'Yes' : 'No'}</no_updates>
  </metadata>
</ezstream>
`
  const configFile = join(dir, 'ezstream.xml')
  writeFileSync(configFile, xml, { mode: 0o600 })
  chmodSync(configFile, 0o600) // ezstream complains about world-readable configs (they hold the password)

  const proc = spawnTracked('ezstream', ['-v', '-c', configFile], { cwd: dir, env: { ...process.env, LC_ALL: 'C.UTF-8' } })
  const fail = async (why: string): Promise<never> => {
    await proc.stop({ signal: 'SIGKILL' })
    removeTempDir(dir)
    throw new Error(`ezstream for ${mount}: ${why}\n--- ezstream output ---\n${proc.output()}`)
  }
  if (o.waitLive !== false) {
    const timeoutMs = o.timeoutMs ?? 5000
    const abort = new AbortController()
    const connected = waitFor(() => /connected: /.test(proc.output()), { timeoutMs, message: 'ezstream to connect', signal: abort.signal })
    const died = proc.onExit.then((x) => { throw new Error(`exited (code ${x.code}, signal ${x.signal})`) })
    connected.catch(() => {})
    died.catch(() => {})
    try {
      await Promise.race([connected, died])
      if (o.icecast.waitForMount) {
        const live = o.icecast.waitForMount(mount, { timeoutMs })
        live.catch(() => {})
        await Promise.race([live, died])
      }
    } catch (err) {
      abort.abort()
      return await fail((err as Error).message)
    }
  }
  return {
    mount,
    pid: proc.pid,
    configFile,
    output: proc.output,
    skip: () => { try { process.kill(proc.pid, 'SIGUSR1') } catch {} },
    async stop () {
      const r = await proc.stop({ graceMs: 1000 })
      removeTempDir(dir)
      return r
    },
    get exited () { return proc.exited }
  }
}

/** ffmpeg as the master's AAC source: a tone, AAC LC in ADTS at 96 kbit/s, in real time; no bitrate header. */
export function startAacSource (icecast: Icecast, mount: string, name?: string): Proc {
  return spawnTracked('ffmpeg', [
    '-nostdin', '-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-ac', '2', '-c:a', 'aac', '-b:a', '96k', '-f', 'adts', '-content_type', 'audio/aac', ...(name === undefined ? [] : ['-ice_name', name]),
    `icecast://source:${icecast.sourcePassword}@${icecast.host}:${icecast.port}${mount}`
  ])
}
