import assert from 'node:assert/strict'
import { test } from 'node:test'
import { relayApp, waitForState, waitUntil } from '../../helpers/app.js'
import { openListener } from '../../helpers/listen.js'
import { noise, scriptedUpstream } from '../../helpers/scripted.js'
import { ADMIN, adminGet } from '../../helpers/admin.js'

const authorization = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`

test('REST: list, add (served at once), remove (listeners ended, then 404)', async (t) => {
  const upstream = await scriptedUpstream({ headers: { 'icy-name': 'Added' } })
  const { app, url } = await relayApp({ relays: [{ url: upstream.url('/a'), localMount: '/a' }], admin: ADMIN, limits: { burstSize: 0 } })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/a', 'live')

  const listed = JSON.parse((await adminGet(url('/admin/relays'))).text)
  assert.equal(listed.length, 1)
  assert.equal(listed[0].localMount, '/a')
  assert.equal(listed[0].state, 'live')
  assert.deepEqual(listed[0].stream.name, 'Added', 'every status field is passed on')

  const added = await app.inject({
    method: 'POST', url: '/admin/relays', headers: { authorization }, payload: { server: '127.0.0.1', port: upstream.port, mount: '/b', localMount: '/added' }
  })
  assert.equal(added.statusCode, 201)
  assert.equal(added.json().localMount, '/added')
  assert.equal(added.json().upstream, `http://127.0.0.1:${upstream.port}/b`)
  await waitForState(app, '/added', 'live')
  const listener = openListener(url('/added'))
  assert.equal((await listener.head).status, 200)
  await waitUntil(() => app.relay.get('/added')!.listeners === 1)
  upstream.push(noise(100))
  await listener.waitForBytes(100)

  const duplicate = await app.inject({ method: 'POST', url: '/admin/relays', headers: { authorization }, payload: { url: upstream.url('/c'), localMount: '/added' } })
  assert.equal(duplicate.statusCode, 409)

  const removed = await app.inject({ method: 'DELETE', url: '/admin/relays?mount=/added', headers: { authorization } })
  assert.equal(removed.statusCode, 204)
  await listener.ended
  assert.equal(app.relay.get('/added'), undefined)
  assert.equal((await adminGet(url('/added'), { auth: null })).status, 404)
  const again = await app.inject({ method: 'DELETE', url: '/admin/relays?mount=/added', headers: { authorization } })
  assert.equal(again.statusCode, 404)
  const noMount = await app.inject({ method: 'DELETE', url: '/admin/relays', headers: { authorization } })
  assert.equal(noMount.statusCode, 400)
  assert.match(noMount.json().message, /mount/)
})

test('REST: a bad relay definition is a 400 that names the field, and nothing is added', async (t) => {
  const { app } = await relayApp({ admin: ADMIN })
  t.after(async () => { await app.close() })
  const cases: Array<[unknown, RegExp]> = [
    [{ server: 'h', port: '8000' }, /^relay\.port: Expected integer$/],
    [{ server: 'h', port: 70000 }, /^relay\.port: Expected integer to be less or equal to 65535$/],
    [{ server: 'h', port: 8000, prot: 1 }, /^relay\.prot: Unexpected property$/],
    [{ server: 'h', port: 8000, localMount: 'x' }, /^relay\.localMount: /],
    [{ server: 'h' }, /relay\.port: required \(Icecast has no default port/],
    [{ port: 8000 }, /relay\.server: required/],
    [{ server: 'a^b', port: 8000 }, /relay\.server: "a\^b" is not a host name or address$/],
    [{ url: 'http://h:1/x', server: 'h' }, /relay\.url: give either url or server/],
    [{ server: 'h', port: 1, localMount: '/a/../b' }, /relay\.localMount: must not contain/],
    [{ url: 'http://h:1/%zz' }, /relay\.url: bad percent-encoding$/],
    [[], /^relay: Expected object$/]
  ]
  for (const [payload, message] of cases) {
    const res = await app.inject({ method: 'POST', url: '/admin/relays', headers: { authorization }, payload: payload as object })
    assert.equal(res.statusCode, 400, JSON.stringify(payload))
    assert.match(res.json().message, message, JSON.stringify(payload))
  }
  const notJson = await app.inject({ method: 'POST', url: '/admin/relays', headers: { authorization, 'content-type': 'application/json' }, payload: '{' })
  assert.equal(notJson.statusCode, 400)
  assert.deepEqual(app.relay.list(), [])
})

test('Prometheus metrics per mount: listeners, bytes in and out, state, reconnects, slow-listener drops', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, url } = await relayApp({
    relays: [{ url: upstream.url('/a'), localMount: '/a' }, { server: '127.0.0.1', port: 9, localMount: '/demand', onDemand: true }],
    admin: ADMIN,
    limits: { burstSize: 0, queueSize: 4096 }
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/a', 'live')
  const reader = openListener(url('/a'))
  const stalled = openListener(url('/a'))
  await Promise.all([reader.head, stalled.head])
  await waitUntil(() => app.relay.get('/a')!.listeners === 2)
  stalled.socket.pause()
  for (let i = 0; i < 200 && app.relay.get('/a')!.slowDrops === 0; i++) {
    upstream.push(noise(64 * 1024))
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await waitUntil(() => app.relay.get('/a')!.slowDrops === 1)
  const status = app.relay.get('/a')!
  await reader.waitForBytes(status.bytesIn)
  upstream.drop()
  await waitUntil(() => app.relay.get('/a')!.reconnects >= 1 && app.relay.get('/a')!.state === 'live', 5000, 'a reconnect')

  const res = await adminGet(url('/admin/metrics'))
  assert.equal(res.status, 200)
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  const now = app.relay.get('/a')!
  const sample = (name: string, labels: string): number => {
    const line = res.text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `))
    assert.ok(line, `${name}{${labels}} in\n${res.text}`)
    return Number(line.split(' ')[1])
  }
  assert.match(res.text, /# TYPE icecast_relay_bytes_in_total counter/)
  assert.equal(sample('icecast_relay_listeners', 'mount="/a"'), 1)
  assert.equal(sample('icecast_relay_listener_peak', 'mount="/a"'), 2)
  assert.equal(sample('icecast_relay_bytes_in_total', 'mount="/a"'), now.bytesIn)
  assert.equal(sample('icecast_relay_bytes_out_total', 'mount="/a"'), now.bytesOut)
  assert.ok(now.bytesOut >= status.bytesIn)
  assert.equal(sample('icecast_relay_reconnects_total', 'mount="/a"'), now.reconnects)
  assert.equal(sample('icecast_relay_slow_listener_drops_total', 'mount="/a"'), 1)
  assert.equal(sample('icecast_relay_state', 'mount="/a",state="live"'), 1)
  assert.equal(sample('icecast_relay_state', 'mount="/a",state="retrying"'), 0)
  assert.equal(sample('icecast_relay_state', 'mount="/demand",state="idle"'), 1)
  assert.equal(sample('icecast_relay_listeners', 'mount="/demand"'), 0)
  await Promise.all([reader.close(), stalled.close()])
})

test('REST: a relay with several upstreams and a fallback takes the options\' shape; a mixed form or a fallback loop is a 400 naming the field', async (t) => {
  const main = await scriptedUpstream()
  const backup = await scriptedUpstream()
  const { app } = await relayApp({ admin: ADMIN, relays: [{ url: main.url('/b'), localMount: '/b' }] })
  t.after(async () => { await app.close(); await main.close(); await backup.close() })
  const post = async (payload: object): Promise<{ statusCode: number, json: () => any }> =>
    await app.inject({ method: 'POST', url: '/admin/relays', headers: { authorization }, payload })

  const added = await post({
    localMount: '/a',
    upstreams: [{ url: main.url('/a'), username: 'u', password: 'secret' }, { server: '127.0.0.1', port: backup.port, mount: '/a' }],
    failback: false,
    stallTimeout: 1,
    fallbackMount: '/b'
  })
  assert.equal(added.statusCode, 201)
  const status = added.json()
  assert.deepEqual(status.upstreams.map((upstream: { url: string }) => upstream.url), [main.url('/a'), `http://127.0.0.1:${backup.port}/a`])
  assert.equal(status.fallbackMount, '/b')
  assert.doesNotMatch(JSON.stringify(status), /secret/)

  const mixed = await post({ localMount: '/m', url: main.url('/m'), upstreams: [{ url: main.url('/m') }] })
  assert.equal(mixed.statusCode, 400)
  assert.match(mixed.json().message, /^relay\.(url|upstreams)/)
  const loop = await post({ url: main.url('/c'), localMount: '/c', fallbackMount: '/c' })
  assert.equal(loop.statusCode, 400)
  assert.match(loop.json().message, /^relay\.fallbackMount: .*\/c/)
  assert.equal(app.relay.get('/m'), undefined)
  assert.equal(app.relay.get('/c'), undefined)
})

test('REST: a relay added over HTTP names no local file (file upstream, intro, dumpFile, htpasswd); the same relay without them is added', async (t) => {
  const { app } = await relayApp({ admin: ADMIN })
  t.after(async () => { await app.close() })
  const base = { url: 'http://127.0.0.1:9/x', localMount: '/x', onDemand: true }
  const post = async (payload: object): Promise<{ statusCode: number, body: string }> =>
    await app.inject({ method: 'POST', url: '/admin/relays', headers: { authorization }, payload })
  for (const [field, payload] of [
    ['intro', { ...base, intro: '/etc/passwd' }],
    ['dumpFile', { ...base, dumpFile: '/tmp/x.mp3' }],
    ['upstreams', { localMount: '/x', upstreams: [{ url: base.url }, { file: '/etc/passwd' }] }],
    ['listenerAuth', { ...base, listenerAuth: { htpasswd: '/etc/shadow' } }]
  ] as const) {
    const refused = await post(payload)
    assert.equal(refused.statusCode, 400, field)
    assert.match(refused.body, new RegExp(field), field)
    assert.equal(app.relay.get('/x'), undefined, field)
  }
  const added = await post({ ...base, upstreams: undefined, listenerAuth: { url: { listenerAdd: 'http://127.0.0.1:9/auth' } } })
  assert.equal(added.statusCode, 201, added.body)
})
