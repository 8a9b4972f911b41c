// HLS listeners without a browser, as many as a load needs: each session polls a live playlist at the rate
// hls.js does and fetches each new segment once, in order, on a keep-alive connection of its own, and keeps
// account of what it got (bytes, segments, errors, segments it missed, stalls of its simulated playback).
import { setMaxListeners } from 'node:events'
import { Agent, get } from 'node:http'

export interface MediaPlaylist {
  targetDuration: number
  mediaSequence: number
  /** absolute URLs and durations, in order; `discontinuity`: EXT-X-DISCONTINUITY before it */
  segments: Array<{ sequence: number, url: string, duration: number, discontinuity: boolean }>
  endList: boolean
}

/** The first variant's URL of a multivariant playlist, or null for a media playlist. */
export function firstVariant (text: string, base: string): string | null {
  const lines = text.split(/\r?\n/).map((l) => l.trim())
  const at = lines.findIndex((l) => l.startsWith('#EXT-X-STREAM-INF'))
  if (at === -1) return null
  const uri = lines.slice(at + 1).find((l) => l !== '' && !l.startsWith('#'))
  if (uri === undefined) throw new Error('a multivariant playlist with no variant URI')
  return new URL(uri, base).href
}

/** Parses a media playlist (the tags a live audio playlist has); URLs resolved against `base`. */
export function parseMediaPlaylist (text: string, base: string): MediaPlaylist {
  const lines = text.split(/\r?\n/).map((l) => l.trim())
  if (lines[0] !== '#EXTM3U') throw new Error(`not a playlist: ${JSON.stringify(text.slice(0, 40))}`)
  const tag = (name: string): string | undefined => lines.find((l) => l.startsWith(`#${name}:`))?.slice(name.length + 2)
  const targetDuration = Number(tag('EXT-X-TARGETDURATION'))
  const mediaSequence = Number(tag('EXT-X-MEDIA-SEQUENCE') ?? 0)
  if (!Number.isFinite(targetDuration)) throw new Error('a media playlist without #EXT-X-TARGETDURATION')
  const segments: MediaPlaylist['segments'] = []
  let duration: number | undefined
  let discontinuity = false
  for (const line of lines) {
    if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8))
    else if (line === '#EXT-X-DISCONTINUITY') discontinuity = true
    else if (line !== '' && !line.startsWith('#')) {
      if (duration === undefined) throw new Error(`segment ${line} without #EXTINF`)
      segments.push({ sequence: mediaSequence + segments.length, url: new URL(line, base).href, duration, discontinuity })
      duration = undefined
      discontinuity = false
    }
  }
  return { targetDuration, mediaSequence, segments, endList: lines.includes('#EXT-X-ENDLIST') }
}

export interface HlsSession {
  /** media sequence numbers of the segments fetched, in order */
  segments: number[]
  bytes: number
  playlistRequests: number
  segmentRequests: number
  /** segments that left the window before this session fetched them */
  missed: number[]
  /** non-200 answers and network errors, as `URL: what` */
  errors: string[]
  /** times the simulated playback ran out of fetched audio */
  stalls: number
  /** discontinuities seen on fetched segments */
  discontinuities: number
}

async function fetchBody (url: string, agent: Agent, timeoutMs: number): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const request = get(url, { agent, timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => {
        if (response.statusCode === 200) resolve(Buffer.concat(chunks))
        else reject(new Error(`HTTP ${response.statusCode}`))
      })
      response.on('error', reject)
    })
    request.on('timeout', () => request.destroy(new Error(`no answer in ${timeoutMs} ms`)))
    request.on('error', reject)
  })
}

const sleep = async (ms: number, signal: AbortSignal): Promise<void> => await new Promise((resolve) => {
  const timer = setTimeout(done, ms)
  function done (): void { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
  signal.addEventListener('abort', done, { once: true })
})

/** hls.js starts this many target durations behind the live edge (liveSyncDurationCount). */
const LIVE_SYNC_SEGMENTS = 3

/**
 * One listener until `signal` aborts: from `url` (multivariant or media playlist) it starts three segments
 * behind the live edge, reloads the playlist after a segment's duration when it grew and after half a
 * target duration when it did not (RFC 8216 §6.3.4, as hls.js does), and fetches each new segment once.
 * Playback starts with the first segment and runs in real time; it stalls whenever it reaches the end of
 * what was fetched.
 */
export async function hlsSession (url: string, signal: AbortSignal, { timeoutMs = 10000 }: { timeoutMs?: number } = {}): Promise<HlsSession> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const session: HlsSession = { segments: [], bytes: 0, playlistRequests: 0, segmentRequests: 0, missed: [], errors: [], stalls: 0, discontinuities: 0 }
  let next: number | undefined
  let playlistUrl = url
  let playStart: number | undefined
  let fetchedSeconds = 0
  const playback = (): void => {
    if (playStart === undefined) return
    if ((Date.now() - playStart) / 1000 > fetchedSeconds) {
      session.stalls++
      playStart = Date.now() - fetchedSeconds * 1000 // it plays on from where it ran dry
    }
  }
  try {
    while (!signal.aborted) {
      let playlist: MediaPlaylist
      try {
        session.playlistRequests++
        const text = (await fetchBody(playlistUrl, agent, timeoutMs)).toString('utf8')
        const variant = firstVariant(text, playlistUrl)
        if (variant !== null) { playlistUrl = variant; continue }
        playlist = parseMediaPlaylist(text, playlistUrl)
      } catch (e) {
        if (!signal.aborted) session.errors.push(`${playlistUrl}: ${(e as Error).message}`)
        await sleep(1000, signal)
        continue
      }
      const { segments } = playlist
      next ??= segments[Math.max(0, segments.length - LIVE_SYNC_SEGMENTS)]?.sequence
      let grew = false
      for (const segment of segments) {
        if (signal.aborted || next === undefined || segment.sequence < next) continue
        for (let s = next; s < segment.sequence; s++) session.missed.push(s)
        playback()
        try {
          session.segmentRequests++
          const body = await fetchBody(segment.url, agent, timeoutMs)
          session.bytes += body.length
          session.segments.push(segment.sequence)
          if (segment.discontinuity) session.discontinuities++
          fetchedSeconds += segment.duration
          playStart ??= Date.now()
        } catch (e) {
          if (signal.aborted) break
          session.errors.push(`${segment.url}: ${(e as Error).message}`)
        }
        next = segment.sequence + 1
        grew = true
      }
      if (playlist.endList) break
      const last = segments.at(-1)
      await sleep((grew && last !== undefined ? last.duration : playlist.targetDuration / 2) * 1000, signal)
    }
  } finally {
    agent.destroy()
  }
  return session
}

/** `sessions` listeners on `url` for `seconds`, started evenly over `rampSeconds` (default: at once). */
export async function hlsLoad (url: string, { sessions, seconds, rampSeconds = 0 }: { sessions: number, seconds: number, rampSeconds?: number }): Promise<HlsSession[]> {
  const stop = new AbortController()
  setMaxListeners(sessions + 10, stop.signal) // each session waits on it
  const timer = setTimeout(() => stop.abort(), seconds * 1000)
  try {
    return await Promise.all(Array.from({ length: sessions }, async (_, i) => {
      await sleep(rampSeconds * 1000 * i / sessions, stop.signal)
      return await hlsSession(url, stop.signal)
    }))
  } finally {
    clearTimeout(timer)
  }
}
