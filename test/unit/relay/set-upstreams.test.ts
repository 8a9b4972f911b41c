// A relay's upstream list replaced at run time (the master sub-plugin does it when the masters listing a mount
// change): the connection it plays goes on while its upstream is still in the list.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import Fastify from 'fastify'
import { resolveOptions, type RelayDefinition } from '../../../lib/options.js'
import { RegistryCore } from '../../../lib/relay/registry.js'
import { waitUntil } from '../../helpers/app.js'
import { scriptedUpstream, type ScriptedUpstream } from '../../helpers/scripted.js'

async function upstreams (t: TestContext, count: number): Promise<ScriptedUpstream[]> {
  const all = await Promise.all(Array.from({ length: count }, async () => await scriptedUpstream()))
  // a live source sends all the time: a silent one would stall, and its relay move on
  const feed = setInterval(() => { for (const upstream of all) upstream.push(Buffer.alloc(1000, 0x20)) }, 50)
  t.after(async () => {
    clearInterval(feed)
    await Promise.all(all.map(async (upstream) => { upstream.drop(); await upstream.close() }))
  })
  return all
}

function registryOf (t: TestContext, ...relays: RelayDefinition[]): RegistryCore {
  const { limits } = resolveOptions({})
  const registry = new RegistryCore({ relays: resolveOptions({ relays }).relays, limits, userAgent: 'test', log: Fastify().log })
  registry.startAll()
  t.after(() => { registry.stopAll() })
  return registry
}

const definition = (...urls: string[]): RelayDefinition => ({ localMount: '/r', upstreams: urls.map((url) => ({ url })) })

test('an upstream list replaced: the active upstream still in it plays on, the same connection; its state follows it', async (t) => {
  const [a, b, c] = await upstreams(t, 3)
  const registry = registryOf(t, definition(a!.url('/s'), b!.url('/s')))
  await waitUntil(() => registry.get('/r')?.state === 'live', 5000, 'the relay to be live')
  const since = registry.get('/r')!.connectedSince

  registry.setUpstreams(definition(a!.url('/s'), c!.url('/s')), 'master:x:1')
  let status = registry.get('/r')!
  assert.deepEqual([status.origin, status.upstream, status.activeUpstream], ['master:x:1', a!.url('/s'), 0])
  assert.deepEqual(status.upstreams.map((upstream) => [upstream.url, upstream.state]), [[a!.url('/s'), 'active'], [c!.url('/s'), 'idle']])

  // a higher upstream comes first: the one playing is second now, and plays on until the failback
  registry.setUpstreams(definition(c!.url('/s'), a!.url('/s')), 'master:x:1')
  status = registry.get('/r')!
  assert.deepEqual([status.upstream, status.activeUpstream, status.connectedSince], [a!.url('/s'), 1, since])
  assert.equal(a!.requests.length, 1, 'no new request to the upstream that plays on')
  await waitUntil(() => registry.get('/r')!.upstream === c!.url('/s'), 10_000, 'the failback to the new first upstream')
  assert.equal(b!.requests.length, 0)
})

test('an upstream list without the active upstream: the relay goes on at once from the first of the new list', async (t) => {
  const [a, b] = await upstreams(t, 2)
  const registry = registryOf(t, definition(a!.url('/s')))
  await waitUntil(() => registry.get('/r')?.state === 'live', 5000, 'the relay to be live')
  registry.setUpstreams(definition(b!.url('/s')), 'options')
  await waitUntil(() => registry.get('/r')?.state === 'live' && registry.get('/r')!.upstream === b!.url('/s'), 5000, 'the relay to play b')
  assert.equal(a!.clients.size, 0, 'the connection to the upstream that left is closed')
  assert.deepEqual(registry.get('/r')!.upstreams.map((upstream) => upstream.url), [b!.url('/s')])
  assert.throws(() => { registry.setUpstreams({ ...definition(b!.url('/s')), localMount: '/none' }, 'options') }, /no relay serves \/none/)
})

test('a relay that gains a backup watches its playing upstream for stalls; one that loses its backup waits sourceTimeout again', async (t) => {
  const [a, b] = await Promise.all([scriptedUpstream(), scriptedUpstream()])
  let feedA = true
  const feed = setInterval(() => { if (feedA) a.push(Buffer.alloc(1000, 0x20)); b.push(Buffer.alloc(1000, 0x20)) }, 50)
  t.after(async () => { clearInterval(feed); a.drop(); b.drop(); await a.close(); await b.close() })
  const registry = registryOf(t, { ...definition(a.url('/s')), stallTimeout: 0.5 })
  await waitUntil(() => registry.get('/r')?.state === 'live', 5000, 'the relay to be live')
  registry.setUpstreams({ ...definition(a.url('/s'), b.url('/s')), stallTimeout: 0.5 }, 'master:x:1')
  feedA = false
  // sourceTimeout is 10 s: only the stall watch moves it to b this soon
  await waitUntil(() => registry.get('/r')!.upstream === b.url('/s'), 3000, 'the switch to the backup on a stall')
  assert.equal(registry.get('/r')!.upstreams[0]!.lastError?.code, 'FST_ICECAST_RELAY_UPSTREAM_STALLED')

  registry.setUpstreams({ ...definition(b.url('/s')), stallTimeout: 0.5 }, 'master:x:1')
  clearInterval(feed)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.equal(registry.get('/r')!.state, 'live', 'a single upstream silent for 1.5 s is not stalled')
})
