// An upstream reconnect under HLS (issue 19's proof): the ezstream source of a real Icecast 2 master is
// killed and started again while hls.js in headless Chromium plays the relay's HLS; the playlist gets
// #EXT-X-DISCONTINUITY and the player plays on through it.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, type RelayApp } from '../../helpers/app.js'
import { launchChromium, type Browser } from '../../helpers/browser.js'
import { playHls, startPlayerServer, type PlayerServer } from '../../helpers/hls-player.js'
import { firstVariant } from '../../helpers/hls-load.js'
import { assertTools, httpGet, makeFixtures, startIcecast, startSource, waitFor, type Fixtures, type Icecast, type Source } from '../../helpers/icecast.js'

let fixtures: Fixtures
let master: Icecast
let source: Source | undefined
let relay: RelayApp
let browser: Browser
let pages: PlayerServer

const startMp3 = async (): Promise<Source> => await startSource({ icecast: master, mount: '/live.mp3', files: [fixtures.mp3.long], format: 'mp3' })

/** The media playlist of /radio.mp3 as a new session gets it now. */
async function mediaPlaylist (): Promise<string> {
  const main = relay.url('/radio.mp3/index.m3u8')
  const media = firstVariant((await httpGet(main)).body.toString(), main)!
  return (await httpGet(media)).body.toString()
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'chromium')
  fixtures = await makeFixtures()
  master = await startIcecast()
  source = await startMp3()
  relay = await relayApp({
    hls: { segmentSeconds: 2, windowSegments: 6 },
    relays: [{ server: master.host, port: master.port, mount: '/live.mp3', localMount: '/radio.mp3' }]
  })
  await waitForState(relay.app, '/radio.mp3', 'live', 10000)
  await waitFor(async () => (await httpGet(relay.url('/radio.mp3/index.m3u8'))).status === 200, { timeoutMs: 15000, intervalMs: 500, message: 'HLS of /radio.mp3' })
  ;[browser, pages] = await Promise.all([launchChromium(), startPlayerServer()])
})

after(async () => {
  await browser?.close()
  await pages?.close()
  await relay?.app.close()
  await source?.stop()
  await master?.stop()
})

test('an upstream reconnect (ezstream killed and started again) puts #EXT-X-DISCONTINUITY in the playlist, and hls.js plays on through it', async () => {
  const player = await playHls(browser, pages, relay.url('/radio.mp3/index.m3u8'))
  await player.waitForTime(4, 30000)
  assert.doesNotMatch(await mediaPlaylist(), /#EXT-X-DISCONTINUITY\n/, 'no discontinuity before the reconnect')

  await source!.stop()
  source = undefined
  await master.waitForMount('/live.mp3', { gone: true })
  source = await startMp3()
  await waitFor(async () => (await httpGet(relay.url('/radio.mp3/index.m3u8'))).status === 200 && relay.app.relay.get('/radio.mp3')!.reconnects >= 1, {
    timeoutMs: 30000, intervalMs: 500, message: 'the relay back on its upstream'
  })
  const playlist = await waitFor(async () => {
    const text = await mediaPlaylist()
    return /#EXT-X-DISCONTINUITY\n/.test(text) && text
  }, { timeoutMs: 20000, intervalMs: 500, message: '#EXT-X-DISCONTINUITY in the playlist' })
  assert.match(playlist, /#EXT-X-DISCONTINUITY-SEQUENCE:0\n/, 'no tagged segment has left the window yet')
  // the tag stands before the first segment after the reconnect, with its own program date-time
  assert.match(playlist, /#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXTINF:[\d.]+,\n\d+\.mp3\n/)

  const atReconnect = (await player.report()).currentTime
  const report = await player.waitForTime(atReconnect + 12, 45000)
  await player.close()
  assert.deepEqual(report.fatal, [])
  assert.ok(report.discontinuities >= 1, `hls.js loaded the segment after the discontinuity: ${JSON.stringify(report)}`)
  assert.equal(report.paused, false)
})
