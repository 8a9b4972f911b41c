// HLS with real clients (issue 19's proof): a real Icecast 2 master with an ezstream MP3 source and an
// ffmpeg AAC source, the plugin relaying both with HLS; ffprobe reads each mount's HLS for 30 s and hls.js in
// headless Chromium plays each past 20 s, all four side by side, while titles change. Every MP3 frame of the
// segments saved decodes, across a title change (each MP3 title starts a segment: ffmpeg 5.1 drops the frame
// after a tag between MP3 frames, "Header missing").
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { relayApp, waitForState, type RelayApp } from '../../helpers/app.js'
import { launchChromium, type Browser } from '../../helpers/browser.js'
import { frameHeader } from '../../../lib/formats/mpeg.js'
import { tagLength } from '../../../lib/hls/id3.js'
import { probeHls, segmentFrames, segmentTags, segmentTimeline } from '../../helpers/ffprobe-hls.js'
import { playHls, startPlayerServer, type PlayerServer } from '../../helpers/hls-player.js'
import { firstVariant, parseMediaPlaylist } from '../../helpers/hls-load.js'
import { assertTools, httpGet, makeFixtures, startAacSource, startIcecast, startSource, waitFor, type Icecast, type Source } from '../../helpers/icecast.js'
import { id3TagsIn } from '../../helpers/packed-audio.js'
import { makeTempDir, sleep, type Proc } from '../../helpers/procs.js'

let master: Icecast
let mp3Source: Source
let aacSource: Proc
let relay: RelayApp
let browser: Browser
let pages: PlayerServer
/** set on the AAC mount by hls.js's test, during ffprobe's */
const AAC_TITLE = 'Ünïcode title ♪ from setMetadata'
/** set on the master's MP3 mount by ffprobe's test, 10 s into its read */
const PROBE_TITLE = 'Title during the probe'

/** The media playlist URL of a new session of `mount`. */
async function mediaPlaylistUrl (mount: string): Promise<string> {
  const main = relay.url(`${mount}/index.m3u8`)
  return firstVariant((await httpGet(main)).body.toString(), main) ?? main
}

/** The titles (TIT2) in the segments of `mount`'s HLS window now: each with its segment, and whether it is in the segment's head tag. */
async function windowTitles (mount: string): Promise<Array<{ sequence: number, title: string, head: boolean }>> {
  const mediaUrl = await mediaPlaylistUrl(mount)
  const playlist = parseMediaPlaylist((await httpGet(mediaUrl)).body.toString(), mediaUrl)
  const titles: Array<{ sequence: number, title: string, head: boolean }> = []
  for (const segment of playlist.segments) {
    const tags = id3TagsIn((await httpGet(segment.url)).body)
    tags.forEach((tag, i) => { if (tag.TIT2 !== undefined) titles.push({ sequence: segment.sequence, title: tag.TIT2, head: i === 0 }) })
  }
  return titles
}

/** The MP3 frames of a saved segment, its ID3 tags skipped (a tag anywhere but its head is counted as a frame: none is). */
function mp3FramesIn (segment: Buffer): number {
  let frames = 0
  for (let at = tagLength(segment, 0); at < segment.length; frames++) at += frameHeader(segment, at)?.length ?? segment.length
  return frames
}

/** Every segment of `mount` from now until `done` settles, saved in order as files (their paths). */
async function saveSegments (mount: string, done: Promise<unknown>): Promise<string[]> {
  const dir = makeTempDir('hls-segments')
  const saved = new Map<number, string>()
  const reading = { done: false }
  done.then(() => { reading.done = true }, () => { reading.done = true })
  const mediaUrl = await mediaPlaylistUrl(mount)
  while (!reading.done) {
    const playlist = parseMediaPlaylist((await httpGet(mediaUrl)).body.toString(), mediaUrl)
    for (const segment of playlist.segments) {
      if (saved.has(segment.sequence)) continue
      const file = join(dir, `${segment.sequence}`)
      writeFileSync(file, (await httpGet(segment.url)).body)
      saved.set(segment.sequence, file)
    }
    await sleep(1000)
  }
  return [...saved.entries()].sort(([a], [b]) => a - b).map(([, file]) => file)
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'ffmpeg', 'ffprobe', 'chromium')
  const fixtures = await makeFixtures()
  master = await startIcecast()
  // titles only from /admin/metadata and setMetadata, so that the test knows each one
  mp3Source = await startSource({ icecast: master, mount: '/live.mp3', files: [fixtures.mp3.long], format: 'mp3', metadata: false })
  await master.updateMetadata('/live.mp3', 'Opening title')
  aacSource = startAacSource(master, '/live.aac')
  await master.waitForMount('/live.aac', { timeoutMs: 10000 })
  relay = await relayApp({
    // the low-latency setting on the MP3 mount, the compatible default (6 s) on the AAC one
    hls: { segmentSeconds: 2, windowSegments: 6 },
    relays: [
      { server: master.host, port: master.port, mount: '/live.mp3', localMount: '/radio.mp3', hls: { windowSegments: 3 } },
      { server: master.host, port: master.port, mount: '/live.aac', localMount: '/radio.aac', hls: { segmentSeconds: 6 } }
    ]
  })
  await Promise.all(['/radio.mp3', '/radio.aac'].map(async (mount) => await waitForState(relay.app, mount, 'live', 10000)))
  ;[browser, pages] = await Promise.all([launchChromium(), startPlayerServer()])
  // a first segment on each (the MP3 mount's is cut once 6 s of frames are in)
  await Promise.all(['/radio.mp3', '/radio.aac'].map(async (mount) => await waitFor(async () => (await httpGet(relay.url(`${mount}/index.m3u8`))).status === 200, {
    timeoutMs: 15000, intervalMs: 500, message: `HLS of ${mount}`
  })))
})

after(async () => {
  await browser?.close()
  await pages?.close()
  await relay?.app.close()
  await mp3Source?.stop()
  await aacSource?.stop()
  await master?.stop()
})

describe('real HLS clients, side by side', { concurrency: true }, () => {
  for (const { mount, codec } of [{ mount: '/radio.mp3', codec: 'mp3' }, { mount: '/radio.aac', codec: 'aac' }]) {
    test(`ffprobe reads ${mount}/index.m3u8 for 30 s: every frame decodes, timestamps run on across segments, the title is ID3 metadata`, async () => {
      // the stream's first frame is lame's Info frame of the file ezstream plays, which ffmpeg takes for a
      // file's header and decodes no audio from: the MP3 probe starts once the stream's first segment has left the window
      if (codec === 'mp3') {
        let first: number | undefined
        await waitFor(async () => {
          const mediaUrl = await mediaPlaylistUrl(mount)
          const oldest = parseMediaPlaylist((await httpGet(mediaUrl)).body.toString(), mediaUrl).segments[0]!.sequence
          first ??= oldest
          return oldest > first
        }, { timeoutMs: 20000, intervalMs: 1000, message: 'the first segment out of the MP3 window' })
      }
      const probing = probeHls(relay.url(`${mount}/index.m3u8`), { seconds: 30 })
      const titled = codec === 'mp3' ? sleep(10000).then(async () => { await master.updateMetadata('/live.mp3', PROBE_TITLE) }) : undefined
      const segments = await saveSegments(mount, probing)
      const probe = await probing
      await titled
      assert.deepEqual(probe.problems, [], 'no complaint of the decoder or the demuxer')
      // ffmpeg 5.1 stamps MP3 packets a frame or two off at segment starts, exactly stamped segments too
      // (see segmentTimeline): for MP3, the timeline is read segment by segment only
      if (codec === 'aac') assert.deepEqual(probe.jumps, [], 'each packet starts where the one before ended')
      assert.ok(segments.length >= 30 / (codec === 'aac' ? 6 : 2), `${segments.length} segments saved`)
      assert.deepEqual(await segmentTimeline(segments), [], 'each segment starts where the one before ends')
      assert.equal(probe.codec, codec)
      assert.equal(probe.sampleRate, 44100)
      assert.ok(probe.seconds >= 29.5, `${probe.seconds} s read`)
      assert.equal(probe.frames, probe.packets, 'a decoded frame per packet')
      // ffprobe reads the title in effect at a segment's start from its head tag (through HLS, ffmpeg 5.1
      // shows only the timestamp of an MP3 stream, and the first tag only of an AAC one)
      if (codec === 'aac') assert.equal((await segmentTags(segments.at(-1)!)).title, AAC_TITLE)
      if (codec === 'mp3') {
        const titles = await Promise.all(segments.map(async (file) => (await segmentTags(file)).title))
        assert.deepEqual([...new Set(titles)].slice(0, 2), ['Opening title', PROBE_TITLE], 'the title changes at a segment\'s head')
        for (const file of segments) {
          const decoded = await segmentFrames(file)
          assert.deepEqual(decoded.problems, [], `no complaint decoding ${file}`)
          assert.equal(decoded.frames, mp3FramesIn(readFileSync(file)), `every MP3 frame of ${file} decodes`)
          assert.equal(decoded.packets, decoded.frames)
        }
      }
    })
  }

  test('hls.js plays the AAC mount past 20 s with no fatal error; a title set with setMetadata during ffprobe\'s read arrives as a metadata cue and is a TIT2 frame', async () => {
    const player = await playHls(browser, pages, relay.url('/radio.aac/index.m3u8'))
    await player.waitForTime(5, 30000)
    relay.app.relay.setMetadata('/radio.aac', { title: AAC_TITLE })
    await player.waitForCue(AAC_TITLE, 20000)
    const titles = await windowTitles('/radio.aac')
    const changed = titles.filter((t) => t.title === AAC_TITLE)
    assert.equal(changed.filter((t) => !t.head).length, 1, 'a TIT2 tag where the title starts')
    assert.ok(changed.filter((t) => t.head).every((t) => t.sequence > changed.find((c) => !c.head)!.sequence), 'and in the head tag of each segment after')
    const report = await player.waitForTime(20, 40000)
    await player.close()
    assert.deepEqual(report.fatal, [])
    assert.equal(report.paused, false)
  })

  test('hls.js plays the MP3 mount past 20 s with no fatal error; a title set on the master (/admin/metadata) arrives as a metadata cue and is a TIT2 frame', async () => {
    const player = await playHls(browser, pages, relay.url('/radio.mp3/index.m3u8'))
    await player.waitForTime(20, 40000)
    await master.updateMetadata('/live.mp3', 'Title from the master')
    // at the live edge first (the window is 6 s), then where the player plays
    await waitFor(async () => (await windowTitles('/radio.mp3')).some((t) => t.title === 'Title from the master'), {
      timeoutMs: 15000, intervalMs: 500, message: 'the title as a TIT2 frame in a segment'
    })
    await player.waitForCue('Title from the master', 30000)
    const report = await player.report()
    await player.close()
    assert.deepEqual(report.fatal, [])
    assert.equal(report.paused, false)
  })
})
