import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { RelayError } from '../../../lib/errors.js'
import { UpstreamSet } from '../../../lib/relay/upstreams.js'

const error = (code: string): RelayError => ({ code, message: code, at: new Date(0).toISOString() })

test('a failure moves on to the next upstream at once; a round of failures backs off and starts from the first', () => {
  const set = new UpstreamSet(3)
  const tries = []
  for (let i = 0; i < 7; i++) {
    const next = set.failed(error('X'), false)
    tries.push(next)
    set.activate(next.next)
  }
  assert.deepEqual(tries, [
    { next: 1, now: true }, { next: 2, now: true }, { next: 0, now: false, attempt: 0 },
    { next: 1, now: true }, { next: 2, now: true }, { next: 0, now: false, attempt: 1 },
    { next: 1, now: true }
  ])
})

test('a single upstream backs off at each failure, the backoff growing as before', () => {
  const set = new UpstreamSet(1)
  assert.deepEqual([set.failed(error('X'), false), set.failed(error('X'), false), set.failed(error('X'), true)],
    [{ next: 0, now: false, attempt: 0 }, { next: 0, now: false, attempt: 1 }, { next: 0, now: false, attempt: 0 }])
})

test('a stable connection starts the row anew: a backup that played for long is left for the next at once, wrapping round', () => {
  const set = new UpstreamSet(2)
  set.activate(set.failed(error('A'), true).next)
  assert.equal(set.active, 1)
  assert.deepEqual(set.failed(error('B'), true), { next: 0, now: true })
  assert.deepEqual([set.state(0), set.state(1)], ['failed', 'failed'])
  assert.equal(set.lastError(1)?.code, 'B')
})

test('failback: the higher upstreams are probed; the one that answers becomes active and the row is over', () => {
  const set = new UpstreamSet(3)
  set.activate(set.failed(error('A'), true).next)
  set.activate(set.failed(error('B'), false).next)
  assert.deepEqual(set.higher(), [0, 1])
  set.probing(0)
  set.probeFailed(0, error('P'))
  set.probing(1)
  set.failBack(1)
  assert.deepEqual([set.state(0), set.state(1), set.state(2)], ['failed', 'active', 'idle'])
  assert.equal(set.row, 0)
  assert.deepEqual(set.failed(error('B'), false), { next: 2, now: true }, 'the one it left worked: the next failure is the first of a row')
})

test('a new order of the upstreams starts the row anew: the upstream moved down is tried at once, not skipped for a backoff', () => {
  const set = new UpstreamSet(2)
  set.activate(set.failed(error('main'), false).next)
  assert.equal(set.active, 1)
  // the masters list the backup first now: it is index 0, the main index 1
  const reordered = set.renumbered([1, 0], 0)
  assert.deepEqual(reordered.failed(error('backup'), false), { next: 1, now: true })
})
