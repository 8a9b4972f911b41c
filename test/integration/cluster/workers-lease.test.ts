// `icecast-relay --workers 2`: each worker holds a lease of places from the primary, so a crowd gets in without
// a way to the primary and back for each listener, and the machine's limits still hold exactly; places the
// primary reserved after a worker stopped waiting for them are given back.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { noisyUpstream, startWorkers, stopAll, untilWorkersServe } from '../../helpers/cluster.js'
import { openListener, type OpenListener } from '../../helpers/listen.js'
import { freePort, httpGet, makeTempDir, waitFor, type Proc } from '../../helpers/procs.js'

const CLIENTS = 60

let upstream: Awaited<ReturnType<typeof noisyUpstream>>
let cli: Proc
let base: string
const opened: OpenListener[] = []

function open (count: number, headTimeoutMs = 5000): OpenListener[] {
  const listeners = Array.from({ length: count }, () => openListener(`${base}/live.mp3`, { headTimeoutMs }))
  opened.push(...listeners)
  return listeners
}

async function statuses (listeners: OpenListener[]): Promise<number[]> {
  return await Promise.all(listeners.map(async (listener) => await listener.head.then((head) => head.status, () => 0)))
}

async function listeners (): Promise<number> {
  const sources = [JSON.parse((await httpGet(`${base}/status-json.xsl`)).body.toString()).icestats.source].flat() as Array<{ listeners: number }>
  return sources[0]?.listeners ?? -1
}

/** Runs `during` with the primary stopped (SIGSTOP): no place can be asked of it meanwhile. */
async function primaryStopped<T> (during: () => Promise<T>): Promise<T> {
  process.kill(cli.pid, 'SIGSTOP')
  try {
    return await during()
  } finally {
    process.kill(cli.pid, 'SIGCONT')
  }
}

before(async () => {
  upstream = await noisyUpstream()
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  const config = join(makeTempDir('cluster-lease'), 'icecast.xml')
  writeFileSync(config, `<icecast>
  <logging><loglevel>4</loglevel></logging>
  <limits><clients>${CLIENTS}</clients></limits>
  <listen-socket><bind-address>127.0.0.1</bind-address><port>${port}</port></listen-socket>
  <relay><server>127.0.0.1</server><port>${upstream.port}</port><mount>/stream</mount><local-mount>/live.mp3</local-mount></relay>
</icecast>
`)
  cli = await startWorkers(config, base, 2)
  await waitFor(async () => await listeners() >= 0, { timeoutMs: 15000, message: () => `the workers to mirror the mount\n${cli.output()}` })
})

after(async () => { await stopAll(opened, cli, upstream) })

test('after a crowd, the next listeners get in from their worker\'s lease even while the primary answers nothing', async () => {
  // a crowd that reached both workers (the kernel picks the worker of each connection), so that each holds a lease
  await untilWorkersServe(cli, async (n) => {
    const paths = Array.from({ length: 4 }, (_, i) => `/live.mp3?crowd=${n}-${i}`)
    const batch = paths.map((path) => openListener(base + path))
    opened.push(...batch)
    assert.deepEqual(new Set(await statuses(batch)), new Set([200]))
    return paths
  }, { what: 'the crowd', min: 5, max: 12 })
  // the leases asked for once half was taken are granted by now, and none has been idle for a second
  await new Promise((resolve) => setTimeout(resolve, 300))
  const next = await primaryStopped(async () => await statuses(open(2, 1500)))
  assert.deepEqual(next, [200, 200], 'let in within 1.5 s, with no answer from the primary')
  for (const listener of opened.splice(0)) await listener.close()
})

test('places the primary reserved after their worker stopped waiting are given back: the machine then lets in exactly its clients', async () => {
  const waited = await primaryStopped(async () => {
    const crowd = open(CLIENTS)
    // the places beyond the leases wait for the primary: after 2 s their listeners are refused (503)
    await new Promise((resolve) => setTimeout(resolve, 2500))
    return crowd
  })
  const refused = (await statuses(waited)).filter((status) => status === 503).length
  assert.ok(refused > 0, 'some listeners waited for the primary in vain')
  for (const listener of opened.splice(0)) await listener.close()
  await waitFor(async () => await listeners() === 0, { timeoutMs: 5000, message: 'every listener to leave' })
  const crowd = await statuses(open(CLIENTS + 10))
  assert.equal(crowd.filter((status) => status === 200).length, CLIENTS, `statuses: ${crowd.join(' ')}`)
  assert.deepEqual(new Set(crowd.filter((status) => status !== 200)), new Set([403]))
})
