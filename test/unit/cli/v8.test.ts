// The V8 options the CLI sets in its serving processes, unless the user gave Node options of their own.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { SERVING_V8_OPTIONS, v8OptionsToSet } from '../../../lib/cli/v8.js'

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
