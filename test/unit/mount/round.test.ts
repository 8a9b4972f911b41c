// The rounds of writes a mount of many listeners makes in slices (lib/mount/round.ts): what a flush during a
// round brings joins it, and every listener still gets every byte once, in order.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { SYNC_ANYWHERE } from '../../../lib/formats/sink.js'
import { Listener } from '../../../lib/mount/listener.js'
import { gatherBound, Mount } from '../../../lib/mount/mount.js'
import { Round, SLICE } from '../../../lib/mount/round.js'
import { recordingListener, type RecordingListener } from '../../helpers/recording.js'

function recording (id: number, onEnd: (listener: Listener) => void = () => {}): RecordingListener {
  return recordingListener({ id, onEnd })
}

/** The slices a round leaves for later, run when the test says. */
function steppedDefer (): { defer: (next: () => void) => void, step: () => boolean } {
  const queue: Array<() => void> = []
  return { defer: (next) => { queue.push(next) }, step: () => { queue.shift()?.(); return queue.length > 0 } }
}

/** A round of `slice` writes a slice to the listeners in `streaming`, its slices run when the test says. */
function steppedRound (slice: number): { round: Round, streaming: Set<Listener>, step: () => boolean } {
  const { defer, step } = steppedDefer()
  const streaming = new Set<Listener>()
  return { round: new Round((listener) => streaming.has(listener), defer, slice), streaming, step }
}

test('mount: a flush during a round joins it: the listeners the round has not reached get both reads in one write', () => {
  const { defer, step } = steppedDefer()
  const mount = new Mount({ burstSize: 1 << 20, onLeave: () => {}, defer })
  mount.push(Buffer.from('-'), SYNC_ANYWHERE)
  const all = Array.from({ length: 2 * SLICE + 1 }, (_, i) => recording(i, (l) => mount.detach(l, 'client')))
  for (const { listener } of all) mount.attach(listener)
  // they stream from this flush on
  mount.flushLive()
  mount.push(Buffer.from('ab'), SYNC_ANYWHERE)
  mount.flushLive()
  // the first slice is written at once; the upstream's next read comes before the second
  assert.deepEqual(all.map((l) => l.writes.length), all.map((_, i) => i < SLICE ? 2 : 1))
  mount.push(Buffer.from('cd'), SYNC_ANYWHERE)
  mount.flushLive()
  while (step());
  const last = all.at(-1)!
  assert.deepEqual(last.writes.map(String), ['-', 'abcd'])
  assert.deepEqual(all[0]!.writes.map(String), ['-', 'ab', 'cd'])
  for (const { listener, writes } of all) {
    assert.equal(Buffer.concat(writes).toString(), '-abcd')
    assert.equal(listener.bytesSent, 5)
  }
})

const MAX_PART = 16

type Step = { add: Uint8Array } | { slice: true } | { finish: true } | { leave: number } | { join: true }

test('round: every listener gets every part once, in order, whatever comes between slices; a finish leaves none owed', () => {
  const step = fc.oneof(
    fc.record({ add: fc.uint8Array({ minLength: 1, maxLength: MAX_PART }) }),
    fc.record({ slice: fc.constant(true as const) }),
    fc.record({ finish: fc.constant(true as const) }),
    fc.record({ leave: fc.nat(40) }),
    fc.record({ join: fc.constant(true as const) })
  )
  fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 8 }), fc.array(step, { maxLength: 50 }),
    (count, slice, steps: Step[]) => {
      const { round, streaming, step: runSlice } = steppedRound(slice)
      const listeners = Array.from({ length: count }, (_, i) => recording(i))
      for (const { listener } of listeners) streaming.add(listener)
      const added: Buffer[] = []
      const gone = new Map<Listener, number>()
      // a listener that begins streaming later (enlisted): its burst had what was added before, it is owed the rest
      const began = new Map<Listener, number>()
      for (const s of steps) {
        if ('add' in s) {
          added.push(Buffer.from(s.add))
          round.add(added.at(-1)!, streaming)
        } else if ('slice' in s) {
          runSlice()
        } else if ('join' in s) {
          const joining = recording(listeners.length)
          listeners.push(joining)
          began.set(joining.listener, Buffer.concat(added).length)
          streaming.add(joining.listener)
          round.enlist(joining.listener)
        } else if ('finish' in s) {
          round.finish()
          if (round.running) return false
        } else {
          const listener = listeners[s.leave % listeners.length]!.listener
          if (streaming.delete(listener)) gone.set(listener, Buffer.concat(listeners[s.leave % listeners.length]!.writes).length)
        }
      }
      round.finish()
      return listeners.every(({ listener, writes }) => {
        const all = Buffer.concat(added).subarray(began.get(listener) ?? 0)
        const got = Buffer.concat(writes)
        const left = gone.get(listener)
        // one that left got a beginning of the stream and nothing after it left
        if (left !== undefined) return got.length === left && all.subarray(0, left).equals(got)
        return got.equals(all) && writes.length <= added.length
      })
    }))
})

test('round: the listeners a pass leaves with every part still get the parts that come before the round ends', () => {
  const { round, streaming, step } = steppedRound(1)
  const listeners = [recording(0), recording(1), recording(2)]
  for (const { listener } of listeners) streaming.add(listener)
  round.add(Buffer.from('0'), streaming)
  step()
  round.add(Buffer.from('1'), streaming)
  // the third listener gets '01' at the pass's end: it has every part, the first two lack '1'
  step()
  round.add(Buffer.from('2'), streaming)
  while (step());
  round.finish()
  assert.deepEqual(listeners.map(({ writes }) => writes.map(String)), [['0', '12'], ['0', '12'], ['01', '2']])
})

test('round: a listener enlisted while a round runs gets the parts added after it, once each', () => {
  const { round, streaming, step } = steppedRound(1)
  const first = recording(0)
  const second = recording(1)
  const late = recording(2)
  streaming.add(first.listener).add(second.listener)
  round.add(Buffer.from('a'), streaming)
  streaming.add(late.listener)
  round.enlist(late.listener)
  round.add(Buffer.from('b'), streaming)
  while (step());
  round.finish()
  assert.equal(Buffer.concat(first.writes).toString(), 'ab')
  assert.equal(Buffer.concat(second.writes).toString(), 'ab')
  assert.equal(Buffer.concat(late.writes).toString(), 'b')
})

test('round: a part added after some listeners had every part reaches them too, not only those still owed', () => {
  const { round, streaming, step: runSlice } = steppedRound(2)
  const listeners = Array.from({ length: 5 }, (_, i) => recording(i))
  for (const { listener } of listeners) streaming.add(listener)
  round.add(Buffer.from('a'), streaming)
  round.add(Buffer.from('b'), streaming)
  // the pass ends: the last three have a and b, the first two are owed b
  runSlice()
  runSlice()
  round.add(Buffer.from('c'), streaming)
  round.finish()
  assert.deepEqual(listeners.map(({ writes }) => writes.map(String)),
    [['a', 'bc'], ['a', 'bc'], ['ab', 'c'], ['ab', 'c'], ['ab', 'c']])
})

test('round: a listener that left and is enlisted again within the round is written to once, from where it came back', () => {
  const { round, streaming, step } = steppedRound(1)
  const listeners = [recording(0), recording(1), recording(2)]
  for (const { listener } of listeners) streaming.add(listener)
  round.add(Buffer.from('a'), streaming)
  round.add(Buffer.from('b'), streaming)
  // the last listener leaves before its slice and comes back, its new start holding 'ab'
  const back = listeners[2]!.listener
  streaming.delete(back)
  step()
  streaming.add(back)
  round.enlist(back)
  round.add(Buffer.from('c'), streaming)
  while (step());
  round.finish()
  assert.deepEqual(listeners.map(({ writes }) => Buffer.concat(writes).toString()), ['abc', 'abc', 'c'])
})

test('mount: a large mount with a small queueSize keeps up with its stream: what the round owes stays within a pass', () => {
  // a pass over 2,560 listeners takes 10 turns; each turn brings one upstream read and one writeInterval flush
  const listeners = 10 * SLICE
  const read = 300
  const lagAfter = (turns: number): number => {
    const slices: Array<() => void> = []
    const mount = new Mount({ burstSize: 1 << 20, gatherBound: gatherBound(4096), onLeave: () => {}, defer: (next) => { slices.push(next) } })
    mount.push(Buffer.alloc(1), SYNC_ANYWHERE)
    const all = Array.from({ length: listeners }, (_, id) => recordingListener({ id, queueSize: 4096, onEnd: (l, r) => { mount.detach(l, r) } }))
    for (const { listener } of all) mount.attach(listener)
    let pushed = 1
    for (let turn = 0; turn < turns; turn++) {
      mount.push(Buffer.alloc(read, turn & 0xff), SYNC_ANYWHERE)
      pushed += read
      mount.flushLive()
      slices.shift()?.()
    }
    assert.equal(mount.slowDrops, 0)
    return pushed - Math.min(...all.map(({ listener }) => listener.bytesSent))
  }
  const early = lagAfter(1000)
  assert.ok(early <= 2 * (listeners / SLICE) * read, `owed ${early} bytes after 1000 turns`)
  assert.equal(lagAfter(4000), early, 'the lag does not grow with time')
})

test('round: busyMs counts the time its slices spend writing, and only that, and writes its writes', () => {
  const { round, streaming, step } = steppedRound(2)
  const slow = Array.from({ length: 4 }, (_, i) => recording(i))
  for (const { listener } of slow) {
    const send = listener.send.bind(listener)
    listener.send = (chunk) => { const until = performance.now() + 2; while (performance.now() < until); send(chunk) }
    streaming.add(listener)
  }
  assert.equal(round.busyMs, 0)
  round.add(Buffer.from('a'), streaming)
  const firstSlice = round.busyMs
  assert.ok(firstSlice >= 4 && firstSlice < 50, `two writes of 2 ms: ${firstSlice} ms`)
  const idle = performance.now() + 20
  while (performance.now() < idle);
  assert.equal(round.busyMs, firstSlice, 'nothing counted between slices')
  while (step());
  assert.ok(round.busyMs >= 8, `four writes: ${round.busyMs} ms`)
  assert.equal(round.writes, 4)
})
