// Fallback mounts (Icecast's <fallback-mount>, <fallback-override>): a relay that goes down hands its
// listeners to another mount instead of ending them, serves newcomers from there, and takes them back.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import Fastify from 'fastify'
import fastifyIcecastRelay, { type RelayDefinition } from '../../../lib/index.js'
import { fallbackChain, fallbackLoop } from '../../../lib/relay/fallback.js'
import { adminGet, ADMIN } from '../../helpers/admin.js'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import { MP3_FRAME_BYTES, MP3_FRAME_SECONDS, mp3Frames } from '../../helpers/frames.js'
import { openListener, type OpenListener } from '../../helpers/listen.js'
import { makeTempDir } from '../../helpers/procs.js'
import { noise, scriptedUpstream, type ScriptedOptions, type ScriptedUpstream } from '../../helpers/scripted.js'

const LIMITS = { gracePeriod: 0.3, burstSize: 0, maxBackoff: 0.3, connectTimeout: 2 }

interface Setup extends RelayApp {
  upstreams: Record<string, ScriptedUpstream>
  events: string[]
}

/** One scripted upstream per relay named in `relays` (by local mount), an app relaying them all. */
async function setup (t: TestContext, relays: Array<Omit<RelayDefinition, 'url'> & { localMount: string, upstream?: ScriptedOptions }>, extra: RelayDefinition[] = []): Promise<Setup> {
  const upstreams: Record<string, ScriptedUpstream> = {}
  for (const relay of relays) upstreams[relay.localMount] = await scriptedUpstream(relay.upstream)
  const defs = relays.map(({ upstream, ...relay }) => ({ ...relay, url: upstreams[relay.localMount]!.url() }))
  const app = await relayApp({ relays: [...defs, ...extra], limits: LIMITS, admin: ADMIN })
  t.after(async () => {
    await app.app.close()
    for (const upstream of Object.values(upstreams)) await upstream.close()
  })
  const events: string[] = []
  app.app.relay.on('listener', (e) => { if (e.reason !== undefined) events.push(`${e.localMount} ${e.action} ${e.reason}`) })
  for (const relay of relays) await waitForState(app.app, relay.localMount, 'live')
  return { ...app, upstreams, events }
}

/** Takes an upstream down for good: its connections dropped, new ones refused. */
async function kill (upstream: ScriptedUpstream): Promise<void> {
  await upstream.close()
}

async function listening (app: RelayApp, mount: string, count = 1): Promise<OpenListener> {
  const listener = openListener(app.url(mount))
  await listener.head
  await waitUntil(() => app.app.relay.get(mount)!.listeners >= count, 2000, `a listener on ${mount}`)
  return listener
}

test('the chain and the loop of fallbacks, by their mounts', () => {
  const of = (map: Record<string, string>) => (mount: string): string | undefined => map[mount]
  assert.deepEqual(fallbackChain('/a', of({ '/a': '/b', '/b': '/c' })), ['/b', '/c'])
  assert.deepEqual(fallbackChain('/a', of({})), [])
  assert.equal(fallbackLoop('/a', of({ '/a': '/b', '/b': '/c' })), undefined)
  assert.deepEqual(fallbackLoop('/a', of({ '/a': '/a' })), ['/a', '/a'])
  assert.deepEqual(fallbackLoop('/a', of({ '/a': '/b', '/b': '/a' })), ['/a', '/b', '/a'])
  assert.deepEqual(fallbackLoop('/x', of({ '/x': '/a', '/a': '/b', '/b': '/a' })), ['/a', '/b', '/a'])
})

test('an upstream gone past the grace period: its listeners are moved to the fallback, still connected, and get its bytes', async (t) => {
  const s = await setup(t, [{ localMount: '/a', fallbackMount: '/b' }, { localMount: '/b' }])
  const listener = await listening(s, '/a')
  const fromA = noise(5000)
  s.upstreams['/a']!.push(fromA)
  await listener.waitForBytes(fromA.length)
  assert.equal(s.app.relay.get('/a')!.fallbackMount, '/b')

  await kill(s.upstreams['/a']!)
  await waitUntil(() => s.app.relay.get('/b')!.listeners === 1, 3000, 'the move to /b')
  assert.deepEqual(s.events, ['/a leave fallback', '/b join fallback'])
  assert.equal(s.app.relay.get('/a')!.fallbackListeners, 1, '/a says its listener is on the fallback')
  assert.equal(s.app.relay.get('/a')!.listeners, 0)
  const metrics = await adminGet(s.url('/admin/metrics'))
  assert.match(metrics.text, /^icecast_relay_fallback_listeners\{mount="\/a"\} 1$/m)
  assert.match(metrics.text, /^icecast_relay_fallback_listeners\{mount="\/b"\} 0$/m)

  const fromB = noise(3000)
  s.upstreams['/b']!.push(fromB)
  const got = await listener.waitForBytes(fromA.length + fromB.length)
  assert.ok(got.equals(Buffer.concat([fromA, fromB])), "a run of /a's bytes, then a run of /b's")
  const result = await listener.close()
  assert.equal(result.ended, false, 'never disconnected')
})

test('newcomers to a mount that is down are served the fallback, under its own URL; override takes everyone back', async (t) => {
  const s = await setup(t, [{ localMount: '/a', fallbackMount: '/b', fallbackOverride: true }, { localMount: '/b', upstream: { headers: { 'icy-name': 'Backup' } } }])
  const first = await listening(s, '/a')
  s.upstreams['/a']!.push(noise(5000))
  await first.waitForBytes(5000)
  await kill(s.upstreams['/a']!)
  await waitUntil(() => s.app.relay.get('/b')!.listeners === 1, 3000, 'the move to /b')

  const newcomer = openListener(s.url('/a'))
  const head = await newcomer.head
  assert.equal(head.status, 200)
  assert.equal(head.headers['icy-name'], 'Backup', "the fallback's stream")
  await waitUntil(() => s.app.relay.get('/b')!.listeners === 2, 2000, 'the newcomer on /b')
  assert.equal(s.app.relay.get('/a')!.fallbackListeners, 2)
  const fromB = noise(2000)
  s.upstreams['/b']!.push(fromB)
  assert.ok((await newcomer.waitForBytes(2000)).equals(fromB))

  // /a comes back: once it has proven a stream, both go home, still connected
  await s.upstreams['/a']!.reopen()
  await s.upstreams['/a']!.waitForClients(1, 5000)
  const proof = noise(5000)
  s.upstreams['/a']!.push(proof)
  await waitUntil(() => s.app.relay.get('/a')!.listeners === 2, 3000, 'the override back to /a')
  assert.equal(s.app.relay.get('/a')!.fallbackListeners, 0)
  assert.equal(s.app.relay.get('/b')!.listeners, 0)
  assert.deepEqual(s.events.filter((e) => e.endsWith('override')), ['/b leave override', '/a join override', '/b leave override', '/a join override'])
  const again = noise(1000)
  s.upstreams['/a']!.push(again)
  await waitUntil(() => newcomer.received().subarray(-1000).equals(again), 2000, "/a's bytes")
  const fromA = newcomer.received().subarray(2000)
  const sent = Buffer.concat([proof, again])
  assert.ok(fromA.equals(sent.subarray(sent.length - fromA.length)), "after /b's bytes, a run of /a's")
  assert.equal((await newcomer.close()).ended, false)
  assert.equal((await first.close()).ended, false)
})

test('without override, listeners stay on the fallback when the relay is back', async (t) => {
  const s = await setup(t, [{ localMount: '/a', fallbackMount: '/b' }, { localMount: '/b' }])
  const listener = await listening(s, '/a')
  s.upstreams['/a']!.push(noise(5000))
  await kill(s.upstreams['/a']!)
  await waitUntil(() => s.app.relay.get('/b')!.listeners === 1, 3000, 'the move to /b')
  await s.upstreams['/a']!.reopen()
  await s.upstreams['/a']!.waitForClients(1, 5000)
  s.upstreams['/a']!.push(noise(5000))
  await waitForState(s.app, '/a', 'live')
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal(s.app.relay.get('/b')!.listeners, 1)
  assert.equal(s.app.relay.get('/a')!.listeners, 0)
  const stats = await adminGet(s.url('/admin/stats?mount=/a'))
  assert.match(stats.text, /<relay_fallback_listeners>1<\/relay_fallback_listeners>/, '/a, live, tells where its listener is')
  await listener.close()
})

test('a chain: /a falls back past /b, down too, to /c', async (t) => {
  const s = await setup(t, [{ localMount: '/a', fallbackMount: '/b' }, { localMount: '/b', fallbackMount: '/c' }, { localMount: '/c' }])
  const listener = await listening(s, '/a')
  await kill(s.upstreams['/b']!)
  await waitForState(s.app, '/b', 'retrying')
  s.upstreams['/a']!.push(noise(5000))
  await kill(s.upstreams['/a']!)
  await waitUntil(() => s.app.relay.get('/c')!.listeners === 1, 3000, 'the move to /c')
  const fromC = noise(1000)
  s.upstreams['/c']!.push(fromC)
  assert.ok((await listener.waitForBytes(5000 + 1000)).subarray(5000).equals(fromC))
  assert.equal(s.app.relay.get('/a')!.fallbackListeners, 1)
  await listener.close()
})

test('a removed relay hands its listeners to its fallback', async (t) => {
  const s = await setup(t, [{ localMount: '/a', fallbackMount: '/b' }, { localMount: '/b' }])
  const listener = await listening(s, '/a')
  assert.equal(s.app.relay.remove('/a'), true)
  await waitUntil(() => s.app.relay.get('/b')!.listeners === 1, 3000, 'the move to /b')
  const fromB = noise(1000)
  s.upstreams['/b']!.push(fromB)
  assert.ok((await listener.waitForBytes(1000)).equals(fromB))
  await listener.close()
})

test('a fallback mount that no relay serves, or of another container: listeners are ended as without one', async (t) => {
  const s = await setup(t, [
    { localMount: '/a', fallbackMount: '/nowhere' },
    { localMount: '/m', fallbackMount: '/ogg' },
    { localMount: '/ogg', upstream: { head: 'HTTP/1.0 200 OK\r\nContent-Type: application/ogg\r\n\r\n' } }
  ])
  const a = await listening(s, '/a')
  const m = await listening(s, '/m')
  s.upstreams['/a']!.push(noise(5000))
  s.upstreams['/m']!.push(noise(5000))
  await Promise.all([kill(s.upstreams['/a']!), kill(s.upstreams['/m']!)])
  await Promise.all([a.ended, m.ended])
  assert.equal(s.app.relay.get('/ogg')!.listeners, 0)
})

test('a loop of fallbacks is refused at register and by app.relay.add, naming the mounts', async (t) => {
  const url = 'http://127.0.0.1:1/x'
  for (const [relays, message] of [
    [[{ url, localMount: '/a', fallbackMount: '/a' }], /relays\[0\]\.fallbackMount: the fallbacks make a loop: \/a → \/a/],
    [[{ url, localMount: '/a', fallbackMount: '/b' }, { url, localMount: '/b', fallbackMount: '/a' }], /relays\[1\]\.fallbackMount: the fallbacks make a loop: \/b → \/a → \/b/]
  ] as const) {
    const app = Fastify()
    await assert.rejects(async () => { await app.register(fastifyIcecastRelay, { relays: [...relays] }).ready() }, (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FST_ICECAST_RELAY_INVALID_OPTION')
      assert.match(error.message, message)
      return true
    })
    await app.close()
  }
  // a fallback that names no relay yet is taken: it may come later, but not as a loop
  const { app } = await relayApp({ relays: [{ url, localMount: '/a', fallbackMount: '/b', onDemand: true }] })
  t.after(() => app.close())
  assert.throws(() => app.relay.add({ url, localMount: '/b', fallbackMount: '/a' }), (error: Error & { field?: string }) => {
    assert.equal(error.field, 'relay.fallbackMount')
    assert.match(error.message, /\/b → \/a → \/b/)
    return true
  })
  assert.equal(app.relay.get('/b'), undefined, 'not added')
  assert.equal(app.relay.add({ url, localMount: '/b', onDemand: true }).fallbackMount, null)
})

test('fallback to a file: the listener gets the file\'s frames, at the rate they play', async (t) => {
  const path = join(makeTempDir('fallback'), 'loop.mp3')
  const frames = mp3Frames(Math.round(3 / MP3_FRAME_SECONDS))
  writeFileSync(path, frames)
  const s = await setup(t, [{ localMount: '/a', fallbackMount: '/loop' }], [{ localMount: '/loop', upstreams: [{ file: path }] }])
  await waitForState(s.app, '/loop', 'live')
  assert.equal(s.app.relay.get('/loop')!.upstream, `file:${path}`)
  const listener = await listening(s, '/a')
  const fromA = noise(5000)
  s.upstreams['/a']!.push(fromA)
  await listener.waitForBytes(5000)
  await kill(s.upstreams['/a']!)
  await waitUntil(() => listener.received().length > 5000 + MP3_FRAME_BYTES, 3000, 'the file\'s frames')
  const start = { at: Date.now(), bytes: listener.received().length }
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const got = listener.received()
  const seconds = (got.length - start.bytes) / MP3_FRAME_BYTES * MP3_FRAME_SECONDS
  const elapsed = (Date.now() - start.at) / 1000
  assert.ok(Math.abs(seconds - elapsed) < 0.3, `${seconds.toFixed(2)} s of audio in ${elapsed.toFixed(2)} s`)
  // the file's frames, from a frame start, looping
  const fromFile = got.subarray(5000)
  const offset = frames.indexOf(fromFile.subarray(0, MP3_FRAME_BYTES))
  assert.ok(offset >= 0 && offset % MP3_FRAME_BYTES === 0, 'starts at one of the file\'s frames')
  const looped = Buffer.concat([frames, frames, frames])
  assert.ok(fromFile.equals(looped.subarray(offset, offset + fromFile.length)), 'the file, in a loop')
  assert.equal((await listener.close()).ended, false)
})

test('on demand with fallbackOverride: once its last listener away on the fallback leaves, the relay lets its upstream go', async (t) => {
  const a = await scriptedUpstream()
  const b = await scriptedUpstream()
  const { app, url } = await relayApp({
    relays: [
      { url: a.url(), localMount: '/a', onDemand: true, fallbackMount: '/b', fallbackOverride: true },
      { url: b.url(), localMount: '/b' }
    ],
    limits: { gracePeriod: 0.3, burstSize: 0, maxBackoff: 0.3, connectTimeout: 2, onDemandLinger: 0.3 }
  })
  const feeds: NodeJS.Timeout[] = []
  const feed = (upstream: typeof a): void => { feeds.push(setInterval(() => upstream.push(noise(2000)), 50)) }
  t.after(async () => { for (const timer of feeds) clearInterval(timer); await app.close(); await a.close(); await b.close() })
  await waitForState(app, '/b', 'live')
  feed(a)
  feed(b)
  const listener = openListener(url('/a'))
  await listener.head
  await waitUntil(() => app.relay.get('/a')!.listeners === 1, 3000, 'the listener on /a')
  clearInterval(feeds.shift())
  await a.close()
  await waitUntil(() => app.relay.get('/b')!.listeners === 1, 5000, 'the listener moved to /b')
  // longer than onDemandLinger: the relay, down, is kept for its listener away on /b, not by a linger
  await new Promise((resolve) => setTimeout(resolve, 1000))
  await a.reopen()
  feed(a)
  await waitForState(app, '/a', 'live')
  await listener.close()
  await waitUntil(() => app.relay.get('/b')!.listeners === 0, 3000, 'the listener gone')
  await waitForState(app, '/a', 'idle')
  await waitUntil(() => a.clients.size === 0, 3000, 'no upstream connection kept for nobody')
})
