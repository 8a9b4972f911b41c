import assert from 'node:assert/strict'
import { test } from 'node:test'
import { addedPrimaryRelay, LINK_HOST, LINK_USER, primaryOptions, workerMirror, workerOptions } from '../../../lib/cluster/split.js'
import { resolveOptions, type RelayPluginOptions } from '../../../lib/options.js'

const SECRET = 'a-secret-of-the-link-0123456789'
const LINK = { port: 40000, secret: SECRET }

const CONFIG: RelayPluginOptions = {
  relays: [
    { server: 'upstream.example', port: 8000, mount: '/live.mp3', username: 'source', password: 'pw', streamName: 'Mine', charset: 'latin1', intro: '/srv/intro.mp3', dumpFile: '/srv/dump-%Y.mp3', burstSize: 131072 },
    { url: 'http://other.example/a.ogg', localMount: '/b.ogg', onDemand: true, listenerAuth: { htpasswd: '/srv/users' } }
  ],
  master: { server: 'master.example', port: 8001, password: 'relay-pw' },
  limits: { clients: 30, burstSize: 65535 },
  prefix: '/radio',
  admin: { username: 'admin', password: 'admin-pw' },
  mounts: { '/live.mp3': { maxListeners: 5, charset: 'cp1252' }, '/c.mp3': { hidden: true } },
  mountDefaults: { genre: 'Jazz', charset: 'latin1' }
}

test('the primary gets the upstream side: upstreams, charset, dump file, masters; no listener-side setting, route or limit', () => {
  const primary = primaryOptions(CONFIG, SECRET)
  const resolved = resolveOptions(primary)
  assert.deepEqual(primary.relays?.[0], { server: 'upstream.example', port: 8000, mount: '/live.mp3', username: 'source', password: 'pw', charset: 'latin1', dumpFile: '/srv/dump-%Y.mp3' })
  assert.equal(resolved.prefix, '')
  assert.equal(resolved.stats, false)
  assert.equal(resolved.admin, undefined)
  assert.equal(resolved.masters[0]?.name, 'master.example:8001')
  assert.deepEqual(resolved.relayAuth, { username: LINK_USER, password: SECRET })
  assert.equal(resolved.limits.burstSize, 131072, 'the largest burst of any mount, for a worker that connects')
  assert.ok(resolved.limits.clients > 30, 'the machine\'s limit is the workers\'')
  assert.deepEqual(primary.mounts, { '/live.mp3': { charset: 'cp1252' } })
  assert.deepEqual(primary.mountDefaults, { charset: 'latin1' })
  assert.equal(resolved.authenticate, undefined, 'no listener auth on the public port: nothing to guard')
})

test('a mount with listener auth asks for the link\'s credentials on the primary, compared in full', async () => {
  const primary = resolveOptions(primaryOptions(CONFIG, SECRET))
  const guarded = primary.relays[1]!.authenticate!
  const basic = (user: string, password: string): unknown => ({ headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } })
  assert.equal(await guarded(basic(LINK_USER, SECRET) as never, '/b.ogg'), true)
  assert.equal(await guarded(basic(LINK_USER, SECRET.slice(1)) as never, '/b.ogg'), false)
  assert.equal(await guarded({ headers: {} } as never, '/b.ogg'), false)
  assert.equal(primary.relays[0]!.authenticate, undefined)
  assert.equal(primary.relays[1]!.listenerAuth, undefined)
})

test('a worker gets the listener side: each relay reads its mount from the primary, the primary is its master', () => {
  const worker = workerOptions(CONFIG, LINK)
  const resolved = resolveOptions(worker)
  const [live, b] = resolved.relays
  const upstream = live!.upstreams[0]!
  assert.ok(upstream.kind === 'http')
  assert.equal(upstream.url.href, `http://${LINK_HOST}:40000/live.mp3`)
  assert.equal(upstream.relayShoutcastMetadata, true, 'the titles come through the primary')
  assert.equal(upstream.username, undefined, 'an open mount is read without credentials')
  assert.equal(live!.streamName, 'Mine')
  assert.equal(live!.intro, '/srv/intro.mp3')
  assert.equal(live!.charset, undefined, 'the primary decoded the upstream\'s metadata already')
  assert.equal(live!.dumpFile, undefined, 'the primary writes the dump once')
  assert.equal(b!.localMount, '/b.ogg')
  assert.equal(b!.onDemand, true)
  assert.ok(b!.listenerAuth !== undefined)
  assert.equal(b!.upstreams[0]!.kind === 'http' && b!.upstreams[0]!.password, SECRET)
  assert.equal(resolved.masters.length, 1)
  assert.equal(resolved.masters[0]!.url.href, `http://${LINK_HOST}:40000/`)
  assert.equal(resolved.masters[0]!.password, SECRET)
  assert.equal(resolved.prefix, '/radio')
  assert.equal(resolved.limits.clients, 30)
  assert.deepEqual(worker.mounts, { '/live.mp3': { maxListeners: 5 }, '/c.mp3': { hidden: true } })
  assert.deepEqual(worker.mountDefaults, { genre: 'Jazz' })
})

test('a relay added at run time: the primary runs its upstream side hidden from the stream list (guarded by the link when its listeners authenticate); each worker its listener side from the primary', () => {
  const added = { url: 'http://other.example/a.ogg', localMount: '/c.ogg', listenerAuth: { htpasswd: '/srv/users' }, fallbackMount: '/b.ogg', streamName: 'C' }
  const primary = addedPrimaryRelay(SECRET)(added)
  assert.equal(primary.url, added.url)
  assert.equal(primary.hidden, true, 'no worker mirrors it as a mount its master brings, without its listener side')
  assert.equal(primary.listenerAuth, undefined)
  assert.equal(primary.fallbackMount, undefined)
  assert.equal(typeof primary.authenticate, 'function', 'its mount on the private port asks for the link\'s credentials')
  const open = addedPrimaryRelay(SECRET)({ url: added.url, localMount: '/d.ogg' })
  assert.equal(open.authenticate, undefined)
  const worker = workerMirror(CONFIG, LINK)(added)
  assert.deepEqual({ server: worker.server, port: worker.port, mount: worker.mount, localMount: worker.localMount, username: worker.username, password: worker.password },
    { server: LINK_HOST, port: LINK.port, mount: '/c.ogg', localMount: '/c.ogg', username: LINK_USER, password: SECRET })
  assert.deepEqual(worker.listenerAuth, added.listenerAuth)
  assert.equal(worker.fallbackMount, '/b.ogg')
  assert.equal(worker.url, undefined)
  assert.doesNotThrow(() => resolveOptions({ relays: [worker] }))
  assert.doesNotThrow(() => resolveOptions({ relays: [primary] }))
})
