import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { relayApp, scriptedRelay, waitForState, waitUntil } from '../../helpers/app.js'
import { httpGet } from '../../helpers/procs.js'
import { openListener } from '../../helpers/listen.js'
import { noise, scriptedUpstream } from '../../helpers/scripted.js'
import { closedPort } from '../../helpers/servers.js'

test('one upstream connection whatever the listener count; every listener gets the same bytes', async (t) => {
  const upstream = await scriptedUpstream({ headers: { 'icy-name': 'Scripted', 'icy-br': '128' } })
  const { app, url } = await relayApp({ relays: [{ url: upstream.url('/s'), localMount: '/live' }], limits: { burstSize: 0 } })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/live', 'live')

  const listeners = Array.from({ length: 5 }, () => openListener(url('/live')))
  const heads = await Promise.all(listeners.map((l) => l.head))
  await waitUntil(() => app.relay.get('/live')!.listeners === 5)
  const payload = noise(200_000)
  for (let i = 0; i < payload.length; i += 4096) upstream.push(payload.subarray(i, i + 4096))
  const bodies = await Promise.all(listeners.map((l) => l.waitForBytes(payload.length)))

  assert.equal(upstream.requests.length, 1)
  for (const body of bodies) assert.ok(body.equals(payload))
  for (const head of heads) {
    assert.equal(head.statusLine, 'HTTP/1.0 200 OK')
    assert.equal(head.headers['content-type'], 'audio/mpeg')
    assert.equal(head.headers['icy-name'], 'Scripted')
    assert.equal(head.headers['icy-br'], '128')
    assert.equal(head.headers['cache-control'], 'no-cache, no-store')
  }
  const status = app.relay.get('/live')!
  assert.equal(status.bytesIn, payload.length)
  assert.equal(status.bytesOut, payload.length * 5)
  assert.equal(status.peakListeners, 5)
  await Promise.all(listeners.map((l) => l.close()))
})

test('the upstream request: GET, Host with port, User-Agent, Icy-MetaData, Basic credentials', async (t) => {
  const upstream = await scriptedUpstream()
  const { app } = await relayApp({
    relays: [
      { server: '127.0.0.1', port: upstream.port, mount: '/a?type=http', localMount: '/a', username: 'src', password: 'p@ss:w' },
      { server: '127.0.0.1', port: upstream.port, mount: '/b', relayShoutcastMetadata: false }
    ],
    userAgent: 'test-relay/1.0'
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await upstream.waitForClients(2)
  const a = upstream.requests.find((r) => r.startsWith('GET /a'))!
  const b = upstream.requests.find((r) => r.startsWith('GET /b'))!
  assert.match(a, /^GET \/a\?type=http HTTP\/1\.0\r\n/)
  assert.match(a, new RegExp(`\r\nHost: 127\\.0\\.0\\.1:${upstream.port}\r\n`))
  assert.match(a, /\r\nUser-Agent: test-relay\/1\.0(\r\n|$)/)
  assert.match(a, /\r\nIcy-MetaData: 1(\r\n|$)/)
  assert.match(a, new RegExp(`\r\nAuthorization: Basic ${Buffer.from('src:p@ss:w').toString('base64')}(\r\n|$)`))
  assert.doesNotMatch(b, /Icy-MetaData/i)
  assert.doesNotMatch(b, /Authorization/i)
})

test('burst: a new listener first gets the last burstSize bytes, then the live stream, contiguous', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, url } = await relayApp({ relays: [{ url: upstream.url(), localMount: '/b' }], limits: { burstSize: 20000 } })
  t.after(async () => { await app.close(); await upstream.close() })
  await upstream.waitForClients(1)
  const before = noise(100_000)
  for (let i = 0; i < before.length; i += 1500) upstream.push(before.subarray(i, i + 1500))
  await waitUntil(() => app.relay.get('/b')!.bytesIn === before.length)

  const listener = openListener(url('/b'))
  const burst = await listener.waitForBytes(20000)
  assert.ok(burst.subarray(0, 20000).equals(before.subarray(before.length - 20000)))
  const after = noise(30_000)
  upstream.push(after)
  const body = await listener.waitForBytes(50000)
  assert.ok(body.equals(Buffer.concat([before.subarray(before.length - 20000), after])))
  await listener.close()
})

test('HEAD answers the headers; unknown mounts reach the host app\'s own 404 handler and routes', async (t) => {
  const upstream = await scriptedUpstream({ headers: { 'ice-name': 'Mapped' } })
  const { app, url } = await relayApp({ relays: [{ url: upstream.url(), localMount: '/h.mp3' }] }, (app) => {
    app.setNotFoundHandler((request, reply) => { reply.code(404).send({ host404: request.url }) })
    app.get('/health', async () => ({ ok: true }))
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/h.mp3', 'live')

  const head = openListener(url('/h.mp3'), { method: 'HEAD' })
  const h = await head.head
  await head.ended
  assert.equal(h.status, 200)
  assert.equal(h.headers['icy-name'], 'Mapped')
  assert.equal(head.received().length, 0)

  const missing = await httpGet(url('/nope.mp3'))
  assert.equal(missing.status, 404)
  assert.deepEqual(JSON.parse(missing.body.toString()), { host404: '/nope.mp3' })
  assert.equal((await httpGet(url('/health'))).status, 200)
  assert.equal((await httpGet(url('/h.mp3x'))).status, 404)
})

test('relays added at run time are served at once; removed ones end their listeners and 404', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, url } = await relayApp({ prefix: '/radio' })
  t.after(async () => { await app.close(); await upstream.close() })
  const events: string[] = []
  app.relay.on('state', (e) => events.push(`${e.localMount}:${e.state}`))
  app.relay.on('listener', (e) => events.push(`${e.localMount}:${e.action}`))

  const status = app.relay.add({ url: upstream.url(), localMount: '/later' })
  assert.equal(status.localMount, '/later')
  assert.throws(() => app.relay.add({ url: upstream.url(), localMount: '/later' }), /already serves/)
  assert.throws(() => app.relay.add({ server: 'h' } as never), /port: required/)
  await waitForState(app, '/later', 'live')
  assert.equal((await httpGet(url('/later'))).status, 404, 'served under the prefix only')

  const listener = openListener(url('/radio/later'))
  await listener.head
  upstream.push(Buffer.from('audio'))
  await listener.waitForBytes(5)
  assert.deepEqual(app.relay.list().map((s) => s.localMount), ['/later'])

  assert.equal(app.relay.remove('/later'), true)
  assert.equal(app.relay.remove('/later'), false)
  await listener.ended
  assert.equal((await httpGet(url('/radio/later'))).status, 404)
  assert.equal(app.relay.get('/later'), undefined)
  assert.deepEqual(events, ['/later:connecting', '/later:live', '/later:join', '/later:stopped', '/later:leave'])
})

test('listener limits: global clients and per-relay maxListeners answer 403 with a reason', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, url } = await relayApp({
    relays: [{ url: upstream.url('/1'), localMount: '/one', maxListeners: 1 }, { url: upstream.url('/2'), localMount: '/two' }],
    limits: { clients: 2 }
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/one', 'live')
  await waitForState(app, '/two', 'live')

  const first = openListener(url('/one'))
  await first.head
  const perRelay = await httpGet(url('/one'))
  assert.equal(perRelay.status, 403)
  assert.match(perRelay.body.toString(), /Too many listeners on \/one/)

  const second = openListener(url('/two'))
  await second.head
  const global = await httpGet(url('/two'))
  assert.equal(global.status, 403)
  assert.match(global.body.toString(), /Too many listeners on this server/)

  await first.close()
  await waitUntil(() => app.relay.get('/one')!.listeners === 0)
  const third = openListener(url('/one'))
  assert.equal((await third.head).status, 200)
  await Promise.all([second.close(), third.close()])
})

test('a listener that stops reading is dropped at queueSize; the others keep every byte', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/q', { plugin: { limits: { queueSize: 65536, burstSize: 0 } } })
  const reader = openListener(url('/q'))
  const stalled = openListener(url('/q'))
  await Promise.all([reader.head, stalled.head])
  stalled.socket.pause()
  await waitUntil(() => app.relay.get('/q')!.listeners === 2)

  // Loopback socket buffers absorb megabytes before a queue builds up in the relay: push until the drop.
  const block = noise(16384)
  let pushed = 0
  while (app.relay.get('/q')!.slowDrops === 0 && pushed < 256 * 1024 * 1024) {
    for (let i = 0; i < 3; i++) upstream.push(block)
    pushed += 3 * block.length
    // paced by what the reader got: a step is less than queueSize, so on a busy machine too only the stalled
    // listener's queue grows (a step of 1 MB outran a reader that had read all before it, and dropped it)
    await reader.waitForBytes(pushed, 10000)
  }
  await waitUntil(() => app.relay.get('/q')!.slowDrops === 1, 10000, 'slow drop')
  const body = await reader.waitForBytes(pushed, 30000)
  assert.equal(body.length, pushed)
  assert.ok(body.equals(upstream.sent()))
  assert.equal(app.relay.get('/q')!.listeners, 1)
  await reader.close()
  await stalled.close()
})

test('an ended listener that does not read is cut off after 3-6 s; one that reads gets its end at once', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/st', { plugin: { limits: { burstSize: 0, queueSize: 256 * 1024 * 1024 } } })
  const connections = async (): Promise<number> => await new Promise((resolve, reject) => {
    app.server.getConnections((error, count) => { if (error === null) resolve(count); else reject(error) })
  })
  const reader = openListener(url('/st'))
  const stalled = openListener(url('/st'))
  await Promise.all([reader.head, stalled.head])
  stalled.socket.pause()
  await waitUntil(() => app.relay.get('/st')!.listeners === 2)
  // More than loopback's socket buffers take (32 + 4 MB at most here), so that the stalled listener's
  // end waits behind a queue in the relay, as a paused player's would; the queue limit is not reached.
  const block = noise(1024 * 1024)
  for (let i = 0; i < 64; i++) {
    upstream.push(block)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await reader.waitForBytes(64 * block.length, 30000)
  assert.equal(app.relay.get('/st')!.slowDrops, 0)
  const start = Date.now()
  app.relay.remove('/st')
  await reader.ended
  assert.ok(Date.now() - start < 1000, 'the reading listener got its end at once')
  await new Promise((resolve) => setTimeout(resolve, 500))
  assert.equal(await connections(), 1, 'the stalled one is given time to read')
  while (await connections() > 0 && Date.now() - start < 10000) await new Promise((resolve) => setTimeout(resolve, 100))
  const elapsed = Date.now() - start
  assert.equal(await connections(), 0, 'the stalled one was cut off')
  assert.ok(elapsed >= 2900 && elapsed < 8000, `cut off after ${elapsed} ms`)
  await Promise.all([reader.close(), stalled.close()])
})

test('writeInterval: upstream reads are gathered and written to listeners once per interval, every byte kept', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/w', { plugin: { limits: { burstSize: 0, writeInterval: 0.5 } } })
  const listener = openListener(url('/w'))
  await listener.head
  await waitUntil(() => app.relay.get('/w')!.listeners === 1)
  // with no burst a listener waits for the next place to start, and starts there at once; the zeros at
  // the end keep the format detector from holding back a tail that might begin an Ogg page
  const first = noise(1000).fill(0, 990)
  upstream.push(first)
  await listener.waitForBytes(first.length)
  await new Promise((resolve) => setTimeout(resolve, 600))
  const payload = noise(30_000).fill(0, 29_990)
  for (let i = 0; i < payload.length; i += 10_000) {
    upstream.push(payload.subarray(i, i + 10_000))
    await new Promise((resolve) => setTimeout(resolve, 30))
  }
  await waitUntil(() => app.relay.get('/w')!.bytesIn === first.length + payload.length)
  assert.equal(app.relay.get('/w')!.bytesOut, first.length, 'nothing more written before the interval ends')
  const body = await listener.waitForBytes(first.length + payload.length, 5000)
  assert.ok(body.equals(Buffer.concat([first, payload])))
  await listener.close()
})

test('an upstream gap shorter than the grace period keeps listeners; they get the new stream', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/g', { plugin: { limits: { gracePeriod: 5, burstSize: 0 } } })
  const listener = openListener(url('/g'))
  await listener.head
  await waitUntil(() => app.relay.get('/g')!.listeners === 1)
  // a stream, not a few bytes: only a connection that sent 4 KiB is one whose end is a gap
  const before = noise(5000)
  upstream.push(before)
  await listener.waitForBytes(5000)

  upstream.drop()
  await waitForState(app, '/g', 'retrying')
  assert.equal(app.relay.get('/g')!.lastError?.code, 'FST_ICECAST_RELAY_UPSTREAM_CLOSED')
  const joiner = openListener(url('/g'))
  assert.equal((await joiner.head).status, 200, 'a listener may join during the grace period')
  await waitForState(app, '/g', 'live', 3000)
  await upstream.waitForClients(1)
  upstream.push(Buffer.from('after'))
  assert.ok((await listener.waitForBytes(5005)).equals(Buffer.concat([before, Buffer.from('after')])))
  assert.equal(app.relay.get('/g')!.listeners, 2)
  assert.equal(app.relay.get('/g')!.reconnects, 1)
  await Promise.all([listener.close(), joiner.close()])
})

test('past the grace period listeners are ended cleanly and newcomers get 503 with Retry-After', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, url } = await relayApp({ relays: [{ url: upstream.url(), localMount: '/p' }], limits: { gracePeriod: 0.5 } })
  t.after(async () => { await app.close() })
  await waitForState(app, '/p', 'live')
  const listener = openListener(url('/p'))
  await listener.head
  await waitUntil(() => app.relay.get('/p')!.listeners === 1)
  // a gap is what follows a stream: a connection that never sent 4 KiB ends its listeners at once
  upstream.push(noise(5000))
  await listener.waitForBytes(5000)
  const start = Date.now()
  await upstream.close()
  await listener.ended
  const elapsed = Date.now() - start
  assert.ok(elapsed >= 450 && elapsed < 2000, `ended after ${elapsed} ms`)
  const refused = await httpGet(url('/p'))
  assert.equal(refused.status, 503)
  assert.equal(refused.headers['retry-after'], '5')
  assert.equal(app.relay.get('/p')!.listeners, 0)
  assert.notEqual(app.relay.get('/p')!.state, 'live')
})

test('a relay that never connected answers 503 at once; retries back off exponentially from under 1 s', async (t) => {
  const port = await closedPort()
  const { app, url } = await relayApp({ relays: [{ server: '127.0.0.1', port, localMount: '/down' }] })
  t.after(() => app.close())
  const connecting: number[] = []
  app.relay.on('state', (e) => { if (e.state === 'connecting') connecting.push(Date.now()) })
  await waitForState(app, '/down', 'retrying')
  const firstFailure = Date.now()
  const start = Date.now()
  const res = await httpGet(url('/down'))
  assert.ok(Date.now() - start < 500, 'answered at once')
  assert.equal(res.status, 503)
  assert.ok(res.headers['retry-after'])
  const status = app.relay.get('/down')!
  assert.equal(status.lastError?.code, 'FST_ICECAST_RELAY_CONNECT_FAILED')
  assert.match(status.lastError!.message, /ECONNREFUSED/)

  await waitUntil(() => connecting.length >= 3, 6000, 'three retries')
  const gaps = [connecting[0]! - firstFailure, connecting[1]! - connecting[0]!, connecting[2]! - connecting[1]!]
  assert.ok(gaps[0]! <= 1000, `first retry after ${gaps[0]} ms`)
  assert.ok(gaps[1]! >= 450 && gaps[1]! <= 1200, `second gap ${gaps[1]} ms`)
  assert.ok(gaps[2]! >= 950 && gaps[2]! <= 2200, `third gap ${gaps[2]} ms`)
})

test('on demand: no upstream until the first listener, who waits for it; let go after the last leaves', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/od', { relay: { onDemand: true }, plugin: { limits: { onDemandLinger: 0.3 } } })
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.equal(app.relay.get('/od')!.state, 'idle')
  assert.equal(upstream.requests.length, 0)

  const listener = openListener(url('/od'))
  assert.equal((await listener.head).status, 200)
  await upstream.waitForClients(1)
  upstream.push(Buffer.from('on-demand'))
  assert.equal((await listener.waitForBytes(9)).toString(), 'on-demand')
  await listener.close()
  await waitForState(app, '/od', 'idle', 3000)
  await waitUntil(() => upstream.clients.size === 0, 2000, 'upstream connection closed')
  assert.equal(upstream.requests.length, 1)
})

test('on demand: a HEAD request, which waits for the upstream but does not stay, lets it go after the linger', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/odh', { relay: { onDemand: true }, plugin: { limits: { onDemandLinger: 0.3 } } })
  const head = openListener(url('/odh'), { method: 'HEAD' })
  assert.equal((await head.head).status, 200)
  await head.ended
  assert.equal(upstream.requests.length, 1)
  await waitForState(app, '/odh', 'idle', 3000)
  await waitUntil(() => upstream.clients.size === 0, 2000, 'upstream connection closed after the HEAD')
})

test('on demand: an upstream that ends while the relay lingers is connected again for the next listener', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/odg', {
    relay: { onDemand: true }, plugin: { limits: { onDemandLinger: 30, gracePeriod: 30, burstSize: 0 } }
  })
  const first = openListener(url('/odg'))
  await first.head
  await first.close()
  await waitUntil(() => app.relay.get('/odg')!.listeners === 0)
  upstream.drop()
  await waitForState(app, '/odg', 'idle', 3000)

  const next = openListener(url('/odg'))
  await upstream.waitForClients(1)
  assert.equal((await next.head).status, 200)
  upstream.push(Buffer.from('fresh'))
  assert.equal((await next.waitForBytes(5)).toString(), 'fresh')
  assert.equal(upstream.requests.length, 2)
  await next.close()
})

test('the grace period runs from the last audio: an upstream that answers and hangs up does not extend it', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/hang', { plugin: { limits: { gracePeriod: 1.5, burstSize: 0 } } })
  const listener = openListener(url('/hang'))
  await listener.head
  await waitUntil(() => app.relay.get('/hang')!.listeners === 1)
  upstream.push(noise(5000))
  await listener.waitForBytes(5000)
  const start = Date.now()
  const hangUps = setInterval(() => { upstream.drop() }, 10)
  t.after(() => { clearInterval(hangUps) })
  upstream.drop()
  const ended = await Promise.race([listener.ended.then(() => true), new Promise<false>((resolve) => setTimeout(resolve, 6000, false))])
  const elapsed = Date.now() - start
  clearInterval(hangUps)
  assert.ok(ended, 'the listener was ended')
  assert.ok(app.relay.get('/hang')!.reconnects >= 1, 'the upstream answered again within the grace period')
  assert.ok(elapsed >= 1400 && elapsed < 3500, `ended ${elapsed} ms after the last audio`)
})

test('upstream errors become the relay\'s state and last error, never an exception', async (t) => {
  const answers: Record<string, string> = {
    '/401': 'HTTP/1.0 401 Unauthorized\r\n\r\n',
    '/html': 'HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>',
    '/garbage': 'SSH-2.0-OpenSSH\r\n\r\n'
  }
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', (data) => {
      const path = data.toString('latin1').split(' ')[1]!
      socket.end(answers[path] ?? 'HTTP/1.0 404 Not Found\r\n\r\n')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  const { app } = await relayApp({
    relays: Object.keys(answers).map((path) => ({ server: '127.0.0.1', port, mount: path }))
  })
  t.after(async () => { await app.close(); await new Promise((resolve) => server.close(resolve)) })
  const expected: Record<string, string> = {
    '/401': 'FST_ICECAST_RELAY_UPSTREAM_STATUS',
    '/html': 'FST_ICECAST_RELAY_NOT_AUDIO',
    '/garbage': 'FST_ICECAST_RELAY_BAD_STATUS_LINE'
  }
  for (const [mount, code] of Object.entries(expected)) {
    await waitForState(app, mount, 'retrying')
    assert.equal(app.relay.get(mount)!.lastError?.code, code, mount)
  }
})

test('app.close() returns promptly with hundreds of listeners attached', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, url } = await relayApp({ relays: [{ url: upstream.url(), localMount: '/c' }], limits: { clients: 1000 } })
  t.after(() => upstream.close())
  await waitForState(app, '/c', 'live')
  const listeners = Array.from({ length: 300 }, () => openListener(url('/c')))
  await Promise.all(listeners.map((l) => l.head))
  await waitUntil(() => app.relay.get('/c')!.listeners === 300)
  upstream.push(noise(10000))
  const start = Date.now()
  await app.close()
  assert.ok(Date.now() - start < 1000, `close took ${Date.now() - start} ms`)
  await Promise.all(listeners.map((l) => l.ended))
})

test('restart of a relay waiting to retry connects at once', async (t) => {
  const port = await closedPort()
  const { app } = await relayApp({ relays: [{ server: '127.0.0.1', port, localMount: '/r' }], limits: { maxBackoff: 60 } })
  t.after(() => app.close())
  const connecting: number[] = []
  app.relay.on('state', (e) => { if (e.state === 'connecting') connecting.push(Date.now()) })
  await waitUntil(() => connecting.length >= 4, 8000, 'a few retries')
  await waitForState(app, '/r', 'retrying')
  const before = connecting.length
  const start = Date.now()
  assert.equal(app.relay.restart('/r'), true)
  assert.equal(connecting.length, before + 1)
  assert.ok(connecting.at(-1)! - start < 50)
  assert.equal(app.relay.restart('/nope'), false)
})

test('restart of a relay still connecting to an upstream that never answers gives that attempt up for a new one', async (t) => {
  const accepted: net.Socket[] = []
  const silent = net.createServer((socket) => { socket.on('error', () => {}); socket.resume(); accepted.push(socket) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  const port = (silent.address() as net.AddressInfo).port
  const { app } = await relayApp({ relays: [{ server: '127.0.0.1', port, localMount: '/hung' }] })
  t.after(async () => {
    await app.close()
    for (const socket of accepted) socket.destroy()
    await new Promise((resolve) => silent.close(resolve))
  })
  await waitUntil(() => accepted.length === 1)
  assert.equal(app.relay.get('/hung')!.state, 'connecting')
  assert.equal(app.relay.restart('/hung'), true)
  await waitUntil(() => accepted.length === 2, 1000, 'a new connection at once')
  await waitUntil(() => accepted[0]!.destroyed || accepted[0]!.readableEnded, 1000, 'the hung attempt closed')
  assert.equal(app.relay.get('/hung')!.state, 'connecting')
})

test('while listeners ride a gap, retries come at least every second, however long the backoff has grown', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/b', { plugin: { limits: { gracePeriod: 8 } } })
  const listener = openListener(url('/b'))
  await listener.head
  await waitUntil(() => app.relay.get('/b')!.listeners === 1)
  upstream.push(noise(5000))
  await listener.waitForBytes(5000)
  const connecting: number[] = []
  app.relay.on('state', (e) => { if (e.state === 'connecting') connecting.push(Date.now()) })
  await upstream.close()
  await new Promise((resolve) => setTimeout(resolve, 5000))
  const gaps = connecting.slice(1).map((at, i) => at - connecting[i]!)
  assert.ok(connecting.length >= 5, `${connecting.length} attempts in 5 s`)
  assert.ok(gaps.every((gap) => gap <= 1100), `gaps ${gaps.join(', ')} ms`)
  await upstream.reopen()
  await waitForState(app, '/b', 'live', 1500)
  assert.equal(app.relay.get('/b')!.listeners, 1)
  await listener.close()
})
