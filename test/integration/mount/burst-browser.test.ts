// Time to first play in a browser right after a track change of a low-bitrate Ogg Vorbis stream: headless
// Chromium plays the relay's mount and Icecast's at the same moment. A browser starts playing once it has
// buffered enough audio, so the burst decides: right after a track change the relay's must reach back into
// the previous track (its headers, then its tail, then the new track), as Icecast's does.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { launchChromium, type Browser } from '../../helpers/browser.js'
import { relayApp, waitForState, type RelayApp } from '../../helpers/app.js'
import { runOk } from '../../helpers/procs.js'
import { assertTools, makeTempDir, openListener, runOgginfo, sleep, startIcecast, startSource, type Icecast, type Source } from '../../helpers/icecast.js'

const BURST = 65535
/** How much later than Icecast's the relay's first play may come: the browser's own jitter. */
const MARGIN_MS = 1500
const TRACK_SECONDS = 10

let icecast: Icecast
let source: Source
let relay: RelayApp
let browser: Browser

/** Tracks of about 30 kbit/s (mono, 22.05 kHz, oggenc -q 0): a browser needs seconds of them before it plays. */
async function lowBitrateTracks (): Promise<string[]> {
  const dir = makeTempDir('low-bitrate')
  return await Promise.all([330, 440, 550].map(async (freq, i) => {
    const wav = join(dir, `track${i}.wav`)
    const ogg = join(dir, `track${i}.ogg`)
    await runOk('sox', ['-m', '-v', '0.5', `|sox -n -r 22050 -c 1 -p synth ${TRACK_SECONDS} sine ${freq}`,
      '-v', '0.08', `|sox -n -r 22050 -c 1 -p synth ${TRACK_SECONDS} pinknoise`, '-r', '22050', '-c', '1', '-b', '16', wav])
    await runOk('oggenc', ['-Q', '-q', '0', '-t', `Track ${i}`, '-o', ogg, wav])
    return ogg
  }))
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'sox', 'oggenc', 'ogginfo', 'chromium')
  icecast = await startIcecast({ burstSize: BURST })
  source = await startSource({ icecast, mount: '/low.ogg', files: await lowBitrateTracks(), format: 'ogg' })
  relay = await relayApp({ relays: [{ server: icecast.host, port: icecast.port, mount: '/low.ogg' }], limits: { burstSize: BURST } })
  await waitForState(relay.app, '/low.ogg', 'live')
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await relay?.app.close()
  await source?.stop()
  await icecast?.stop()
})

/** Resolves at the relay's next track change (a new title from the next chain's comments). */
async function nextTrack (): Promise<string> {
  const current = relay.app.relay.get('/low.ogg')!.metadata?.title
  return await new Promise((resolve) => {
    const onMetadata = (e: { localMount: string, metadata: { title?: string } }): void => {
      if (e.metadata.title === current || e.metadata.title === undefined) return
      relay.app.relay.off('metadata', onMetadata)
      resolve(e.metadata.title)
    }
    relay.app.relay.on('metadata', onMetadata)
  })
}

/** Milliseconds from setting an <audio> element's source to its first time update past 0, in a page of its own. */
async function timeToPlay (url: string): Promise<{ ms: number, error: string | null }> {
  const page = await browser.context.newPage()
  try {
    return await page.evaluate(async (src) => {
      const audio = new Audio()
      const start = performance.now()
      const played = new Promise<number>((resolve) => {
        audio.addEventListener('timeupdate', () => { if (audio.currentTime > 0) resolve(performance.now() - start) })
      })
      audio.src = src
      audio.play().catch(() => {})
      const ms = await Promise.race([played, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 30000))])
      const error = audio.error?.message ?? null
      audio.pause()
      return { ms, error }
    }, url)
  } finally {
    await page.close()
  }
}

/** What a raw listener got within its first moments: the burst, and a little of the live stream. */
async function firstBytes (url: string): Promise<Buffer> {
  const listener = openListener(url)
  await listener.head
  await sleep(500)
  return (await listener.close()).body
}

test('right after a track change, Chromium starts playing the relay\'s low-bitrate Vorbis no later than Icecast\'s; the burst is near burstSize', async (t) => {
  // a track change long after the relay connected, so that its burst ring holds the previous track
  await sleep(TRACK_SECONDS * 1000)
  const title = await nextTrack()
  const [relayPlay, icecastPlay, relayBurst, icecastBurst] = await Promise.all([
    timeToPlay(relay.url('/low.ogg')),
    timeToPlay(icecast.url('/low.ogg')),
    firstBytes(relay.url('/low.ogg')),
    firstBytes(icecast.url('/low.ogg'))
  ])
  t.diagnostic(`after the change to ${title}: first play relay ${Math.round(relayPlay.ms)} ms, Icecast ${Math.round(icecastPlay.ms)} ms; ` +
    `first 500 ms relay ${relayBurst.length} bytes, Icecast ${icecastBurst.length} bytes`)
  assert.deepEqual([relayPlay.error, icecastPlay.error], [null, null])
  assert.ok(icecastPlay.ms > 0, 'Chromium plays Icecast\'s stream')
  assert.ok(relayPlay.ms > 0 && relayPlay.ms <= icecastPlay.ms + MARGIN_MS, `relay ${relayPlay.ms} ms, Icecast ${icecastPlay.ms} ms`)
  // the burst (from a page start, so up to a page less than burstSize) with the codec headers before it
  assert.ok(relayBurst.length >= 0.85 * BURST, `relay burst ${relayBurst.length} bytes`)
  // a chained Ogg file: the previous track's headers and tail, then the new track
  const info = await runOgginfo(relayBurst, { allowMidStreamJoin: true })
  assert.ok(info.ok, info.output)
  assert.ok(info.streams.length >= 2, info.output)
})
