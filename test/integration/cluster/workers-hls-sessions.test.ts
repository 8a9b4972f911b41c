// HLS sessions across `icecast-relay --workers 2` (the CLI, `<hls>` on): a session one worker let in is one
// listener of the machine wherever its polls land, counted once in /status-json.xsl, and the machine's
// `<clients>` limit holds for HLS sessions as it does for listeners, their places taken at their first polls.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { pidsServing, startWorkers, untilWorkersServe } from '../../helpers/cluster.js'
import { firstVariant, parseMediaPlaylist } from '../../helpers/hls-load.js'
import { assertTools, makeTempDir, startAacSource, startIcecast, type Icecast } from '../../helpers/icecast.js'
import { freePort, httpGet, waitFor, type Proc } from '../../helpers/procs.js'

const MOUNT = '/radio.aac'
const TARGET_SECONDS = 2
const PLAYERS = 3
/** the machine's limit: one place left once the players are in */
const CLIENTS = PLAYERS + 1

let master: Icecast
let source: Proc
let cli: Proc
let base: string
/** the media playlists of the players let in */
const players: string[] = []

/** node:cluster hands connections to the workers in turn: a request between shifts which one the next reaches. */
async function shift (): Promise<void> {
  await httpGet(`${base}/status-json.xsl`)
}

/**
 * A new player on new connections: the status of its multivariant playlist, else of its first poll (which takes
 * its place, on whichever worker it reaches), and its media playlist's URL.
 */
async function tryNewSession (): Promise<{ status: number | undefined, url?: string, body: string }> {
  const main = await httpGet(`${base}${MOUNT}/index.m3u8`)
  if (main.status !== 200) return { status: main.status, body: main.body.toString() }
  const url = firstVariant(main.body.toString(), `${base}${MOUNT}/index.m3u8`)!
  await shift()
  const first = await httpGet(url)
  return { status: first.status, url, body: first.body.toString() }
}

/** A new player let in: its media playlist's URL. */
async function newSession (): Promise<string> {
  const { status, url, body } = await tryNewSession()
  assert.equal(status, 200, body)
  return url!
}

/** A HEAD of `url` on a new connection (a HEAD is let in as a session and counted as none): its status. */
async function headStatus (url: string): Promise<number | undefined> {
  return await new Promise((resolve) => {
    request(url, { method: 'HEAD', agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode)
    }).on('error', () => { resolve(undefined) }).end()
  })
}

async function hlsListeners (): Promise<number | undefined> {
  const stats = JSON.parse((await httpGet(`${base}/status-json.xsl`)).body.toString()) as { icestats: { source?: { hls_listeners?: number } | Array<{ hls_listeners?: number }> } }
  return [stats.icestats.source ?? []].flat()[0]?.hls_listeners
}

/** the most polls a player makes for both workers to have answered it (each accepts its own connections: the kernel picks) */
const MAX_POLLS_FOR_BOTH = 60

async function poll (url: string, what: string): Promise<void> {
  const media = await httpGet(url)
  assert.equal(media.status, 200, `${what}: ${media.body.toString()}`)
  assert.ok(parseMediaPlaylist(media.body.toString(), url).segments.length > 0)
}

/**
 * Each player polls its media playlist `times` times over new connections, and on until both workers answered it;
 * every poll answered 200.
 */
async function pollAll (players: string[], times: number): Promise<void> {
  for (let round = 0; round < times; round++) {
    for (const [i, url] of players.entries()) {
      if ((round + i) % 2 === 1) await shift()
      await poll(url, `poll ${round} of player ${i}`)
    }
  }
  for (const [i, url] of players.entries()) {
    const { pathname, search } = new URL(url)
    await untilWorkersServe(cli, async (n) => {
      await shift()
      await poll(url, `poll ${times + n} of player ${i}`)
      return pathname + search
    }, { what: `polls of player ${i}`, max: MAX_POLLS_FOR_BOTH - times })
  }
}

before(async () => {
  assertTools('ffmpeg', 'icecast2')
  master = await startIcecast()
  source = startAacSource(master, '/live.aac')
  await master.waitForMount('/live.aac', { timeoutMs: 10000 })
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  const config = join(makeTempDir('cluster-hls-sessions'), 'icecast.xml')
  writeFileSync(config, `<icecast>
  <logging><loglevel>4</loglevel></logging>
  <limits><clients>${CLIENTS}</clients></limits>
  <listen-socket><bind-address>127.0.0.1</bind-address><port>${port}</port></listen-socket>
  <hls><segment-seconds>${TARGET_SECONDS}</segment-seconds><window-segments>6</window-segments></hls>
  <relay><server>${master.host}</server><port>${master.port}</port><mount>/live.aac</mount><local-mount>${MOUNT}</local-mount></relay>
</icecast>
`)
  cli = await startWorkers(config, base, 2)
  await waitFor(async () => {
    for (let i = 0; i < 2; i++) {
      if (await headStatus(`${base}${MOUNT}/index.m3u8`) !== 200) return false
    }
    return true
  }, { timeoutMs: 20000, intervalMs: 500, message: () => `HLS of ${MOUNT} on both workers\n${cli.output().slice(-3000)}` })
})

after(async () => {
  await cli?.stop()
  await source?.stop()
  await master?.stop()
})

test(`${PLAYERS} players polling through both workers count ${PLAYERS} in /status-json.xsl, whichever worker answers it`, async () => {
  for (let i = 0; i < PLAYERS; i++) {
    if (i % 2 === 1) await shift()
    players.push(await newSession())
  }
  await pollAll(players, 4)
  for (const url of players) {
    const { pathname, search } = new URL(url)
    assert.equal(pidsServing(cli.output(), pathname + search).size, 2, `both workers answered ${pathname + search}`)
  }
  // the figures of both workers, asked of each in turn; the polls told where they are held within a second
  for (let i = 0; i < 4; i++) assert.equal(await hlsListeners(), PLAYERS, `answer ${i}`)
})

test(`<clients>${CLIENTS}: one more session is let in, then none on either worker; the players in keep playing on both`, async () => {
  players.push(await newSession())
  for (let i = 0; i < 4; i++) {
    if (i % 2 === 1) await shift()
    const refused = await tryNewSession()
    assert.equal(refused.status, 403, `new session ${i}: ${refused.body}`)
  }
  await pollAll(players, 3)
  assert.equal(await hlsListeners(), CLIENTS)
})
