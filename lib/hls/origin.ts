import { Value } from '@sinclair/typebox/value'
import { HlsOriginError } from '../errors.js'
import { basicAuthorization } from '../http.js'
import type { HlsOrigin } from '../options.js'
import { WindowAnswerSchema, windowOf, type HlsWindow } from './window.js'
import { windowCacheMs } from './windowing.js'

/** ms a request to the origin may take: it is on loopback, and players retry a 503 */
const ORIGIN_TIMEOUT_MS = 2000

/** The path of a mount's window on the process that cuts its segments. */
const WINDOW_FILE = 'hls-window.json'

interface Fetched<T> {
  value: Promise<T>
  until: number
}

/**
 * Values fetched by key, each kept until its time is up, a fetch in flight shared by every asker (a failed
 * one is forgotten at once), at most `max` kept: the oldest go first.
 */
class Coalesced<T> {
  readonly #entries = new Map<string, Fetched<T>>()
  readonly #max: number

  constructor (max: number) {
    this.#max = max
  }

  /** `olderThanMs`: a value kept longer than that is fetched again too (one in flight is always shared) */
  async get (key: string, keepMs: number, fetch: () => Promise<T>, olderThanMs = keepMs): Promise<T> {
    const now = Date.now()
    const kept = this.#entries.get(key)
    if (kept !== undefined && now < kept.until && kept.until - keepMs > now - olderThanMs) return await kept.value
    this.#entries.delete(key)
    // kept from when the fetch ends, not from when it starts, once it did: until then, shared as it runs
    const entry: Fetched<T> = { value: fetch(), until: Number.POSITIVE_INFINITY }
    this.#entries.set(key, entry)
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#max) break
      this.#entries.delete(oldest)
    }
    entry.value.then(() => { entry.until = Date.now() + keepMs }, () => { if (this.#entries.get(key) === entry) this.#entries.delete(key) })
    return await entry.value
  }
}

export interface RemoteSettings {
  segmentSeconds: number
  windowSegments: number
}

/** Mounts whose windows and segments a worker keeps at once, at most: beyond, the oldest are fetched again. */
const MOUNTS_KEPT = 64

/**
 * The HLS windows of a machine's mounts as the process that cuts them (the primary of `--workers`) has them:
 * each mount's window fetched at most once in half a target duration whatever the number of players, and
 * each segment once for the length of the window (segments never change under their sequence).
 */
export class RemoteWindows {
  readonly #origin: HlsOrigin
  readonly #windows = new Coalesced<HlsWindow>(MOUNTS_KEPT)
  readonly #segments: Coalesced<Buffer | undefined>

  constructor (origin: HlsOrigin, maxWindowSegments: number) {
    this.#origin = origin
    this.#segments = new Coalesced(MOUNTS_KEPT * maxWindowSegments)
  }

  /** `olderThanMs`: the kept window is fetched again if it is older than that (default: as long as it is kept) */
  async window (localMount: string, settings: RemoteSettings, olderThanMs?: number): Promise<HlsWindow> {
    const keepMs = windowCacheMs(settings.segmentSeconds)
    return await this.#windows.get(localMount, keepMs, async () => {
      const answer: unknown = await (await this.#fetch(`${encodeURI(localMount)}/${WINDOW_FILE}`, true))?.json()
      if (!Value.Check(WindowAnswerSchema, answer)) throw new HlsOriginError(`${this.#origin.url}${localMount}`, 'its window could not be read')
      return windowOf(answer)
    }, olderThanMs)
  }

  /**
   * The bytes of segment `name` cut at `createdAt` (a relay added again numbers its segments from 0 again);
   * undefined when the origin has it no longer.
   */
  async segment (localMount: string, name: string, createdAt: number, settings: RemoteSettings): Promise<Buffer | undefined> {
    const keepMs = settings.segmentSeconds * settings.windowSegments * 1000
    return await this.#segments.get(`${localMount}/${name}@${createdAt}`, keepMs, async () => {
      const response = await this.#fetch(`${encodeURI(localMount)}/${name}`, false)
      return response === undefined ? undefined : Buffer.from(await response.arrayBuffer())
    })
  }

  /**
   * The origin's answer to `path` (percent-encoded: a mount may have `%` or non-ASCII in its name, never `?` or `#`);
   * undefined for a 404 (a window that is not live, a segment gone); throws on any other.
   */
  async #fetch (path: string, json: boolean): Promise<Response | undefined> {
    const { url, username, password } = this.#origin
    const response = await fetch(url + path, {
      headers: { authorization: basicAuthorization(username, password), ...(json && { accept: 'application/json' }) },
      signal: AbortSignal.timeout(ORIGIN_TIMEOUT_MS)
    })
    if (response.status === 404 && !json) return undefined
    if (!response.ok) throw new HlsOriginError(`${url}${path}`, `answered ${response.status}`)
    return response
  }
}
