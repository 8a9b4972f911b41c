// hls.js (npm `hls.js`) in headless Chromium: a page of our own, served from a loopback port of its own (so
// that the HLS URLs it plays are cross-origin, as a web player's are), plays one URL and keeps a report of
// what hls.js and the <audio> element saw: currentTime, errors (fatal or not), stalls, the fragments it
// played and the timed ID3 metadata it exposed as cues.
import { createReadStream } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import type { Page } from 'playwright-core'
import type { Browser } from './browser.js'

const HLS_JS = createRequire(import.meta.url).resolve('hls.js/dist/hls.js')

/** What the page saw, read with `HlsPlayer.report()`. */
export interface PlayerReport {
  currentTime: number
  paused: boolean
  /** `type: details` of each fatal error event (a player that got one stops) */
  fatal: string[]
  /** `type: details` of every other error event (hls.js recovers from them) */
  errors: string[]
  /** `waiting` events of the <audio> element after it started playing: the player ran dry */
  stalls: number
  /** media sequence numbers of the fragments hls.js loaded, in order */
  fragments: number[]
  /** how many fragments carried a discontinuity (EXT-X-DISCONTINUITY before them) */
  discontinuities: number
  /** the times (s) of the timed ID3 samples hls.js parsed (FRAG_PARSING_METADATA): one per ID3 tag */
  id3Samples: number[]
  /** the cues of the element's metadata text tracks: one per ID3 frame hls.js exposes (TIT2: the title) */
  cues: Array<{ startTime: number, key: string, data: string }>
}

// Runs in the page. Kept as plain JavaScript (the page loads no bundler): hls.js from /hls.js, the URL to
// play from ?src=. The audio element's metadata tracks are read live by report() below.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>hls.js player</title></head>
<body><audio id="player" controls></audio>
<script src="/hls.js"></script>
<script>
const audio = document.getElementById('player')
const state = { fatal: [], errors: [], stalls: 0, fragments: [], discontinuities: 0, id3Samples: [], started: false }
window.playerState = state
audio.addEventListener('playing', () => { state.started = true })
audio.addEventListener('waiting', () => { if (state.started) state.stalls++ })
audio.textTracks.addEventListener('addtrack', (event) => { event.track.mode = 'hidden' })
const hls = new Hls({ enableID3MetadataCues: true })
hls.on(Hls.Events.ERROR, (event, data) => { (data.fatal ? state.fatal : state.errors).push(data.type + ': ' + data.details) })
hls.on(Hls.Events.FRAG_LOADED, (event, data) => {
  state.fragments.push(data.frag.sn)
  if (data.frag.tagList.some((tag) => tag[0] === 'DIS')) state.discontinuities++
})
hls.on(Hls.Events.FRAG_PARSING_METADATA, (event, data) => { for (const sample of data.samples) state.id3Samples.push(sample.pts) })
hls.on(Hls.Events.MANIFEST_PARSED, () => { audio.play().catch((e) => state.fatal.push('play(): ' + e.message)) })
hls.on(Hls.Events.MEDIA_ATTACHED, () => { hls.loadSource(new URLSearchParams(location.search).get('src')) })
hls.attachMedia(audio)
</script></body></html>
`

export interface PlayerServer {
  /** the page that plays `src` */
  pageUrl: (src: string) => string
  close: () => Promise<void>
}

/** Serves the player page and hls.js's dist file on a loopback port of their own. */
export async function startPlayerServer (): Promise<PlayerServer> {
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname
    if (path === '/player.html') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE)
    } else if (path === '/hls.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' })
      createReadStream(HLS_JS).pipe(response)
    } else {
      response.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    pageUrl: (src) => `${base}/player.html?src=${encodeURIComponent(src)}`,
    close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) }
  }
}

export interface HlsPlayer {
  page: Page
  report: () => Promise<PlayerReport>
  /** waits until currentTime passes `seconds`; throws with the report on a fatal error or a timeout */
  waitForTime: (seconds: number, timeoutMs: number) => Promise<PlayerReport>
  /** waits until a metadata cue has `data` (e.g. a title); throws with the report after `timeoutMs` */
  waitForCue: (data: string, timeoutMs: number) => Promise<PlayerReport>
  close: () => Promise<void>
}

/** Opens the player page in a tab of its own on `src` (an HLS playlist's URL). */
export async function playHls (browser: Browser, server: PlayerServer, src: string): Promise<HlsPlayer> {
  const page = await browser.context.newPage()
  await page.goto(server.pageUrl(src))
  const report = async (): Promise<PlayerReport> => await page.evaluate(() => {
    const audio = document.getElementById('player') as HTMLAudioElement
    const { started, ...state } = (window as unknown as { playerState: Omit<PlayerReport, 'currentTime' | 'paused' | 'cues'> & { started: boolean } }).playerState
    const cues: PlayerReport['cues'] = []
    for (const track of Array.from(audio.textTracks)) {
      if (track.kind !== 'metadata') continue
      for (const cue of Array.from(track.cues ?? [])) {
        const value = (cue as TextTrackCue & { value?: { key?: string, data?: unknown } }).value
        cues.push({ startTime: cue.startTime, key: String(value?.key), data: String(value?.data) })
      }
    }
    return { ...state, currentTime: audio.currentTime, paused: audio.paused, cues }
  })
  const waitUntil = async (done: (r: PlayerReport) => boolean, what: string, timeoutMs: number): Promise<PlayerReport> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const r = await report()
      if (r.fatal.length > 0) throw new Error(`hls.js stopped on a fatal error before ${what}: ${JSON.stringify(r)}`)
      if (done(r)) return r
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(r)}`)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
  return {
    page,
    report,
    waitForTime: async (seconds, timeoutMs) => await waitUntil((r) => r.currentTime > seconds, `currentTime > ${seconds} s`, timeoutMs),
    waitForCue: async (data, timeoutMs) => await waitUntil((r) => r.cues.some((c) => c.data === data), `a metadata cue ${JSON.stringify(data)}`, timeoutMs),
    close: async () => await page.close()
  }
}
