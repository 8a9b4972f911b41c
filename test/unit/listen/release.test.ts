import assert from 'node:assert/strict'
import { createServer, connect, type AddressInfo, type Socket } from 'node:net'
import { test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { releaseHttpState } from '../../../lib/listen/release.js'
import { relayApp, scriptedRelay, waitForState, waitUntil } from '../../helpers/app.js'
import { openListener } from '../../helpers/listen.js'
import { scriptedUpstream } from '../../helpers/scripted.js'
import { selfSignedCertificate } from '../../helpers/servers.js'
import Fastify from 'fastify'
import { connect as tlsConnect } from 'node:tls'
import fastifyIcecastRelay from '../../../lib/index.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

async function collected (refs: Array<WeakRef<object>>): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
    if (refs.every((ref) => ref.deref() === undefined)) return true
  }
  return false
}

/** A raw listener that sends `request` as given and keeps what comes back. */
async function rawListener (base: string, request: string): Promise<{ socket: Socket, received: () => string, closed: Promise<void> }> {
  const { port } = new URL(base)
  const socket = connect({ host: '127.0.0.1', port: Number(port) })
  let received = ''
  socket.on('data', (data: Buffer) => { received += data.toString('latin1') })
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.write(request)
  await waitUntil(() => received.includes('\r\n\r\n'), 5000, 'the response head')
  return { socket, received: () => received, closed }
}

test('a listener keeps no request, response or Fastify request/reply once it streams', async (t) => {
  const upstream = await scriptedUpstream()
  const refs: Array<WeakRef<object>> = []
  const { app, url } = await relayApp({ relays: [{ url: upstream.url(), localMount: '/r' }], limits: { burstSize: 0 } }, (app) => {
    app.addHook('onRequest', async (request, reply) => {
      refs.push(new WeakRef(request), new WeakRef(reply), new WeakRef(request.raw), new WeakRef(reply.raw))
    })
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/r', 'live')
  const listener = openListener(url('/r'))
  assert.equal((await listener.head).status, 200)
  await waitUntil(() => app.relay.get('/r')!.listeners === 1)

  assert.ok(await collected(refs), 'the HTTP objects of a streaming listener were collected')
  upstream.push(Buffer.from('after the release'))
  assert.equal((await listener.waitForBytes(17)).toString(), 'after the release')
  await listener.close()
  await waitUntil(() => app.relay.get('/r')!.listeners === 0)
})

test('after the release: bytes a listener sends are ignored, and a half-close ends it', async (t) => {
  const { app, base, upstream } = await scriptedRelay(t, '/r', { plugin: { limits: { burstSize: 0 } } })
  const leaves: Array<string | undefined> = []
  app.relay.on('listener', (event) => { if (event.action === 'leave') leaves.push(event.reason) })

  const chatty = await rawListener(base, 'GET /r HTTP/1.0\r\n\r\n')
  const quiet = await rawListener(base, 'GET /r HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n')
  await waitUntil(() => app.relay.get('/r')!.listeners === 2)
  await new Promise((resolve) => setImmediate(resolve))
  // Node's HTTP server would answer these with a 400 and close the connection
  chatty.socket.write('GET /other HTTP/1.0\r\n\r\nnot http at all\r\n\r\n\x00\xff')
  upstream.push(Buffer.from('one'))
  await waitUntil(() => chatty.received().endsWith('one') && quiet.received().endsWith('one'), 5000, 'the chunk')
  assert.doesNotMatch(chatty.received(), /400/)

  quiet.socket.end()
  await quiet.closed
  await waitUntil(() => app.relay.get('/r')!.listeners === 1)
  assert.deepEqual(leaves, ['client'])
  upstream.push(Buffer.from('two'))
  await waitUntil(() => chatty.received().endsWith('onetwo'), 5000, 'the next chunk')
  chatty.socket.destroy()
})

test('over https too: the listener streams after the release, and its HTTP objects are collected', async (t) => {
  const upstream = await scriptedUpstream()
  const certificate = selfSignedCertificate()
  const app = Fastify({ https: certificate })
  const refs: Array<WeakRef<object>> = []
  app.addHook('onRequest', async (request) => { refs.push(new WeakRef(request.raw)) })
  await app.register(fastifyIcecastRelay, { relays: [{ url: upstream.url(), localMount: '/r' }], limits: { burstSize: 0 } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/r', 'live')
  const socket = tlsConnect({ port: (app.server.address() as AddressInfo).port, host: '127.0.0.1', ca: certificate.cert, servername: 'localhost' })
  let received = ''
  socket.on('data', (data: Buffer) => { received += data.toString('latin1') })
  socket.write('GET /r HTTP/1.0\r\n\r\n')
  await waitUntil(() => app.relay.get('/r')!.listeners === 1)
  assert.ok(await collected(refs), 'the request of a streaming https listener was collected')
  upstream.push(Buffer.from('over tls'))
  await waitUntil(() => received.endsWith('over tls'), 5000, 'the chunk over tls')
  assert.match(received, /^HTTP\/1\.0 200 OK\r\n/)
  socket.destroy()
  await waitUntil(() => app.relay.get('/r')!.listeners === 0)
})

test('app.close() ends released listeners at once', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, base } = await relayApp({ relays: [{ url: upstream.url(), localMount: '/r' }] })
  t.after(async () => { await upstream.close() })
  await waitForState(app, '/r', 'live')
  const listener = await rawListener(base, 'GET /r HTTP/1.0\r\n\r\n')
  await waitUntil(() => app.relay.get('/r')!.listeners === 1)
  await new Promise((resolve) => setImmediate(resolve))
  const start = Date.now()
  await app.close()
  await listener.closed
  assert.ok(Date.now() - start < 2000, `closed in ${Date.now() - start} ms`)
})

test('releaseHttpState leaves a socket that no HTTP server holds as it is', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
  const socket = await accepted
  assert.equal(releaseHttpState(socket), false)
  assert.equal(socket.listenerCount('data'), 0)
  client.destroy()
  socket.destroy()
  assert.equal(releaseHttpState(socket), false)
})
