// `icecast-relay --workers 2`: `limits.clients` and a mount's `maxListeners` hold for the machine, whichever
// worker a listener reaches: each place is reserved with the primary's count and given back when the listener
// leaves or its worker dies.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import {
  killWorker, noisyUpstream, pidsHoldingListenSocket, pidsListening, pidsServing, startWorkers, stopAll, untilWorkersServe, waitForMirrors
} from '../../helpers/cluster.js'
import { openListener, type OpenListener } from '../../helpers/listen.js'
import { freePort, httpGet, makeTempDir, waitFor, type Proc } from '../../helpers/procs.js'

const CLIENTS = 30
const SMALL_MAX = 12

let upstream: Awaited<ReturnType<typeof noisyUpstream>>
let cli: Proc
let base: string
let port: number
const opened: OpenListener[] = []
/** a listener let in, with the URL it asked for (unique: the log tells which worker holds it) */
interface Held { listener: OpenListener, url: string }
const admittedSoFar: Held[] = []

/** Opens `count` listeners of `mount` at once (`?<tag>=<i>`); resolves with those let in (200) and the statuses of the others. */
async function crowd (mount: string, count: number, tag: string): Promise<{ admitted: Held[], refused: number[] }> {
  const urls = Array.from({ length: count }, (_, i) => `${mount}?${tag}=${i}`)
  const listeners = urls.map((url) => openListener(base + url))
  opened.push(...listeners)
  const heads = await Promise.all(listeners.map(async (listener) => await listener.head))
  const admitted = listeners.flatMap((listener, i) => heads[i]!.status === 200 ? [{ listener, url: urls[i]! }] : [])
  admittedSoFar.push(...admitted)
  return {
    admitted,
    refused: heads.filter((head) => head.status !== 200).map((head) => head.status)
  }
}

/**
 * Lets listeners of `mount` in one at a time until each worker holds one, closing each that reached a worker
 * holding one already (the kernel picks the worker: a busy one may take many in a row); resolves once the
 * machine counts the two kept.
 */
async function onBothWorkers (mount: string): Promise<void> {
  const holders = new Set<number>()
  await untilWorkersServe(cli, async (n) => {
    const [held] = (await crowd(mount, 1, `one${n}`)).admitted
    assert.ok(held !== undefined, `listener ${n} of ${mount} let in`)
    const pid = await waitFor(() => holder(held), { timeoutMs: 3000, message: `the log line of ${held.url}` })
    if (!holders.has(pid)) {
      holders.add(pid)
      return held.url
    }
    admittedSoFar.splice(admittedSoFar.indexOf(held), 1)
    await held.listener.close()
    return undefined
  }, { what: `listeners of ${mount} let in one at a time`, max: 40 })
  await waitFor(async () => await listenersOf(mount) === 2, { timeoutMs: 3000, message: `the two kept listeners of ${mount} alone counted` })
}

/** The pid of the worker that took `held`. */
const holder = (held: Held): number | undefined => [...pidsServing(cli.output(), held.url)][0]

async function listenersOf (mount: string): Promise<number> {
  const sources = [JSON.parse((await httpGet(`${base}/status-json.xsl`)).body.toString()).icestats.source].flat() as Array<{ listenurl: string, listeners: number }>
  return sources.find((source) => source.listenurl.endsWith(mount))?.listeners ?? -1
}

before(async () => {
  upstream = await noisyUpstream()
  port = await freePort()
  base = `http://127.0.0.1:${port}`
  const config = join(makeTempDir('cluster-limits'), 'icecast.xml')
  const relay = (mount: string): string =>
    `<relay><server>127.0.0.1</server><port>${upstream.port}</port><mount>/stream</mount><local-mount>${mount}</local-mount></relay>`
  writeFileSync(config, `<icecast>
  <logging><loglevel>4</loglevel></logging>
  <limits><clients>${CLIENTS}</clients></limits>
  <listen-socket><bind-address>127.0.0.1</bind-address><port>${port}</port></listen-socket>
  ${relay('/live.mp3')}
  ${relay('/small.mp3')}
  <mount><mount-name>/small.mp3</mount-name><max-listeners>${SMALL_MAX}</max-listeners></mount>
</icecast>
`)
  cli = await startWorkers(config, base, 2)
  await waitForMirrors(cli, base, ['/small.mp3', '/live.mp3'])
})

after(async () => { await stopAll(opened, cli, upstream) })

test('each worker accepts its own listeners from the shared listen socket: no connection passes through the primary', () => {
  const workers = pidsListening(cli.output(), base)
  assert.equal(workers.size, 2)
  const holders = pidsHoldingListenSocket(port)
  for (const pid of workers) assert.ok(holders.has(pid), `worker ${pid} holds the listen socket (holders: ${[...holders].join(', ')})`)
})

test('a mount\'s max-listeners and limits.clients: 30 hold for the machine: with listeners on both workers, 40 more at once on each mount, 12 and then 18 are let in in all', async () => {
  await onBothWorkers('/small.mp3')
  const small = await crowd('/small.mp3', 40, 'crowd')
  assert.equal(2 + small.admitted.length, SMALL_MAX)
  assert.deepEqual(new Set(small.refused), new Set([403]))
  await onBothWorkers('/live.mp3')
  const live = await crowd('/live.mp3', 40, 'crowd')
  assert.equal(2 + live.admitted.length, CLIENTS - SMALL_MAX)
  assert.deepEqual(new Set(live.refused), new Set([403]))
  assert.equal(await listenersOf('/small.mp3'), SMALL_MAX)
  assert.equal(await listenersOf('/live.mp3'), CLIENTS - SMALL_MAX)
  assert.equal((await crowd('/live.mp3', 4, 'full')).admitted.length, 0, 'a full machine lets no one in')
})

test('listeners that leave give their places back: as many are let in again, and no more', async () => {
  const leaving = admittedSoFar.splice(0, 5)
  for (const { listener } of leaving) await listener.close()
  await waitFor(async () => await listenersOf('/small.mp3') + await listenersOf('/live.mp3') === CLIENTS - 5, { timeoutMs: 3000, message: 'the places to be given back' })
  const again = await crowd('/live.mp3', 10, 'again')
  assert.equal(again.admitted.length, 5)
})

test('a worker that dies gives back the places of its listeners at once', async () => {
  const victim = holder(admittedSoFar.find((held) => held.url.startsWith('/live.mp3'))!)!
  const lost = admittedSoFar.filter((held) => holder(held) === victim).length
  assert.ok(lost > 0)
  await killWorker(cli, victim)
  const left = await listenersOf('/small.mp3') + await listenersOf('/live.mp3')
  // (a listener a starved test process reads too slowly for may have been dropped by its worker meanwhile)
  const kept = admittedSoFar.filter((held) => holder(held) !== victim && !held.listener.socket.destroyed).length
  assert.equal(left, kept, `the dead worker's ${lost} listeners left the counts, the other's ${kept} stay`)
  const again = await crowd('/live.mp3', 40, 'after')
  assert.equal(again.admitted.length, CLIENTS - left)
})
