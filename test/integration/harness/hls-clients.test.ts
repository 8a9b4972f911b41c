// Self-test of the HLS clients' harnesses against a static packed-AAC stream made by test/helpers/packed-audio.ts
// (not by the relay): the hls.js page in headless Chromium, the ffprobe checker and the load client.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import { launchChromium, type Browser } from '../../helpers/browser.js'
import { playHls, startPlayerServer, type PlayerServer } from '../../helpers/hls-player.js'
import { packedAacStream, type PackedStream } from '../../helpers/packed-audio.js'
import { assertTools } from '../../helpers/tools.js'

let stream: PackedStream
let origin: Server
let base: string
let browser: Browser
let pages: PlayerServer

/** Serves `stream` at /s/index.m3u8 and /s/<i>.aac, with CORS as the relay's HLS routes have it. */
async function serveStream (s: PackedStream): Promise<Server> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname
    const segment = /^\/s\/(\d+)\.aac$/.exec(path)
    const cors = { 'access-control-allow-origin': '*' }
    if (path === '/s/index.m3u8') response.writeHead(200, { ...cors, 'content-type': 'application/vnd.apple.mpegurl' }).end(s.playlist)
    else if (segment !== null && s.segments[Number(segment[1])] !== undefined) response.writeHead(200, { ...cors, 'content-type': 'audio/aac' }).end(s.segments[Number(segment[1])])
    else response.writeHead(404, cors).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

before(async () => {
  assertTools('ffmpeg', 'ffprobe', 'chromium')
  // 43 frames of 1024 samples: 0.9985 s a segment; titles in the third and the seventh
  stream = await packedAacStream({ seconds: 12, framesPerSegment: 43, titles: [undefined, undefined, 'First title', undefined, undefined, undefined, 'Deuxième titre ♪'] })
  origin = await serveStream(stream)
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
  assert.ok(report.id3Samples >= 9, `an ID3 sample per segment: ${report.id3Samples}`)
  const titles = report.cues.filter((c) => c.key === 'TIT2')
  assert.deepEqual(titles.map((c) => c.data), ['First title', 'Deuxième titre ♪'])
  // each cue starts where its segment starts
  assert.ok(Math.abs(titles[0].startTime - 2 * stream.durations[0]) < 0.05, `first cue at ${titles[0].startTime} s`)
  assert.ok(Math.abs(titles[1].startTime - 6 * stream.durations[0]) < 0.05, `second cue at ${titles[1].startTime} s`)
})

test('the hls.js page reports a fatal error for a playlist that is not there', async () => {
  const player = await playHls(browser, pages, `${base}/s/missing.m3u8`)
  await assert.rejects(player.waitForTime(1, 15000), /fatal error.*networkError: manifestLoadError/)
  await player.close()
})
