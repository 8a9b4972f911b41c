// The `icecast-relay` CLI (the built dist/cli.js) with a plain and a TLS <listen-socket> from one config,
// relaying a real Icecast 2: curl, mpg123 and ffmpeg/ffprobe play over https with the certificate checked
// (a self-signed one made by openssl, key and certificate in one PEM file as Icecast reads it), the plain
// socket still serves, and hostile TLS clients disturb no listener.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import {
  assertTools, freePort, httpGet, makeFixtures, makeTempDir, openListener, runMpg123, startIcecast, startSource, waitFor,
  type Icecast, type Source
} from '../../helpers/icecast.js'
import { run, spawnTracked, START_TIMEOUT_MS, type Proc } from '../../helpers/procs.js'
import { selfSignedCertificate } from '../../helpers/servers.js'

const CLI = new URL('../../../dist/cli.js', import.meta.url).pathname
const dir = makeTempDir('tls-cli')
const ADMIN = { user: 'boss', password: 's3cret' }

let master: Icecast
let source: Source
let pem: string
let certificate: Buffer

function relayConfig (sockets: string, name: string): string {
  const file = join(dir, `${name}.xml`)
  writeFileSync(file, `<icecast>
  <location>TLS relay</location>
  ${sockets}
  <paths><ssl-certificate>${pem}</ssl-certificate></paths>
  <authentication><admin-user>${ADMIN.user}</admin-user><admin-password>${ADMIN.password}</admin-password></authentication>
  <limits><burst-size>16384</burst-size></limits>
  <relay><server>${master.host}</server><port>${master.port}</port><mount>/live.mp3</mount></relay>
</icecast>`)
  return file
}

const socket = (port: number, tls: boolean): string =>
  `<listen-socket><port>${port}</port><bind-address>127.0.0.1</bind-address>${tls ? '<ssl>1</ssl>' : ''}</listen-socket>`

/** The CLI on a config; resolves once the relay is live on the plain socket. */
async function startCli (config: string, plainPort: number, args: string[] = []): Promise<Proc> {
  const proc = spawnTracked(process.execPath, [CLI, '--config', config, ...args])
  await waitFor(async () => {
    const res = await httpGet(`http://127.0.0.1:${plainPort}/status-json.xsl`).catch(() => undefined)
    return res?.status === 200 && JSON.parse(res.body.toString()).icestats.source?.[0]?.listeners !== undefined
  }, { timeoutMs: START_TIMEOUT_MS, message: () => `the CLI to serve the relay\n${proc.output()}` })
  return proc
}

/** curl with the test's certificate as its only CA: the certificate is checked, for 127.0.0.1. */
async function curl (url: string, ...args: string[]): Promise<{ code: number | null, stdout: Buffer, stderr: string }> {
  return await run('curl', ['-sS', '--cacert', pem, ...args, url], { timeoutMs: 15000 })
}

/** An https listener (Node's TLS client, the certificate checked) that counts what it receives. */
function httpsListener (url: string): { bytes: () => number, status: Promise<number>, ended: Promise<void>, close: () => void } {
  let bytes = 0
  let close = (): void => {}
  const ended = new Promise<void>((resolve) => {
    const request = https.get(url, { ca: certificate }, (response) => {
      response.on('data', (chunk: Buffer) => { bytes += chunk.length })
      response.on('close', () => resolve())
      response.on('error', () => resolve())
    })
    request.on('error', () => resolve())
    close = () => request.destroy()
  })
  const status = new Promise<number>((resolve, reject) => {
    const poll = setInterval(() => { if (bytes > 0) { clearInterval(poll); resolve(200) } }, 20)
    ended.then(() => { clearInterval(poll); reject(new Error(`${url}: ended after ${bytes} bytes`)) }, reject)
  })
  status.catch(() => {})
  return { bytes: () => bytes, status, ended, close }
}

/** A TCP client of the TLS port that sends `bytes` (or nothing) and then stays, as a stalled handshake does. */
async function stalled (port: number, bytes?: Buffer): Promise<{ socket: net.Socket, gone: Promise<void> }> {
  const socket = net.connect({ port, host: '127.0.0.1' })
  socket.on('error', () => {})
  const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  await new Promise((resolve) => socket.once('connect', resolve))
  if (bytes !== undefined) socket.write(bytes)
  return { socket, gone }
}

/** Whether the count grows within a second: a listener still served. */
async function grows (count: () => number): Promise<boolean> {
  const before = count()
  return await waitFor(() => count() > before, { timeoutMs: 3000, message: 'more bytes' }).then(() => true, () => false)
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123', 'ffmpeg', 'ffprobe', 'curl', 'openssl')
  const fixtures = await makeFixtures()
  master = await startIcecast()
  source = await startSource({ icecast: master, mount: '/live.mp3', files: [fixtures.mp3.long], format: 'mp3', name: 'Live' })
  const made = selfSignedCertificate()
  certificate = made.cert
  pem = join(dir, 'icecast.pem')
  writeFileSync(pem, Buffer.concat([made.cert, made.key]))
})

after(async () => {
  await source?.stop()
  await master?.stop()
})

test('a plain and a TLS socket from one config: curl gets stats, admin answers and audio over https; the plain socket still serves', async (t) => {
  const [plain, tls] = [await freePort(), await freePort()]
  const cli = await startCli(relayConfig(socket(plain, false) + socket(tls, true), 'both'), plain)
  t.after(async () => { await cli.stop() })
  const secure = `https://127.0.0.1:${tls}`

  const stats = await curl(`${secure}/status-json.xsl`)
  assert.equal(stats.code, 0, stats.stderr)
  const { icestats } = JSON.parse(stats.stdout.toString())
  assert.equal(icestats.location, 'TLS relay')
  assert.equal(icestats.source[0].listenurl, `${secure}/live.mp3`, 'a listen URL on the TLS socket is https')
  const plainStats = JSON.parse((await httpGet(`http://127.0.0.1:${plain}/status-json.xsl`)).body.toString())
  assert.equal(plainStats.icestats.source[0].listenurl, `http://127.0.0.1:${plain}/live.mp3`)

  assert.match((await curl(`${secure}/admin/relays`, '-o', '/dev/null', '-w', '%{http_code}')).stdout.toString(), /^401$/)
  const relays = await curl(`${secure}/admin/relays`, '-u', `${ADMIN.user}:${ADMIN.password}`)
  assert.equal(JSON.parse(relays.stdout.toString())[0].localMount, '/live.mp3')

  const audio = join(dir, 'curl.mp3')
  const got = await curl(`${secure}/live.mp3`, '--max-time', '3', '-o', audio)
  assert.equal(got.code, 28, `curl stops at its --max-time, the stream still flowing: ${got.stderr}`)
  const decoded = await runMpg123(audio)
  assert.ok(decoded.ok && decoded.frames > 50, decoded.stderr)
  assert.equal(decoded.format?.bitrate, 'cbr128')

  const listener = openListener(`http://127.0.0.1:${plain}/live.mp3`)
  assert.equal((await listener.head).status, 200)
  await listener.waitForBytes(32768, 10000)
  await listener.close()

  const refused = await run('curl', ['-sS', `${secure}/status-json.xsl`], { timeoutMs: 15000 })
  assert.equal(refused.code, 60, 'curl without the certificate refuses it: it is not a public CA\'s')
})

test('mpg123 and ffmpeg/ffprobe play over https, the certificate checked', async (t) => {
  const [plain, tls] = [await freePort(), await freePort()]
  const cli = await startCli(relayConfig(socket(plain, false) + socket(tls, true), 'players'), plain)
  t.after(async () => { await cli.stop() })
  const url = `https://127.0.0.1:${tls}/live.mp3`

  // Debian's mpg123 reads https through an external program (`--network`: wget or curl); curl takes its CA from CURL_CA_BUNDLE
  const mpg123 = await runMpg123(url, { ms: 4000, args: ['--network', 'curl'], env: { CURL_CA_BUNDLE: pem } })
  assert.ok(mpg123.ok && mpg123.frames > 50, mpg123.stderr)
  assert.equal(mpg123.icyName, 'Live')

  const probe = await run('ffprobe', ['-v', 'error', '-tls_verify', '1', '-ca_file', pem, '-show_entries', 'stream=codec_name,sample_rate',
    '-of', 'json', url], { timeoutMs: 20000 })
  assert.equal(probe.code, 0, probe.stderr)
  assert.deepEqual(JSON.parse(probe.stdout.toString()).streams, [{ codec_name: 'mp3', sample_rate: '44100' }])
  const decode = await run('ffmpeg', ['-nostdin', '-v', 'error', '-tls_verify', '1', '-ca_file', pem, '-t', '3', '-i', url, '-f', 'null', '-'],
    { timeoutMs: 30000 })
  assert.equal(decode.code, 0, decode.stderr)
  assert.equal(decode.stderr, '')
})

/** What a listener (http or https, the certificate checked) reads, with the time of each read. */
function recorder (url: string): { reads: Array<{ at: number, bytes: Buffer }>, close: () => void } {
  const reads: Array<{ at: number, bytes: Buffer }> = []
  const get = url.startsWith('https:') ? https.get : http.get
  const request = get(url, { ca: certificate }, (response) => {
    response.on('data', (bytes: Buffer) => { reads.push({ at: performance.now(), bytes }) })
  })
  request.on('error', () => {})
  return { reads, close: () => request.destroy() }
}

/** Reads less than this apart are parts of one write of the relay. */
const ONE_WRITE_MS = 100

function writesOf (reads: Array<{ at: number }>): number {
  return reads.filter((read, i) => i === 0 || read.at - reads[i - 1]!.at > ONE_WRITE_MS).length
}

test('a listener over TLS gets the stream in fewer, larger writes (limits.tlsWriteInterval, 0.5 s), every byte of it in order', async (t) => {
  const [plain, tls] = [await freePort(), await freePort()]
  const cli = await startCli(relayConfig(socket(plain, false) + socket(tls, true), 'gathered'), plain)
  const plainListener = recorder(`http://127.0.0.1:${plain}/live.mp3`)
  const tlsListener = recorder(`https://127.0.0.1:${tls}/live.mp3`)
  t.after(async () => {
    plainListener.close()
    tlsListener.close()
    await cli.stop()
  })
  // past the bursts, over a window of 4 s
  await waitFor(() => tlsListener.reads.length > 0 && plainListener.reads.length > 0, { timeoutMs: 10000, message: 'both listeners to start' })
  const from = performance.now() + 1000
  await new Promise((resolve) => setTimeout(resolve, 5500))
  const inWindow = (reads: Array<{ at: number }>): Array<{ at: number }> => reads.filter((r) => r.at >= from && r.at < from + 4000)
  const plainWrites = writesOf(inWindow(plainListener.reads))
  const tlsWrites = writesOf(inWindow(tlsListener.reads))
  assert.ok(tlsWrites >= 6 && tlsWrites <= 10, `${tlsWrites} writes in 4 s over TLS, one per 0.5 s (${plainWrites} over plain HTTP)`)
  assert.ok(plainWrites > tlsWrites, `plain listeners are written to as the upstream reads come: ${plainWrites} writes in 4 s`)

  // nothing lost, nothing invented: what the TLS listener got after its burst is the plain listener's stream
  const plainBytes = Buffer.concat(plainListener.reads.map((r) => r.bytes))
  const tlsBytes = Buffer.concat(tlsListener.reads.map((r) => r.bytes)).subarray(16384)
  const at = plainBytes.indexOf(tlsBytes.subarray(0, 256))
  assert.ok(at >= 0, 'the TLS listener\'s stream is found in the plain listener\'s')
  const common = Math.min(tlsBytes.length, plainBytes.length - at)
  assert.ok(common > 32768, `${common} bytes to compare`)
  assert.ok(tlsBytes.subarray(0, common).equals(plainBytes.subarray(at, at + common)), 'the same bytes, in the same order')
})

test('hostile clients of the TLS port (plain HTTP, a stalled handshake, half a ClientHello, garbage) disturb no listener of either socket', async (t) => {
  const [plain, tls] = [await freePort(), await freePort()]
  const cli = await startCli(relayConfig(socket(plain, false) + socket(tls, true), 'hostile'), plain)
  const plainListener = openListener(`http://127.0.0.1:${plain}/live.mp3`)
  const tlsListener = httpsListener(`https://127.0.0.1:${tls}/live.mp3`)
  const hostile: net.Socket[] = []
  t.after(async () => { for (const client of hostile) client.destroy(); tlsListener.close(); await plainListener.close(); await cli.stop() })
  assert.equal((await plainListener.head).status, 200)
  await tlsListener.status

  const plainHttp = await stalled(tls, Buffer.from('GET /live.mp3 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n'))
  let answer = ''
  plainHttp.socket.on('data', (data: Buffer) => { answer += data.toString('latin1') })
  await plainHttp.gone
  assert.doesNotMatch(answer, /^HTTP\/1\.. 200/, 'plain HTTP on the TLS port gets no stream')
  await (await stalled(tls, Buffer.alloc(4096, 0xff))).gone
  for (const client of [await stalled(tls), await stalled(tls, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]))]) hostile.push(client.socket)

  assert.ok(await grows(() => plainListener.received().length), 'the plain listener is still served')
  assert.ok(await grows(tlsListener.bytes), 'the https listener is still served')
  const stats = await curl(`https://127.0.0.1:${tls}/status-json.xsl`)
  assert.equal(JSON.parse(stats.stdout.toString()).icestats.source[0].listeners, 2, 'a new https client is served too')
})

test('--workers 2, the TLS socket first: every worker serves both; SIGTERM with an https listener and a stalled handshake ends all at once', async (t) => {
  const [plain, tls] = [await freePort(), await freePort()]
  const cli = await startCli(relayConfig(socket(tls, true) + socket(plain, false), 'workers'), plain, ['--workers', '2'])
  t.after(async () => { await cli.stop() })
  assert.match(cli.output(), new RegExp(`Server listening at https://127\\.0\\.0\\.1:${tls}`), 'Fastify\'s own server, made for the first socket, is https')
  const listeners = Array.from({ length: 4 }, () => httpsListener(`https://127.0.0.1:${tls}/live.mp3`))
  for (const listener of listeners) await listener.status
  const plainListener = openListener(`http://127.0.0.1:${plain}/live.mp3`)
  assert.equal((await plainListener.head).status, 200)
  const handshakes = await Promise.all([stalled(tls), stalled(tls), stalled(tls, Buffer.from([0x16, 0x03, 0x01]))])

  const start = Date.now()
  cli.child.kill('SIGTERM')
  assert.deepEqual(await cli.exited, { code: 0, signal: null }, cli.output())
  assert.ok(Date.now() - start < 3000, `exited after ${Date.now() - start} ms`)
  await Promise.all([...listeners.map(async (listener) => await listener.ended), plainListener.ended, ...handshakes.map(async (client) => await client.gone)])
})

test('a TLS socket whose certificate is unusable: exit 1 naming the element; --check prints the sockets and the certificate file', async () => {
  const [plain, tls] = [await freePort(), await freePort()]
  const good = relayConfig(socket(plain, false) + socket(tls, true), 'check')
  const check = await run(process.execPath, [CLI, '--check', '--config', good, '--host', '127.0.0.2', '--port', '8123'], { timeoutMs: 15000 })
  assert.equal(check.code, 0, check.stderr)
  const printed = JSON.parse(check.stdout.toString())
  assert.deepEqual(printed.listen, [{ port: 8123, host: '127.0.0.2' }, { port: tls, host: '127.0.0.2', tls: true }], '--port moves the first socket, --host every one')
  assert.deepEqual(printed.tls, { certificate: pem })

  const certOnly = join(dir, 'cert-only.pem')
  writeFileSync(certOnly, certificate)
  writeFileSync(join(dir, 'bad.xml'), `<icecast>${socket(tls, true)}<paths><ssl-certificate>${certOnly}</ssl-certificate></paths></icecast>`)
  for (const args of [['--check'], []]) {
    const bad = await run(process.execPath, [CLI, ...args, '--config', join(dir, 'bad.xml')], { timeoutMs: 15000 })
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, new RegExp(`^icecast-relay: .*bad\\.xml: <paths> <ssl-certificate>: no usable private key in ${certOnly} `))
  }
  writeFileSync(join(dir, 'none.xml'), `<icecast>${socket(tls, true)}</icecast>`)
  const none = await run(process.execPath, [CLI, '--config', join(dir, 'none.xml')], { timeoutMs: 15000 })
  assert.equal(none.code, 1)
  assert.match(none.stderr, /<listen-socket> <ssl>: TLS needs a certificate: <paths> <ssl-certificate>/)
})
