// The processes of a bench run: the relays under test (an Icecast 2 or icecast-kh slave, the plugin in a
// Fastify app, or the CLI from an XML config) and the load process. Each is a tracked child
// (test/helpers/procs.ts): killed when the bench exits, even by a signal.
import { chmodSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEBIAN_ICECAST, startIcecastServer, type Icecast, type IcecastServer } from '../test/helpers/icecast.js'
import { icecastKhServer } from '../test/helpers/icecast-kh.js'
import { socketHolders } from '../test/helpers/cluster.js'
import { freePort, httpGet, makeTempDir, spawnTracked, waitFor, type Proc } from '../test/helpers/procs.js'
import { selfSignedCertificate } from '../test/helpers/servers.js'
import { listenBacklog } from './proc.js'
import { LOAD_AGENT, type LoadCommand, type LoadReply, type RelayCommand, type RelayReply } from './protocol.js'

export const MOUNT = '/live.mp3'
const BENCH = fileURLToPath(new URL('.', import.meta.url))
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

/** A relay under test: where its listeners connect, and the process whose CPU and memory count. */
export interface RelayUnderTest {
  server: 'icecast' | 'kh' | 'cli' | 'plugin' | 'floor'
  pid: number
  url: string
  /** the accept backlog of its listening socket, as the kernel reports it */
  backlog: number | undefined
  /** the plugin's own answers (bench/relay-app.ts): memory after a full GC, a CPU profile of a window */
  ask?: <T extends RelayReply>(command: RelayCommand) => Promise<T>
  stop (): Promise<void>
}

/** The limits every server gets: Icecast's defaults, which are the plugin's too. */
const LIMITS = { burstSize: 65535, queueSize: 524288 }

/** How an Icecast peer or the CLI serves its listeners: plain HTTP, or HTTPS with this certificate. */
export interface Serving {
  /** a PEM file with the key and the certificate (as Icecast reads it), readable by nobody */
  tlsPem?: string | undefined
}

const loopbackSocket = (port: number, tls: boolean): string =>
  `<listen-socket><port>${port}</port><bind-address>127.0.0.1</bind-address>${tls ? '<ssl>1</ssl>' : ''}</listen-socket>`

const relayOf = (master: Icecast): string =>
  `<relay><server>127.0.0.1</server><port>${master.port}</port><mount>${MOUNT}</mount>` +
  '<relay-shoutcast-metadata>1</relay-shoutcast-metadata></relay>'

/**
 * An Icecast slave (Debian's icecast2, or `server`: icecast-kh) relaying the master's mount with a
 * single-broadcast `<relay>`, room for `clients`; with a certificate, its listeners connect to an
 * `<ssl>` listen socket of its own.
 */
export async function startIcecastRelay (master: Icecast, clients: number, serving: Serving = {}, server: IcecastServer = DEBIAN_ICECAST): Promise<RelayUnderTest> {
  const tlsPort = serving.tlsPem === undefined ? undefined : await freePort()
  const slave = await startIcecastServer(server, {
    clients,
    ...LIMITS,
    logLevel: 2,
    sslCertificate: serving.tlsPem,
    extraXml: relayOf(master) + (tlsPort === undefined ? '' : loopbackSocket(tlsPort, true))
  })
  try {
    await slave.waitForMount(MOUNT, { timeoutMs: 15000 })
  } catch (error) {
    await slave.stop()
    throw error
  }
  return {
    server: server === DEBIAN_ICECAST ? 'icecast' : 'kh',
    pid: slave.pid,
    url: tlsPort === undefined ? slave.url(MOUNT) : `https://127.0.0.1:${tlsPort}${MOUNT}`,
    backlog: listenBacklog(tlsPort ?? slave.port),
    async stop () { await slave.stop({ graceMs: 3000 }) }
  }
}

/** icecast-kh, built from ../shared/peers into its cache on first use (test/helpers/icecast-kh.ts). */
export async function startKhRelay (master: Icecast, clients: number, serving: Serving = {}): Promise<RelayUnderTest> {
  return await startIcecastRelay(master, clients, serving, await icecastKhServer())
}

export interface CliRelayOptions extends Serving {
  /** `--workers N` (1: one process, no cluster) */
  workers: number
  /** options of the node process, before the CLI's path (default none: as a user runs it) */
  nodeOptions?: string[] | undefined
  /** `<limits><busy-write-interval>` (default none: the CLI's) */
  busyWriteInterval?: number | undefined
}

/** The CLI's config for the bench: Icecast's element names, as a user of Icecast would write it. */
function cliConfig (master: Icecast, clients: number, ports: { plain: number, tls: number | undefined }, options: CliRelayOptions): string {
  const busy = options.busyWriteInterval === undefined ? '' : `<busy-write-interval>${options.busyWriteInterval}</busy-write-interval>`
  return `<icecast>
  <limits><clients>${clients}</clients><burst-size>${LIMITS.burstSize}</burst-size><queue-size>${LIMITS.queueSize}</queue-size>${busy}</limits>
  ${loopbackSocket(ports.plain, false)}
  ${ports.tls === undefined ? '' : loopbackSocket(ports.tls, true)}
  ${options.tlsPem === undefined ? '' : `<paths><ssl-certificate>${options.tlsPem}</ssl-certificate></paths>`}
  ${relayOf(master)}
</icecast>
`
}

/**
 * `icecast-relay --config icecast.xml [--workers N]` (the built dist/cli.js), as a user runs it, relaying
 * the master's mount; resolves once every worker listens and the relay is live. CPU and memory are those
 * of the CLI's process and its descendants (the primary and its workers).
 */
export async function startCliRelay (master: Icecast, clients: number, options: CliRelayOptions): Promise<RelayUnderTest> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build first`)
  const ports = { plain: await freePort(), tls: options.tlsPem === undefined ? undefined : await freePort() }
  const config = join(makeTempDir('bench-cli'), 'icecast.xml')
  writeFileSync(config, cliConfig(master, clients, ports, options))
  const args = [...options.nodeOptions ?? [], CLI, '--config', config, ...(options.workers > 1 ? ['--workers', String(options.workers)] : [])]
  // a user's terminal or journal reads what it logs; the bench keeps only the last MB of it
  const proc = spawnTracked(process.execPath, args)
  const base = `http://127.0.0.1:${ports.plain}`
  try {
    await waitFor(() => proc.output().split(`"Server listening at ${base}"`).length - 1 === options.workers,
      { timeoutMs: 20000, message: () => `the CLI's ${options.workers} server(s) to listen\n${proc.output()}` })
    await waitFor(async () => await mountIsLive(`${base}/status-json.xsl`),
      { timeoutMs: 20000, message: () => `the CLI to relay ${MOUNT}\n${proc.output()}` })
  } catch (error) {
    await proc.stop({ signal: 'SIGKILL' })
    throw error
  }
  return {
    server: 'cli',
    pid: proc.pid,
    url: ports.tls === undefined ? `${base}${MOUNT}` : `https://127.0.0.1:${ports.tls}${MOUNT}`,
    backlog: listenBacklog(ports.tls ?? ports.plain),
    async stop () { await proc.stop({ signal: 'SIGTERM', graceMs: 12000 }) }
  }
}

/** Whether /status-json.xsl lists the mount with a listener count: the relay is live there. */
async function mountIsLive (url: string): Promise<boolean> {
  const answer = await httpGet(url).catch(() => undefined)
  if (answer?.status !== 200) return false
  const listed = [JSON.parse(answer.body.toString()).icestats?.source ?? []].flat() as Array<{ listenurl?: string, listeners?: number }>
  return listed.some((source) => source.listenurl?.endsWith(MOUNT) === true && source.listeners !== undefined)
}

/**
 * The connections the master serves on the mount other than the bench's own listeners (its reference,
 * whose User-Agent is the load's): the relays' upstream connections, from Icecast's /admin/listclients.
 */
export async function upstreamConnections (master: Icecast): Promise<number> {
  const page = (await master.admin(`/admin/listclients?mount=${MOUNT}`)).body.toString()
  const agents = [...page.matchAll(/<listener\b[\s\S]*?<\/listener>/g)].map((m) => /<UserAgent>([^<]*)<\/UserAgent>/.exec(m[0])?.[1] ?? '')
  return agents.filter((agent) => agent !== LOAD_AGENT).length
}

/**
 * The listeners each process holds on the port of `url` (its established connections by pid, most first): how
 * `--workers N` split the crowd between its workers.
 */
export function listenersByProcess (url: string): number[] {
  const counts = new Map<number, number>()
  for (const [pid] of socketHolders(Number(new URL(url).port), 'established')) if (pid !== undefined) counts.set(pid, (counts.get(pid) ?? 0) + 1)
  return [...counts.values()].sort((a, b) => b - a)
}

/** A self-signed certificate for 127.0.0.1, made by openssl for this run, in one PEM file nobody can read (Icecast runs as nobody). */
export function benchCertificate (): string {
  const made = selfSignedCertificate()
  const dir = makeTempDir('bench-tls')
  chmodSync(dir, 0o755)
  const pem = join(dir, 'bench.pem')
  writeFileSync(pem, Buffer.concat([made.cert, made.key]), { mode: 0o644 })
  return pem
}

/** Spawns a TypeScript script of bench/ under tsx with an IPC channel; kept alive until stopped. */
function spawnScript (script: string, args: string[], nodeArgs: string[] = []): Proc {
  return spawnTracked(process.execPath, [...nodeArgs, '--import', 'tsx', BENCH + script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    keepAlive: true
  })
}

/** The next IPC message of `proc` that has `type`; rejects when the process exits first or after `ms`. */
async function nextMessage<T extends { type: string }> (proc: Proc, type: T['type'], ms: number): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const onMessage = (message: T): void => {
      if (message.type !== type) return
      done()
      resolve(message)
    }
    const timer = setTimeout(() => { done(); reject(new Error(`no '${type}' within ${ms} ms\n${proc.output()}`)) }, ms)
    const done = (): void => {
      clearTimeout(timer)
      proc.child.off('message', onMessage)
    }
    proc.child.on('message', onMessage)
    proc.onExit.then((exit) => {
      done()
      reject(new Error(`${type}: process exited (${exit.code ?? exit.signal})\n${proc.output()}`))
    }, () => {})
  })
}

export interface PluginRelayOptions {
  backlog?: number | undefined
  /** limits.writeInterval (s) */
  writeInterval?: number | undefined
  /** apps in a `node:cluster` sharing the port (1: no cluster) */
  workers?: number | undefined
  /** options of the node process (and of its workers), e.g. `--optimize-for-size` */
  nodeOptions?: string[] | undefined
  /** a file the relay appends a line of JSON to every second: its memory by V8 heap space */
  memoryLog?: string | undefined
  /** HLS of the mount, with segments of this many seconds */
  hlsSegmentSeconds?: number | undefined
}

/** The plugin relaying `upstream` in a Fastify app of its own process (bench/relay-app.ts). */
export async function startPluginRelay (upstream: string, options: PluginRelayOptions = {}): Promise<RelayUnderTest> {
  const args = ['--upstream', upstream, '--mount', MOUNT]
  if (options.backlog !== undefined) args.push('--backlog', String(options.backlog))
  if (options.writeInterval !== undefined) args.push('--write-interval', String(options.writeInterval))
  if (options.workers !== undefined) args.push('--workers', String(options.workers))
  if (options.memoryLog !== undefined) args.push('--memory-log', options.memoryLog)
  if (options.hlsSegmentSeconds !== undefined) args.push('--hls', String(options.hlsSegmentSeconds))
  return await startNodeRelay('plugin', 'relay-app.ts', args, options.nodeOptions)
}

/** The floor (bench/floor-app.ts): a bare `net` relay of `upstream`, for what Node and the kernel cost. */
export async function startFloorRelay (upstream: string, nodeOptions: string[] = []): Promise<RelayUnderTest> {
  return await startNodeRelay('floor', 'floor-app.ts', ['--upstream', upstream], nodeOptions)
}

async function startNodeRelay (server: 'plugin' | 'floor', script: string, args: string[], nodeOptions: string[] = []): Promise<RelayUnderTest> {
  const proc = spawnScript(script, args, ['--expose-gc', ...nodeOptions])
  let ready: RelayReply & { type: 'ready' }
  try {
    ready = await nextMessage(proc, 'ready', 20000)
  } catch (error) {
    await proc.stop({ signal: 'SIGKILL' })
    throw error
  }
  return {
    server,
    pid: proc.pid,
    url: `http://127.0.0.1:${ready.port}${MOUNT}`,
    backlog: listenBacklog(ready.port),
    async ask<T extends RelayReply> (command: RelayCommand): Promise<T> {
      const answer = nextMessage<T>(proc, command.type, 30000)
      proc.child.send(command)
      return await answer
    },
    async stop () { await proc.stop({ signal: 'SIGTERM', graceMs: 5000 }) }
  }
}

export interface LoadProcess {
  pid: number
  request<T extends LoadReply> (command: LoadCommand, reply: T['type'], ms: number): Promise<T>
  stop (): Promise<void>
}

export function startLoad (): LoadProcess {
  const proc = spawnScript('load.ts', [])
  proc.child.on('message', (message: LoadReply) => {
    if (message.type === 'progress') console.error(`  ${message.phase}: ${message.admitted} of ${message.n} in`)
  })
  return {
    pid: proc.pid,
    async request<T extends LoadReply> (command: LoadCommand, reply: T['type'], ms: number): Promise<T> {
      const answer = nextMessage<T>(proc, reply, ms)
      proc.child.send(command)
      return await answer
    },
    async stop () { await proc.stop({ graceMs: 3000 }) }
  }
}
