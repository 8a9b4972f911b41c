// Self-test of the HLS clients' harnesses against a static packed-AAC stream made by test/helpers/packed-audio.ts
// (not by the relay): the hls.js page in headless Chromium, the ffprobe checker and the load client.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import { launchChromium, type Browser } from '../../helpers/browser.js'
import { playHls, startPlayerServer, type PlayerServer } from '../../helpers/hls-player.js'
import { adtsFrames, id3Tag, id3TagsIn, packedAacStream, type PackedStream } from '../../helpers/packed-audio.js'
import { probeHls, segmentTags, segmentTimeline } from '../../helpers/ffprobe-hls.js'
import { syntheticAdts } from '../../helpers/adts.js'
import { hlsLoad, parseMediaPlaylist } from '../../helpers/hls-load.js'
import { assertTools } from '../../helpers/tools.js'

let stream: PackedStream
let origin: Server
let base: string
let browser: Browser
let pages: PlayerServer

/** The files of `s` under `dir`: dir/index.m3u8 and dir/<i>.aac. */
function filesOf (dir: string, s: PackedStream): Array<[string, Buffer]> {
  return [[`${dir}/index.m3u8`, Buffer.from(s.playlist)], ...s.segments.map((segment, i): [string, Buffer] => [`${dir}/${i}.aac`, segment])]
}

/** Serves `files` (path → body) with CORS as the relay's HLS routes have it. */
async function serveFiles (files: Map<string, Buffer>): Promise<Server> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname
    const body = files.get(path)
    const type = path.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'audio/aac'
    if (body === undefined) response.writeHead(404, { 'access-control-allow-origin': '*' }).end()
    else response.writeHead(200, { 'access-control-allow-origin': '*', 'content-type': type }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

before(async () => {
  assertTools('ffmpeg', 'ffprobe', 'chromium')
  // 43 frames of 1024 samples: 0.9985 s a segment; titles in the first, the third and the seventh; a
  // live stream's timestamps start anywhere
  stream = await packedAacStream({ seconds: 12, framesPerSegment: 43, startPts: 900000, titles: ['Opening title', undefined, 'First title', undefined, undefined, undefined, 'Deuxième titre ♪'] })
  const files = new Map(filesOf('/s', stream))
  // the same stream with segment 4 missing from its playlist (a jump of a segment), and with noise for audio in segment 3
  files.set('/gap/index.m3u8', Buffer.from(stream.playlist.replace(/#EXTINF:[\d.]+,\n4\.aac\n/, '').replace(/^(\d+\.aac)$/gm, '/s/$1')))
  files.set('/bad/index.m3u8', Buffer.from(stream.playlist.replace(/^(\d+\.aac)$/gm, (name) => name === '3.aac' ? '/bad/3.aac' : `/s/${name}`)))
  files.set('/bad/3.aac', Buffer.concat([id3Tag(900000 + Math.round(3 * 43 * 1024 * 90000 / 44100)), syntheticAdts(43)]))
  origin = await serveFiles(files)
  base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
  ;[browser, pages] = await Promise.all([launchChromium(), startPlayerServer()])
})

after(async () => {
  await browser?.close()
  await pages?.close()
  origin?.closeAllConnections()
  origin?.close()
})

test('the hls.js page plays packed AAC from another origin, and reports currentTime, ID3 samples, and each title as a metadata cue', async () => {
  const player = await playHls(browser, pages, `${base}/s/index.m3u8`)
  await player.waitForTime(8, 30000)
  const report = await player.waitForCue('Deuxième titre ♪', 10000)
  await player.close()
  assert.deepEqual(report.fatal, [])
  assert.deepEqual(report.fragments.slice(0, 9), [0, 1, 2, 3, 4, 5, 6, 7, 8])
  assert.deepEqual(report.id3Samples.slice(0, 9).map((seconds) => Math.round(seconds / stream.durations[0])), [0, 1, 2, 3, 4, 5, 6, 7, 8],
    'an ID3 sample at the start of each segment')
  // hls.js 1.7 parses the first fragment's tag (its sample at 0 s above) but shows no cue for it: a title
  // reaches a web player as a cue when it changes during playback
  const titles = report.cues.filter((c) => c.key === 'TIT2')
  assert.deepEqual(titles.map((c) => c.data), ['First title', 'Deuxième titre ♪'])
  // each cue starts where its segment starts
  assert.deepEqual(titles.map((c) => Math.round(c.startTime / stream.durations[0])), [2, 6], `cues at ${titles.map((c) => c.startTime).join(', ')} s`)
})

test('the hls.js page reports a fatal error for a playlist that is not there', async () => {
  const player = await playHls(browser, pages, `${base}/s/missing.m3u8`)
  await assert.rejects(player.waitForTime(1, 15000), /fatal error.*networkError: manifestLoadError/)
  await player.close()
})

test('ffprobe reads the stream: every frame decoded, timestamps without a jump across segments, the first title as ID3 metadata, the later ones noticed', async () => {
  const probe = await probeHls(`${base}/s/index.m3u8`, { seconds: 8 })
  assert.deepEqual(probe.problems, [])
  assert.deepEqual(probe.jumps, [])
  assert.equal(probe.codec, 'aac')
  assert.equal(probe.sampleRate, 44100)
  assert.equal(probe.tags.title, 'Opening title')
  assert.equal(probe.id3Changed, true)
  assert.ok(probe.seconds >= 8 && probe.seconds < 8.2, `${probe.seconds} s read`)
  assert.equal(probe.frames, probe.packets)
  assert.equal((await segmentTags(`${base}/s/6.aac`)).title, 'Deuxième titre ♪')
  assert.equal((await segmentTags(`${base}/s/5.aac`)).title, undefined)
  assert.equal(adtsFrames(stream.segments[5].subarray(id3Tag(0).length)).length, 43, 'a segment is its ID3 tag and its frames')
  const pts = 900000 + Math.round(6 * 43 * 1024 * 90000 / 44100)
  assert.deepEqual(id3TagsIn(stream.segments[6]), [{ PRIV: `com.apple.streaming.transportStreamTimestamp ${pts.toString(16).padStart(16, '0')}`, TIT2: 'Deuxième titre ♪' }])
  const frames = adtsFrames(stream.segments[5].subarray(id3Tag(0).length))
  const between = Buffer.concat([id3Tag(0), ...frames.slice(0, 10), id3Tag(7, 'Mid-segment'), ...frames.slice(10)])
  assert.deepEqual(id3TagsIn(between).map((tag) => tag.TIT2), [undefined, 'Mid-segment'])
})

test('the ffprobe checkers find a segment missing from the timeline (of the HLS read and of the segments alone), and a segment that does not decode', async () => {
  const gap = await probeHls(`${base}/gap/index.m3u8`, { seconds: 8 })
  assert.equal(gap.jumps.length, 1, JSON.stringify(gap.jumps))
  assert.ok(Math.abs(gap.jumps[0].seconds - stream.durations[4]) < 0.001, `a jump of ${gap.jumps[0].seconds} s`)
  assert.deepEqual(await segmentTimeline([0, 1, 2, 3].map((i) => `${base}/s/${i}.aac`)), [], 'each segment alone: its PRIV timestamp where the one before ends')
  const skipped = await segmentTimeline([2, 3, 5].map((i) => `${base}/s/${i}.aac`))
  assert.deepEqual(skipped.map((j) => [j.at, Math.round(j.seconds * 1000)]), [[2, Math.round(stream.durations[4] * 1000)]])
  const bad = await probeHls(`${base}/bad/index.m3u8`, { seconds: 8 })
  assert.ok(bad.problems.some((line) => /\[aac @/.test(line)), bad.problems.join('\n'))
})

/** The stream as a live one: a window of 4 segments that slides one segment a segment's duration; segment 7 answers 404. */
async function serveLive (s: PackedStream): Promise<{ server: Server, requests: Map<string, number> }> {
  const started = Date.now()
  const requests = new Map<string, number>()
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname
    requests.set(path, (requests.get(path) ?? 0) + 1)
    const edge = Math.min(s.segments.length, 4 + Math.floor((Date.now() - started) / 1000 / s.durations[0]))
    const first = Math.max(0, edge - 4)
    const segment = /^\/live\/(\d+)\.aac$/.exec(path)
    if (path === '/live/index.m3u8') {
      const window = Array.from({ length: edge - first }, (_, i) => first + i)
      response.writeHead(200).end(['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:1', `#EXT-X-MEDIA-SEQUENCE:${first}`,
        ...window.flatMap((i) => [`#EXTINF:${s.durations[i].toFixed(5)},`, `${i}.aac`]), ''].join('\n'))
    } else if (segment !== null && Number(segment[1]) < edge && Number(segment[1]) !== 7) {
      response.writeHead(200).end(s.segments[Number(segment[1])])
    } else {
      response.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, requests }
}

test('the HLS load client: sessions start three segments behind the live edge, poll at the player\'s rate, fetch each new segment once, and report a failed one', async (t) => {
  const { server, requests } = await serveLive(stream)
  t.after(() => { server.closeAllConnections(); server.close() })
  const sessions = await hlsLoad(`http://127.0.0.1:${(server.address() as AddressInfo).port}/live/index.m3u8`, { sessions: 10, seconds: 6 })
  for (const session of sessions) {
    assert.equal(session.segments[0], 1, 'three segments behind the edge of 0..3')
    const expected = Array.from({ length: session.segments.at(-1)! - 1 + 1 }, (_, i) => i + 1).filter((i) => i !== 7)
    assert.deepEqual(session.segments, expected, 'each segment once, in order')
    assert.ok(session.segments.length >= 7, `${session.segments.length} segments in 6 s`)
    assert.deepEqual(session.errors.map((e) => e.replace(/^.*\//, '')), ['7.aac: HTTP 404'])
    assert.deepEqual(session.missed, [])
    assert.equal(session.stalls, 0)
    assert.equal(session.bytes, session.segments.reduce((sum, i) => sum + stream.segments[i].length, 0))
    // a reload a segment (~1 s) after the playlist grew, half a target duration after it did not
    assert.ok(session.playlistRequests >= 4 && session.playlistRequests <= 13, `${session.playlistRequests} playlist requests in 6 s`)
  }
  assert.equal(requests.get('/live/3.aac'), 10)
  assert.deepEqual(parseMediaPlaylist('#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:41\n#EXTINF:6.0,\na/41.aac\n#EXT-X-DISCONTINUITY\n#EXTINF:5.5,\n/x/42.aac\n', 'http://h/m/index.m3u8'), {
    targetDuration: 6,
    mediaSequence: 41,
    segments: [
      { sequence: 41, url: 'http://h/m/a/41.aac', duration: 6, discontinuity: false },
      { sequence: 42, url: 'http://h/x/42.aac', duration: 5.5, discontinuity: true }
    ],
    endList: false
  })
})
