// The fuzz targets of test/fuzz/targets.ts, a thousand inputs each: a quick pass in every `npm test`.
// `npm run fuzz` runs the same targets for minutes (see the README's Reliability section).
import { test } from 'node:test'
import fc from 'fast-check'
import { propertyOf, TARGETS } from './targets.js'

const RUNS = 1000

for (const target of TARGETS) {
  test(`fuzz ${target.name}: only its documented errors, within the time bound`, () => {
    fc.assert(propertyOf(target), { numRuns: RUNS, includeErrorInReport: true })
  })
}
