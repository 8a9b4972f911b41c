import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  masterRelayDefinition, masterUpstream, planReconcile, type DesiredRelay, type MasterList, type RunningRelay
} from '../../../lib/master/reconcile.js'
import type { StreamlistEntry } from '../../../lib/master/streamlist.js'
import { resolveOptions, type NetworkUpstreamDefinition, type ResolvedMaster } from '../../../lib/options.js'
import { privateCa } from '../../helpers/servers.js'

const ORIGINS = ['master:a:1', 'master:b:2']
const entry = (localMount: string, host = 'a:1'): StreamlistEntry => ({ localMount, upstream: new URL(`http://${host}${localMount}`) })
const running = (localMount: string, origin: string, ...hosts: string[]): RunningRelay =>
  ({ localMount, origin, upstreams: (hosts.length > 0 ? hosts : ['a:1']).map((host) => ({ url: `http://${host}${localMount}` })) })
const sources = (want: DesiredRelay): string[] => want.sources.map((source) => `${source.origin} ${source.upstream.host}`)

test('new mounts start, vanished ones stop, unchanged ones stay; relays of no master are never touched', () => {
  const plan = planReconcile(
    [running('/keep', 'master:a:1'), running('/gone', 'master:a:1'), running('/mine', 'api'), running('/cfg', 'options')],
    [{ origin: 'master:a:1', entries: [entry('/keep'), entry('/new'), entry('/cfg')] }]
  )
  assert.deepEqual(plan.stop, ['/gone'])
  assert.deepEqual(plan.start.map((s) => s.localMount), ['/new'])
  assert.deepEqual(plan.update, [])
  assert.deepEqual(plan.shadowed.get('master:a:1'), ['/cfg'])
  assert.deepEqual(plan.sourceOf.get('master:a:1'), ['/keep', '/new'])
})

test('a master that never answered keeps its relays as they are; an empty list removes them all', () => {
  const relays = [running('/x', 'master:a:1')]
  const silent = planReconcile(relays, [{ origin: 'master:a:1', entries: undefined }, { origin: 'master:b:2', entries: [entry('/x', 'b:2')] }])
  assert.deepEqual([silent.stop, silent.start, silent.update], [[], [], []])
  assert.deepEqual(planReconcile(relays, [{ origin: 'master:a:1', entries: [] }]).stop, ['/x'])
})

test('a mount several masters list has them all as upstreams, in the masters\' order; a URL listed twice is one upstream', () => {
  const plan = planReconcile([], [
    { origin: 'master:a:1', entries: [entry('/y'), entry('/far', 'c:3')] },
    { origin: 'master:b:2', entries: [entry('/y', 'b:2'), entry('/z', 'b:2'), entry('/far', 'c:3')] }
  ])
  assert.deepEqual(plan.start.map((want) => [want.localMount, want.origin, sources(want)]), [
    ['/y', 'master:a:1', ['master:a:1 a:1', 'master:b:2 b:2']],
    ['/far', 'master:a:1', ['master:a:1 c:3']],
    ['/z', 'master:b:2', ['master:b:2 b:2']]
  ])
  // /far is one upstream, the first master's
  assert.deepEqual(plan.sourceOf.get('master:b:2'), ['/y', '/z'])
  assert.deepEqual(plan.shadowed.get('master:b:2'), [])
})

test('when the masters listing a mount change, its relay is updated, not replaced: its origin is the first of them', () => {
  const relays = [running('/y', 'master:a:1', 'a:1', 'b:2'), running('/moved', 'master:a:1'), running('/same', 'master:b:2', 'b:2')]
  const plan = planReconcile(relays, [
    { origin: 'master:a:1', entries: [entry('/moved', 'elsewhere:3')] },
    { origin: 'master:b:2', entries: [entry('/y', 'b:2'), entry('/same', 'b:2')] }
  ])
  assert.deepEqual([plan.stop, plan.start], [[], []])
  assert.deepEqual(plan.update.map((want) => [want.localMount, want.origin, sources(want)]), [
    ['/y', 'master:b:2', ['master:b:2 b:2']],
    ['/moved', 'master:a:1', ['master:a:1 elsewhere:3']]
  ])
  // the first master lists it again: its upstream comes back first, and the relay is its again
  const back = planReconcile([running('/y', 'master:b:2', 'b:2')], [
    { origin: 'master:a:1', entries: [entry('/y')] },
    { origin: 'master:b:2', entries: [entry('/y', 'b:2')] }
  ])
  assert.deepEqual(back.update.map((want) => [want.origin, sources(want)]), [['master:a:1', ['master:a:1 a:1', 'master:b:2 b:2']]])
})

const mountArb = fc.constantFrom('/a', '/b', '/c', '/d', '/e')
const listArb: fc.Arbitrary<MasterList[]> = fc.tuple(
  ...ORIGINS.map((origin, i) => fc.option(fc.uniqueArray(mountArb, { maxLength: 5 }), { nil: undefined })
    .map((mounts) => ({ origin, entries: mounts?.map((m) => entry(m, i === 0 ? 'a:1' : 'b:2')) })))
)
const runningArb = fc.uniqueArray(
  fc.tuple(mountArb, fc.constantFrom(...ORIGINS, 'options', 'api'), fc.subarray(['a:1', 'b:2'], { minLength: 1 })),
  { selector: ([mount]) => mount, maxLength: 5 }
).map((relays) => relays.map(([mount, origin, hosts]) => running(mount, origin, ...hosts)))

const runningOf = (want: DesiredRelay): RunningRelay =>
  ({ localMount: want.localMount, origin: want.origin, upstreams: want.sources.map((source) => ({ url: source.upstream.href })) })

/** The registry after a plan: stopped relays gone, updated ones changed, started ones added. */
function apply (relays: RunningRelay[], lists: MasterList[]): RunningRelay[] {
  const plan = planReconcile(relays, lists)
  const stopped = new Set(plan.stop)
  const updated = new Map(plan.update.map((want) => [want.localMount, runningOf(want)]))
  return [
    ...relays.filter((r) => !stopped.has(r.localMount)).map((r) => updated.get(r.localMount) ?? r),
    ...plan.start.map(runningOf)
  ]
}

test('property: a plan never stops or updates a relay no master added, never starts a taken mount, and a second plan is empty', () => {
  fc.assert(fc.property(runningArb, listArb, (relays, lists) => {
    const plan = planReconcile(relays, lists)
    const byMount = new Map(relays.map((r) => [r.localMount, r]))
    for (const mount of [...plan.stop, ...plan.update.map((want) => want.localMount)]) assert.ok(ORIGINS.includes(byMount.get(mount)!.origin))
    for (const want of plan.start) assert.ok(!byMount.has(want.localMount))
    const after = apply(relays, lists)
    assert.equal(new Set(after.map((r) => r.localMount)).size, after.length, 'one relay a mount')
    const again = planReconcile(after, lists)
    assert.deepEqual([again.stop, again.start, again.update], [[], [], []])
    for (const relay of relays) {
      if (!ORIGINS.includes(relay.origin)) assert.ok(after.includes(relay), 'untouched')
    }
  }))
})

test('property: every listed mount is served, from every master listing it in their order, unless another relay holds it', () => {
  fc.assert(fc.property(runningArb, listArb, (relays, lists) => {
    const after = new Map(apply(relays, lists).map((r) => [r.localMount, r]))
    const answered = lists.filter((list) => list.entries !== undefined)
    // a master that has not answered yet holds the relays it brought, as one of the options does
    const held = new Map(relays.filter((r) => !answered.some((list) => list.origin === r.origin)).map((r) => [r.localMount, r]))
    for (const mount of new Set(answered.flatMap((list) => list.entries!.map((e) => e.localMount)))) {
      const relay = after.get(mount)!
      if (held.has(mount)) {
        assert.equal(relay, held.get(mount), mount)
        continue
      }
      const listing = answered.filter((list) => list.entries!.some((e) => e.localMount === mount))
      assert.deepEqual(relay.upstreams.map((u) => u.url), listing.map((list) => list.entries!.find((e) => e.localMount === mount)!.upstream.href), mount)
      assert.equal(relay.origin, listing[0]!.origin, mount)
    }
  }))
})

test('a master relay: an upstream per master listing the mount, ICY metadata, the first master\'s on-demand, each one\'s credentials for itself only', () => {
  const { masters } = resolveOptions({
    master: [{ server: 'm', port: 8000, password: 'pw', onDemand: true }, { server: 'n', port: 8000, username: 'u', password: 'pn' }]
  })
  const masterOf = (origin: string): ResolvedMaster => masters.find((master) => master.origin === origin)!
  const [m, n] = masters
  const want: DesiredRelay = {
    localMount: '/a',
    origin: m!.origin,
    sources: [{ origin: m!.origin, upstream: new URL('http://m:8000/a') }, { origin: n!.origin, upstream: new URL('http://n:8000/a') }]
  }
  assert.deepEqual(masterRelayDefinition(masterOf, want), {
    localMount: '/a',
    onDemand: true,
    upstreams: [
      { url: 'http://m:8000/a', relayShoutcastMetadata: true, redirects: 'same-server', username: 'relay', password: 'pw' },
      { url: 'http://n:8000/a', relayShoutcastMetadata: true, redirects: 'same-server', username: 'u', password: 'pn' }
    ]
  })
  assert.deepEqual(masterUpstream(m!, new URL('http://other:8000/b'), '/b'), {
    url: 'http://other:8000/b', relayShoutcastMetadata: true, redirects: 'same-server'
  })
})

test('a master relay: the master\'s redirect policy and CA everywhere, its TLS name and checks for the master only', () => {
  const ca = privateCa().cert
  const [master] = resolveOptions({
    master: { server: 'm', port: 8000, password: 'pw', redirects: 'public', ca, servername: 'radio.test', rejectUnauthorized: false }
  }).masters
  const own = masterUpstream(master!, new URL('http://m:8000/a'), '/a') as NetworkUpstreamDefinition
  assert.deepEqual([own.redirects, own.ca, own.servername, own.rejectUnauthorized, own.publicOnly], ['public', ca, 'radio.test', false, undefined])
  const other = masterUpstream(master!, new URL('http://other:8000/b'), '/b') as NetworkUpstreamDefinition
  assert.deepEqual([other.redirects, other.ca, other.servername, other.rejectUnauthorized, other.publicOnly], ['public', ca, undefined, undefined, true])
})
