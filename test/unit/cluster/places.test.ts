import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MAX_AHEAD, MIN_AHEAD, PlaceLedger, WorkerPlaces, type PlacesBatch } from '../../../lib/cluster/places.js'
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

const move = fc.record({ op: fc.constantFrom('arrive', 'leave', 'idle', 'die'), worker: fc.nat(WORKERS - 1), mount: fc.constantFrom(...MOUNTS) })

/** One way of node:cluster's IPC: its messages arrive in the order sent, whenever the scheduler says; a dead end drops them. */
class Channel {
  readonly #queue: Array<() => void> = []
  constructor (readonly s: fc.Scheduler, readonly label: string) {}

  send (deliver: () => void): void {
    this.#queue.push(deliver)
    this.s.schedule(Promise.resolve(), this.label).then(() => { this.#queue.shift()?.() }, () => {})
  }

  cut (): void {
    this.#queue.length = 0
  }
}

interface Worker {
  id: number
  alive: boolean
  places: WorkerPlaces
  up: Channel
  down: Channel
  admitted: Map<string, number>
  /** what ends each wait of this worker when it dies: its askers' and the primary's recall */
  waits: Set<() => void>
}

test('leased places: whatever the interleaving of turns, messages, leases, recalls, idle leases and dying workers, no more listeners than the limits, each asker answered, and every place free again after the listeners left', async () => {
  await fc.assert(fc.asyncProperty(fc.scheduler(), fc.nat(12), fc.option(fc.nat(8)), fc.array(move, { maxLength: 60 }), async (s, clients, max, moves) => {
    const limits: MachineSlotLimits = { clients, maxListeners: max }
    const ledger = new PlaceLedger(new SlotCounts())
    let deciding = Promise.resolve()
    /** what went wrong in the primary's part, which runs outside the property's own steps */
    let failure: unknown
    let lastId = 0
    const workers: Worker[] = []
    const live = (): Worker[] => workers.filter((worker) => worker.alive)
    const ofMount = (mount: string): number => live().reduce((sum, worker) => sum + worker.admitted.get(mount)!, 0)
    const checkLimits = (): void => {
      const total = MOUNTS.reduce((sum, mount) => sum + ofMount(mount), 0)
      assert.ok(total <= ledger.slots.total && ledger.slots.total <= clients, `${total} let in, ${ledger.slots.total} counted, clients ${clients}`)
      for (const mount of MOUNTS) assert.ok(max === null || ofMount(mount) <= max)
    }
    const wait = async <T>(worker: Worker, start: (done: (value: T | undefined) => void) => void): Promise<T | undefined> => await new Promise((resolve) => {
      const done = (value?: T): void => {
        worker.waits.delete(done)
        resolve(value)
      }
      // a dead worker's batches and recalls get no answer: its askers went with it
      if (!worker.alive) done()
      else {
        worker.waits.add(done)
        start(done)
      }
    })
    const recall = async (ids: number[]): Promise<void> => {
      await Promise.all(live().filter((worker) => ids.includes(worker.id)).map(async (worker) => await wait(worker, (done) => {
        worker.down.send(() => {
          const mounts = worker.places.recall()
          worker.up.send(() => {
            ledger.returned(worker.id, mounts)
            done(undefined)
          })
        })
      })))
    }
    // the primary's part, as the link does it: batches decided one after another, a recall first when one would be refused
    const decide = async (worker: Worker, batch: PlacesBatch, answer: (value: unknown) => void): Promise<void> => {
      if (!worker.alive) return
      ledger.release(worker.id, batch)
      let decided = ledger.decide(worker.id, batch, true)
      if ('recall' in decided) {
        await recall(decided.recall)
        decided = ledger.decide(worker.id, batch, false)
      }
      checkLimits()
      const reply = decided
      worker.down.send(() => { answer(reply) })
    }
    const start = (): Worker => {
      const id = ++lastId
      const worker: Worker = {
        id,
        alive: true,
        up: new Channel(s, `worker ${id} → primary`),
        down: new Channel(s, `primary → worker ${id}`),
        admitted: new Map(MOUNTS.map((mount) => [mount, 0])),
        waits: new Set(),
        places: new WorkerPlaces((batch, answered) => {
          wait(worker, (done) => {
            worker.up.send(() => { deciding = deciding.then(async () => { await decide(worker, batch, done) }).catch((error: unknown) => { failure ??= error }) })
          }).then(answered, assert.fail)
        }, (flush) => { s.schedule(Promise.resolve(), `worker ${id}'s turn ends`).then(flush, () => {}) })
      }
      return worker
    }
    for (let i = 0; i < WORKERS; i++) workers.push(start())

    let asked = 0
    let answered = 0
    const arrive = (worker: Worker, mount: string): void => {
      asked++
      worker.places.reserve(mount, limits).then((reservation) => {
        answered++
        if (!worker.alive) return
        assert.notEqual(reservation, undefined)
        if (reservation === 'ok') worker.admitted.set(mount, worker.admitted.get(mount)! + 1)
        checkLimits()
      }, assert.fail)
    }
    const leave = (worker: Worker, mount: string): void => {
      if (worker.admitted.get(mount) === 0) return
      worker.admitted.set(mount, worker.admitted.get(mount)! - 1)
      worker.places.release(mount)
    }
    const die = (at: number): void => {
      const worker = workers[at]!
      worker.alive = false
      worker.up.cut()
      worker.down.cut()
      ledger.forget(worker.id)
      for (const done of [...worker.waits]) done()
      workers[at] = start()
    }
    for (const { op, worker: at, mount } of moves) {
      s.schedule(Promise.resolve(), `${op} ${at} ${mount}`).then(() => {
        const worker = workers[at]!
        if (op === 'arrive') arrive(worker, mount)
        else if (op === 'leave') leave(worker, mount)
        else if (op === 'idle') worker.places.idle()
        else die(at)
      }, () => {})
    }
    await settled(s)
    assert.equal(failure, undefined)
    assert.equal(answered, asked, 'every asker got an answer')
    checkLimits()

    for (const worker of live()) for (const mount of MOUNTS) while (worker.admitted.get(mount)! > 0) leave(worker, mount)
    await settled(s)
    // leases may still be out: a crowd on every worker gets exactly as many places as the limits leave
    for (let i = 0; i < clients + 2; i++) arrive(workers[i % WORKERS]!, '/a')
    await settled(s)
    assert.equal(ofMount('/a'), Math.min(clients, max ?? clients), 'freed and leased places are given again, up to the limits')
    const back = recall(live().map((worker) => worker.id))
    await settled(s)
    await back
    assert.equal(ledger.slots.total, ofMount('/a'), 'once the leases are back, the primary counts what the workers let in')
  }))
})

test('the places of one turn leave as one message, those given back first, with a lease for each mount sized to the turn; the next turn\'s as another', async () => {
  const sent: PlacesBatch[] = []
  const places = new WorkerPlaces((batch, answered) => {
    sent.push(batch)
    answered({ places: batch.reserve.map((_request, i) => i % 2 === 0 ? 'ok' : 'mount'), leased: batch.lease.map(() => 0) })
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
  assert.deepEqual(sent[0]!.lease, [{ mount: '/a', limits, count: 50 }, { mount: '/b', limits, count: 50 }], 'twice the turn\'s places ahead')
  places.release('/a')
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(sent[1], { release: ['/a'], reserve: [], lease: [] })
})

test('a crowd gets in from its worker\'s lease with no message, asks for the next lease when half is left, and an idle lease goes back', async () => {
  const sent: PlacesBatch[] = []
  const places = new WorkerPlaces((batch, answered) => {
    sent.push(batch)
    answered({ places: batch.reserve.map(() => 'ok'), leased: batch.lease.map((request) => request.count) })
  })
  const limits = { clients: 1000, maxListeners: null }
  assert.equal(await places.reserve('/a', limits), 'ok')
  assert.deepEqual(sent.map((batch) => [batch.reserve.length, batch.lease.map((request) => request.count)]), [[1, [MIN_AHEAD]]])
  for (let i = 0; i < MIN_AHEAD / 2; i++) assert.equal(await places.reserve('/a', limits), 'ok')
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(sent.slice(1).map((batch) => [batch.reserve.length, batch.lease.map((request) => request.count)]), [[0, [MIN_AHEAD]]], 'half the lease taken: the next asked for, no listener waiting for it')
  const crowd = await Promise.all(Array.from({ length: 600 }, async () => await places.reserve('/a', limits)))
  assert.ok(crowd.every((reservation) => reservation === 'ok'))
  assert.ok(sent.every((batch) => batch.lease.every((request) => request.count <= MAX_AHEAD)), 'no lease above the most')
  assert.ok(sent.some((batch) => batch.lease.some((request) => request.count === MAX_AHEAD)), 'a crowd\'s lease grows to the most')
  const before = sent.length
  places.idle()
  places.idle()
  await new Promise((resolve) => setImmediate(resolve))
  const back = sent.slice(before).flatMap((batch) => batch.release)
  assert.ok(back.length > 0 && back.every((mount) => mount === '/a'), 'the unused lease is given back')
  assert.deepEqual(places.recall(), [], 'nothing left to call back')
})

test('a recall gives up every unused leased place; a lease under other limits is given back and the listener asks the primary', async () => {
  const sent: PlacesBatch[] = []
  const places = new WorkerPlaces((batch, answered) => {
    sent.push(batch)
    answered({ places: batch.reserve.map(() => 'ok'), leased: batch.lease.map((request) => request.count) })
  })
  const limits = { clients: 1000, maxListeners: null }
  await places.reserve('/a', limits)
  await places.reserve('/b', limits)
  assert.deepEqual(places.recall().sort(), [...Array(MIN_AHEAD).fill('/a'), ...Array(MIN_AHEAD).fill('/b')])
  await places.reserve('/a', limits)
  const before = sent.length
  assert.equal(await places.reserve('/a', { clients: 999, maxListeners: null }), 'ok')
  const batch = sent[before]!
  assert.deepEqual(batch.release, Array(MIN_AHEAD).fill('/a'), 'the lease under the old limits given back')
  assert.equal(batch.reserve.length, 1, 'the listener\'s place asked of the primary')
})

test('a batch with no answer, or answers that are none, leaves each of its askers unanswered (503), never let in, and leases nothing', async () => {
  const limits = { clients: 10, maxListeners: null }
  const replies: Array<[unknown, unknown[]]> = [
    [undefined, [undefined, undefined]],
    [[], [undefined, undefined]],
    [{ places: [] }, [undefined, undefined]],
    [{ places: ['ok', 'yes'], leased: [-1] }, ['ok', undefined]],
    [{ places: ['ok', 'ok'], leased: [MIN_AHEAD + 1] }, ['ok', 'ok']]
  ]
  for (const [reply, expected] of replies) {
    const places = new WorkerPlaces((_batch, answered) => { answered(reply) })
    assert.deepEqual(await Promise.all([places.reserve('/a', limits), places.reserve('/a', limits)]), expected)
    assert.deepEqual(places.recall(), [], 'no place leased')
  }
})

test('the primary takes a worker\'s batch as it must be, and nothing else: a malformed one, place or lease is refused, a foreign release ignored', () => {
  const ledger = new PlaceLedger(new SlotCounts())
  const limits = { clients: 2, maxListeners: null }
  for (const batch of [null, 'x', {}, { release: '/a', reserve: [] }, { release: [], reserve: {} }, { release: [], reserve: [], lease: 'x' }]) assert.equal(ledger.release(1, batch), false)
  const bad = [{ mount: 1, limits }, { mount: '/a', limits: { clients: -1, maxListeners: null } }, { mount: '/a', limits: { clients: 2, maxListeners: 1.5 } }, { mount: '/a' }, null]
  const badLeases = [...bad.map((request) => ({ ...request, count: 1 })), { mount: '/a', limits, count: MAX_AHEAD + 1 }, { mount: '/a', limits, count: -1 }]
  assert.deepEqual(ledger.decide(1, { release: [], reserve: [...bad, { mount: '/a', limits }] as never, lease: badLeases as never }, true), { places: [...bad.map(() => undefined), 'ok'], leased: badLeases.map(() => 0) })
  assert.equal(ledger.release(2, { release: ['/a', 7], reserve: [] }), true)
  assert.equal(ledger.slots.total, 1, 'a place of process 1 is not process 2\'s to give back')
  ledger.release(1, { release: ['/a'], reserve: [] })
  assert.deepEqual(ledger.decide(1, { release: [], reserve: [{ mount: '/b', limits }, { mount: '/b', limits }, { mount: '/b', limits }], lease: [] }, true), { places: ['ok', 'ok', 'clients'], leased: [] })
})

test('the primary leases each worker its share of what the limits leave, and calls leases back before it refuses a place', () => {
  const ledger = new PlaceLedger(new SlotCounts())
  const limits = { clients: 40, maxListeners: null }
  const lease = { mount: '/a', limits, count: MAX_AHEAD }
  assert.deepEqual(ledger.decide(1, { release: [], reserve: [{ mount: '/a', limits }], lease: [lease] }, true), { places: ['ok'], leased: [19] }, 'half of the 39 left, one process holding places')
  assert.deepEqual(ledger.decide(2, { release: [], reserve: [], lease: [lease] }, true), { places: [], leased: [10] }, 'half of the 20 left, one process holding places')
  const crowd = Array.from({ length: 16 }, () => ({ mount: '/a', limits }))
  assert.deepEqual(ledger.decide(3, { release: [], reserve: crowd, lease: [] }, true), { recall: [1, 2] }, 'a place would be refused while leases are out')
  assert.equal(ledger.slots.total, 30, 'nothing taken for a batch to be decided again')
  ledger.returned(1, Array(19).fill('/a'))
  ledger.returned(2, Array(10).fill('/a'))
  assert.deepEqual(ledger.decide(3, { release: [], reserve: crowd, lease: [lease] }, true), { places: crowd.map(() => 'ok'), leased: [5] }, 'a quarter of the 23 left, two processes holding places')
  assert.deepEqual(ledger.decide(1, { release: [], reserve: [...crowd, ...crowd], lease: [] }, true), { recall: [3] }, 'the 18 left are too few')
  ledger.forget(3)
  assert.equal(ledger.slots.total, 1, 'a dead worker\'s places and lease come back')
})

test('a worker that ends during its recall: its batch decided again takes no places, and the machine counts only the living workers\' own', () => {
  const ledger = new PlaceLedger(new SlotCounts())
  const limits = { clients: 10, maxListeners: null }
  assert.deepEqual(ledger.decide(1, { release: [], reserve: [{ mount: '/a', limits }], lease: [{ mount: '/a', limits, count: MAX_AHEAD }] }, true),
    { places: ['ok'], leased: [4] })
  const crowd = Array.from({ length: 6 }, () => ({ mount: '/a', limits }))
  const batch = { release: [], reserve: crowd, lease: [{ mount: '/a', limits, count: MIN_AHEAD }] }
  assert.deepEqual(ledger.decide(2, batch, true), { recall: [1] })
  // while worker 1 is asked for its lease, worker 2 exits (the primary forgets it), then worker 1 gives its lease back
  ledger.forget(2)
  ledger.returned(1, Array(4).fill('/a'))
  assert.deepEqual(ledger.decide(2, batch, false), { places: crowd.map(() => undefined), leased: [0] })
  assert.equal(ledger.slots.total, 1, 'worker 1\'s listener and nothing of the worker that ended')
  assert.deepEqual(ledger.decide(3, { ...batch, lease: [] }, true), { places: crowd.map(() => 'ok'), leased: [] }, 'its places are free for the others')
})

test('an answer that comes after its batch was taken as unanswered gives back every place it reserved or leased', async () => {
  const sent: PlacesBatch[] = []
  let answer: (value: unknown) => void = () => {}
  const places = new WorkerPlaces((batch, answered) => {
    sent.push(batch)
    answer = answered
  })
  const limits = { clients: 100, maxListeners: null }
  const askers = [places.reserve('/a', limits), places.reserve('/a', limits), places.reserve('/b', limits)]
  await new Promise((resolve) => setImmediate(resolve))
  answer(undefined)
  assert.deepEqual(await Promise.all(askers), [undefined, undefined, undefined], 'unanswered in time: 503')
  const batch = sent[0]!
  places.late(batch, { places: ['ok', 'clients', 'ok'], leased: [3, 'x'] })
  places.late(batch, null)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(sent[1]!.release.sort(), ['/a', '/a', '/a', '/a', '/b'])
  assert.deepEqual(places.recall(), [], 'nothing of it kept as a lease')
})

test('limits that change while a lease is asked for: the late grant goes back, and the new limits get leases of their own', async () => {
  const sent: PlacesBatch[] = []
  const pending: Array<() => void> = []
  const places = new WorkerPlaces((batch, answered) => {
    sent.push(batch)
    pending.push(() => { answered({ places: batch.reserve.map(() => 'ok'), leased: batch.lease.map((request) => request.count) }) })
  })
  const old = { clients: 1000, maxListeners: null }
  const changed = { clients: 999, maxListeners: null }
  const first = places.reserve('/a', old)
  await new Promise((resolve) => setImmediate(resolve))
  // the limits change while the first lease is asked for
  const second = places.reserve('/a', changed)
  await new Promise((resolve) => setImmediate(resolve))
  for (const answer of pending.splice(0)) answer()
  assert.deepEqual(await Promise.all([first, second]), ['ok', 'ok'])
  assert.deepEqual(sent[1]!.lease.map((request) => request.limits), [changed], 'the new limits asked for a lease of their own')
  assert.equal(places.recall().length, MIN_AHEAD, 'the lease of the new limits, and only it, held')
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(sent.at(-1)!.release, Array(MIN_AHEAD).fill('/a'), 'the late grant under the old limits given back')
})
