// The CLI out of the box at scale: what it logs (<logging> <loglevel>, requests at debug) and the V8 options it
// sets in its serving process (the built dist/, as users run it).
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { openListener } from '../../helpers/listen.js'
import { freePort, httpGet, makeTempDir, runOk, spawnTracked, START_TIMEOUT_MS, waitFor } from '../../helpers/procs.js'
import { scriptedUpstream } from '../../helpers/scripted.js'
import { CROWD_JOINS } from '../../../lib/relay/crowd.js'

const ROOT = new URL('../../..', import.meta.url).pathname
const CLI = join(ROOT, 'dist/cli.js')
const dir = makeTempDir('cli-logging')
/** no Node options of the user's: the test runner's own are not the CLI's */
const NO_NODE_OPTIONS = { ...process.env, NODE_OPTIONS: '' }

interface LogLine { level: number, msg: string, req?: { url: string } }

function logLines (output: string): LogLine[] {
  return output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogLine)
}

/** `n` listeners of `url` at once, each reading its first audio byte, then all closed. */
async function crowdOf (url: string, n: number): Promise<void> {
  const listeners = Array.from({ length: n }, () => openListener(url))
  try {
    await Promise.all(listeners.map(async (listener) => { assert.equal((await listener.head).status, 200) }))
  } finally {
    await Promise.all(listeners.map(async (listener) => { await listener.close() }))
  }
}

/**
 * Runs the CLI relaying a scripted upstream's /live with `logging` in its config and `env`; one listener gets
 * a chunk (or `crowd` listeners join at once), /status-json.xsl and an unknown path are asked, then SIGTERM.
 * Resolves with its log lines.
 */
async function runOnce (logging: string, env: NodeJS.ProcessEnv, crowd = 0): Promise<LogLine[]> {
  const upstream = await scriptedUpstream()
  const port = await freePort()
  const file = join(dir, `config-${port}.xml`)
  writeFileSync(file, `<icecast><listen-socket><port>${port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <limits><burst-size>0</burst-size><clients>1000</clients></limits>${logging}
  <relay><server>127.0.0.1</server><port>${upstream.port}</port><mount>/live</mount></relay></icecast>`)
  const proc = spawnTracked(process.execPath, [CLI, '--config', file], { env })
  try {
    const base = `http://127.0.0.1:${port}`
    await waitFor(async () => (await httpGet(`${base}/status-json.xsl`).catch(() => undefined))?.status === 200,
      { timeoutMs: START_TIMEOUT_MS, message: () => `the CLI to listen\n${proc.output()}` })
    await upstream.waitForClients(1, 10000)
    const listener = openListener(`${base}/live`)
    assert.equal((await listener.head).status, 200)
    upstream.push(Buffer.from('a chunk'))
    await listener.waitForBytes(7)
    await listener.close()
    if (crowd > 0) {
      await crowdOf(`${base}/live`, crowd)
      // the line of the crowd's end, if one comes, comes a window or two after it
      const until = Date.now() + 5000
      await waitFor(() => Date.now() > until || logLines(proc.output()).some((line) => line.msg.startsWith('the crowd has joined')),
        { timeoutMs: 6000 })
    }
    assert.equal((await httpGet(`${base}/nowhere`)).status, 404)
    proc.child.kill('SIGTERM')
    assert.deepEqual(await proc.exited, { code: 0, signal: null }, proc.output())
    return logLines(proc.output())
  } finally {
    await proc.stop()
    await upstream.close()
  }
}

const DEBUG = '<logging><loglevel>4</loglevel></logging>'

const requestLines = (lines: LogLine[]): LogLine[] => lines.filter((line) => /^(incoming request|request completed|Route )/.test(line.msg))

test('by default (Icecast\'s <loglevel> 3, info) a request logs nothing; the relay\'s events, the listening sockets and the V8 options do', async () => {
  const lines = await runOnce('', NO_NODE_OPTIONS)
  assert.deepEqual(requestLines(lines), [])
  const messages = lines.map((line) => line.msg)
  assert.ok(messages.includes('relay live'), messages.join('\n'))
  assert.ok(messages.some((msg) => msg.startsWith('Server listening at http://127.0.0.1:')), messages.join('\n'))
  assert.ok(messages.includes('V8 options set by the CLI: --optimize-for-size (Node options of your own replace them)'), messages.join('\n'))
  assert.ok(lines.every((line) => line.level >= 30), 'nothing below info')
})

test('<loglevel>4</loglevel> (debug): every request\'s lines, at debug; <loglevel>2</loglevel> (warn): no info line', async () => {
  const debug = requestLines(await runOnce(DEBUG, NO_NODE_OPTIONS))
  assert.ok(debug.length > 0)
  assert.ok(debug.every((line) => line.level === 20), JSON.stringify(debug))
  const urls = debug.filter((line) => line.msg === 'incoming request').map((line) => line.req?.url)
  for (const url of ['/status-json.xsl', '/live', '/nowhere']) assert.ok(urls.includes(url), `${url} in ${urls.join(' ')}`)
  assert.ok(debug.some((line) => line.msg === 'Route GET:/nowhere not found'))

  const warn = await runOnce('<logging><loglevel>warn</loglevel></logging>', NO_NODE_OPTIONS)
  assert.deepEqual(warn.filter((line) => line.level < 40), [])
})

test('a crowd of requests lets V8\'s young generation grow while it joins, then keeps it small again, with a line each at debug', async () => {
  const messages = (await runOnce(DEBUG, NO_NODE_OPTIONS, CROWD_JOINS + 20)).map((line) => line.msg)
  const grow = messages.indexOf('a crowd connects: V8\'s young generation may grow until it has joined')
  const small = messages.indexOf('the crowd has joined: V8\'s young generation is kept small again (--optimize-for-size)')
  assert.ok(grow !== -1 && small > grow, messages.join('\n'))
  assert.equal(messages.filter((msg) => msg.startsWith('a crowd connects')).length, 1, 'once for the crowd')
})

test('Node options of the user\'s (NODE_OPTIONS) win: the CLI sets no V8 option, even for a crowd', async () => {
  const lines = await runOnce(DEBUG, { ...process.env, NODE_OPTIONS: '--max-old-space-size=512' }, CROWD_JOINS + 20)
  assert.ok(!lines.some((line) => line.msg.startsWith('V8 options') || line.msg.includes('young generation')), lines.map((line) => line.msg).join('\n'))
})

/**
 * A script that sets the CLI's V8 options as the CLI does, then makes what a flash crowd makes (objects that
 * live a while, among garbage), and prints the options set and V8's young generation in MB.
 */
const CROWD = `import v8 from 'node:v8'
import { setServingV8Options } from ${JSON.stringify(join(ROOT, 'dist/cli/v8.js'))}
const set = setServingV8Options()
const kept = []
for (let round = 0; round < 40; round++) {
  for (let i = 0; i < 5000; i++) kept.push({ buffer: Buffer.allocUnsafe(64), list: new Array(20).fill(i), text: 'x' + i })
  if (kept.length > 60000) kept.splice(0, 20000)
}
const young = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size
process.stdout.write(JSON.stringify({ set, youngMB: young / 1048576 }))
`

/**
 * The CLI's V8 options, then a crowd's connections through CrowdYoungGeneration: the young generation (MB) as
 * the crowd joins, and after the crowd has joined with the same allocations going on (at most 20 times those
 * of the crowd, until it is 4 MB or less).
 */
const CROWD_THEN_STEADY = `import v8 from 'node:v8'
import { CrowdYoungGeneration, setServingV8Options } from ${JSON.stringify(join(ROOT, 'dist/cli/v8.js'))}
setServingV8Options()
const youngMB = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size / 1048576
const generation = new CrowdYoungGeneration(() => {})
const kept = []
const allocate = () => {
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 5000; i++) kept.push({ buffer: Buffer.allocUnsafe(64), list: new Array(20).fill(i), text: 'x' + i })
    if (kept.length > 60000) kept.splice(0, 20000)
  }
}
for (let i = 0; i < ${CROWD_JOINS + 50}; i++) generation.requested(i)
allocate()
const crowd = youngMB()
generation.settle(10000)
// V8 gives the young generation back over its next collections, not at once
let rounds = 0
do allocate(); while (youngMB() > 4 && ++rounds < 20)
process.stdout.write(JSON.stringify({ crowd, after: youngMB() }))
`

test('the V8 option set at start acts as on node\'s command line: a crowd leaves V8\'s young generation small', async () => {
  const script = join(dir, 'crowd.mjs')
  writeFileSync(script, CROWD)
  const crowd = async (nodeArgs: string[], env: NodeJS.ProcessEnv): Promise<{ set: string[], youngMB: number }> =>
    JSON.parse((await runOk(process.execPath, [...nodeArgs, script], { env })).toString())
  const bySelf = await crowd([], NO_NODE_OPTIONS)
  const byFlag = await crowd(['--optimize-for-size'], NO_NODE_OPTIONS)
  const defaults = await crowd([], { ...process.env, NODE_OPTIONS: '--max-old-space-size=4096' })
  assert.deepEqual([bySelf.set, byFlag.set, defaults.set], [['--optimize-for-size'], [], []])
  assert.ok(defaults.youngMB >= 16, `Node's defaults grow it: ${defaults.youngMB} MB`)
  assert.ok(byFlag.youngMB <= 4, `--optimize-for-size keeps it small: ${byFlag.youngMB} MB`)
  assert.ok(bySelf.youngMB <= 4, `set by the CLI: ${bySelf.youngMB} MB`)
})

test('while a crowd joins, the young generation grows as with Node\'s defaults; once it has joined, it is small again', async () => {
  const script = join(dir, 'crowd-then-steady.mjs')
  writeFileSync(script, CROWD_THEN_STEADY)
  const { crowd, after } = JSON.parse((await runOk(process.execPath, [script], { env: NO_NODE_OPTIONS })).toString()) as { crowd: number, after: number }
  assert.ok(crowd >= 16, `grown during the crowd: ${crowd} MB`)
  assert.ok(after <= 4, `small again after it: ${after} MB`)
})
