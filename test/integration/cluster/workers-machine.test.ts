// `icecast-relay --workers 2`: whichever worker answers, the stats, admin lists and metrics speak for the
// machine (the listeners of both workers), and a worker that dies leaves the counts at once.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { killWorker, noisyUpstream, pidsServing, startWorkers, stopAll, untilWorkersServe, waitForMirrors } from '../../helpers/cluster.js'
import { openListener, type OpenListener } from '../../helpers/listen.js'
import { freePort, httpGet, makeTempDir, sleep, waitFor, type Proc } from '../../helpers/procs.js'

const MOUNT = '/live.mp3'
const OTHER = '/other.mp3'
const LISTENERS = 40
const ADMIN = { user: 'admin', password: 'machine-wide' }

let upstream: Awaited<ReturnType<typeof noisyUpstream>>
let cli: Proc
let base: string
const listeners: OpenListener[] = []
/** the URL each listener asked for, unique (the log tells which worker holds it) */
const urls: string[] = []

/** What /status-json.xsl (`url`: with a query that tells its answer in the log) says of `mount`. */
async function publicSource (mount: string, url = '/status-json.xsl'): Promise<{ listeners: number, title?: string }> {
  const answer = await httpGet(base + url)
  const sources = [JSON.parse(answer.body.toString()).icestats.source].flat() as Array<{ listenurl: string, listeners: number, title?: string }>
  const source = sources.find((each) => each.listenurl.endsWith(mount))
  assert.ok(source !== undefined, answer.body.toString())
  return source
}

async function publicListeners (mount = MOUNT, url?: string): Promise<number> {
  return (await publicSource(mount, url)).listeners
}

async function metricListeners (): Promise<number> {
  const text = (await httpGet(`${base}/admin/metrics`, { auth: ADMIN })).body.toString()
  const line = new RegExp(`^icecast_relay_listeners\\{mount="${MOUNT}"\\} (\\d+)$`, 'm').exec(text)
  assert.ok(line !== null, text)
  return Number(line[1])
}

async function admin (path: string): Promise<string> {
  return (await httpGet(`${base}${path}`, { auth: ADMIN })).body.toString()
}

async function listedIds (mount = MOUNT): Promise<number[]> {
  const page = await admin(`/admin/listclients?mount=${mount}`)
  return [...page.matchAll(/<ID>(\d+)<\/ID>/g)].map((match) => Number(match[1]))
}

async function adminStatsListeners (): Promise<number> {
  const page = (await httpGet(`${base}/admin/stats`, { auth: ADMIN })).body.toString()
  const source = /<source mount="\/live\.mp3">([\s\S]*?)<\/source>/.exec(page)
  assert.ok(source !== null, page)
  return Number(/<listeners>(\d+)<\/listeners>/.exec(source[1]!)?.[1])
}

const connected = (): OpenListener[] => listeners.filter((listener) => !listener.socket.destroyed && listener.socket.readable)

before(async () => {
  upstream = await noisyUpstream()
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  const config = join(makeTempDir('cluster-machine'), 'icecast.xml')
  writeFileSync(config, `<icecast>
  <logging><loglevel>4</loglevel></logging>
  <authentication><admin-user>${ADMIN.user}</admin-user><admin-password>${ADMIN.password}</admin-password></authentication>
  <listen-socket><bind-address>127.0.0.1</bind-address><port>${port}</port></listen-socket>
  <relay><server>127.0.0.1</server><port>${upstream.port}</port><mount>/stream</mount><local-mount>${MOUNT}</local-mount></relay>
  <relay><server>127.0.0.1</server><port>${upstream.port}</port><mount>/stream</mount><local-mount>${OTHER}</local-mount></relay>
</icecast>
`)
  cli = await startWorkers(config, base, 2)
  await waitForMirrors(cli, base, [MOUNT, OTHER])
  const listen = (url: string): OpenListener => {
    const listener = openListener(base + url)
    listeners.push(listener)
    urls.push(url)
    return listener
  }
  // one at a time until both workers hold some, then the rest at once
  await untilWorkersServe(cli, async (n) => {
    await listen(`${MOUNT}?one=${n}`).waitForBytes(1, 10000)
    return urls.at(-1)
  }, { what: `listeners of ${MOUNT} one at a time`, max: LISTENERS })
  const crowd = Array.from({ length: LISTENERS - listeners.length }, (_, n) => listen(`${MOUNT}?n=${n}`))
  await Promise.all(crowd.map(async (listener) => await listener.waitForBytes(1, 10000)))
})

after(async () => { await stopAll(listeners, cli, upstream) })

test('40 listeners spread over both workers: /status-json.xsl, /admin/stats, /admin/listclients and /admin/metrics count 40, asked 10 times and on until both workers answered', async () => {
  await untilWorkersServe(cli, async (i) => {
    const url = `/status-json.xsl?counted=${i}`
    assert.equal(await publicListeners(MOUNT, url), LISTENERS, `/status-json.xsl, answer ${i + 1}`)
    assert.equal(await metricListeners(), LISTENERS, `/admin/metrics, answer ${i + 1}`)
    assert.equal(await adminStatsListeners(), LISTENERS, `/admin/stats, answer ${i + 1}`)
    assert.equal((await listedIds()).length, LISTENERS, `/admin/listclients, answer ${i + 1}`)
    return url
  }, { what: 'answers of /status-json.xsl', min: 10, max: 40 })
})

test('listener ids are unique across the workers; killclient by an id from listclients ends that listener, whichever worker holds it', async () => {
  const ids = await listedIds()
  assert.equal(new Set(ids).size, LISTENERS, 'no two listeners share an id')
  const spaces = new Set(ids.map((id) => Math.floor(id / 2 ** 32)))
  assert.equal(spaces.size, 2, 'each worker gives ids of its own range')
  // two of each worker's, each asked of whichever worker the kernel hands the request to
  const victims = [...spaces].flatMap((space) => ids.filter((id) => Math.floor(id / 2 ** 32) === space).slice(0, 2))
  for (const id of victims) {
    const answer = (await httpGet(`${base}/admin/killclient?mount=${MOUNT}&id=${id}`, { auth: ADMIN })).body.toString()
    assert.match(answer, new RegExp(`Client ${id} removed`))
  }
  await waitFor(() => connected().length === LISTENERS - victims.length, { timeoutMs: 3000, message: 'the killed listeners to be cut' })
  const left = await listedIds()
  assert.equal(left.length, LISTENERS - victims.length)
  for (const id of victims) assert.ok(!left.includes(id), `${id} is gone from listclients`)
  const again = (await httpGet(`${base}/admin/killclient?mount=${MOUNT}&id=${victims[0]!}`, { auth: ADMIN })).body.toString()
  assert.match(again, /not found/)
  for (let i = 0; i < 4; i++) assert.equal(await publicListeners(), LISTENERS - victims.length)
})

test('moveclients moves the listeners of every worker; metadata reaches every worker\'s listeners', async () => {
  const count = connected().length
  assert.match(await admin(`/admin/moveclients?mount=${MOUNT}&destination=${OTHER}`), new RegExp(`\\(${count}\\)`))
  assert.equal((await listedIds(OTHER)).length, count)
  assert.equal((await listedIds(MOUNT)).length, 0)
  for (let i = 0; i < 4; i++) assert.equal(await publicListeners(OTHER), count)
  assert.match(await admin(`/admin/metadata?mount=${OTHER}&mode=updinfo&song=${encodeURIComponent('Machine - Wide')}`), /Metadata update successful/)
  for (let i = 0; i < 6; i++) assert.equal((await publicSource(OTHER)).title, 'Machine - Wide', `answer ${i + 1}`)
  assert.match(await admin(`/admin/moveclients?mount=${OTHER}&destination=${MOUNT}`), new RegExp(`\\(${count}\\)`))
  assert.equal(connected().length, count, 'the moved listeners kept their connections')
  assert.equal(await publicListeners(), count)
})

test('killsource reconnects the one upstream connection of the machine; a relay removed leaves every worker', async () => {
  const requests = upstream.requests()
  assert.equal(upstream.clients(), 2, 'one upstream connection per mount for the machine')
  assert.match(await admin(`/admin/killsource?mount=${OTHER}`), /Source restarted/)
  await waitFor(() => upstream.requests() > requests, { timeoutMs: 3000, message: 'the primary to reconnect' })
  await sleep(500)
  assert.equal(upstream.requests(), requests + 1, 'one reconnection, by the primary')
  const authorization = `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`
  assert.equal((await fetch(`${base}/admin/relays?mount=${OTHER}`, { method: 'DELETE', headers: { authorization } })).status, 204)
  await waitFor(() => upstream.clients() === 1, { timeoutMs: 3000, message: 'the primary to drop its upstream' })
  await waitFor(async () => {
    for (let i = 0; i < 4; i++) if ((await admin('/admin/listmounts')).includes(OTHER)) return false
    return true
  }, { timeoutMs: 3000, message: 'every worker to drop the mount' })
  assert.equal((await httpGet(`${base}${OTHER}`)).status, 404)
})

test('a worker that dies: its listeners leave the counts at once', async () => {
  const holder = (i: number): number | undefined => [...pidsServing(cli.output(), urls[i]!)][0]
  const victim = holder(listeners.findIndex((listener) => connected().includes(listener)))!
  const lost = listeners.filter((listener, i) => connected().includes(listener) && holder(i) === victim).length
  const before = connected().length
  await killWorker(cli, victim)
  await waitFor(() => connected().length === before - lost, { timeoutMs: 5000, message: () => `the dead worker's ${lost} listeners to be cut (${connected().length} of ${before} left)` })
  // the kernel closes all of a dead process's sockets at once: their ends arrive together, and no other
  await sleep(300)
  const left = connected().length
  assert.equal(left, before - lost, `the other worker keeps its listeners, the dead one's are cut (${left} of ${before})`)
  await waitFor(async () => await publicListeners() === left, { timeoutMs: 1000, message: `the counts to drop to ${left}` })
  for (let i = 0; i < 10; i++) {
    assert.equal(await publicListeners(), left, `/status-json.xsl, answer ${i + 1}`)
    assert.equal(await metricListeners(), left, `/admin/metrics, answer ${i + 1}`)
  }
})
