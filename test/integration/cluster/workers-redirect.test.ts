// A master that runs as two workers (its own cluster, as `--workers 2` runs, with `redirect`) and two slave
// apps on 127.0.0.2 and 127.0.0.3 that register: whichever worker a slave's poll reaches, every worker keeps
// the registration, so that every answer shows the same slaves and totals and both workers redirect.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyIcecastRelay from '../../../lib/index.js'
import { waitForState } from '../../helpers/app.js'
import { noisyUpstream, pidsListening, replaceWorker, untilWorkersServe, waitForListening } from '../../helpers/cluster.js'
import { openListener, type OpenListener } from '../../helpers/listen.js'
import { freePort, httpGet, sleep, spawnTracked, waitFor, type Proc } from '../../helpers/procs.js'

const FIXTURE = new URL('../../helpers/cluster-app.ts', import.meta.url).pathname
const MOUNT = '/live.mp3'
const RELAY = { user: 'relay', password: 'workers-redirect-relay' }
const ADMIN = { user: 'admin', password: 'workers-redirect-admin' }
/** what the test's listeners on the slaves add up to: three on the first, one on the second */
const ON_SLAVES = [3, 1]
const MAX_SLAVES = 3

let upstream: Awaited<ReturnType<typeof noisyUpstream>>
let cli: Proc
let base: string
let slaves: Array<{ app: FastifyInstance, base: string }> = []
const listeners: OpenListener[] = []

before(async () => {
  upstream = await noisyUpstream()
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  const options = {
    relays: [{ url: `http://127.0.0.1:${upstream.port}/stream`, localMount: MOUNT, maxListeners: 2 }],
    relayAuth: { username: RELAY.user, password: RELAY.password },
    redirect: { maxSlaves: MAX_SLAVES },
    admin: { username: ADMIN.user, password: ADMIN.password }
  }
  cli = spawnTracked(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { ...process.env, CLUSTER_APP_PORT: String(port), CLUSTER_APP_OPTIONS: JSON.stringify(options) }
  })
  await waitForListening(cli, base, 2)
  // a slave that polls every 5 s: a registration one worker took is not refreshed on the other for seconds
  slaves = await Promise.all(['127.0.0.2', '127.0.0.3'].map(async (host) => {
    const app = Fastify()
    await app.register(fastifyIcecastRelay, {
      master: { server: '127.0.0.1', port, username: RELAY.user, password: RELAY.password, updateInterval: 5, redirect: true }
    })
    await app.listen({ port: 0, host })
    return { app, base: `http://${host}:${(app.server.address() as AddressInfo).port}` }
  }))
  await Promise.all(slaves.map(async (slave) => await waitForState(slave.app, MOUNT, 'live', 15_000)))
})

after(async () => {
  await Promise.all(listeners.map(async (listener) => await listener.close()))
  await Promise.all(slaves.map(async (slave) => await slave.app.close()))
  await cli?.stop()
  await upstream?.stop()
})

interface Answer { slaveListeners: number, clusterListeners: number }

/** What /status-json.xsl (`url`: with a query that tells its answer in the log) says of the slaves. */
async function statusAnswer (url = '/status-json.xsl'): Promise<Answer> {
  const icestats = JSON.parse((await httpGet(base + url)).body.toString()).icestats
  const source = [icestats.source].flat()[0]
  return { slaveListeners: source.slave_listeners ?? 0, clusterListeners: source.cluster_listeners ?? 0 }
}

/** The slaves /admin/stats counts. */
async function slaveCount (): Promise<number> {
  const stats = (await httpGet(`${base}/admin/stats`, { auth: ADMIN })).body.toString()
  return Number(/<slaves>(\d+)<\/slaves>/.exec(stats)?.[1] ?? 0)
}

/**
 * Asks every route that shows the slaves `times` times, and on until both workers answered: each answer must be
 * `expected`, whichever worker gives it.
 */
async function assertEveryAnswer (expected: { slaves: number, slaveListeners: number, playlist: string[] }, times = 10): Promise<void> {
  const auth = ADMIN
  const total = expected.slaveListeners
  const round = `${Date.now()}`
  await untilWorkersServe(cli, async (i) => {
    const url = `/status-json.xsl?round=${round}-${i}`
    assert.deepEqual(await statusAnswer(url), { slaveListeners: total, clusterListeners: total }, `/status-json.xsl, answer ${i + 1}`)
    const stats = (await httpGet(`${base}/admin/stats`, { auth })).body.toString()
    assert.match(stats, new RegExp(`<slaves>${expected.slaves}</slaves>`), `/admin/stats, answer ${i + 1}`)
    assert.match(stats, new RegExp(`<cluster_listeners>${total}</cluster_listeners>`), `/admin/stats, answer ${i + 1}`)
    const metrics = (await httpGet(`${base}/admin/metrics`, { auth })).body.toString()
    assert.match(metrics, new RegExp(`icecast_relay_slave_listeners\\{mount="${MOUNT}"\\} ${total}\\b`), `/admin/metrics, answer ${i + 1}`)
    const page = (await httpGet(`${base}/status.xsl`)).body.toString()
    assert.match(page, new RegExp(`<dt>On slaves</dt><dd>${total} \\(${total} in all\\)</dd>`), `/status.xsl, answer ${i + 1}`)
    const playlist = (await httpGet(`${base}${MOUNT}.m3u`)).body.toString().split('\r\n').filter((line) => line !== '')
    assert.deepEqual(playlist.slice(1).sort(), expected.playlist.slice().sort(), `${MOUNT}.m3u, answer ${i + 1}`)
    return url
  }, { what: 'answers of /status-json.xsl', min: times, max: times + 30 })
}

const realSlaves = (): string[] => slaves.map((slave) => slave.base + MOUNT)
const sum = (counts: number[]): number => counts.reduce((total, count) => total + count, 0)

test('both slaves, registered with whichever worker their polls reached: every answer of /status-json.xsl, /admin/stats, /admin/metrics, /status.xsl and the playlist shows both and the same totals', async () => {
  await waitFor(async () => (await httpGet(`${base}${MOUNT}.m3u`)).body.toString().split('\r\n').filter((line) => line !== '').length === 3,
    { timeoutMs: 15000, message: 'both slaves to report the mount' })
  for (const [i, count] of ON_SLAVES.entries()) {
    for (let n = 0; n < count; n++) listeners.push(openListener(slaves[i]!.base + MOUNT))
  }
  await Promise.all(listeners.map(async (listener) => await listener.waitForBytes(1, 10000)))
  // the slaves report their listeners at their next poll, which one worker takes
  await waitFor(async () => (await statusAnswer()).slaveListeners === sum(ON_SLAVES), { timeoutMs: 15000, message: 'the slaves to report their listeners' })
  await assertEveryAnswer({ slaves: 2, slaveListeners: sum(ON_SLAVES), playlist: realSlaves() })
})

test("listeners past the master's room (maxListeners 2, held machine-wide) get 302s to the slaves from both workers", async () => {
  const own = [openListener(`${base}${MOUNT}?own=1`), openListener(`${base}${MOUNT}?own=2`)]
  listeners.push(...own)
  for (const listener of own) assert.equal((await listener.head).status, 200)
  const slaveHosts = new Set(slaves.map((slave) => new URL(slave.base).host))
  await untilWorkersServe(cli, async (n) => {
    const asked = await httpGet(`${base}${MOUNT}?n=${n}`)
    assert.equal(asked.status, 302, `listener ${n}: ${asked.body.toString()}`)
    const location = new URL(String(asked.headers.location))
    assert.ok(slaveHosts.has(location.host), `listener ${n} sent to ${location.host}`)
    assert.equal(location.pathname + location.search, `${MOUNT}?n=${n}`)
    return `${MOUNT}?n=${n}`
  }, { what: 'listeners redirected', min: 8, max: 40 })
  for (const listener of own) await listener.close()
  await sleep(300)
})

/** A registration as a kh slave sends it (with this plugin's load fields), straight to whichever worker takes it. */
async function register (host: string, listenerCount: number, interval = 60): Promise<number> {
  const query = `rserver=${host}&rport=8000&interval=${interval}&rlisteners=${listenerCount}&rcapacity=100&rmount=${encodeURIComponent(`${MOUNT}:${listenerCount}`)}`
  return (await httpGet(`${base}/admin/streamlist.txt?${query}`, { auth: RELAY })).status
}

test('maxSlaves holds for the machine: two slaves that register at once with different workers, one place left: every worker keeps the same one', async () => {
  const statuses = await Promise.all([register('127.0.0.4', 7), register('127.0.0.5', 9)])
  assert.deepEqual(statuses, [200, 200])
  await waitFor(async () => {
    const answers = await Promise.all([statusAnswer(), statusAnswer()])
    const counts = await Promise.all([slaveCount(), slaveCount()])
    return counts.every((count) => count === MAX_SLAVES) && answers[0]!.slaveListeners === answers[1]!.slaveListeners
  }, { timeoutMs: 3000, message: 'both workers to keep the same three slaves' })
  const total = (await statusAnswer()).slaveListeners
  const kept = total - sum(ON_SLAVES) === 7 ? '127.0.0.4' : '127.0.0.5'
  assert.ok([7, 9].includes(total - sum(ON_SLAVES)), `one of the two is kept: ${total}`)
  await assertEveryAnswer({ slaves: MAX_SLAVES, slaveListeners: total, playlist: [...realSlaves(), `http://${kept}:8000${MOUNT}`] })
})

test("a flood of one slave's polls over both workers: the machine keeps its newest report, and answers on", async () => {
  const before = (await statusAnswer()).slaveListeners
  const kept = before - sum(ON_SLAVES) === 7 ? '127.0.0.4' : '127.0.0.5'
  for (let batch = 0; batch < 10; batch++) {
    const statuses = await Promise.all(Array.from({ length: 30 }, async (_, i) => await register(kept, 20 + batch * 30 + i)))
    assert.ok(statuses.every((status) => status === 200))
  }
  await sleep(20)
  assert.equal(await register(kept, 5), 200)
  const started = Date.now()
  await waitFor(async () => {
    const answers = await Promise.all([statusAnswer(), statusAnswer()])
    return answers.every((answer) => answer.slaveListeners === sum(ON_SLAVES) + 5)
  }, { timeoutMs: 3000, message: 'every worker to keep the last report' })
  assert.ok(Date.now() - started < 3000)
  await assertEveryAnswer({ slaves: MAX_SLAVES, slaveListeners: sum(ON_SLAVES) + 5, playlist: [...realSlaves(), `http://${kept}:8000${MOUNT}`] }, 4)
})

test('a worker that dies is replaced, and the new one keeps every registration the others hold (a slave that polls once a minute included)', async () => {
  const expected = (await statusAnswer()).slaveListeners
  const [victim] = pidsListening(cli.output(), base)
  await replaceWorker(cli, base, victim!)
  // the survivor and the replacement: the dead worker can answer nothing
  await untilWorkersServe(cli, async (i) => {
    assert.equal(await slaveCount(), MAX_SLAVES, `/admin/stats, answer ${i + 1}`)
    const url = `/status-json.xsl?replaced=${i}`
    assert.equal((await statusAnswer(url)).slaveListeners, expected, `/status-json.xsl, answer ${i + 1}`)
    return url
  }, { what: 'answers after the replacement', min: 10, max: 40 })
})
