// HLS with `--workers 2` (the cluster helper, as the CLI splits it): the primary cuts the segments of a real
// Icecast's AAC mount once for the machine, and whichever worker a player's new connection reaches answers the
// same playlist and the same segment bytes; ffprobe reads it through both without a timestamp jump.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { untilWorkersServe, waitForListening } from '../../helpers/cluster.js'
import { probeHls } from '../../helpers/ffprobe-hls.js'
import { firstVariant, parseMediaPlaylist, type MediaPlaylist } from '../../helpers/hls-load.js'
import { assertTools, startAacSource, startIcecast, type Icecast } from '../../helpers/icecast.js'
import { freePort, httpGet, spawnTracked, waitFor, type Proc } from '../../helpers/procs.js'

const FIXTURE = new URL('../../helpers/cluster-app.ts', import.meta.url).pathname
/** `%` and non-ASCII in the name: the workers ask the primary for it percent-encoded */
const MOUNT = '/radio-é-100%.aac'
const PATH = encodeURI(MOUNT)
const TARGET_SECONDS = 2
const POLLS = 20

let master: Icecast
let source: Proc
let cli: Proc
let base: string

/** A new session's media playlist, on a new connection: its URL and what it lists. */
async function newSession (): Promise<{ url: string, text: string, playlist: MediaPlaylist }> {
  const main = await httpGet(`${base}${PATH}/index.m3u8`)
  assert.equal(main.status, 200, main.body.toString())
  const url = firstVariant(main.body.toString(), `${base}${PATH}/index.m3u8`)
  assert.ok(url !== null)
  const media = await httpGet(url)
  assert.equal(media.status, 200, media.body.toString())
  const text = media.body.toString()
  return { url, text, playlist: parseMediaPlaylist(text, url) }
}

/** Each segment's sequence with what the playlist says of it (its date, duration and URI), by sequence. */
function entries (text: string): Map<number, string> {
  const lines = text.split('\n')
  const sequence = Number(lines.find((line) => line.startsWith('#EXT-X-MEDIA-SEQUENCE:'))!.split(':')[1])
  const found = new Map<number, string>()
  let pending: string[] = []
  for (const line of lines.slice(lines.findIndex((line) => line === '#EXT-X-INDEPENDENT-SEGMENTS') + 1)) {
    if (line === '') continue
    pending.push(line.replace(/\?session=.*$/, ''))
    if (!line.startsWith('#')) {
      found.set(sequence + found.size, pending.join('\n'))
      pending = []
    }
  }
  return found
}

before(async () => {
  assertTools('ffmpeg', 'ffprobe')
  master = await startIcecast()
  source = startAacSource(master, '/live.aac')
  await master.waitForMount('/live.aac', { timeoutMs: 10000 })
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  const options = {
    hls: { segmentSeconds: TARGET_SECONDS, windowSegments: 6 },
    relays: [{ server: master.host, port: master.port, mount: '/live.aac', localMount: MOUNT }]
  }
  cli = spawnTracked(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { ...process.env, CLUSTER_APP_PORT: String(port), CLUSTER_APP_OPTIONS: JSON.stringify(options) }
  })
  await waitForListening(cli, base, 2)
  // two segments in the window: the primary has cut them and each worker has read its window
  await waitFor(async () => {
    const main = await httpGet(`${base}${PATH}/index.m3u8`)
    if (main.status !== 200) return false
    const media = await httpGet(firstVariant(main.body.toString(), `${base}${PATH}/index.m3u8`)!)
    return media.status === 200 && parseMediaPlaylist(media.body.toString(), base).segments.length >= 2
  }, { timeoutMs: 20000, intervalMs: 500, message: () => `HLS of ${MOUNT}\n${cli.output().slice(-3000)}` })
})

after(async () => {
  await cli?.stop()
  await source?.stop()
  await master?.stop()
})

test(`${POLLS} new sessions on new connections (both workers answer) get one window: the same sequences, dates, durations and segments`, async () => {
  const started = Date.now()
  const sessions: Array<Awaited<ReturnType<typeof newSession>>> = []
  await untilWorkersServe(cli, async (n) => {
    // under a round robin, a request between shifts which worker a media playlist reaches
    if (n % 2 === 1) await httpGet(`${base}/status-json.xsl`)
    const session = await newSession()
    sessions.push(session)
    return new URL(session.url).pathname + new URL(session.url).search
  }, { what: 'new sessions\' media playlists', min: POLLS, max: 3 * POLLS })
  // the window moves on once a target duration: as many times as the asking took them (once on a quiet machine)
  const took = Date.now() - started
  const moves = Math.max(1, Math.ceil(took / (TARGET_SECONDS * 1000)))
  const sequences = sessions.map((session) => session.playlist.mediaSequence)
  assert.ok(Math.max(...sequences) - Math.min(...sequences) <= moves, `media sequences ${sequences.join(' ')}, asked in ${took} ms`)
  // every segment named by two playlists is named alike (date, duration, URI), whichever worker answered
  const seen = new Map<number, string>()
  for (const session of sessions) {
    for (const [sequence, entry] of entries(session.text)) {
      assert.equal(entry, seen.get(sequence) ?? entry, `segment ${sequence}`)
      seen.set(sequence, entry)
    }
  }
})

test('a segment fetched from both workers is the same bytes, under the same ETag', async () => {
  const { playlist } = await newSession()
  const url = playlist.segments.at(-1)!.url
  const answers: Awaited<ReturnType<typeof httpGet>>[] = []
  await untilWorkersServe(cli, async () => {
    answers.push(await httpGet(url))
    return new URL(url).pathname
  }, { what: `fetches of ${new URL(url).pathname}`, min: 10, max: 50 })
  for (const answer of answers) {
    assert.equal(answer.status, 200)
    assert.equal(answer.headers['content-type'], 'audio/aac')
    assert.equal(answer.headers.etag, answers[0]!.headers.etag)
    assert.ok(answer.body.equals(answers[0]!.body), 'byte-identical')
  }
})

test('ffprobe reads 20 s through both workers: every frame decodes, no timestamp jump', async () => {
  const probe = await probeHls(`${base}${PATH}/index.m3u8`, { seconds: 20 })
  assert.deepEqual(probe.problems, [], 'no complaint of the decoder or the demuxer')
  assert.deepEqual(probe.jumps, [], 'each packet starts where the one before ended')
  assert.equal(probe.codec, 'aac')
  assert.ok(probe.seconds >= 19.5, `${probe.seconds} s read`)
  assert.equal(probe.frames, probe.packets, 'a decoded frame per packet')
})
