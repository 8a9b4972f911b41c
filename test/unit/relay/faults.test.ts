import assert from 'node:assert/strict'
import net from 'node:net'
import { Writable } from 'node:stream'
import { test, type TestContext } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyIcecastRelay, { type Limits } from '../../../lib/index.js'
import { waitForState, waitUntil } from '../../helpers/app.js'
import { listen, openListener } from '../../helpers/listen.js'
import { noise, scriptedUpstream } from '../../helpers/scripted.js'

type Behaviour = (socket: net.Socket, path: string) => void

/** Upstream misbehaviours seen in the field, one per path. */
const BEHAVIOURS: Record<string, Behaviour> = {
  '/silent': () => {},
  '/garbage': (s) => s.end('\x00\x01garbage that is no status line\r\n\r\n'),
  '/html': (s) => s.end('HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>SHOUTcast page</html>'),
  '/401': (s) => s.end('HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm="x"\r\n\r\n'),
  '/404': (s) => s.end('HTTP/1.0 404 Not Found\r\n\r\n'),
  '/500': (s) => s.end('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n'),
  '/loop': (s, path) => s.end(`HTTP/1.0 302 Found\r\nLocation: ${path}\r\n\r\n`),
  '/huge-head': (s) => { s.write('HTTP/1.0 200 OK\r\n'); s.end(`X-Big: ${'x'.repeat(1024 * 1024)}\r\n\r\n`) },
  '/reset': (s) => { s.write('HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n'); s.write(noise(5000)); setTimeout(() => s.resetAndDestroy(), 50) },
  '/stall': (s) => { s.write('HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n'); s.write(noise(5000)) },
  '/bad-metaint': (s) => s.write('HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-metaint: lots\r\n\r\n')
}

const EXPECTED: Record<string, RegExp> = {
  '/silent': /FST_ICECAST_RELAY_CONNECT_TIMEOUT/,
  '/garbage': /FST_ICECAST_RELAY_BAD_STATUS_LINE/,
  '/html': /FST_ICECAST_RELAY_NOT_AUDIO/,
  '/401': /FST_ICECAST_RELAY_UPSTREAM_STATUS/,
  '/404': /FST_ICECAST_RELAY_UPSTREAM_STATUS/,
  '/500': /FST_ICECAST_RELAY_UPSTREAM_STATUS/,
  '/loop': /FST_ICECAST_RELAY_TOO_MANY_REDIRECTS/,
  '/huge-head': /FST_ICECAST_RELAY_HEAD_TOO_LARGE/,
  '/reset': /ECONNRESET|FST_ICECAST_RELAY_UPSTREAM_CLOSED/,
  '/stall': /FST_ICECAST_RELAY_SOURCE_TIMEOUT/,
  '/bad-metaint': /FST_ICECAST_RELAY_BAD_METAINT/
}

test('every kind of broken upstream gives a clear state and log line; the app and a healthy mount go on', async (t) => {
  const accepted = new Set<net.Socket>()
  const broken = net.createServer((socket) => {
    accepted.add(socket)
    socket.on('error', () => {})
    socket.once('data', (data) => {
      const path = data.toString('latin1').split(' ')[1] ?? '/'
      BEHAVIOURS[path]?.(socket, path)
    })
  })
  await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve))
  const { port } = broken.address() as net.AddressInfo
  const healthy = await scriptedUpstream()
  const lines: Array<{ relay?: string, msg?: string, code?: string, err?: string, level: number }> = []
  const app = Fastify({
    logger: {
      level: 'info',
      stream: new Writable({ write (chunk, _enc, done) { lines.push(JSON.parse(chunk.toString())); done() } })
    }
  })
  await app.register(fastifyIcecastRelay, {
    relays: [
      ...Object.keys(BEHAVIOURS).map((path) => ({ server: '127.0.0.1', port, mount: path })),
      { url: healthy.url(), localMount: '/healthy' }
    ],
    // sourceTimeout well above the healthy feed's 20 ms, so that a loaded machine's pauses do not stall it
    limits: { connectTimeout: 0.5, sourceTimeout: 1.5, burstSize: 0 }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(async () => {
    await app.close()
    await healthy.close()
    for (const socket of accepted) socket.destroy()
    await new Promise((resolve) => broken.close(resolve))
  })
  const base = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`
  await waitForState(app, '/healthy', 'live')
  const listener = openListener(`${base}/healthy`)
  await listener.head
  await waitUntil(() => app.relay.get('/healthy')!.listeners === 1)
  const feed = setInterval(() => healthy.push(noise(1000)), 20)

  for (const [path, code] of Object.entries(EXPECTED)) {
    await waitUntil(() => code.test(`${app.relay.get(path)!.lastError?.code} ${app.relay.get(path)!.lastError?.message}`), 5000, `${path} error`)
    const status = app.relay.get(path)!
    // Upstreams that answer before failing (/reset, /stall) may be live again for a moment when looked at.
    assert.ok(['retrying', 'connecting', 'live'].includes(status.state), `${path} is ${status.state}`)
    assert.ok(lines.some((l) => l.relay === path && l.level === 40 && code.test(`${l.code} ${l.msg}`)), `a warning logged for ${path}`)
  }
  // the faults may all come within a few writes of the healthy upstream: what counts is that it goes on
  await waitUntil(() => listener.received().length > 20000, 5000, 'the healthy mount kept streaming')
  clearInterval(feed)
  await listener.close()
  assert.equal(app.relay.get('/healthy')!.state, 'live')
  assert.equal(app.relay.get('/healthy')!.reconnects, 0)
})

test('odd requests get 4xx, never a crash', async (t) => {
  const upstream = await scriptedUpstream()
  const app = Fastify()
  await app.register(fastifyIcecastRelay, { relays: [{ url: upstream.url(), localMount: '/ok.mp3' }] })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(async () => { await app.close(); await upstream.close() })
  const { port } = app.server.address() as net.AddressInfo
  await waitForState(app, '/ok.mp3', 'live')

  const raw = async (request: string): Promise<number> => await new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request))
    let data = ''
    socket.on('data', (d) => {
      data += d.toString('latin1')
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(data)
      if (status !== null) {
        socket.destroy()
        resolve(Number(status[1]))
      }
    })
    socket.on('error', () => resolve(0))
    socket.on('close', () => resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0)))
  })
  const cases: Array<[string, string]> = [
    ['NUL byte in the path', 'GET /ok\x00.mp3 HTTP/1.0\r\n\r\n'],
    ['encoded NUL', 'GET /ok%00.mp3 HTTP/1.0\r\n\r\n'],
    ['encoded traversal', 'GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.0\r\n\r\n'],
    ['plain traversal', 'GET /../ok.mp3 HTTP/1.0\r\n\r\n'],
    ['bad percent-encoding', 'GET /%E0%A4%A HTTP/1.0\r\n\r\n'],
    ['9 kB path', `GET /${'a'.repeat(9000)} HTTP/1.0\r\n\r\n`],
    ['POST to a mount', 'POST /ok.mp3 HTTP/1.0\r\nContent-Length: 0\r\n\r\n'],
    ['DELETE to a mount', 'DELETE /ok.mp3 HTTP/1.0\r\n\r\n'],
    ['SOURCE method', 'SOURCE /ok.mp3 HTTP/1.0\r\n\r\n'],
    ['garbage request line', 'HELLO\r\n\r\n']
  ]
  for (const [what, request] of cases) {
    const status = await raw(request)
    assert.ok(status >= 400 && status < 500, `${what}: ${status}`)
  }
  for (const value of ['0', 'yes', '-1', '99999999999999999999', '1; DROP']) {
    const listener = openListener(`http://127.0.0.1:${port}/ok.mp3`, { headers: { 'Icy-MetaData': value } })
    const head = await listener.head
    await listener.close()
    assert.equal(head.status, 200, `Icy-MetaData: ${value}`)
    assert.equal(head.headers['icy-metaint'] !== undefined, Number.parseInt(value, 10) > 0, `Icy-MetaData: ${value}`)
  }
  assert.equal(app.relay.get('/ok.mp3')!.state, 'live')
})

/** An upstream that answers every request with `answer`, relayed at /x by an app of its own; both closed after the test. */
async function relayOfUpstream (t: TestContext, answer: (socket: net.Socket) => void, limits: Partial<Limits>): Promise<{ app: FastifyInstance, base: string }> {
  const upstream = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', () => answer(socket))
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  const { port } = upstream.address() as net.AddressInfo
  const app = Fastify()
  await app.register(fastifyIcecastRelay, { relays: [{ server: '127.0.0.1', port, mount: '/x', localMount: '/x' }], limits })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(async () => { await app.close(); await new Promise((resolve) => upstream.close(resolve)) })
  return { app, base: `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}` }
}

test('an upstream that answers a head and hangs up at once gives newcomers 503, not a 200 with no audio', { timeout: 30000 }, async (t) => {
  const { app, base } = await relayOfUpstream(t, (socket) => socket.end('HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n'), { maxBackoff: 0.2 })
  await waitUntil(() => app.relay.get('/x')!.reconnects >= 2, 5000, 'the relay to reconnect')

  const outcomes = await Promise.all(Array.from({ length: 25 }, async (_, i) => {
    await new Promise((resolve) => setTimeout(resolve, i * 80))
    const asked = Date.now()
    const { status, ended } = await listen(`${base}/x`, { ms: 3000 })
    return { status, ended, ms: Date.now() - asked }
  }))
  // a reconnect that has answered but sent nothing yet makes a newcomer wait for its audio, not admits it
  for (const outcome of outcomes) {
    assert.ok(outcome.status === 503 && outcome.ended && outcome.ms < 1000, JSON.stringify(outcome))
  }
})

test('an upstream that turns to sending a byte and hanging up does not keep listeners past the grace period', { timeout: 30000 }, async (t) => {
  let healthy = true
  const { app, base } = await relayOfUpstream(t, (socket) => {
    socket.write('HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n')
    if (healthy) socket.write(noise(20000))
    else socket.end(noise(1))
  }, { gracePeriod: 2 })
  await waitForState(app, '/x', 'live')
  const rider = openListener(`${base}/x`)
  await rider.waitForBytes(1)
  healthy = false
  const start = Date.now()
  app.relay.restart('/x')
  await rider.ended
  const elapsed = Date.now() - start
  assert.ok(elapsed >= 1800 && elapsed < 4000, `ended after ${elapsed} ms: the grace period ran from the last stream`)
  assert.ok(app.relay.get('/x')!.reconnects >= 2, 'the byte-and-hang-up connections came meanwhile')
  const late = await listen(`${base}/x`, { ms: 2000 })
  assert.equal(late.status, 503)
})
