import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { announcedInterval, parseRegistration, registrationQuery, type Registration } from '../../../lib/cluster/registration.js'
import { EXPIRY_GRACE_MS, SlaveTable } from '../../../lib/cluster/slaves.js'
import { leastLoaded, loadOf, slaveCandidate } from '../../../lib/cluster/select.js'
import { resolveOptions } from '../../../lib/options.js'

const query = (text: string): URLSearchParams => new URL(`http://m/admin/streamlist.txt${text}`).searchParams

test("icecast-kh's registration: rserver, rport and interval, as its slave sends them", () => {
  assert.deepEqual(parseRegistration(query('?rserver=relay2.example&rport=8000&interval=120')),
    { host: 'relay2.example', port: 8000, interval: 120 })
})

test('a registration kh would ignore is refused, and so is one that only its atoi would take', () => {
  for (const bad of [
    '?rport=8000&interval=120', '?rserver=a&interval=120', '?rserver=a&rport=8000',
    '?rserver=a&rport=0&interval=120', '?rserver=a&rport=70000&interval=120', '?rserver=a&rport=8000&interval=4',
    '?rserver=a&rport=80x&interval=120', '?rserver=a&rport=8000&interval=-5', '?rserver=a/b&rport=8000&interval=120',
    '?rserver=u@evil&rport=8000&interval=120', '?rserver=&rport=8000&interval=120', `?rserver=${'a'.repeat(300)}&rport=1&interval=5`,
    '?rserver=a&rport=8000&interval=86401'
  ]) assert.equal(parseRegistration(query(bad)), undefined, bad)
})

test('an IPv6 address is bracketed for a URL; the load parameters kh ignores are read', () => {
  const reg = parseRegistration(query('?rserver=::1&rport=8001&interval=5&rscheme=https&rlisteners=7&rcapacity=100&rmount=/a.mp3:3&rmount=/b:c.ogg:4&rmount=bad&rmount=/x:-1'))
  assert.equal(reg?.host, '[::1]')
  assert.equal(reg?.scheme, 'https')
  assert.equal(reg?.load?.listeners, 7)
  assert.equal(reg?.load?.capacity, 100)
  assert.deepEqual([...reg!.load!.mounts], [['/a.mp3', 3], ['/b:c.ogg', 4]])
})

const registrationArb: fc.Arbitrary<Registration> = fc.record({
  host: fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6().map((ip) => `[${ip}]`)),
  port: fc.integer({ min: 1, max: 65535 }),
  interval: fc.integer({ min: 5, max: 86400 }),
  scheme: fc.constantFrom('http' as const, 'https' as const),
  load: fc.record({
    listeners: fc.nat({ max: 1e6 }),
    capacity: fc.integer({ min: 1, max: 1e6 }),
    mounts: fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 20 }).map((s) => '/' + s), fc.nat({ max: 1e6 })), { selector: ([path]) => path, maxLength: 5 }).map((entries) => new Map(entries))
  })
})

test('property: what a slave sends, the master reads back whole', () => {
  fc.assert(fc.property(registrationArb, (reg) => {
    assert.deepEqual(parseRegistration(query(registrationQuery(reg))), { ...reg, load: { ...reg.load } })
  }))
})

test('property: any query whatever gives a registration within the bounds or none, never a throw', () => {
  fc.assert(fc.property(fc.string({ maxLength: 200 }), fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (host, port, interval) => {
    const reg = parseRegistration(new URLSearchParams({ rserver: host, rport: port, interval }))
    if (reg === undefined) return
    assert.ok(reg.port >= 1 && reg.port <= 65535 && reg.interval >= 5 && reg.interval <= 86400)
    assert.match(reg.host, /^[^/@?#\s]+$/)
  }))
})

test('the interval announced is never under kh\'s 5 s', () => {
  assert.equal(announcedInterval(0.5), 5)
  assert.equal(announcedInterval(120), 120)
  assert.equal(announcedInterval(7.2), 8)
})

const reg = (host: string, interval = 10): Registration => ({ host, port: 8000, interval })

test('slaves expire as kh drops them: 10 s after the poll they announced was due', () => {
  const table = new SlaveTable(10)
  assert.equal(table.register(reg('a', 10), '127.0.0.2', 0), 'added')
  assert.equal(table.live(10_000 + EXPIRY_GRACE_MS).length, 1)
  assert.equal(table.live(10_001 + EXPIRY_GRACE_MS).length, 0)
  assert.equal(table.register(reg('a', 10), '127.0.0.2', 30_000), 'added')
  assert.equal(table.register(reg('a', 10), '127.0.0.2', 35_000), 'updated')
  assert.equal(table.live(45_000 + EXPIRY_GRACE_MS).length, 1)
})

test('past maxSlaves a new slave is not kept until one expires; a known one still refreshes', () => {
  const table = new SlaveTable(2)
  assert.equal(table.register(reg('a', 5), '127.0.0.2', 0), 'added')
  assert.equal(table.register(reg('b', 60), '127.0.0.3', 0), 'added')
  assert.equal(table.register(reg('c'), '127.0.0.4', 0), 'full')
  assert.equal(table.register(reg('a', 5), '127.0.0.2', 1000), 'updated')
  assert.equal(table.register(reg('c'), '127.0.0.4', 6000 + EXPIRY_GRACE_MS + 1), 'added')
  assert.deepEqual(table.live(6000 + EXPIRY_GRACE_MS + 1).map((s) => s.host).sort(), ['b', 'c'])
})

test('property: every slave live at a time polled within its interval and grace; none past', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: 5, max: 100 }), fc.nat({ max: 1000 })), { maxLength: 30 }), fc.nat({ max: 200_000 }), (polls, later) => {
    const table = new SlaveTable(3)
    let now = 0
    const due = new Map<string, number>()
    for (const [host, interval, gap] of polls) {
      now += gap * 100
      if (table.register(reg(host, interval), '127.0.0.2', now) !== 'full') due.set(host, now + interval * 1000)
      assert.ok(table.live(now).length <= 3)
    }
    const at = now + later
    const live = new Set(table.live(at).map((s) => s.host))
    for (const host of live) assert.ok(due.get(host)! + EXPIRY_GRACE_MS >= at)
  }))
})

const nodeArb = fc.record({ listeners: fc.nat({ max: 1000 }), capacity: fc.integer({ min: 1, max: 1000 }) })

test('property: the node chosen is among the least loaded, whatever the random draw', () => {
  fc.assert(fc.property(fc.array(nodeArb, { maxLength: 8 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (nodes, draw) => {
    const chosen = leastLoaded(nodes, () => draw)
    if (nodes.length === 0) return assert.equal(chosen, undefined)
    assert.ok(nodes.includes(chosen!))
    for (const node of nodes) assert.ok(loadOf(chosen!) <= loadOf(node))
  }))
})

test('ties are broken at random: each tied node can be drawn', () => {
  const nodes = [{ listeners: 1, capacity: 10 }, { listeners: 2, capacity: 20 }, { listeners: 5, capacity: 10 }]
  assert.equal(leastLoaded(nodes, () => 0), nodes[0])
  assert.equal(leastLoaded(nodes, () => 0.99), nodes[1])
})

test('a slave is a candidate for a mount it reports, with room; an icecast-kh one (no report) for any mount', () => {
  const ctx = { path: '/live.mp3', pathAndQuery: '/live.mp3?x=1', scheme: 'https', defaultCapacity: 50 }
  const base = { key: 'r:8000', host: 'r', port: 8000, address: '127.0.0.2', registeredAt: 0, lastPollAt: 0, nextPollAt: 1, sent: 2 }
  const kh = slaveCandidate(base, ctx)
  assert.deepEqual(kh, { key: 'r:8000', kind: 'slave', location: 'https://r:8000/live.mp3?x=1', listeners: 2, capacity: 50 })
  const load = { listeners: 3, capacity: 6, mounts: new Map([['/live.mp3', 1]]) }
  assert.equal(slaveCandidate({ ...base, scheme: 'http', load }, ctx)?.location, 'http://r:8000/live.mp3?x=1')
  assert.equal(slaveCandidate({ ...base, load: { ...load, mounts: new Map() } }, ctx), undefined)
  assert.equal(slaveCandidate({ ...base, sent: 3, load }, ctx), undefined, 'full once the listeners sent fill it')
})

test("a slave's own requests are recognised by the host it advertises, not the address its polls come from", () => {
  const table = new SlaveTable(5)
  table.register({ host: '127.0.0.2', port: 8000, interval: 5 }, '127.0.0.1', 0)
  table.register({ host: '[::1]', port: 8000, interval: 5 }, '127.0.0.1', 0)
  assert.equal(table.isSlaveAddress('127.0.0.2', 1000), true)
  assert.equal(table.isSlaveAddress('::1', 1000), true)
  assert.equal(table.isSlaveAddress('127.0.0.1', 1000), false, 'a proxy in front of slaves and listeners alike')
  assert.equal(table.isSlaveAddress('127.0.0.2', 5000 + EXPIRY_GRACE_MS + 1), false, 'not once it expired')
})

test('options: redirect needs relayAuth, and its fields have defaults; master.redirect true registers as the app', () => {
  assert.throws(() => resolveOptions({ redirect: {} }), /redirect.*relayAuth/)
  assert.throws(() => resolveOptions({ relayAuth: { password: 'p' }, redirect: { maxSlaves: 0 } }), /redirect\.maxSlaves/)
  assert.throws(() => resolveOptions({ relayAuth: { password: 'p' }, redirect: { policy: 'random' } }), /redirect\.policy/)
  assert.deepEqual(resolveOptions({ relayAuth: { password: 'p' }, redirect: {} }).redirect, { maxSlaves: 100, policy: 'when-full' })
  const [master] = resolveOptions({ master: { server: 'm', port: 8000, password: 'p', redirect: true } }).masters
  assert.deepEqual(master?.redirect, {})
  assert.equal(resolveOptions({ master: { server: 'm', port: 8000, password: 'p', redirect: false } }).masters[0]?.redirect, undefined)
  assert.throws(() => resolveOptions({ master: { server: 'm', port: 8000, password: 'p', redirect: { port: 0 } } }), /master\.redirect/)
})
