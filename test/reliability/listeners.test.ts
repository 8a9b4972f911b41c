import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import Fastify from 'fastify'
import fastifyIcecastRelay from '../../lib/index.js'
import { relayApp, scriptedRelay, waitForState, waitUntil } from '../helpers/app.js'
import { openListener } from '../helpers/listen.js'
import { noise, scriptedUpstream } from '../helpers/scripted.js'

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
    limits: { clients: 1000, queueSize: 65536, burstSize: 0 }
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
