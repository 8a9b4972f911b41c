import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { answerQuery, machineView, sideOf, withMachineFigures } from '../../../lib/cluster/machine.js'
import type { MachineLink } from '../../../lib/options.js'
import type { ListenerInfo } from '../../../lib/relay/decorator.js'
import type { RelayStatus } from '../../../lib/relay/relay.js'
import type { LocalRelays } from '../../../lib/stats/view.js'
import { statusFixture } from '../../helpers/admin.js'
import { relayApp } from '../../helpers/app.js'

const figures = fc.record({
  localMount: fc.constant('/live.mp3'),
  listeners: fc.nat(1000),
  peakListeners: fc.nat(1000),
  fallbackListeners: fc.nat(1000),
  bytesOut: fc.nat(),
  slowDrops: fc.nat(1000)
})

test('machine figures: listeners, bytes sent, slow drops and fallback listeners are summed; the peak is at least the sum now and any one process\'s peak', () => {
  fc.assert(fc.property(fc.array(figures, { minLength: 1, maxLength: 8 }), (answers) => {
    const status = statusFixture({ localMount: '/live.mp3' })
    const machine = withMachineFigures(status, answers)
    const total = (key: 'listeners' | 'bytesOut' | 'slowDrops' | 'fallbackListeners'): number => answers.reduce((sum, each) => sum + each[key], 0)
    assert.equal(machine.listeners, total('listeners'))
    assert.equal(machine.bytesOut, total('bytesOut'))
    assert.equal(machine.slowDrops, total('slowDrops'))
    assert.equal(machine.fallbackListeners, total('fallbackListeners'))
    assert.ok(machine.peakListeners >= machine.listeners)
    for (const each of answers) assert.ok(machine.peakListeners >= each.peakListeners)
    assert.deepEqual({ ...machine, listeners: 0, bytesOut: 0, slowDrops: 0, fallbackListeners: 0, peakListeners: 0 },
      { ...status, listeners: 0, bytesOut: 0, slowDrops: 0, fallbackListeners: 0, peakListeners: 0 })
  }))
})

test('a mount no process answered for keeps this process\'s own figures', () => {
  const status = statusFixture({ localMount: '/other.mp3', listeners: 3 })
  assert.deepEqual(withMachineFigures(status, [{ localMount: '/live.mp3', listeners: 9, peakListeners: 9, fallbackListeners: 0, bytesOut: 1, slowDrops: 0 }]), status)
})

/** A link whose other processes give `others`' answers beside this one's (the test's machine, in memory). */
function linkWith (others: unknown[]): MachineLink {
  let respond: (query: unknown) => Promise<unknown> = async () => await Promise.reject(new Error('no responder'))
  return {
    index: 1,
    ask: async (query) => [await respond(query), ...others],
    answer: (responder) => { respond = responder },
    reserve: async () => 'ok',
    release: () => {}
  }
}

const listener = (id: number): ListenerInfo => ({ id, ip: '127.0.0.1', userAgent: 'test', connectedSeconds: 1 })

function localRelays (statuses: RelayStatus[], listeners: ListenerInfo[]): LocalRelays {
  return {
    list: () => statuses,
    listenersOf: (mount) => statuses.some((status) => status.localMount === mount) ? listeners : undefined,
    kick: (mount, id) => statuses.some((status) => status.localMount === mount) && listeners.some((each) => each.id === id),
    moveListeners: async () => listeners.splice(0).length,
    setMetadata: () => {},
    restart: (mount) => statuses.some((status) => status.localMount === mount),
    remove: (mount) => statuses.some((status) => status.localMount === mount),
    add: () => statuses[0]!
  }
}

test('machine view: the others\' answers are checked, and one that is malformed (wrong shape, negative, text) is left out', async () => {
  const local = localRelays([statusFixture({ localMount: '/live.mp3', listeners: 2, bytesOut: 10, slowDrops: 0, fallbackListeners: 0, peakListeners: 2 })], [listener(1), listener(2)])
  const good = [{ localMount: '/live.mp3', listeners: 5, peakListeners: 6, fallbackListeners: 0, bytesOut: 20, slowDrops: 1 }]
  const bad = [
    null, 'figures', [{ localMount: '/live.mp3', listeners: -4, peakListeners: 0, fallbackListeners: 0, bytesOut: 0, slowDrops: 0 }],
    [{ localMount: '/live.mp3', listeners: '7' }], { constructor: 1 }
  ]
  const view = machineView(local, linkWith([good, ...bad]))
  const [status] = await view.list()
  assert.equal(status!.listeners, 7)
  assert.equal(status!.peakListeners, 7)
  assert.equal(status!.bytesOut, 30)
  const listeners = await machineView(local, linkWith([[listener(3)], [{ id: 'x' }], null])).listenersOf('/live.mp3')
  assert.deepEqual(listeners?.map((each) => each.id), [1, 2, 3])
  assert.equal(await machineView(local, linkWith([null])).listenersOf('/nowhere'), undefined)
})

test('a query that is none of the link\'s is refused, never answered', async () => {
  const local = localRelays([statusFixture()], [])
  for (const query of [undefined, null, 'figures', { kind: 'kill' }, { kind: 'listeners' }, { kind: 'listeners', mount: 5 }, { kind: 'kick', mount: '/live.mp3', id: -1 }, { kind: 'kick', mount: '/live.mp3' },
    { kind: 'move', mount: '/live.mp3' }, { kind: 'metadata', mount: '/live.mp3', metadata: { title: 1 } },
    { kind: 'metadata', mount: '/live.mp3', metadata: { title: 'x', fields: {} } }]) {
    await assert.rejects(answerQuery(local, query), { code: 'FST_ICECAST_RELAY_BAD_REQUEST' })
  }
})

test('kick: ended by whichever process holds the listener; an answer that is no boolean counts for nothing', async () => {
  const local = localRelays([statusFixture({ localMount: '/live.mp3' })], [listener(1)])
  assert.equal(await machineView(local, linkWith([true])).kick('/live.mp3', 2 ** 32 + 1), true)
  assert.equal(await machineView(local, linkWith([false, 'true', 1])).kick('/live.mp3', 7), false)
  assert.equal(await machineView(local, linkWith([])).kick('/live.mp3', 1), true)
})

test('moveclients: this process\'s listeners move first, then every process\'s; the count adds the others\' answers that are counts', async () => {
  const local = localRelays([statusFixture({ localMount: '/live.mp3' })], [listener(1), listener(2)])
  assert.equal(await machineView(local, linkWith([3, -1, '4', 2.5, null])).moveListeners('/live.mp3', '/other.mp3'), 5)
})

test('killsource is for the side that holds the upstreams, a removal for both sides, the rest for the listeners\' side', () => {
  assert.equal(sideOf({ kind: 'restart', mount: '/a' }), 'upstream')
  assert.equal(sideOf({ kind: 'remove', mount: '/a' }), 'both')
  assert.equal(sideOf({ kind: 'add', definition: {} }), 'both')
  assert.equal(sideOf({ kind: 'relays' }), 'upstream')
  for (const query of [{ kind: 'figures' }, { kind: 'kick' }, { kind: 'move' }, { kind: 'metadata' }, null, 'restart', 7]) assert.equal(sideOf(query), 'listeners')
})

/** A link whose `ask` gives `answers` (what the primary and the other workers said), and mirrors as a worker does. */
function mirroringLink (answers: unknown[], asked: unknown[] = []): MachineLink {
  return {
    index: 1,
    ask: async (query) => { asked.push(query); return answers },
    answer: () => {},
    reserve: async () => 'ok',
    release: () => {},
    mirror: (definition) => ({ ...definition, url: undefined, server: '127.0.0.1', port: 9, mount: definition.localMount ?? '/x' })
  }
}

test('a relay added in a worker: checked here first (the field named, a mount served), mirrored here, then the machine is asked for the definition as given', async (t) => {
  const { app } = await relayApp({})
  t.after(async () => { await app.close() })
  const asked: unknown[] = []
  const view = machineView(app.relay, mirroringLink([true, true], asked))
  await assert.rejects(view.add({ server: 'h', port: 70000 }), (error: Error & { code?: string }) => error.code === 'FST_ICECAST_RELAY_INVALID_OPTION' && /relay\.port: /.test(error.message))
  assert.equal(asked.length, 0, 'a bad definition goes nowhere')
  const definition = { url: 'http://127.0.0.1:1/up', localMount: '/added.mp3' }
  const status = await view.add(definition)
  assert.equal(status.upstream, 'http://127.0.0.1:9/added.mp3', 'this worker relays the primary\'s mount')
  assert.deepEqual(asked, [{ kind: 'add', definition }])
  await assert.rejects(view.add(definition), (error: Error & { statusCode?: number }) => error.statusCode === 409)
  assert.equal(asked.length, 1)
})

test('a relay the primary did not take (no answer: it failed, or is gone) is undone here and the request gets a 503', async (t) => {
  const { app } = await relayApp({})
  t.after(async () => { await app.close() })
  const view = machineView(app.relay, mirroringLink([]))
  await assert.rejects(view.add({ url: 'http://127.0.0.1:1/up', localMount: '/added.mp3' }),
    (error: Error & { statusCode?: number, code?: string }) => error.statusCode === 503 && error.code === 'FST_ICECAST_RELAY_MACHINE_UNAVAILABLE')
  assert.equal(app.relay.get('/added.mp3'), undefined)
})

test("a worker's answer to another's add: the definition mirrored; a process without mirror adds it as given", async (t) => {
  const { app } = await relayApp({})
  t.after(async () => { await app.close() })
  const definition = { url: 'http://127.0.0.1:1/up', localMount: '/a.mp3' }
  assert.equal(await answerQuery(app.relay, { kind: 'add', definition }, { mirror: mirroringLink([]).mirror }), true)
  assert.equal(app.relay.get('/a.mp3')?.upstream, 'http://127.0.0.1:9/a.mp3')
  assert.equal(await answerQuery(app.relay, { kind: 'add', definition: { ...definition, localMount: '/b.mp3' } }), true)
  assert.equal(app.relay.get('/b.mp3')?.upstream, 'http://127.0.0.1:1/up')
  await assert.rejects(answerQuery(app.relay, { kind: 'add', definition }), 'a mount served is no answer')
})
