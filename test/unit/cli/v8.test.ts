// The V8 options the CLI sets in its serving processes, unless the user gave Node options of their own.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { CrowdYoungGeneration, SERVING_V8_OPTIONS, v8OptionsToSet } from '../../../lib/cli/v8.js'
import { CROWD_JOINS, CROWD_WINDOW_MS } from '../../../lib/relay/crowd.js'

test('with no Node options of the user\'s, the CLI sets --optimize-for-size', () => {
  assert.deepEqual(SERVING_V8_OPTIONS, ['--optimize-for-size'])
  assert.deepEqual(v8OptionsToSet([], {}), SERVING_V8_OPTIONS)
  assert.deepEqual(v8OptionsToSet([], { NODE_OPTIONS: '' }), SERVING_V8_OPTIONS)
  assert.deepEqual(v8OptionsToSet([], { NODE_OPTIONS: '  ' }), SERVING_V8_OPTIONS, 'blank is none')
})

test('any Node option of the user\'s, on node\'s command line or in NODE_OPTIONS, wins: the CLI sets none', () => {
  const option = fc.string({ minLength: 1 }).filter((text) => text.trim() !== '')
  fc.assert(fc.property(fc.array(option, { minLength: 1, maxLength: 4 }), (execArgv) => {
    assert.deepEqual(v8OptionsToSet(execArgv, {}), [])
  }))
  fc.assert(fc.property(option, (nodeOptions) => {
    assert.deepEqual(v8OptionsToSet([], { NODE_OPTIONS: nodeOptions }), [])
  }))
  assert.deepEqual(v8OptionsToSet(['--max-semi-space-size=1'], { NODE_OPTIONS: '--max-old-space-size=512' }), [])
})

/** A CrowdYoungGeneration whose option changes and log lines are recorded. */
function recorded (): { young: CrowdYoungGeneration, flags: string[], log: string[] } {
  const flags: string[] = []
  const log: string[] = []
  const young = new CrowdYoungGeneration((message) => { log.push(message) }, (set) => { flags.push(set) })
  return { young, flags, log }
}

test('a crowd of connections lets the young generation grow once, and once it has joined keeps it small again', (t) => {
  const { young, flags, log } = recorded()
  t.after(() => { young.stop() })
  for (let i = 0; i < CROWD_JOINS - 1; i++) young.requested(i)
  assert.deepEqual(flags, [], 'fewer than a crowd in a second')
  young.requested(CROWD_JOINS)
  for (let i = 0; i < 500; i++) young.requested(CROWD_JOINS + i)
  assert.deepEqual(flags, ['--no-optimize-for-size'])
  young.settle(CROWD_JOINS + 600)
  assert.deepEqual(flags, ['--no-optimize-for-size'], 'still joining within the window')
  young.settle(CROWD_JOINS + 500 + CROWD_WINDOW_MS)
  assert.deepEqual(flags, ['--no-optimize-for-size', '--optimize-for-size'])
  assert.equal(log.length, 2)
  young.settle(CROWD_JOINS + 10 * CROWD_WINDOW_MS)
  assert.equal(flags.length, 2, 'nothing more to settle')
})

test('whatever the connections\' times, the options alternate, growing first, and a settle long after a crowd ends it', () => {
  const gaps = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 3000 })), { maxLength: 600 })
  fc.assert(fc.property(gaps, fc.array(fc.nat(600), { maxLength: 20 }), (between, settles) => {
    const { young, flags } = recorded()
    let now = 0
    for (const [i, gap] of between.entries()) {
      now += gap
      young.requested(now)
      if (settles.includes(i)) young.settle(now)
    }
    young.settle(now + CROWD_WINDOW_MS)
    young.stop()
    flags.forEach((set, i) => { assert.equal(set, i % 2 === 0 ? '--no-optimize-for-size' : '--optimize-for-size') })
    assert.equal(flags.length % 2, 0, 'kept small again in the end')
  }))
})
