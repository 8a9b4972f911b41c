// The harness's children under c8: a Node process running the built CLI (dist/) writes no V8 coverage, which
// c8 would throw away (it counts lib/ only); every other Node child still writes its own.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { test } from 'node:test'
import { childEnv, makeTempDir, run, spawnTracked } from '../../helpers/procs.js'

const CLI = new URL('../../../dist/cli.js', import.meta.url).pathname
const FIXTURE = new URL('../../helpers/cluster-app.ts', import.meta.url).pathname

test('under c8, a Node child running dist/cli.js writes no coverage; node -e and tsx children still do', async (t) => {
  // as c8 runs this process: NODE_V8_COVERAGE in its own environment, which Node hands on to its children
  const dir = makeTempDir('v8-coverage')
  const c8Dir = process.env.NODE_V8_COVERAGE
  process.env.NODE_V8_COVERAGE = dir
  t.after(() => { if (c8Dir === undefined) delete process.env.NODE_V8_COVERAGE; else process.env.NODE_V8_COVERAGE = c8Dir })

  assert.equal((await run(process.execPath, [CLI, '--help'])).code, 0)
  const cli = spawnTracked(process.execPath, [CLI, '--help'])
  assert.equal((await cli.exited).code, 0, cli.output())
  const workers = spawnTracked(process.execPath, [CLI, '--help'], { env: { ...process.env, EXTRA: '1' } })
  assert.equal((await workers.exited).code, 0, workers.output())
  assert.deepEqual(readdirSync(dir), [], 'no coverage from the built CLI')

  assert.equal((await run(process.execPath, ['-e', '0'])).code, 0)
  assert.equal(readdirSync(dir).length, 1, 'node -e wrote its coverage')

  assert.equal(childEnv(process.execPath, ['--import', 'tsx', FIXTURE]).NODE_V8_COVERAGE, dir, 'lib/ run through tsx is counted')
  assert.equal(childEnv('/bin/sh', ['-c', `node ${CLI}`]).NODE_V8_COVERAGE, dir, 'only a Node child is judged by its script')
})
