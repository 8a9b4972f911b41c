import assert from 'node:assert/strict'
import { test } from 'node:test'
import { relayApp, waitForState, waitUntil } from '../../helpers/app.js'
import { openListener } from '../../helpers/listen.js'
import { httpGet } from '../../helpers/procs.js'
import { basic, fakeMaster } from '../../helpers/fake-master.js'

test('every listed mount is relayed under its name, with the master\'s credentials and ICY metadata asked', async (t) => {
  const master = await fakeMaster({ body: '/a.mp3\r\n/b/c.mp3\r\n\r\n' })
  master.mounts.add('/a.mp3').add('/b/c.mp3')
  const { app } = await relayApp({
    master: { server: '127.0.0.1', port: master.port, password: 's3cret', updateInterval: 60 },
    userAgent: 'slave-test/1'
  })
  t.after(async () => { await app.close(); await master.close() })
  await waitForState(app, '/a.mp3', 'live')
  await waitForState(app, '/b/c.mp3', 'live')

  const [poll] = master.polls()
  assert.equal(poll!.headers.authorization, basic('relay', 's3cret'))
  assert.equal(poll!.headers['user-agent'], 'slave-test/1')
  for (const path of ['/a.mp3', '/b/c.mp3']) {
    const request = master.requests.find((r) => r.path === path)!
    assert.equal(request.headers.authorization, basic('relay', 's3cret'), 'credentials on the stream request too')
    assert.equal(request.headers['icy-metadata'], '1')
  }
  const status = app.relay.get('/a.mp3')!
  assert.equal(status.origin, `master:127.0.0.1:${master.port}`)
  assert.equal(status.relayShoutcastMetadata, true)
  assert.equal(status.onDemand, false)
  const [masterStatus] = app.relay.masters()
  assert.equal(masterStatus!.url, `http://127.0.0.1:${master.port}/`)
  assert.deepEqual(masterStatus!.mounts, ['/a.mp3', '/b/c.mp3'])
  assert.deepEqual(masterStatus!.relays, ['/a.mp3', '/b/c.mp3'])
  assert.equal(masterStatus!.lastError, null)
  assert.equal(masterStatus!.polls, 1)
  assert.ok(masterStatus!.lastSuccessAt !== null)
  assert.ok(Date.parse(masterStatus!.nextPollAt!) > Date.now() + 50_000)
})

test('each poll reconciles: new mounts start, vanished ones stop and end their listeners, the rest are untouched', async (t) => {
  const master = await fakeMaster({ body: '/a\r\n/b\r\n' })
  master.mounts.add('/a').add('/b').add('/c')
  const { app, url } = await relayApp({ master: { server: '127.0.0.1', port: master.port, password: 'p', updateInterval: 0.2 } })
  t.after(async () => { await app.close(); await master.close() })
  await waitForState(app, '/a', 'live')
  await waitForState(app, '/b', 'live')
  const since = app.relay.get('/a')!.connectedSince
  const listener = openListener(url('/b'))
  assert.equal((await listener.head).status, 200)

  master.answer = { body: '/a\n/c\n' }
  await waitForState(app, '/c', 'live')
  await listener.ended
  assert.equal(app.relay.get('/b'), undefined)
  assert.equal((await httpGet(url('/b'))).status, 404)
  assert.equal(app.relay.get('/a')!.connectedSince, since)
  assert.equal(master.requests.filter((r) => r.path === '/a').length, 1, 'one stream request for the unchanged mount')

  master.answer = { body: '' }
  await waitUntil(() => app.relay.list().length === 0, 5000, 'an empty list to remove every mount')
  assert.deepEqual(app.relay.masters()[0]!.relays, [])
})

test('an unreachable master, a 401 or a garbage answer keeps every relay and shows the error', async (t) => {
  const master = await fakeMaster({ body: '/a\r\n' })
  master.mounts.add('/a')
  const { app } = await relayApp({
    master: { server: '127.0.0.1', port: master.port, password: 'p', updateInterval: 0.1 },
    limits: { connectTimeout: 0.5 }
  })
  t.after(async () => { await app.close(); await master.close() })
  await waitForState(app, '/a', 'live')
  const errorOf = (): { code: string, message: string } | null => app.relay.masters()[0]!.lastError
  const expectFailure = async (code: string, message: RegExp): Promise<void> => {
    await waitUntil(() => errorOf()?.code === code && message.test(errorOf()!.message), 5000, `${code} ${message}`)
    assert.equal(app.relay.get('/a')!.state, 'live')
    assert.deepEqual(app.relay.masters()[0]!.mounts, ['/a'], 'the last good list is kept')
  }

  master.answer = { status: 401 }
  await expectFailure('FST_ICECAST_RELAY_UPSTREAM_STATUS', /401/)
  master.answer = { body: 'Welcome to my server\nPlease log in\n' }
  await expectFailure('FST_ICECAST_RELAY_NOT_STREAMLIST', /2 line\(s\) that name no mount/)
  master.answer = { contentType: 'audio/mpeg', body: 'ID3' }
  await expectFailure('FST_ICECAST_RELAY_NOT_STREAMLIST', /audio\/mpeg/)
  master.answer = { hang: true }
  await expectFailure('FST_ICECAST_RELAY_CONNECT_TIMEOUT', /no response head/)
  master.answer = { body: '/a\r\n'.repeat(300_000) }
  await expectFailure('FST_ICECAST_RELAY_STREAMLIST_TOO_LARGE', /exceeds 1048576 bytes/)
  master.answer = { body: '/a\r\n', keepOpen: true }
  await expectFailure('FST_ICECAST_RELAY_STREAMLIST_TIMEOUT', /no complete stream list within 500 ms/)
  assert.equal(master.requests.filter((r) => r.path === '/a').length, 1, 'the relay never reconnected')

  // A master that keeps the connection open after its Content-Length is answered all the same.
  master.answer = { body: '/a\r\n', keepOpen: true, contentLength: true }
  await waitUntil(() => errorOf() === null, 5000, 'recovery')
  const status = app.relay.masters()[0]!
  assert.ok(status.failures >= 6)
  assert.ok(status.polls > status.failures)

  await master.close()
  await waitUntil(() => errorOf()?.code === 'FST_ICECAST_RELAY_CONNECT_FAILED', 5000, 'connection refused')
  assert.ok(app.relay.get('/a') !== undefined, 'a master that is gone keeps its relays (they retry)')
})

test('a relay of the master that loses its stream makes an early poll, at most once per 5 s', async (t) => {
  const master = await fakeMaster({ body: '/a\r\n/b\r\n' })
  master.mounts.add('/a').add('/b')
  const { app, url } = await relayApp({ master: { server: '127.0.0.1', port: master.port, password: 'p', updateInterval: 60 } })
  t.after(async () => { await app.close(); await master.close() })
  await waitForState(app, '/a', 'live')
  await waitForState(app, '/b', 'live')
  const listener = openListener(url('/a'))
  await listener.head

  // The source of /a leaves the master; /b's drops a moment later: one early poll answers for both.
  master.answer = { body: '/b\r\n' }
  master.mounts.delete('/a')
  master.drop('/a')
  await waitForState(app, '/a', 'retrying')
  master.drop('/b')
  await waitUntil(() => app.relay.get('/a') === undefined, 10_000, 'the early poll to remove /a')
  await listener.ended
  const polls = master.polls()
  assert.equal(polls.length, 2)
  const gap = polls[1]!.at - polls[0]!.at
  assert.ok(gap >= 4900 && gap < 30_000, `early poll ${gap} ms after the first`)
  await waitForState(app, '/b', 'live')
  assert.equal(app.relay.get('/b')!.origin, `master:127.0.0.1:${master.port}`)
})

test('a relay from the options wins its mount; a mount several masters list is relayed from the first, the others its backups', async (t) => {
  const first = await fakeMaster({ body: '/x\r\n/y\r\n' })
  const second = await fakeMaster()
  const elsewhere = await fakeMaster()
  first.mounts.add('/x').add('/y')
  second.mounts.add('/y').add('/z')
  elsewhere.mounts.add('/far.mp3').add('/x')
  second.answer = { body: `/y\r\n/z\r\n${elsewhere.url('/far.mp3')}\r\n` }
  const { app } = await relayApp({
    relays: [{ url: elsewhere.url('/x'), localMount: '/x' }],
    master: [
      { server: '127.0.0.1', port: first.port, password: 'one', updateInterval: 0.2 },
      // it lists a mount of another server: followed as a redirect anywhere would be
      { server: '127.0.0.1', port: second.port, username: 'two', password: 'two', updateInterval: 0.2, redirects: 'any' }
    ]
  })
  t.after(async () => { await app.close(); await Promise.all([first.close(), second.close(), elsewhere.close()]) })
  for (const mount of ['/x', '/y', '/z', '/far.mp3']) await waitForState(app, mount, 'live')
  const firstOrigin = `master:127.0.0.1:${first.port}`
  const secondOrigin = `master:127.0.0.1:${second.port}`
  assert.equal(app.relay.get('/x')!.origin, 'options')
  assert.equal(app.relay.get('/y')!.origin, firstOrigin)
  assert.deepEqual(app.relay.get('/y')!.upstreams.map((upstream) => upstream.url), [first.url('/y'), second.url('/y')])
  assert.equal(app.relay.get('/z')!.origin, secondOrigin)
  assert.equal(app.relay.get('/far.mp3')!.upstream, elsewhere.url('/far.mp3'))
  const [one, two] = app.relay.masters()
  assert.deepEqual(one!.shadowed, ['/x'])
  assert.deepEqual(one!.relays, ['/y'])
  assert.deepEqual(two!.shadowed, [])
  assert.deepEqual(two!.relays.sort(), ['/far.mp3', '/y', '/z'])
  const farRequest = elsewhere.requests.find((r) => r.path === '/far.mp3')!
  assert.equal(farRequest.headers.authorization, undefined, 'a master\'s credentials go to the master only')

  first.answer = { body: '/x\r\n' }
  await waitUntil(() => app.relay.get('/y')?.origin === secondOrigin, 5000, '/y to pass to the second master')
  await waitForState(app, '/y', 'live')
  assert.equal(second.requests.find((r) => r.path === '/y')!.headers.authorization, basic('two', 'two'))
  assert.equal(app.relay.get('/x')!.origin, 'options')
})

test('on demand, master relays connect only when a listener comes', async (t) => {
  const master = await fakeMaster({ body: '/a\r\n' })
  master.mounts.add('/a')
  const { app, url } = await relayApp({ master: { server: '127.0.0.1', port: master.port, password: 'p', onDemand: true } })
  t.after(async () => { await app.close(); await master.close() })
  await waitUntil(() => app.relay.get('/a') !== undefined, 5000, 'the relay')
  assert.equal(app.relay.get('/a')!.state, 'idle')
  assert.equal(app.relay.get('/a')!.onDemand, true)
  const listener = openListener(url('/a'))
  assert.equal((await listener.head).status, 200)
  assert.equal(app.relay.get('/a')!.state, 'live')
  await listener.close()
})

test('app.close() is prompt while a poll hangs, and no poll comes after it', async (t) => {
  const master = await fakeMaster({ hang: true })
  const { app } = await relayApp({ master: { server: '127.0.0.1', port: master.port, password: 'p', updateInterval: 0.1 } })
  t.after(async () => { await master.close() })
  await waitUntil(() => master.polls().length === 1, 5000, 'a poll')
  const started = Date.now()
  await app.close()
  assert.ok(Date.now() - started < 1000, `close took ${Date.now() - started} ms`)
  master.answer = { body: '/a\r\n' }
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal(master.polls().length, 1)
  assert.equal(app.relay.list().length, 0)
})
