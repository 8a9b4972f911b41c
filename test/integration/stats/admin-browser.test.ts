// The status page in a real browser: headless Chromium loads /status.xsl of a relay of a real Icecast 2
// master and plays a mount with the page's own player, which makes the browser one of its listeners.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { launchChromium, type Browser } from '../../helpers/browser.js'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import { assertTools, makeFixtures, startIcecast, startSource, type Icecast, type Source } from '../../helpers/icecast.js'

let master: Icecast
const sources: Source[] = []
let relay: RelayApp
let browser: Browser

before(async () => {
  assertTools('icecast2', 'ezstream', 'chromium')
  const fixtures = await makeFixtures()
  master = await startIcecast()
  sources.push(await startSource({ icecast: master, mount: '/live.mp3', files: [fixtures.mp3.long], format: 'mp3', name: 'Master MP3', bitrate: 128 }))
  sources.push(await startSource({ icecast: master, mount: '/live.ogg', files: [fixtures.vorbis.long], format: 'ogg' }))
  relay = await relayApp({
    relays: [
      { server: master.host, port: master.port, mount: '/live.mp3', localMount: '/radio.mp3' },
      { server: master.host, port: master.port, mount: '/live.ogg', localMount: '/radio.ogg' }
    ],
    location: 'Browser test',
    prefix: '/stations'
  })
  await waitForState(relay.app, '/radio.mp3', 'live')
  await waitForState(relay.app, '/radio.ogg', 'live')
  await waitUntil(() => relay.app.relay.get('/radio.mp3')!.metadata?.title === 'Long Track', 10000, 'the master\'s title')
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await relay?.app.close()
  await Promise.all(sources.map((s) => s.stop()))
  await master?.stop()
})

test('Chromium shows every mount with its state, listeners, title and bitrate, and plays one with the page\'s player', async (t) => {
  const page = await browser.context.newPage()
  const response = await page.goto(relay.url('/stations/status.xsl'))
  assert.equal(response?.status(), 200)
  assert.equal(await page.title(), 'fastify-icecast-relay: status')
  assert.equal(await page.locator('h1').textContent(), 'Browser test')

  const mp3 = page.locator('section.mount[data-mount="/radio.mp3"]')
  assert.equal(await mp3.getAttribute('data-state'), 'live')
  assert.equal(await mp3.locator('.state').textContent(), 'live')
  const details = await mp3.locator('dl').innerText()
  assert.match(details, /Stream\s+Master MP3/)
  assert.match(details, /Listeners\s+0 \(peak 0\)/)
  assert.match(details, /Now playing\s+Long Track/)
  assert.match(details, /Bitrate\s+128 kbit\/s/)
  assert.equal(await page.locator('section.mount').count(), 2)

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
  const screenshot = join(browser.dir, 'status.png')
  await page.screenshot({ path: screenshot, fullPage: true })
  t.diagnostic(`screenshot while playing: ${screenshot} (kept with HARNESS_KEEP_TMP=1)`)

  await page.reload()
  assert.match(await page.locator('section.mount[data-mount="/radio.mp3"] dl').innerText(), /Listeners\s+[01] \(peak 1\)/)
  await page.close()
})
