// Every error the library makes has a FST_ICECAST_RELAY_* code, so that callers (the admin routes, a relay's
// lastError, users) tell errors apart by code, never by message: an error made without one fails here.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import * as errors from '../../../lib/errors.js'

const LIB = new URL('../../../lib/', import.meta.url).pathname

/** Making a built-in error, or a class of one's own, or throwing a bare value: an error with no code. */
const UNCODED = /\bnew (Error|TypeError|RangeError|SyntaxError|ReferenceError|URIError|EvalError|AggregateError)\(|\bextends (Error|TypeError|RangeError)\b|\bthrow\s+['"`]/

test('no error is made in lib/ but from a code of lib/errors.ts', () => {
  const sources = readdirSync(LIB, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts') && file !== 'errors.ts')
  assert.ok(sources.length > 20, 'lib/ is read')
  const found = sources.flatMap((file) => readFileSync(join(LIB, file), 'utf8').split('\n')
    .map((line, i) => ({ at: `lib/${file}:${i + 1}`, line: line.trim() }))
    .filter(({ line }) => UNCODED.test(line) && !line.startsWith('//') && !line.startsWith('*')))
  assert.deepEqual(found, [], 'use (or add) an @fastify/error code in lib/errors.ts')
})

test('every error of lib/errors.ts has its own FST_ICECAST_RELAY_* code', () => {
  const constructors = Object.entries(errors).filter(([, value]) => typeof value === 'function' && value.prototype instanceof Error)
  assert.ok(constructors.length > 20)
  const codes = constructors.map(([name, Make]) => {
    const error = new (Make as new (...args: string[]) => Error & { code: string })('a', 'b', 'c')
    assert.match(error.code, /^FST_ICECAST_RELAY_[A-Z_]+$/, name)
    return error.code
  })
  assert.equal(new Set(codes).size, codes.length, 'no code used twice')
})
