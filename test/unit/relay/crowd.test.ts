// When a mount gathers its stream longer (lib/relay/crowd.ts): while its writes would keep the relay's thread
// busy at writeInterval.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { BUSY_SHARE, BusyWrites, CALM_SHARE, CROWD_WINDOW_MS, type WriteWork } from '../../../lib/relay/crowd.js'

interface Second {
  audience: number
  /** upstream reads in the second, evenly spread */
  reads: number
  /** pieces each read comes in, 0.5 ms apart (Icecast's two) */
  pieces: number
  msPerWrite: number
  /** reads per write: 1 at writeInterval, 2 when gathered */
  gathered: number
}

/** The busy state after each second of a mount's work, with writeInterval 5 ms. */
function seconds (steps: Second[]): boolean[] {
  const writes = new BusyWrites()
  const work: WriteWork = { busyMs: 0, writes: 0, audience: 0 }
  let now = 0
  writes.read(work, 5, false, now)
  return steps.map(({ audience, reads, pieces, msPerWrite, gathered }) => {
    const start = now
    const written = Math.floor(reads / gathered) * audience
    work.writes += written
    work.busyMs += written * msPerWrite
    work.audience = audience
    // the second's last read ends it; a second without reads, a read just after it
    if (reads === 0) {
      now = start + CROWD_WINDOW_MS + 1
      writes.read(work, 5, false, now)
      return writes.busy
    }
    now = start + CROWD_WINDOW_MS
    for (let r = 1; r <= reads; r++) {
      for (let p = 0; p < pieces; p++) writes.read(work, 5, false, start + Math.round(r * CROWD_WINDOW_MS / reads) + p * 0.5)
    }
    return writes.busy
  })
}

const second = (audience: number, gathered = 1, pieces = 2): Second => ({ audience, reads: 4, pieces, msPerWrite: 0.014, gathered })

test('BusyWrites: 10,000 listeners of four reads a second (two pieces each) at 14 µs a write are busy, and stay so while gathered; 5,000 are not', () => {
  assert.deepEqual(seconds([second(5000), second(10000), second(10000, 2), second(10000, 2), second(3000, 2), second(3000)]),
    [false, true, true, true, false, false])
})

test('BusyWrites: a second without reads is calm; without writes, the last cost of a write stands', () => {
  assert.deepEqual(seconds([second(10000), { ...second(10000), reads: 0 }, second(10000)]), [true, false, true])
  // reads closer than writeInterval are one round: 400 reads a second, every 2.5 ms, make 200
  assert.deepEqual(seconds([{ audience: 400, reads: 400, pieces: 1, msPerWrite: 0.006, gathered: 40 }]), [true])
  assert.deepEqual(seconds([{ audience: 400, reads: 400, pieces: 1, msPerWrite: 0.002, gathered: 40 }]), [false])
})

test('BusyWrites: busy follows the share foreseen from each second, with hysteresis', () => {
  const step = fc.record({
    audience: fc.integer({ min: 0, max: 20000 }),
    reads: fc.integer({ min: 0, max: 50 }),
    pieces: fc.integer({ min: 1, max: 3 }),
    msPerWrite: fc.double({ min: 0.001, max: 0.05, noNaN: true }),
    gathered: fc.integer({ min: 1, max: 4 })
  })
  fc.assert(fc.property(fc.array(step, { maxLength: 20 }), (steps) => {
    let busy = false
    let msPerWrite = 0
    const expected = steps.map((s) => {
      if (Math.floor(s.reads / s.gathered) * s.audience > 0) msPerWrite = s.msPerWrite
      // the second's reads are one round each (20 ms or more apart); a second without reads is calm
      const share = msPerWrite * s.audience * s.reads / CROWD_WINDOW_MS
      if (share >= BUSY_SHARE) busy = true
      else if (share < CALM_SHARE) busy = false
      return busy
    })
    assert.deepEqual(seconds(steps), expected)
  }))
})

test('BusyWrites: a window while a crowd joins turns nothing busy (its writes cost more than they will), but may calm', () => {
  const writes = new BusyWrites()
  const work: WriteWork = { busyMs: 0, writes: 0, audience: 10000 }
  /** a second of four reads from `start`, its writes at `msPerWrite` each */
  const second = (start: number, msPerWrite: number, crowded: boolean): boolean => {
    work.writes += 40000
    work.busyMs += 40000 * msPerWrite
    for (const at of [250, 500, 750, 1000]) writes.read(work, 5, crowded, start + at)
    return writes.busy
  }
  writes.read(work, 5, true, 0)
  assert.equal(second(0, 0.03, true), false, 'a crowd of 10,000 at 30 µs a write')
  assert.equal(second(1000, 0.014, false), true, 'then the same mount in its steady state')
  writes.read(work, 5, true, 3500)
  assert.equal(writes.busy, false, 'more than a second without a read')
})
