// The `icecast-relay` bin as users run it: the built dist/cli.js (npm test builds first).
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { socketHolders, waitForListening, waitForMirrors } from '../../helpers/cluster.js'
import { openListener } from '../../helpers/listen.js'
import { freePort, httpGet, makeTempDir, run, runOk, spawnTracked, START_TIMEOUT_MS, waitFor } from '../../helpers/procs.js'
import { scriptedUpstream } from '../../helpers/scripted.js'
import { assertTools } from '../../helpers/tools.js'
import { ICECAST_25_UPSTREAMS_RELAY, icecast25Upstreams, KH_HOST, khShortened } from '../../unit/config/failover-snippets.js'
import { MASTER_SNIPPET, RELAY_SNIPPET } from '../../unit/config/seed.js'

const ROOT = new URL('../../..', import.meta.url).pathname
const CLI = join(ROOT, 'dist/cli.js')
const dir = makeTempDir('cli')
let files = 0

function configFile (xml: string): string {
  const file = join(dir, `config-${++files}.xml`)
  writeFileSync(file, xml)
  return file
}

async function cli (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const result = await run(process.execPath, [CLI, ...args], { timeoutMs: START_TIMEOUT_MS })
  return { code: result.code, stdout: result.stdout.toString('utf8'), stderr: result.stderr }
}

test('the package\'s bin is dist/cli.js, a node script; --help documents it', async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  assert.deepEqual(pkg.bin, { 'icecast-relay': './dist/cli.js' })
  assert.match(readFileSync(CLI, 'utf8'), /^#!\/usr\/bin\/env node\n/)
  const help = await cli('--help')
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^Usage: icecast-relay --config icecast\.xml \[--port N\]/)
  for (const word of ['--config', '--port', '--check', '<relay>', '<master-server>', '<limits>', '<authentication>', '<listen-socket>', '<hostname>']) {
    assert.ok(help.stdout.includes(word), word)
  }
})

test('usage errors exit 2 and say what is wrong', async () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /--config is required/],
    [['--config'], /argument missing|--config/],
    [['--config', 'x.xml', '--colour'], /Unknown option '--colour'/],
    [['--config', 'x.xml', '--port', 'http'], /--port http: not a port number/],
    [['--config', 'x.xml', '--workers', '0'], /--workers 0: not a number of processes/]
  ]
  for (const [args, message] of cases) {
    const result = await cli(...args)
    assert.equal(result.code, 2, args.join(' '))
    assert.match(result.stderr, message)
    assert.match(result.stderr, /Try icecast-relay --help/)
  }
})

test('a broken config exits 1 with a message naming the element; so does a missing file', async () => {
  const broken = configFile('<icecast>\n  <relay>\n    <server>127.0.0.1</server>\n    <port>eight thousand</port>\n  </relay>\n</icecast>\n')
  const result = await cli('--config', broken)
  assert.equal(result.code, 1)
  assert.equal(result.stderr, `icecast-relay: ${broken}: <relay> <port>: "eight thousand" is not an integer from 1 to 65535\n`)
  const malformed = configFile('<icecast>\n  <limits>\n    <clients>5</client>\n  </limits>\n</icecast>\n')
  assert.match((await cli('-c', malformed)).stderr, /: line 3, column \d+: Expected closing tag 'clients'/)
  const missing = await cli('-c', join(dir, 'nope.xml'))
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /nope\.xml: ENOENT/)
})

test('--check reads each seed snippet verbatim and prints the options, passwords hidden', async () => {
  const master = await cli('--check', '--config', configFile(MASTER_SNIPPET))
  assert.equal(master.code, 0, master.stderr)
  assert.equal(master.stderr, '')
  assert.deepEqual(JSON.parse(master.stdout), {
    listen: [{ port: 8000, host: '0.0.0.0' }],
    options: { relays: [], master: { server: '192.168.1.11', port: 8001, updateInterval: 120, password: '(hidden)' } },
    ignored: []
  })
  const relay = await cli('--check', '--config', configFile(RELAY_SNIPPET), '--port', '8123', '--host', '127.0.0.1')
  assert.equal(relay.code, 0, relay.stderr)
  assert.deepEqual(JSON.parse(relay.stdout), {
    listen: [{ port: 8123, host: '127.0.0.1' }],
    options: { relays: [{ server: '192.168.1.11', port: 8001, mount: '/example.ogg', localMount: '/different.ogg', relayShoutcastMetadata: false }] },
    ignored: []
  })
})

test('--check of a kh relay with two <host>s and a 2.5 relay with <upstream>s: their upstreams in order; kh\'s <retry-delay> and <timeout> warned', async () => {
  const kh = KH_HOST.replace('<server>127.0.0.3</server>', '<server>127.0.0.3</server><timeout>9</timeout>')
  const result = await cli('--check', '--config', configFile(`<icecast>${kh}${khShortened()}</icecast>`))
  assert.equal(result.code, 0, result.stderr)
  assert.deepEqual(result.stderr.split('\n').filter((line) => line !== '').map((line) => line.replace(/^icecast-relay: warning: [^:]+: /, '')), [
    '<relay> #1 <http-headers> ignored: no extra request headers are sent to upstreams',
    '<relay> #1 <host> #2 <timeout> ignored: one connect timeout (limits.connectTimeout, 10 s by default) serves every upstream',
    '<relay> #2 <retry-delay> ignored: a relay retries (and probes the upstreams before the one it plays) with its backoff, capped by limits.maxBackoff'
  ])
  const { options } = JSON.parse(result.stdout)
  assert.deepEqual(options.relays[0].upstreams, [
    { server: '127.0.0.2', port: 8000, mount: '/joe', tls: true, username: 'joe', password: '(hidden)', relayShoutcastMetadata: false },
    { server: '127.0.0.3', port: 8001, mount: '/example.ogg', username: 'joe', password: '(hidden)', relayShoutcastMetadata: false }
  ])
  assert.equal(options.relays[0].failback, true)
  assert.deepEqual(options.relays[1].upstreams.map((u: { server: string }) => u.server), ['127.0.0.2', '127.0.0.3', '127.0.0.4'])

  const upstreams = await cli('--check', '--config', configFile(icecast25Upstreams()))
  assert.equal(upstreams.code, 0, upstreams.stderr)
  assert.equal(upstreams.stderr, '')
  assert.deepEqual(JSON.parse(upstreams.stdout).options.relays, [ICECAST_25_UPSTREAMS_RELAY])
})

test('--check reads the icecast.xml Debian ships, without a warning; it lists what it ignores, and why', async () => {
  assertTools('icecast2')
  const result = await cli('--check', '--config', '/etc/icecast2/icecast.xml')
  assert.equal(result.code, 0, result.stderr)
  assert.equal(result.stderr, '')
  const { listen, logLevel, options, ignored } = JSON.parse(result.stdout)
  assert.equal(logLevel, 'info', '<loglevel>3</loglevel>')
  assert.deepEqual(ignored, [
    '<limits> <sources> ignored: a relay takes no source clients',
    '<limits> <client-timeout> ignored: a listener is dropped when its queue passes queue-size, not after a time',
    '<limits> <header-timeout> ignored: give the host app Fastify\'s requestTimeout (the CLI uses Node\'s default)',
    '<authentication> <source-password> ignored: a relay takes no source clients',
    '<http-headers> ignored: no extra headers are sent to listeners',
    '<fileserve> ignored: the relay serves no files',
    '<paths> <basedir> ignored: Icecast\'s own files: the relay reads none',
    '<paths> <logdir> ignored: the CLI logs to stdout with Fastify\'s logger',
    '<paths> <adminroot> ignored: the admin pages are the plugin\'s own',
    '<paths> <alias> ignored: no paths are aliased',
    '<logging> <accesslog> ignored: no access log file: every request is logged on stdout at <loglevel> 4 (debug)',
    '<logging> <errorlog> ignored: the CLI logs to stdout with Fastify\'s logger',
    '<logging> <logsize> ignored: the CLI logs to stdout with Fastify\'s logger',
    '<security> <chroot> ignored: run the CLI as the user it should run as'
  ])
  assert.deepEqual(listen, [{ port: 8000, host: '0.0.0.0' }])
  assert.deepEqual(options.admin, { username: 'admin', password: '(hidden)' })
  assert.equal(options.hostname, 'localhost')
  assert.equal(options.limits.clients, 100)
})

test('--check: the <mount> settings under mounts and mountDefaults; what a relay does not apply warned on stderr and listed with the rest', async () => {
  const result = await cli('--check', '--config', configFile(`<icecast>
  <relay><port>8000</port><mount>/live.mp3</mount></relay>
  <mount><mount-name>/live.mp3</mount-name><hidden>1</hidden><max-listener-duration>60</max-listener-duration><intro>/x.mp3</intro></mount>
  <mount type="default"><max-listeners>10</max-listeners></mount>
  <logging><loglevel>4</loglevel></logging>
</icecast>`))
  assert.equal(result.code, 0, result.stderr)
  const intro = '<mount> #1 <intro> ignored: Icecast reads the intro from its <paths><webroot>, and there is no absolute one'
  assert.equal(result.stderr, `icecast-relay: warning: ${join(dir, `config-${files}.xml`)}: ${intro}\n`)
  const { logLevel, options, ignored } = JSON.parse(result.stdout)
  assert.equal(logLevel, 'debug')
  assert.deepEqual(options.mounts, { '/live.mp3': { hidden: true, maxListenerDuration: 60 } })
  assert.deepEqual(options.mountDefaults, { maxListeners: 10 })
  // <mount> elements are read once every relay is known
  assert.deepEqual(ignored, [intro])
})

test('a running CLI: the config\'s listen socket, relays, admin credentials and server info; SIGTERM ends it', async (t) => {
  const upstream = await scriptedUpstream({ headers: { 'icy-name': 'Upstream' } })
  const port = await freePort()
  // the seed's relay, pointed at our upstream instead of a LAN address
  const relay = RELAY_SNIPPET.replace('192.168.1.11', '127.0.0.1').replace('8001', String(upstream.port))
  const file = configFile(`<icecast>
  <location>CLI test</location>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>${port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <authentication><admin-user>boss</admin-user><admin-password>s3cret</admin-password></authentication>
  <limits><burst-size>0</burst-size></limits>
  ${relay}
  <unknown-thing/>
</icecast>`)
  const proc = spawnTracked(process.execPath, [CLI, '--config', file])
  t.after(async () => { await proc.stop(); await upstream.close() })
  const base = `http://127.0.0.1:${port}`
  const stats = await waitFor(async () => {
    const res = await httpGet(`${base}/status-json.xsl`)
    const { icestats } = JSON.parse(res.body.toString())
    return icestats.source.length === 1 ? icestats : undefined
  }, { timeoutMs: START_TIMEOUT_MS, message: () => `the CLI to serve the relay\n${proc.output()}` })
  assert.equal(stats.location, 'CLI test')
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'))
  assert.equal(await listenBacklog(port), Math.min(4096, somaxconn), 'a backlog for flash crowds')
  assert.equal(stats.source[0].listenurl, `${base}/different.ogg`)
  assert.match(proc.output(), /warning: .*<unknown-thing> ignored/)
  assert.match(upstream.requests[0]!, /^GET \/example\.ogg HTTP\/1\.0\r\n/)
  assert.doesNotMatch(upstream.requests[0]!, /Icy-MetaData/i, 'relay-shoutcast-metadata 0')

  const listener = openListener(`${base}/different.ogg`)
  assert.equal((await listener.head).headers['icy-name'], 'Upstream')
  await waitFor(async () => JSON.parse((await httpGet(`${base}/status-json.xsl`)).body.toString()).icestats.source[0].listeners === 1)
  upstream.push(Buffer.from('through the CLI'))
  assert.equal((await listener.waitForBytes(15)).toString(), 'through the CLI')
  await listener.close()

  assert.equal((await httpGet(`${base}/admin/relays`)).status, 401)
  const relays = await httpGet(`${base}/admin/relays`, { auth: { user: 'boss', password: 's3cret' } })
  assert.equal(JSON.parse(relays.body.toString())[0].localMount, '/different.ogg')

  proc.child.kill('SIGTERM')
  const exit = await proc.exited
  assert.deepEqual(exit, { code: 0, signal: null })
})

/** The accept backlog of the socket listening on `port`: `ss` shows it as the Send-Q of a LISTEN socket. */
async function listenBacklog (port: number): Promise<number> {
  assertTools('ss')
  const out = await runOk('ss', ['-Hltn', `sport = :${port}`])
  return Number(out.toString().trim().split(/\s+/)[2])
}

/** The worker processes of a cluster primary. */
function childrenOf (pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter((c) => c !== '').map(Number)
}

test('--workers 2: two processes share the port and serve listeners from one upstream connection; one that dies is replaced; SIGTERM ends all', async (t) => {
  const upstream = await scriptedUpstream()
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const file = configFile(`<icecast><logging><loglevel>4</loglevel></logging>
  <listen-socket><port>${port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <limits><burst-size>0</burst-size></limits>
  <relay><server>127.0.0.1</server><port>${upstream.port}</port><mount>/live</mount></relay></icecast>`)
  const proc = spawnTracked(process.execPath, [CLI, '--config', file, '--workers', '2'])
  t.after(async () => { await proc.stop(); await upstream.close() })
  await upstream.waitForClients(1, START_TIMEOUT_MS)
  // starting a worker takes seconds on a loaded machine: as long as the cluster tests give it
  await waitForListening(proc, base, 2)
  await waitForMirrors(proc, base, ['/live'])
  const workers = childrenOf(proc.pid)
  assert.equal(workers.length, 2)
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'))
  assert.equal(await listenBacklog(port), Math.min(4096, somaxconn), 'the primary listens with the workers\' backlog')

  const listeners = Array.from({ length: 8 }, () => openListener(`http://127.0.0.1:${port}/live`))
  await Promise.all(listeners.map(async (listener) => assert.equal((await listener.head).status, 200)))
  upstream.push(Buffer.from('to every worker'))
  for (const listener of listeners) assert.equal((await listener.waitForBytes(15)).toString(), 'to every worker')
  await Promise.all(listeners.map(async (listener) => await listener.close()))

  process.kill(workers[0]!, 'SIGKILL')
  await waitFor(() => proc.output().includes(`worker ${workers[0]} ended (SIGKILL); starting another`), { timeoutMs: START_TIMEOUT_MS, message: () => proc.output() })
  await waitFor(() => childrenOf(proc.pid).length === 2 && !childrenOf(proc.pid).includes(workers[0]!), { timeoutMs: START_TIMEOUT_MS })
  await waitForListening(proc, base, 3)
  await waitForMirrors(proc, base, ['/live'])
  assert.equal(upstream.requests.length, 1, 'the upstream is still read once, by the primary')

  proc.child.kill('SIGTERM')
  assert.deepEqual(await proc.exited, { code: 0, signal: null })
})

test('--workers: a worker that cannot listen stops them all with status 1', async (t) => {
  const blocker = await scriptedUpstream()
  t.after(async () => { await blocker.close() })
  const file = configFile(`<icecast><listen-socket><port>${blocker.port}</port><bind-address>127.0.0.1</bind-address></listen-socket></icecast>`)
  const result = await cli('--config', file, '--workers', '2')
  assert.equal(result.code, 1)
  assert.match(result.stderr, /before listening/)
})

/** A client that sends half a request head and then nothing, keeping its connection open. */
async function halfHead (port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1' })
  socket.on('error', () => {})
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write('GET /status-json.xsl HTTP/1.1\r\nHost: 127.0.0.1\r\n')
  return socket
}

for (const workers of [1, 2]) {
  test(`SIGTERM ends the CLI at once while a client has not finished its request head (--workers ${workers})`, { timeout: 60000 }, async (t) => {
    const port = await freePort()
    const file = configFile(`<icecast><listen-socket><port>${port}</port><bind-address>127.0.0.1</bind-address></listen-socket></icecast>`)
    const proc = spawnTracked(process.execPath, [CLI, '--config', file, '--workers', String(workers)])
    const clients: net.Socket[] = []
    t.after(async () => { for (const client of clients) client.destroy(); await proc.stop() })
    await waitForListening(proc, `http://127.0.0.1:${port}`, workers)
    // the kernel picks the worker of each: on until every serving process holds one
    const serving = workers === 1 ? [proc.pid] : childrenOf(proc.pid)
    const holdOne = (): boolean => { const holders = socketHolders(port, 'established').flat(); return serving.every((pid) => holders.includes(pid)) }
    for (let i = 0; i < 4 * workers || !holdOne(); i++) {
      assert.ok(i < 40, `every worker holds a client after ${i} clients`)
      clients.push(await halfHead(port))
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
    const start = Date.now()
    proc.child.kill('SIGTERM')
    assert.deepEqual(await proc.exited, { code: 0, signal: null }, proc.output())
    assert.ok(Date.now() - start < 3000, `exited after ${Date.now() - start} ms`)
  })
}
