import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import Fastify from 'fastify'
import fastifyIcecastRelay from '../../../lib/index.js'
import { relayApp, scriptedRelay, waitForState, waitUntil } from '../../helpers/app.js'
import { openListener } from '../../helpers/listen.js'
import { noise, scriptedUpstream } from '../../helpers/scripted.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const openFds = (): number => readdirSync('/proc/self/fd').length
const handles = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap').length

/** Connects, asks for a mount, waits for the first body bytes and hangs up. */
async function shortListen (port: number, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n`))
    let seen = 0
    socket.on('data', (data) => {
      seen += data.length
      if (seen > 600) socket.destroy()
    })
    socket.on('close', () => (seen > 0 ? resolve() : reject(new Error('nothing received'))))
    socket.on('error', () => {})
  })
}

test('10,000 short listener connections in a row leave no file descriptor, timer or memory behind', async (t) => {
  const { app, base, upstream } = await scriptedRelay(t, '/short', { upstream: { headers: { 'icy-metaint': '8192' } }, plugin: { limits: { clients: 1000 } } })
  const port = Number(new URL(base).port)
  upstream.push(noise(65536))
  const feed = setInterval(() => upstream.push(noise(2000)), 50)
  t.after(() => clearInterval(feed))

  const warm = async (n: number): Promise<void> => { for (let i = 0; i < n; i++) await shortListen(port, '/short') }
  await warm(200)
  await waitUntil(() => app.relay.get('/short')!.listeners === 0)
  gc()
  const before = { fds: openFds(), handles: handles(), heap: process.memoryUsage().heapUsed }

  const total = 10_000
  const parallel = 50
  let started = 0
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (started < total) {
      started++
      await shortListen(port, '/short')
    }
  }))
  await waitUntil(() => app.relay.get('/short')!.listeners === 0, 5000, 'every listener gone')
  await new Promise((resolve) => setTimeout(resolve, 200))
  gc()
  const after = { fds: openFds(), handles: handles(), heap: process.memoryUsage().heapUsed }
  assert.ok(after.fds <= before.fds + 2, `fds ${before.fds} → ${after.fds}`)
  assert.ok(after.handles <= before.handles + 2, `handles ${before.handles} → ${after.handles}`)
  assert.ok(after.heap - before.heap < 8 * 1024 * 1024, `heap ${before.heap} → ${after.heap}`)
  assert.ok(app.relay.get('/short')!.peakListeners <= parallel + 1)
})

test('hundreds of listeners that stop reading are dropped; memory stays bounded and readers get every byte', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, url } = await relayApp({
    relays: [{ url: upstream.url(), localMount: '/many' }],
    // 305 joining at once are a crowd: its 0.5 s of gathering at 10 MB/s would be writes far over the queueSize
    limits: { clients: 1000, queueSize: 65536, burstSize: 0, crowdWriteInterval: 0 }
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/many', 'live')
  const stalled = Array.from({ length: 300 }, () => openListener(url('/many')))
  const readers = Array.from({ length: 5 }, () => openListener(url('/many')))
  await Promise.all([...stalled, ...readers].map((l) => l.head))
  for (const l of stalled) l.socket.pause()
  await waitUntil(() => app.relay.get('/many')!.listeners === 305)
  gc()
  const rssBefore = process.memoryUsage().rss

  const block = noise(16384)
  let pushed = 0
  while (app.relay.get('/many')!.slowDrops < 300 && pushed < 512 * 1024 * 1024) {
    for (let i = 0; i < 32; i++) upstream.push(block)
    pushed += 32 * block.length
    // About 10 MB/s: far beyond real time, yet slow enough for readers in this same process to keep up.
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const rssPeak = process.memoryUsage().rss
  await waitUntil(() => app.relay.get('/many')!.slowDrops === 300, 10000, 'every stalled listener dropped')
  for (const reader of readers) assert.equal((await reader.waitForBytes(pushed, 30000)).length, pushed)
  // Queued chunks are shared: 300 queues of 64 KiB must not cost 300 copies of what was pushed.
  assert.ok(rssPeak - rssBefore < 300 * 1024 * 1024, `RSS grew by ${Math.round((rssPeak - rssBefore) / 1048576)} MiB for ${Math.round(pushed / 1048576)} MiB pushed`)
  await Promise.all([...stalled, ...readers].map((l) => l.close()))
})

test('a flood of connections with unfinished headers does not stop a listener; the request timeout closes them', async (t) => {
  const upstream = await scriptedUpstream()
  // What a production host app should set: a request timeout. Node checks it every
  // connectionsCheckingInterval (30 s by default), shortened here for the test.
  const app = Fastify({
    serverFactory: (handler) => http.createServer({ requestTimeout: 1000, headersTimeout: 1000, connectionsCheckingInterval: 200 }, handler)
  })
  await app.register(fastifyIcecastRelay, { relays: [{ url: upstream.url(), localMount: '/f' }] })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as net.AddressInfo
  await waitForState(app, '/f', 'live')

  const flood: net.Socket[] = Array.from({ length: 500 }, () => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /f HTTP/1.1\r\nHost: x\r\nX-Slow: '))
    socket.on('error', () => {})
    socket.resume()
    return socket
  })
  t.after(async () => {
    for (const socket of flood) socket.destroy()
    await app.close()
    await upstream.close()
  })
  await new Promise((resolve) => setTimeout(resolve, 300))
  const listener = openListener(`http://127.0.0.1:${port}/f`)
  assert.equal((await listener.head).status, 200)
  upstream.push(noise(1000))
  await listener.waitForBytes(1000)
  await waitUntil(() => flood.every((s) => s.closed), 5000, 'the half-open requests closed')
  assert.equal(app.relay.get('/f')!.listeners, 1)
  await listener.close()
})

/** Sends a HEAD for `path` and keeps its own half of the connection open, as some clients do. */
async function halfOpenHead (port: number, path: string): Promise<{ head: Promise<string>, ended: Promise<void>, socket: net.Socket }> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
  socket.on('error', () => {})
  let received = ''
  const head = new Promise<string>((resolve) => socket.on('data', (data: Buffer) => {
    received += data.toString('latin1')
    if (received.includes('\r\n\r\n')) resolve(received)
  }))
  const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()))
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write(`HEAD ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
  return { head, ended, socket }
}

test('HEAD ends its connection like any answer, even when the client keeps its half open; close is not held up', { timeout: 30000 }, async (t) => {
  const { app, base } = await scriptedRelay(t, '/h', { plugin: { limits: { clients: 1000 } } })
  const port = Number(new URL(base).port)
  const fds = openFds()
  const clients = await Promise.all(Array.from({ length: 200 }, async () => await halfOpenHead(port, '/h')))
  t.after(() => { for (const client of clients) client.socket.destroy() })
  for (const client of clients) assert.match(await client.head, /^HTTP\/1\.0 200 OK\r\n/)
  // the relay's end of the connection: the client's own half stays open
  await Promise.all(clients.map(async (client) => await client.ended))
  await waitUntil(() => openFds() <= fds + 200 + 5, 5000, `the relay's sockets to close (${openFds() - fds - 200} left)`)
  const start = Date.now()
  await app.close()
  assert.ok(Date.now() - start < 1000, `app.close() took ${Date.now() - start} ms`)
})

test('app.close() cuts off at once the ended listeners of a removed relay that do not read', { timeout: 30000 }, async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/gone', { plugin: { limits: { queueSize: 64 * 1024 * 1024, burstSize: 0 } } })
  const stalled = openListener(url('/gone'))
  await stalled.head
  stalled.socket.pause()
  await waitUntil(() => app.relay.get('/gone')!.listeners === 1)
  // more than loopback's buffers take, so that the end waits for a client that never reads
  for (let i = 0; i < 256; i++) upstream.push(noise(16384))
  await waitUntil(() => upstream.sent().length === 256 * 16384)
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.ok(app.relay.remove('/gone'))
  const start = Date.now()
  await app.close()
  assert.ok(Date.now() - start < 1000, `app.close() took ${Date.now() - start} ms`)
  stalled.socket.destroy()
})

test('other methods on a mount get 405 with Allow: GET, HEAD, before any body is read; elsewhere the host app answers', async (t) => {
  const { base } = await scriptedRelay(t, '/m')
  const port = Number(new URL(base).port)
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    // a source client that pushes its stream at the relay by mistake: a body that never ends
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(`${method} /m HTTP/1.1\r\nHost: x\r\nContent-Type: audio/mpeg\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n`)
        socket.write(noise(4096))
      })
      let received = ''
      socket.on('data', (data: Buffer) => { received += data.toString('latin1') })
      socket.on('close', () => resolve(received))
      socket.on('error', reject)
      setTimeout(() => { socket.destroy(); reject(new Error(`${method}: the connection stayed open: ${received}`)) }, 5000).unref()
    })
    assert.match(answer, /^HTTP\/1\.1 405 Method Not Allowed\r\n/, method)
    assert.match(answer, /\r\nallow: GET, HEAD\r\n/i, method)
  }
  const elsewhere = await new Promise<number>((resolve) => {
    const request = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/not-a-mount' }, (res) => { res.resume(); resolve(res.statusCode!) })
    request.end('{}')
  })
  assert.equal(elsewhere, 404)
})
