// `npm run fuzz [-- --seconds 60] [--target head] [--seed N] [--path P]`: every fuzz target of
// test/fuzz/targets.ts for a time budget each, one at a time, each in a worker thread so that a hang is caught
// (the worker is ended) instead of stalling the run. Prints the seed first: the same seed (with `--target`)
// replays the same inputs, and a failure's `--path` replays just its counterexample. Exits 1 on any failure.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { parseArgs } from 'node:util'
import fc from 'fast-check'
import { propertyOf, TARGETS } from '../test/unit/fuzz/targets.js'

interface Job {
  name: string
  seconds: number
  seed: number
  path: string | undefined
  /** one Int32: runs started so far, read by the main thread when the worker hangs */
  runs: SharedArrayBuffer
}

interface Outcome {
  name: string
  runs: number
  ms: number
  failure?: { message: string, counterexample: string, path: string | null }
}

/** Time a worker gets past its budget (shrinking a counterexample included) before it counts as hung. */
const HANG_GRACE_MS = 60_000
/** A counterexample is printed up to this many characters; `--path` replays it whole. */
const PRINT_LIMIT = 2000

function runJob ({ name, seconds, seed, path, runs }: Job): Outcome {
  const target = TARGETS.find((t) => t.name === name)!
  const counter = new Int32Array(runs)
  const start = performance.now()
  const details = fc.check(propertyOf(target, () => Atomics.add(counter, 0, 1)), {
    seed,
    ...(path !== undefined && { path }),
    numRuns: Number.MAX_SAFE_INTEGER,
    plugins: [fc.interruptAfterTimeLimit(seconds * 1000)],
    includeErrorInReport: true
  })
  const outcome: Outcome = { name, runs: details.numRuns, ms: performance.now() - start }
  if (!details.failed) return outcome
  const cause = details.errorInstance
  return {
    ...outcome,
    failure: {
      message: cause instanceof Error ? cause.message : String(cause),
      counterexample: fc.stringify(details.counterexample).slice(0, PRINT_LIMIT),
      path: details.counterexamplePath
    }
  }
}

/**
 * The worker loads this file through tsx's API: on Node 20 tsx's loader hooks reach no worker thread, not even
 * with `--import tsx` in its execArgv.
 */
const WORKER_SOURCE = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then(({ tsImport }) => tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`

/** Runs one target in a worker; a worker silent past its budget and grace is ended and reported as a hang. */
async function inWorker (job: Omit<Job, 'runs'>): Promise<Outcome> {
  const runs = new SharedArrayBuffer(4)
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ...job, runs } })
  const start = performance.now()
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const started = Atomics.load(new Int32Array(runs), 0)
      worker.terminate().catch(() => {})
      resolve({
        name: job.name,
        runs: started,
        ms: performance.now() - start,
        failure: { message: `no answer ${HANG_GRACE_MS / 1000} s past the budget: a hang in run ${started}`, counterexample: '(replay with the same --seed)', path: String(started - 1) }
      })
    }, job.seconds * 1000 + HANG_GRACE_MS)
    worker.once('message', (outcome: Outcome) => { clearTimeout(timer); resolve(outcome) })
    worker.once('error', (error) => { clearTimeout(timer); reject(error) })
  })
}

function readArgs (): { seconds: number, names: string[], seed: number, path: string | undefined } {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      target: { type: 'string', multiple: true },
      seed: { type: 'string' },
      path: { type: 'string' }
    }
  })
  const seconds = Number(values.seconds)
  if (!(seconds > 0)) throw new Error(`--seconds: expected a positive number, got ${values.seconds}`)
  const known = TARGETS.map((t) => t.name)
  const names = values.target ?? known
  const unknown = names.filter((name) => !known.includes(name))
  if (unknown.length > 0) throw new Error(`unknown target ${unknown.join(', ')}; targets: ${known.join(', ')}`)
  // a 32-bit seed, as fast-check takes them
  const seed = values.seed === undefined ? (Math.random() * 2 ** 32) | 0 : Number(values.seed)
  if (!Number.isInteger(seed)) throw new Error(`--seed: expected an integer, got ${values.seed}`)
  return { seconds, names, seed, path: values.path }
}

function report (outcome: Outcome, seed: number): string {
  const seconds = outcome.ms / 1000
  const line = `${outcome.name.padEnd(12)} ${String(outcome.runs).padStart(9)} runs ${seconds.toFixed(1).padStart(7)} s ` +
    `${Math.round(outcome.runs / seconds).toString().padStart(7)} runs/s  ${outcome.failure === undefined ? 'ok' : 'FAILED'}`
  if (outcome.failure === undefined) return line
  const { message, counterexample, path } = outcome.failure
  return `${line}\n  ${message}\n  counterexample: ${counterexample}\n` +
    `  replay: npm run fuzz -- --target ${outcome.name} --seed ${seed}${path === null ? '' : ` --path ${path}`}`
}

async function main (): Promise<number> {
  const { seconds, names, seed, path } = readArgs()
  process.stdout.write(`fuzz: seed ${seed}, ${seconds} s per target, ${names.length} target(s)\n`)
  let failed = 0
  let runs = 0
  const start = performance.now()
  for (const name of names) {
    const outcome = await inWorker({ name, seconds, seed, path })
    runs += outcome.runs
    if (outcome.failure !== undefined) failed++
    process.stdout.write(report(outcome, seed) + '\n')
  }
  process.stdout.write(`${runs} runs in ${((performance.now() - start) / 1000).toFixed(0)} s; ` +
    `${failed === 0 ? 'no failure' : `${failed} target(s) FAILED`} (seed ${seed})\n`)
  return failed === 0 ? 0 : 1
}

if (isMainThread) {
  process.exitCode = await main()
} else {
  parentPort!.postMessage(runJob(workerData as Job))
}
