// The pure parts of bench:workers and bench:peers: the loads they take, the shares of the crowd each load
// process opens, and the ratios and speed-ups their tables print.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { comparisonTable, comparisonTables, parseLoads, speedUps, splits, upstreamWarnings, type ComparisonRun, type LoadMode } from '../../../bench/compare-report.js'
import type { Measured } from '../../../bench/measure.js'
import { countBySecond, roundSpread, shares, summarize } from '../../../bench/stats.js'
import { spreadLines } from '../../../bench/report.js'

test('shares: every listener in exactly one process, the shares one apart at most', () => {
  fc.assert(fc.property(fc.nat(100_000), fc.integer({ min: 1, max: 64 }), (n, parts) => {
    const split = shares(n, parts)
    assert.equal(split.length, parts)
    assert.equal(split.reduce((a, b) => a + b, 0), n)
    assert.ok(Math.max(...split) - Math.min(...split) <= 1)
  }))
})

test('parseLoads reads back what it is given, and names what it refuses', () => {
  const load = fc.record({ n: fc.integer({ min: 1, max: 1_000_000 }), mode: fc.constantFrom<LoadMode>('plain', 'icy', 'https') })
  fc.assert(fc.property(fc.array(load, { minLength: 1, maxLength: 6 }), (loads) => {
    assert.deepEqual(parseLoads(loads.map((l) => `${l.n}:${l.mode}`).join(',')), loads.map((l) => ({ ...l })))
  }))
  for (const bad of ['5000', '5000:tls', '0:plain', '-1:icy', 'x:plain', '2.5:https', '5000:plain:extra', '1e3:plain', ' :icy']) {
    assert.throws(() => parseLoads(bad), /--loads: '.*' is not N:plain, N:icy or N:https/, bad)
  }
})

/** A run with the figures the tables read: admission, window, the relay's CPU (idle and loaded) and RSS. */
function run (server: string, figures: { n: number, admissionMs: number, admitted?: number, cpu: number, idleCpu: number, upstream?: number }): ComparisonRun {
  const measured: Measured = {
    relays: [{ server: 'cli', backlog: 4096, cpu: figures.cpu, idleCpu: figures.idleCpu, idleRssBytes: 0, rssBytes: figures.n * 2048, rss: summarize([0]) }],
    admission: [{
      label: server, n: figures.n, admitted: figures.admitted ?? figures.n, timeoutMs: 60000, firstByteMs: summarize([1, figures.admissionMs]), inBySecond: countBySecond([1, figures.admissionMs]), retries: 0, refused: 0, fillMs: 0
    }],
    window: [{ label: server, seconds: 30, starved: 0, dropped: 0, rate: summarize([16000]), latencyMs: summarize([10, 40]) }],
    loadCpu: 0.2,
    loadCpuMax: 0.1
  }
  return { server, n: figures.n, mode: 'plain', measured, upstream: figures.upstream ?? 1 }
}

test('the speed-up of --workers 2: listeners admitted per second and CPU per listener, all of it and above idle', () => {
  const runs = [
    run('cli', { n: 5000, admissionMs: 2000, cpu: 0.2, idleCpu: 0.01 }),
    run('cli-w2', { n: 5000, admissionMs: 1000, cpu: 0.25, idleCpu: 0.03 })
  ]
  assert.deepEqual(speedUps(runs), [
    '--workers 2 against one process, 5000 plain: admission ×2.00 listeners per second, CPU per listener ×1.25 (×1.16 above the idle CPU)'
  ])
  const ratioRow = comparisonTable(runs).split('\n').find((line) => line.includes('**cli-w2/cli**'))
  assert.ok(ratioRow?.includes('| **0.50** | **2.00** |'), ratioRow)
})

test('against a peer that did not admit all: its time is a lower bound, so the ratios are bounds', () => {
  const runs = [
    run('icecast', { n: 1000, admissionMs: 60000, admitted: 600, cpu: 0.2, idleCpu: 0 }),
    run('cli', { n: 1000, admissionMs: 500, cpu: 0.1, idleCpu: 0 })
  ]
  const table = comparisonTable(runs)
  assert.match(table, /\| 1000 \| plain \| icecast \| 600 \| > 60\.00 \| 10 \|/)
  assert.match(table, /\*\*cli\/icecast\*\* \| {2}\| \*\*< 0\.0083\*\* \| \*\*> 200\.00\*\* \|/)
  assert.equal(speedUps(runs).length, 0, 'no --workers run, no speed-up')
})

test('the floor is a peer of every CLI run: how far the CLI is from what Node and the kernel cost', () => {
  const runs = [
    run('floor', { n: 5000, admissionMs: 1000, cpu: 0.2, idleCpu: 0 }),
    run('cli', { n: 5000, admissionMs: 2000, cpu: 0.25, idleCpu: 0 })
  ]
  const ratioRow = comparisonTable(runs).split('\n').find((line) => line.includes('**cli/floor**'))
  assert.ok(ratioRow?.includes('| **2.00** | **0.50** |'), ratioRow)
})

test('a relay with other than one connection to the master is named under the table', () => {
  const runs = [run('cli', { n: 100, admissionMs: 100, cpu: 0.01, idleCpu: 0, upstream: 1 }), run('cli-w2', { n: 100, admissionMs: 100, cpu: 0.01, idleCpu: 0, upstream: 2 })]
  assert.deepEqual(upstreamWarnings(runs), ["cli-w2 at 100 plain: 2 connections to the master's mount, where one per mount per machine is the mark"])
})

test('how each --workers run split its listeners between the workers is said under the table', () => {
  const runs: ComparisonRun[] = [
    run('cli', { n: 100, admissionMs: 100, cpu: 0.01, idleCpu: 0 }),
    { ...run('cli-w2', { n: 100, admissionMs: 100, cpu: 0.01, idleCpu: 0 }), split: [61, 39] }
  ]
  assert.deepEqual(splits(runs), ['cli-w2 at 100 plain: listeners by worker 61 + 39 (the busiest 61.0 %)'])
  assert.ok(comparisonTables(runs).endsWith(splits(runs)[0]!))
})

test('the first and the last sample to join: the wait before a round of writes and the round itself, under the tables', () => {
  fc.assert(fc.property(fc.array(fc.oneof(fc.double({ min: 0, max: 5000, noNaN: true }), fc.constant(Number.NaN)), { maxLength: 30 }), (p50s) => {
    const measured = p50s.filter((p50) => !Number.isNaN(p50))
    const spread = roundSpread(p50s)
    if (measured.length < 2) return spread === undefined
    return spread !== undefined && spread.first === measured[0] && spread.last === measured.at(-1) && spread.round === spread.last - spread.first
  }))
  const withSamples = run('cli', { n: 5000, admissionMs: 2000, cpu: 0.2, idleCpu: 0 })
  withSamples.measured.window[0]!.latencyBySampleP50Ms = [5.25, 40, Number.NaN, 95.5]
  assert.deepEqual(spreadLines([withSamples, run('kh', { n: 5000, admissionMs: 2000, cpu: 0.2, idleCpu: 0 })]), [
    'cli at 5000 plain: latency p50 of the first sample to join 5.3 ms, of the last 95.5 ms (the round of writes from one to the other: 90.3 ms)'
  ])
  assert.ok(comparisonTables([withSamples]).includes('the round of writes from one to the other: 90.3 ms'))
})

test('countBySecond: how many values are in by the end of each second, to the second of the largest', () => {
  assert.deepEqual(countBySecond([]), [])
  assert.deepEqual(countBySecond([0, 1000, 1000.5, 2999, 3001]), [2, 3, 4, 5])
  assert.deepEqual(countBySecond([0]), [1])
  fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 20000, noNaN: true }), { minLength: 1 }), (ms) => {
    const counts = countBySecond(ms)
    assert.equal(counts.at(-1), ms.length)
    for (const [i, n] of counts.entries()) assert.equal(n, ms.filter((v) => v <= (i + 1) * 1000).length)
    assert.ok(counts.every((n, i) => i === 0 || n >= counts[i - 1]!))
  }))
})
