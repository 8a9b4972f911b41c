// HLS of an on-demand relay of a real Icecast fed by ezstream: a player's request starts the upstream, and the
// relay lets it go once the last session stopped polling (and its linger is over), as after the last listener.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, type RelayApp } from '../../helpers/app.js'
import { probeHls } from '../../helpers/ffprobe-hls.js'
import { assertTools, makeFixtures, startIcecast, startSource, waitFor, type Icecast, type Source } from '../../helpers/icecast.js'

const SEGMENT_SECONDS = 1

let master: Icecast
let source: Source
let relay: RelayApp

/** The relay's connections to the master's mount (Icecast counts them as listeners). */
async function upstreamConnections (): Promise<number> {
  const found = (await master.sources()).find((entry) => entry.listenurl.endsWith('/live.mp3'))
  return found?.listeners ?? 0
}

/** A new session's media playlist: its URL and its segments' numbers. */
async function mediaPlaylist (): Promise<{ url: string, sequences: number[], text: string }> {
  const main = await fetch(relay.url('/radio.mp3/index.m3u8'))
  assert.equal(main.status, 200)
  const url = relay.url('/radio.mp3/' + (await main.text()).split('\n').find((line) => line.startsWith('index.m3u8?'))!)
  const media = await fetch(url)
  assert.equal(media.status, 200)
  const text = await media.text()
  return { url, text, sequences: [...text.matchAll(/^(\d+)\.mp3$/gm)].map((match) => Number(match[1])) }
}

/** The first stream's last playlist, read while it played. */
let lastStream: { url: string, sequences: number[] } | undefined

before(async () => {
  assertTools('icecast2', 'ezstream', 'ffprobe')
  const fixtures = await makeFixtures()
  master = await startIcecast()
  source = await startSource({ icecast: master, mount: '/live.mp3', files: [fixtures.mp3.long], format: 'mp3' })
  relay = await relayApp({
    hls: { segmentSeconds: SEGMENT_SECONDS, windowSegments: 4 },
    limits: { onDemandLinger: 1 },
    relays: [{ server: master.host, port: master.port, mount: '/live.mp3', localMount: '/radio.mp3', onDemand: true }]
  })
})

after(async () => {
  await relay?.app.close()
  await source?.stop()
  await master?.stop()
})

test('an idle on-demand mount: index.m3u8 starts the upstream (503 with Retry-After until a segment is cut), ffprobe reads its HLS, and the upstream ends once the sessions expire', async () => {
  assert.equal(relay.app.relay.get('/radio.mp3')?.state, 'idle')
  assert.equal(await upstreamConnections(), 0)
  const first = await fetch(relay.url('/radio.mp3/index.m3u8'))
  assert.equal(first.status, 503, await first.text())
  assert.equal(first.headers.get('retry-after'), String(SEGMENT_SECONDS))
  await waitFor(async () => (await fetch(relay.url('/radio.mp3/index.m3u8'))).status === 200, {
    timeoutMs: 15000, intervalMs: 250, message: 'the first segment of the on-demand mount'
  })
  assert.equal(await upstreamConnections(), 1, 'the HLS request connected the relay')
  lastStream = await mediaPlaylist()
  const probe = await probeHls(relay.url('/radio.mp3/index.m3u8'), { seconds: 4 })
  assert.equal(probe.codec, 'mp3')
  assert.ok(probe.seconds >= 3.5, `${probe.seconds} s read`)
  assert.equal(probe.frames, probe.packets, 'every frame decodes')
  assert.deepEqual(probe.problems, [])
  // three target durations without a poll end the session; the linger lets the upstream go
  await waitFor(async () => await upstreamConnections() === 0, {
    timeoutMs: 15000, intervalMs: 500, message: 'the upstream connection ended after the last session'
  })
  assert.equal(relay.app.relay.get('/radio.mp3')?.state, 'idle')
  assert.equal(relay.app.relay.get('/radio.mp3')?.listeners, 0)
})

test('an on-demand mount gone idle serves no window of long ago: 503 until its next stream\'s first segment, numbered above the last stream\'s, with no discontinuity', async () => {
  assert.ok(lastStream !== undefined && lastStream.sequences.length > 0, 'the first test read a playlist')
  const idle = await fetch(relay.url('/radio.mp3/index.m3u8'))
  assert.equal(idle.status, 503, await idle.text())
  assert.equal(idle.headers.get('retry-after'), String(SEGMENT_SECONDS))
  assert.equal((await fetch(relay.url(`/radio.mp3/${lastStream.sequences.at(-1)!}.mp3`))).status, 503, 'nor its segments')
  await waitFor(async () => (await fetch(relay.url('/radio.mp3/index.m3u8'))).status === 200, {
    timeoutMs: 15000, intervalMs: 250, message: 'the first segment of the next stream'
  })
  const next = await mediaPlaylist()
  assert.ok(next.sequences[0]! > lastStream.sequences.at(-1)!, `${next.sequences[0]!} after ${lastStream.sequences.at(-1)!}`)
  assert.doesNotMatch(next.text, /#EXT-X-DISCONTINUITY\n/, 'a stream of its own, not the old one carried on')
  assert.equal((await fetch(lastStream.url)).status, 404, 'a session of the old stream asks index.m3u8 again')
})
