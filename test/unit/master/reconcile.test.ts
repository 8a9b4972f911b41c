import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { masterRelayDefinition, planReconcile, type MasterList, type RunningRelay } from '../../../lib/master/reconcile.js'
import type { StreamlistEntry } from '../../../lib/master/streamlist.js'
import { resolveOptions } from '../../../lib/options.js'
import { privateCa } from '../../helpers/servers.js'

const ORIGINS = ['master:a:1', 'master:b:2']
const entry = (localMount: string, host = 'a:1'): StreamlistEntry => ({ localMount, upstream: new URL(`http://${host}${localMount}`) })
const running = (localMount: string, origin: string, host = 'a:1'): RunningRelay =>
  ({ localMount, origin, upstreams: [{ url: `http://${host}${localMount}` }] })

test('new mounts start, vanished ones stop, unchanged ones stay; relays of no master are never touched', () => {
  const plan = planReconcile(
    [running('/keep', 'master:a:1'), running('/gone', 'master:a:1'), running('/mine', 'api'), running('/cfg', 'options')],
    [{ origin: 'master:a:1', entries: [entry('/keep'), entry('/new'), entry('/cfg')] }]
  )
  assert.deepEqual(plan.stop, ['/gone'])
  assert.deepEqual(plan.start.map((s) => s.localMount), ['/new'])
  assert.deepEqual(plan.shadowed.get('master:a:1'), ['/cfg'])
})

test('a master that never answered keeps its relays; an empty list removes them all', () => {
  const relays = [running('/x', 'master:a:1')]
  assert.deepEqual(planReconcile(relays, [{ origin: 'master:a:1', entries: undefined }]).stop, [])
  assert.deepEqual(planReconcile(relays, [{ origin: 'master:a:1', entries: [] }]).stop, ['/x'])
})

test('the first master wins a mount; a mount whose URL changed is replaced', () => {
  const plan = planReconcile(
    [running('/y', 'master:b:2', 'b:2'), running('/moved', 'master:a:1')],
    [
      { origin: 'master:a:1', entries: [entry('/y'), entry('/moved', 'elsewhere:3')] },
      { origin: 'master:b:2', entries: [entry('/y', 'b:2')] }
    ]
  )
  assert.deepEqual(plan.stop.sort(), ['/moved', '/y'])
  assert.deepEqual(plan.start.map((s) => [s.localMount, s.origin, s.upstream.host]),
    [['/y', 'master:a:1', 'a:1'], ['/moved', 'master:a:1', 'elsewhere:3']])
  assert.deepEqual(plan.shadowed.get('master:b:2'), ['/y'])
})

const mountArb = fc.constantFrom('/a', '/b', '/c', '/d', '/e')
const listArb: fc.Arbitrary<MasterList[]> = fc.tuple(
  ...ORIGINS.map((origin, i) => fc.option(fc.uniqueArray(mountArb, { maxLength: 5 }), { nil: undefined })
    .map((mounts) => ({ origin, entries: mounts?.map((m) => entry(m, i === 0 ? 'a:1' : 'b:2')) })))
)
const runningArb = fc.uniqueArray(
  fc.tuple(mountArb, fc.constantFrom(...ORIGINS, 'options', 'api'), fc.constantFrom('a:1', 'b:2')),
  { selector: ([mount]) => mount, maxLength: 5 }
).map((relays) => relays.map(([mount, origin, host]) => running(mount, origin, host)))

/** The registry after a plan: stopped relays gone, started ones added. */
function apply (relays: RunningRelay[], lists: MasterList[]): RunningRelay[] {
  const plan = planReconcile(relays, lists)
  const stopped = new Set(plan.stop)
  return [
    ...relays.filter((r) => !stopped.has(r.localMount)),
    ...plan.start.map((s) => ({ localMount: s.localMount, origin: s.origin, upstreams: [{ url: s.upstream.href }] }))
  ]
}

test('property: a plan never stops a relay no master added, never starts a taken mount, and a second plan is empty', () => {
  fc.assert(fc.property(runningArb, listArb, (relays, lists) => {
    const plan = planReconcile(relays, lists)
    const byMount = new Map(relays.map((r) => [r.localMount, r]))
    for (const mount of plan.stop) assert.ok(ORIGINS.includes(byMount.get(mount)!.origin))
    const after = apply(relays, lists)
    assert.equal(new Set(after.map((r) => r.localMount)).size, after.length, 'one relay a mount')
    const again = planReconcile(after, lists)
    assert.deepEqual([again.stop, again.start], [[], []])
    for (const relay of relays) {
      if (!ORIGINS.includes(relay.origin)) assert.ok(after.includes(relay), 'untouched')
    }
  }))
})

test('property: every listed mount is served, by the first master listing it unless another relay holds it', () => {
  fc.assert(fc.property(runningArb, listArb, (relays, lists) => {
    const after = new Map(apply(relays, lists).map((r) => [r.localMount, r]))
    const foreign = new Map(relays.filter((r) => !ORIGINS.includes(r.origin)).map((r) => [r.localMount, r.origin]))
    // a master that has not answered yet stands for the relays it has
    const listed = (list: MasterList): string[] =>
      list.entries?.map((e) => e.localMount) ?? relays.filter((r) => r.origin === list.origin).map((r) => r.localMount)
    for (const mount of new Set(lists.flatMap(listed))) {
      const expected = foreign.get(mount) ?? lists.find((list) => listed(list).includes(mount))!.origin
      assert.equal(after.get(mount)?.origin, expected, mount)
    }
  }))
})

test('a master relay: ICY metadata, the master\'s on-demand, its credentials for the master only', () => {
  const [master] = resolveOptions({ master: { server: 'm', port: 8000, password: 'pw', onDemand: true } }).masters
  assert.deepEqual(masterRelayDefinition(master!, entry('/a', 'm:8000')), {
    url: 'http://m:8000/a', localMount: '/a', relayShoutcastMetadata: true, onDemand: true, redirects: 'same-server', username: 'relay', password: 'pw'
  })
  assert.deepEqual(masterRelayDefinition(master!, entry('/b', 'other:8000')), {
    url: 'http://other:8000/b', localMount: '/b', relayShoutcastMetadata: true, onDemand: true, redirects: 'same-server'
  })
})

test('a master relay: the master\'s redirect policy and CA everywhere, its TLS name and checks for the master only', () => {
  const ca = privateCa().cert
  const [master] = resolveOptions({
    master: { server: 'm', port: 8000, password: 'pw', redirects: 'public', ca, servername: 'radio.test', rejectUnauthorized: false }
  }).masters
  const own = masterRelayDefinition(master!, entry('/a', 'm:8000'))
  assert.deepEqual([own.redirects, own.ca, own.servername, own.rejectUnauthorized], ['public', ca, 'radio.test', false])
  const other = masterRelayDefinition(master!, entry('/b', 'other:8000'))
  assert.deepEqual([other.redirects, other.ca, other.servername, other.rejectUnauthorized], ['public', ca, undefined, undefined])
})
