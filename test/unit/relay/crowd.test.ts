// When a mount gathers its stream longer (lib/relay/crowd.ts): while its writes would keep the relay's thread
// busy at writeInterval.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { BUSY_SHARE, BusyWrites, CALM_SHARE, CROWD_WINDOW_MS, type WriteWork } from '../../../lib/relay/crowd.js'

/** A mount's work over windows of a second: `audience` listeners, `reads` a second, `msPerWrite` each. */
function windows (writes: BusyWrites, steps: Array<{ audience: number, reads: number, msPerWrite: number, gathered: number }>, roundsPerSecond = 200): boolean[] {
  const work: WriteWork = { busyMs: 0, writes: 0, reads: 0, audience: 0 }
  let now = 0
  writes.observe(work, roundsPerSecond, now)
  return steps.map(({ audience, reads, msPerWrite, gathered }) => {
    // gathered: reads per write (1 when each read has its round)
    const rounds = reads / gathered
    work.writes += rounds * audience
    work.busyMs += rounds * audience * msPerWrite
    work.reads += reads
    work.audience = audience
    now += CROWD_WINDOW_MS
    writes.observe(work, roundsPerSecond, now)
    return writes.busy
  })
}

test('BusyWrites: 10,000 listeners of four reads a second at 14 µs a write are busy, and stay so while gathered; 5,000 are not', () => {
  assert.deepEqual(windows(new BusyWrites(), [
    { audience: 5000, reads: 4, msPerWrite: 0.014, gathered: 1 },
    { audience: 10000, reads: 4, msPerWrite: 0.014, gathered: 1 },
    { audience: 10000, reads: 4, msPerWrite: 0.015, gathered: 2 },
    { audience: 10000, reads: 4, msPerWrite: 0.015, gathered: 2 },
    { audience: 3000, reads: 4, msPerWrite: 0.015, gathered: 2 },
    { audience: 3000, reads: 4, msPerWrite: 0.014, gathered: 1 }
  ]), [false, true, true, true, false, false])
})

test('BusyWrites: a window without reads is calm; without writes, the last cost of a write stands', () => {
  assert.deepEqual(windows(new BusyWrites(), [
    { audience: 10000, reads: 4, msPerWrite: 0.014, gathered: 1 },
    { audience: 10000, reads: 0, msPerWrite: 0.014, gathered: 1 },
    { audience: 10000, reads: 4, msPerWrite: 0.014, gathered: 1 }
  ]), [true, false, true])
  // reads faster than writeInterval's rounds count as one round each
  assert.deepEqual(windows(new BusyWrites(), [{ audience: 400, reads: 2000, msPerWrite: 0.01, gathered: 10 }], 200), [true])
})

test('BusyWrites: busy follows the share foreseen from the last whole window, with hysteresis', () => {
  const step = fc.record({
    audience: fc.integer({ min: 0, max: 20000 }),
    reads: fc.integer({ min: 0, max: 50 }),
    msPerWrite: fc.double({ min: 0.001, max: 0.05, noNaN: true }),
    gathered: fc.integer({ min: 1, max: 4 })
  })
  fc.assert(fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
    let busy = false
    const expected = steps.map(({ audience, reads, msPerWrite }) => {
      const share = reads === 0 ? 0 : msPerWrite * audience * Math.min(200, reads) / 1000
      if (share >= BUSY_SHARE) busy = true
      else if (share < CALM_SHARE) busy = false
      return busy
    })
    assert.deepEqual(windows(new BusyWrites(), steps), expected)
  }))
})
