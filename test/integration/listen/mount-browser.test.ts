// A mount is on the host app's origin: headless Chromium opens mounts whose upstream answers what a browser
// would render and run, next to a route of the host app that counts the requests a script would make.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { launchChromium, type Browser } from '../../helpers/browser.js'
import { LISTENER_SAFETY_HEADERS } from '../../../lib/mount/headers.js'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import { makeFixtures } from '../../helpers/fixtures.js'
import { sleep } from '../../helpers/procs.js'
import { scriptedUpstream, type ScriptedUpstream } from '../../helpers/scripted.js'

/** A document that, wherever a browser runs it, asks the host app's `/hit` route. */
const svg = (from: string): string =>
  `<svg xmlns="http://www.w3.org/2000/svg"><script>fetch('/hit?from=${from}')</script><text y="20">UPSTREAM-DOCUMENT</text></svg>`
const xhtml = (from: string): string =>
  `<html xmlns="http://www.w3.org/1999/xhtml"><body><script>fetch('/hit?from=${from}')</script>UPSTREAM-DOCUMENT</body></html>`

let browser: Browser
let relay: RelayApp
const upstreams: ScriptedUpstream[] = []
const hits: string[] = []

before(async () => {
  browser = await launchChromium()
  const svgUpstream = await scriptedUpstream({ head: `HTTP/1.0 200 OK\r\nContent-Type: image/svg+xml\r\n\r\n${svg('svg-mount')}` })
  const xhtmlUpstream = await scriptedUpstream({ head: `HTTP/1.0 200 OK\r\nContent-Type: application/xhtml+xml\r\n\r\n${xhtml('xhtml-mount')}` })
  const mp3Upstream = await scriptedUpstream({ headers: { 'icy-name': 'MP3' } })
  upstreams.push(svgUpstream, xhtmlUpstream, mp3Upstream)
  relay = await relayApp({
    relays: [
      { url: svgUpstream.url(), localMount: '/picture.svg' },
      { url: xhtmlUpstream.url(), localMount: '/page.xhtml' },
      { url: mp3Upstream.url(), localMount: '/radio.mp3' }
    ]
  }, (app) => {
    app.get('/hit', async (request) => { hits.push(request.url); return 'counted' })
    // the same document served by the host app itself: shows that the probe does run where it is allowed to
    app.get('/control.svg', async (_request, reply) => reply.type('image/svg+xml').send(svg('control')))
    // and with the headers every listener answer carries: shows that they stop it
    app.get('/guarded.svg', async (_request, reply) => {
      for (const [name, value] of LISTENER_SAFETY_HEADERS) reply.header(name, value)
      return await reply.type('image/svg+xml').send(svg('guarded'))
    })
  })
  await waitForState(relay.app, '/radio.mp3', 'live')
  // a 3 s track, again and again: a live stream to the player
  const track = readFileSync((await makeFixtures()).mp3.tracks[0]!.file)
  mp3Upstream.push(track)
  setInterval(() => mp3Upstream.push(track), 2500).unref()
})

after(async () => {
  await browser?.close()
  await relay?.app.close()
  await Promise.all(upstreams.map((upstream) => upstream.close()))
})

test('an upstream answering SVG or XHTML with a script is refused: Chromium gets 503 and the script never runs', async () => {
  const page = await browser.context.newPage()
  await page.goto(relay.url('/control.svg'))
  await waitUntil(() => hits.includes('/hit?from=control'), 5000, 'the probe to run on a page of the host app')

  for (const [mount, type] of [['/picture.svg', 'image/svg+xml'], ['/page.xhtml', 'application/xhtml+xml']]) {
    await waitUntil(() => relay.app.relay.get(mount)!.lastError?.code === 'FST_ICECAST_RELAY_NOT_AUDIO', 5000, `${mount} refused`)
    const status = relay.app.relay.get(mount)!
    assert.match(status.lastError!.message, new RegExp(`answered Content-Type ${type.replace('+', '\\+')}, not an audio or video stream`))
    assert.notEqual(status.state, 'live')
    assert.equal(status.bytesIn, 0)
    // the page is opened as soon as it answers: a stream would never finish loading
    const response = await page.goto(relay.url(mount), { waitUntil: 'commit' })
    assert.equal(response?.status(), 503)
    assert.match(response?.headers()['content-type'] ?? '', /^text\/plain/)
    assert.doesNotMatch(await page.content(), /UPSTREAM-DOCUMENT|<script/)
  }
  await sleep(1000)
  assert.deepEqual(hits, ['/hit?from=control'], 'no script of an upstream ran on the app\'s origin')
  await page.close()
})

test('the headers of a listener answer stop a document from running, should one ever be served', async () => {
  const page = await browser.context.newPage()
  await page.goto(relay.url('/guarded.svg'))
  assert.match(await page.content(), /UPSTREAM-DOCUMENT/, 'the document itself is shown')
  await sleep(1000)
  assert.ok(!hits.includes('/hit?from=guarded'), 'its script did not run')
  await page.close()
})

test('an audio mount opened in a Chromium tab still plays under those headers', async () => {
  const page = await browser.context.newPage()
  const response = await page.goto(relay.url('/radio.mp3'), { waitUntil: 'commit' })
  assert.equal(response?.status(), 200)
  for (const [name, value] of LISTENER_SAFETY_HEADERS) assert.equal(response?.headers()[name.toLowerCase()], value)
  // polled from here, as the page's CSP forbids Playwright's eval
  const player = async (): Promise<{ time: number, paused: boolean, error: string | null }> => await page.evaluate(() => {
    const video = document.querySelector('video')
    return { time: video?.currentTime ?? 0, paused: video?.paused ?? true, error: video?.error?.message ?? null }
  })
  // Chromium's own player page for a media URL (it does not start an endless stream by itself): its play
  // button, pressed again while the player is still paused, as a click before its controls are laid out is lost
  let state = await player()
  for (const start = Date.now(); state.time <= 0.5 && Date.now() - start < 20000; state = await player()) {
    if (state.paused) {
      const box = await page.locator('video').boundingBox()
      if (box !== null) await page.mouse.click(box.x + 20, box.y + box.height - 20)
    }
    await sleep(250)
  }
  assert.ok(state.time > 0.5, `played ${state.time} s`)
  assert.equal(state.error, null)
  await page.close()
})
