import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { SlotCounts } from '../../../lib/cluster/slots.js'

const MOUNTS = ['/a', '/b']

const step = fc.oneof(
  fc.record({ op: fc.constant('reserve' as const), process: fc.integer({ min: 1, max: 3 }), mount: fc.constantFrom(...MOUNTS) }),
  fc.record({ op: fc.constant('release' as const), process: fc.integer({ min: 1, max: 3 }), mount: fc.constantFrom(...MOUNTS) }),
  fc.record({ op: fc.constant('forget' as const), process: fc.integer({ min: 1, max: 3 }) })
)

test('slot counts: never past clients or a mount\'s max; the total is what the processes hold, whatever they release or how they end', () => {
  fc.assert(fc.property(fc.nat(20), fc.option(fc.nat(10)), fc.array(step, { maxLength: 200 }), (clients, max, steps) => {
    const limits = { clients, maxListeners: max }
    const counts = new SlotCounts()
    // the model: each process's places by mount
    const held = new Map<number, string[]>()
    const ofMount = (mount: string): number => [...held.values()].flat().filter((each) => each === mount).length
    for (const each of steps) {
      if (each.op === 'reserve') {
        const answer = counts.reserve(each.process, each.mount, limits)
        if (answer === 'ok') held.set(each.process, [...held.get(each.process) ?? [], each.mount])
        else assert.ok(answer === 'clients' ? ofMount('/a') + ofMount('/b') >= clients : max !== null && ofMount(each.mount) >= max)
      } else if (each.op === 'release') {
        counts.release(each.process, each.mount)
        const mine = held.get(each.process) ?? []
        const at = mine.indexOf(each.mount)
        if (at >= 0) mine.splice(at, 1)
      } else {
        counts.forget(each.process)
        held.delete(each.process)
      }
      assert.equal(counts.total, [...held.values()].flat().length)
      assert.ok(counts.total <= clients)
      for (const mount of MOUNTS) assert.ok(max === null || ofMount(mount) <= max)
    }
  }))
})

test('a release of a place the process does not hold changes nothing', () => {
  const counts = new SlotCounts()
  assert.equal(counts.reserve(1, '/a', { clients: 2, maxListeners: null }), 'ok')
  counts.release(2, '/a')
  counts.release(1, '/b')
  assert.equal(counts.total, 1)
  assert.equal(counts.reserve(2, '/a', { clients: 2, maxListeners: 1 }), 'mount')
  assert.equal(counts.reserve(2, '/b', { clients: 2, maxListeners: 1 }), 'ok')
  assert.equal(counts.reserve(3, '/c', { clients: 2, maxListeners: null }), 'clients')
})
