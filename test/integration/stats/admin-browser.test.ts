// The status page in a real browser: headless Chromium loads /status.xsl of a relay of a real Icecast 2
// master (MP3 and Vorbis from ezstream, AAC from ffmpeg, one mount the master does not have), plays a mount
// with the page's own player, which makes the browser one of its listeners, and sees a new title without
// a reload.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { launchChromium, type Browser } from '../../helpers/browser.js'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import { assertTools, makeFixtures, startAacSource, startIcecast, startSource, type Icecast, type Source } from '../../helpers/icecast.js'
import type { Proc } from '../../helpers/procs.js'

let master: Icecast
const sources: Source[] = []
let aacSource: Proc
let relay: RelayApp
let browser: Browser

before(async () => {
  assertTools('icecast2', 'ezstream', 'chromium', 'ffmpeg')
  const fixtures = await makeFixtures()
  master = await startIcecast()
  // titles only from /admin/metadata, so that no track change of ezstream's comes between a test's title and the page
  sources.push(await startSource({
    icecast: master, mount: '/live.mp3', files: [fixtures.mp3.long], format: 'mp3', name: 'Master MP3', genre: 'Jazz & Blues', description: 'The master\'s MP3', bitrate: 128, metadata: false
  }))
  sources.push(await startSource({ icecast: master, mount: '/live.ogg', files: [fixtures.vorbis.long], format: 'ogg' }))
  aacSource = startAacSource(master, '/live.aac', 'Master AAC')
  await master.waitForMount('/live.aac', { timeoutMs: 10000 })
  await master.updateMetadata('/live.mp3', 'Long Track')
  relay = await relayApp({
    relays: [
      { server: master.host, port: master.port, mount: '/live.mp3', localMount: '/radio.mp3' },
      { server: master.host, port: master.port, mount: '/live.ogg', localMount: '/radio.ogg' },
      { server: master.host, port: master.port, mount: '/live.aac', localMount: '/radio.aac' },
      { server: master.host, port: master.port, mount: '/gone.mp3', localMount: '/gone.mp3' }
    ],
    location: 'Browser test',
    prefix: '/stations'
  })
  for (const mount of ['/radio.mp3', '/radio.ogg', '/radio.aac']) await waitForState(relay.app, mount, 'live', 10000)
  await waitForState(relay.app, '/gone.mp3', 'retrying', 10000)
  await waitUntil(() => relay.app.relay.get('/radio.mp3')!.metadata?.title === 'Long Track', 10000, 'the master\'s title')
  // the AAC bitrate is an average over frames: wait for the first one
  await waitUntil(() => relay.app.relay.get('/radio.aac')!.audio?.bitrate !== undefined, 10000, 'the AAC frames')
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await relay?.app.close()
  await Promise.all(sources.map((s) => s.stop()))
  await aacSource?.stop()
  await master?.stop()
})

test('Chromium shows what the server is, every mount with its stream, state, listeners, title, bitrate (AAC too), listen URL and playlists, why a mount is down, and plays one with the page\'s player', async (t) => {
  const page = await browser.context.newPage()
  const blocked: string[] = []
  page.on('console', (message) => { if (/Content.Security.Policy/i.test(message.text())) blocked.push(message.text()) })
  const response = await page.goto(relay.url('/stations/status.xsl'))
  assert.equal(response?.status(), 200)
  assert.equal(await page.title(), 'fastify-icecast-relay: status')
  assert.equal(await page.locator('h1').innerText(), 'Icecast-compatible relay fastify-icecast-relay')
  assert.match(await page.locator('header p').innerText(), /^Browser test · 4 mounts · 0 listeners · up since /)

  const mp3 = page.locator('section.mount[data-mount="/radio.mp3"]')
  assert.equal(await mp3.getAttribute('data-state'), 'live')
  assert.equal(await mp3.locator('.state').textContent(), 'live')
  const details = await mp3.locator('dl').innerText()
  assert.match(details, /Stream\s+Master MP3/)
  assert.match(details, /Description\s+The master's MP3/)
  assert.match(details, /Genre\s+Jazz & Blues/)
  assert.match(details, /Started\s+\w{3}, \d\d \w{3} \d{4} [\d:]{8} [+-]\d{4}/)
  assert.match(details, /Listeners\s+0 \(peak 0\)/)
  assert.match(details, /Now playing\s+Long Track/)
  assert.match(details, /Bitrate\s+128 kbit\/s/)
  const listen = relay.url('/stations/radio.mp3')
  assert.equal(await mp3.locator('.listen > a').getAttribute('href'), listen)
  assert.deepEqual(await mp3.locator('.playlists a').evaluateAll((links: HTMLAnchorElement[]) => links.map((a) => [a.textContent, a.href])),
    [['M3U', `${listen}.m3u`], ['PLS', `${listen}.pls`], ['XSPF', `${listen}.xspf`]])
  assert.equal(await page.locator('section.mount').count(), 4)

  const aac = await page.locator('section.mount[data-mount="/radio.aac"] dl').innerText()
  assert.match(aac, /Stream\s+Master AAC/)
  const aacBitrate = Number(/Bitrate\s+(\d+) kbit\/s/.exec(aac)?.[1])
  assert.ok(aacBitrate >= 80 && aacBitrate <= 112, `AAC at ${aacBitrate} kbit/s, from its ADTS frames`)
  assert.match(aac, /Type\s+audio\/aac/)
  assert.match(await page.locator('section.mount[data-mount="/radio.ogg"] dl').innerText(), /Bitrate\s+\d+ kbit\/s/)

  const gone = page.locator('section.mount[data-mount="/gone.mp3"]')
  assert.equal(await gone.getAttribute('data-state'), 'retrying')
  assert.match(await gone.locator('.why').innerText(), /^Not live: its upstream refuses the stream \(FST_ICECAST_RELAY_UPSTREAM_STATUS, /)
  assert.equal(await gone.locator('audio').count(), 0, 'no player for a mount that plays nothing')
  assert.doesNotMatch(await gone.innerText(), /127\.0\.0\.1:\d+\/gone/, 'the upstream\'s address stays with the admins')

  // the play button of the mount's own <audio controls>: its left end
  const player = mp3.locator('audio')
  const box = (await player.boundingBox())!
  await page.mouse.click(box.x + 20, box.y + box.height / 2)
  await page.waitForFunction(() => {
    const audio = document.querySelector<HTMLAudioElement>('section[data-mount="/radio.mp3"] audio')!
    return audio.currentTime > 1.5
  }, undefined, { timeout: 15000 })
  const played = await player.evaluate((audio: HTMLAudioElement) => ({ paused: audio.paused, error: audio.error?.message ?? null, src: audio.currentSrc }))
  assert.deepEqual(played, { paused: false, error: null, src: relay.url('/stations/radio.mp3') })
  assert.equal(relay.app.relay.get('/radio.mp3')!.listeners, 1, 'the browser is the mount\'s listener')
  const screenshot = join(browser.dir, 'status-page.png')
  await page.screenshot({ path: screenshot, fullPage: true })
  t.diagnostic(`screenshot while playing: ${screenshot} (kept with HARNESS_KEEP_TMP=1; docs/status-page.png is one)`)
  assert.deepEqual(blocked, [], 'the CSP lets the page\'s own style and script run')

  await page.reload()
  assert.match(await page.locator('section.mount[data-mount="/radio.mp3"] dl').innerText(), /Listeners\s+[01] \(peak 1\)/)
  await page.close()
})

test('a new title shows in the page without a reload, as text whatever markup it holds', async () => {
  const page = await browser.context.newPage()
  await page.goto(relay.url('/stations/status.xsl'))
  const title = page.locator('section.mount[data-mount="/radio.mp3"] .now-playing')
  assert.equal(await title.innerText(), 'Long Track')
  await page.evaluate(() => { (window as unknown as { loadedOnce: boolean }).loadedOnce = true })

  const hostile = 'New <img src=x onerror="window.pwned=1"> & <script>window.pwned=2</script> Title'
  await master.updateMetadata('/live.mp3', hostile)
  await waitUntil(() => relay.app.relay.get('/radio.mp3')!.metadata?.title === hostile, 10000, 'the new title at the relay')
  await page.waitForFunction((text) => document.querySelector('section[data-mount="/radio.mp3"] .now-playing')?.textContent === text, hostile, { timeout: 15000 })

  const state = await page.evaluate(() => ({
    sameDocument: (window as unknown as { loadedOnce?: boolean }).loadedOnce === true,
    pwned: (window as unknown as { pwned?: number }).pwned ?? null,
    children: document.querySelector('section[data-mount="/radio.mp3"] .now-playing')!.children.length
  }))
  assert.deepEqual(state, { sameDocument: true, pwned: null, children: 0 })
  // the other mounts keep theirs
  assert.equal(await page.locator('section.mount[data-mount="/radio.aac"] .now-playing').innerText(), '—')
  await page.close()
})
