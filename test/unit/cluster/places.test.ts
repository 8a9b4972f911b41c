import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { answerPlaces, WorkerPlaces, type PlacesBatch } from '../../../lib/cluster/places.js'
import { SlotCounts } from '../../../lib/cluster/slots.js'
import type { MachineSlotLimits } from '../../../lib/options.js'

const MOUNTS = ['/a', '/b']
const WORKERS = 3

/** Once every scheduled step ran, and what each step's answer started (an asker's own `then`) ran too. */
async function settled (s: fc.Scheduler): Promise<void> {
  do {
    await s.waitAll()
    await new Promise((resolve) => setImmediate(resolve))
  } while (s.count() > 0)
}

const move = fc.record({ worker: fc.nat(WORKERS - 1), mount: fc.constantFrom(...MOUNTS), leaves: fc.boolean() })

test('batched places: whatever the interleaving of turns and messages, no more listeners than the limits, each asker its own answer, and every freed place given again', async () => {
  await fc.assert(fc.asyncProperty(fc.scheduler(), fc.nat(12), fc.option(fc.nat(8)), fc.array(move, { maxLength: 60 }), async (s, clients, max, moves) => {
    const limits: MachineSlotLimits = { clients, maxListeners: max }
    const slots = new SlotCounts()
    // the listeners each worker let in, by mount: what the workers believe, checked against the limits
    const admitted = Array.from({ length: WORKERS }, () => new Map(MOUNTS.map((mount) => [mount, 0])))
    const counted = Array.from({ length: WORKERS }, () => new Map(MOUNTS.map((mount) => [mount, 0])))
    const ofMount = (mount: string): number => admitted.reduce((sum, held) => sum + held.get(mount)!, 0)
    const checkLimits = (): void => {
      const total = MOUNTS.reduce((sum, mount) => sum + ofMount(mount), 0)
      assert.ok(total <= slots.total && slots.total <= clients, `${total} let in, ${slots.total} counted, clients ${clients}`)
      for (const mount of MOUNTS) assert.ok(max === null || ofMount(mount) <= max)
    }
    // the end of a turn, the way to the primary and the way back each come whenever the scheduler says
    const workers = Array.from({ length: WORKERS }, (_, worker) => new WorkerPlaces(async (batch: PlacesBatch) => {
      await s.schedule(Promise.resolve(), `worker ${worker} → primary`)
      const answers = answerPlaces(slots, worker, batch)
      // the places the primary holds for this worker, by what it answered: the worker's must be the same
      for (const mount of batch.release) counted[worker]!.set(mount, counted[worker]!.get(mount)! - 1)
      for (const [i, request] of batch.reserve.entries()) if (answers?.[i] === 'ok') counted[worker]!.set(request.mount, counted[worker]!.get(request.mount)! + 1)
      checkLimits()
      await s.schedule(Promise.resolve(), `primary → worker ${worker}`)
      return answers
    }, (flush) => { s.schedule(Promise.resolve(), `worker ${worker}'s turn ends`).then(flush, () => {}) }))

    let asked = 0
    let answered = 0
    const arrive = (worker: number, mount: string): void => {
      asked++
      workers[worker]!.reserve(mount, limits).then((reservation) => {
        answered++
        assert.notEqual(reservation, undefined)
        if (reservation === 'ok') admitted[worker]!.set(mount, admitted[worker]!.get(mount)! + 1)
        checkLimits()
      }, assert.fail)
    }
    const leave = (worker: number, mount: string): void => {
      if (admitted[worker]!.get(mount) === 0) return
      admitted[worker]!.set(mount, admitted[worker]!.get(mount)! - 1)
      workers[worker]!.release(mount)
    }
    for (const { worker, mount, leaves } of moves) {
      s.schedule(Promise.resolve(), `${leaves ? 'leave' : 'arrive'} ${worker} ${mount}`)
        .then(() => { if (leaves) leave(worker, mount); else arrive(worker, mount) }, () => {})
    }
    await settled(s)
    assert.equal(answered, asked, 'every asker got an answer')
    assert.deepEqual(counted, admitted, 'the primary holds for each worker the places it let listeners into')
    assert.equal(slots.total, MOUNTS.reduce((sum, mount) => sum + ofMount(mount), 0), 'the primary counts what the workers let in')

    for (const [worker, held] of admitted.entries()) for (const mount of MOUNTS) while (held.get(mount)! > 0) leave(worker, mount)
    await settled(s)
    assert.equal(slots.total, 0, 'every place given back')
    for (let worker = 0; worker < WORKERS; worker++) arrive(worker, '/a')
    await settled(s)
    assert.equal(ofMount('/a'), Math.min(WORKERS, clients, max ?? WORKERS), 'freed places are given again, up to the limits')
  }))
})

test('the places of one turn leave as one message, those given back first; the next turn\'s as another', async () => {
  const sent: PlacesBatch[] = []
  const places = new WorkerPlaces(async (batch) => {
    sent.push(batch)
    return batch.reserve.map((_request, i) => i % 2 === 0 ? 'ok' : 'mount')
  })
  const limits = { clients: 100, maxListeners: 5 }
  places.release('/b')
  const first = Array.from({ length: 50 }, async (_, i) => await places.reserve(i < 25 ? '/a' : '/b', limits))
  places.release('/a')
  assert.equal(sent.length, 0, 'nothing leaves before the turn ends')
  const answers = await Promise.all(first)
  assert.deepEqual(answers, first.map((_, i) => i % 2 === 0 ? 'ok' : 'mount'), 'each asker gets the answer at its place in the batch')
  assert.equal(sent.length, 1)
  assert.deepEqual(sent[0]!.release, ['/b', '/a'])
  assert.deepEqual(sent[0]!.reserve.map((request) => request.mount), [...Array(25).fill('/a'), ...Array(25).fill('/b')])
  places.release('/a')
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(sent[1], { release: ['/a'], reserve: [] })
})

test('a batch with no answer, or answers that are none, leaves each of its askers unanswered (503), never let in', async () => {
  const limits = { clients: 10, maxListeners: null }
  const replies: Array<[() => Promise<unknown>, unknown[]]> = [
    [async () => undefined, [undefined, undefined]],
    [async () => [], [undefined, undefined]],
    [async () => ['ok', 'yes'], ['ok', undefined]],
    [async () => await Promise.reject(new Error('gone')), [undefined, undefined]]
  ]
  for (const [reply, expected] of replies) {
    const places = new WorkerPlaces(reply)
    assert.deepEqual(await Promise.all([places.reserve('/a', limits), places.reserve('/a', limits)]), expected)
  }
})

test('the primary takes a worker\'s batch as it must be, and nothing else: a malformed one or place is refused, a foreign release ignored', () => {
  const slots = new SlotCounts()
  const limits = { clients: 2, maxListeners: null }
  for (const batch of [null, 'x', {}, { release: '/a', reserve: [] }, { release: [], reserve: {} }]) assert.equal(answerPlaces(slots, 1, batch), undefined)
  const bad = [{ mount: 1, limits }, { mount: '/a', limits: { clients: -1, maxListeners: null } }, { mount: '/a', limits: { clients: 2, maxListeners: 1.5 } }, { mount: '/a' }, null]
  assert.deepEqual(answerPlaces(slots, 1, { release: [], reserve: [...bad, { mount: '/a', limits }] }), [...bad.map(() => undefined), 'ok'])
  assert.deepEqual(answerPlaces(slots, 2, { release: ['/a', 7], reserve: [] }), [])
  assert.equal(slots.total, 1, 'a place of process 1 is not process 2\'s to give back')
  assert.deepEqual(answerPlaces(slots, 1, { release: ['/a'], reserve: [{ mount: '/b', limits }, { mount: '/b', limits }, { mount: '/b', limits }] }), ['ok', 'ok', 'clients'])
})
