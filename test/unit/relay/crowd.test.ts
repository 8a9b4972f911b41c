// When a mount gathers its stream longer (lib/relay/crowd.ts): while a crowd joins, and while its writes keep
// the relay's thread busy.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { BUSY_SHARE, BusyWrites, CALM_SHARE, CROWD_WINDOW_MS } from '../../../lib/relay/crowd.js'

test('BusyWrites: busy once a window\'s writes took BUSY_SHARE of it, calm again once one took less than CALM_SHARE', () => {
  const writes = new BusyWrites()
  let busyMs = 0
  let now = 1000
  const windowOf = (share: number): void => {
    busyMs += share * CROWD_WINDOW_MS
    now += CROWD_WINDOW_MS
    writes.observe(busyMs, now)
  }
  writes.observe(busyMs, now)
  windowOf(0.3)
  assert.equal(writes.busy, false, 'a mount of a few thousand')
  windowOf(0.55)
  assert.equal(writes.busy, true, 'a mount of 10,000 writing each read')
  windowOf(0.27)
  assert.equal(writes.busy, true, 'gathered, the same mount stays gathered')
  windowOf(0.05)
  assert.equal(writes.busy, false, 'the listeners left')
})

test('BusyWrites: whatever the times of its observations, busy follows the share of the last whole window', () => {
  const observation = fc.record({ after: fc.integer({ min: 0, max: 1500 }), share: fc.double({ min: 0, max: 1, noNaN: true }) })
  fc.assert(fc.property(fc.array(observation, { maxLength: 60 }), (observations) => {
    const writes = new BusyWrites()
    let now = 0
    let busyMs = 0
    writes.observe(busyMs, now)
    let windowStart = now
    let windowBusy = busyMs
    let busy = false
    for (const { after, share } of observations) {
      now += after
      busyMs += after * share
      writes.observe(busyMs, now)
      const elapsed = now - windowStart
      if (elapsed >= CROWD_WINDOW_MS) {
        const windowShare = (busyMs - windowBusy) / elapsed
        if (windowShare >= BUSY_SHARE) busy = true
        else if (windowShare < CALM_SHARE) busy = false
        windowStart = now
        windowBusy = busyMs
      }
      assert.equal(writes.busy, busy)
    }
  }))
})
