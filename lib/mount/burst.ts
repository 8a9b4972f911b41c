import { NO_SYNC, SYNC_ANYWHERE } from '../formats/sink.js'

interface Entry {
  chunk: Buffer
  /** offset of the chunk's first place to start: NO_SYNC, SYNC_ANYWHERE or an offset */
  sync: number
  /** stream position of the chunk's first byte */
  start: number
  /** the codec headers in effect when the chunk came (shared, never copied); undefined before any */
  headers: Buffer[] | undefined
}

/** A burst: the codec headers of the chain it starts in, then recent bytes from a place to start. */
export interface Burst {
  headers: Buffer[]
  chunks: Buffer[]
}

/**
 * The recent bytes of a stream, kept as the chunks that arrived (shared, never copied), so that a new
 * listener can start with up to `size` bytes at once instead of waiting for the live edge. The burst
 * starts at a place the format allows (a frame or page start), never before the stream's first codec
 * headers. It may start in an earlier Ogg chain than the current one: then with that chain's headers,
 * and the later chains' header pages follow in the stream, as in a chained Ogg file.
 */
export class BurstRing {
  readonly size: number
  #entries: Entry[] = []
  #end = 0
  #notBefore = 0
  #headers: Buffer[] | undefined

  constructor (size: number) {
    this.size = size
  }

  push (chunk: Buffer, sync: number): void {
    this.#entries.push({ chunk, sync, start: this.#end, headers: this.#headers })
    this.#end += chunk.length
    this.#trim()
  }

  /** Drops whole chunks that lie entirely before the window. */
  #trim (): void {
    const windowStart = this.#end - this.size
    while (this.#entries.length > 0 && this.#entries[0]!.start + this.#entries[0]!.chunk.length <= windowStart) {
      this.#entries.shift()
    }
  }

  /**
   * The codec headers of the chunks pushed from now on. The first ones mark the bytes before them
   * (passed on before the format showed) as no place to start.
   */
  setHeaders (pages: Buffer[]): void {
    if (this.#headers === undefined) this.#notBefore = this.#end
    this.#headers = pages
  }

  /**
   * The headers and bytes from the earliest place to start within the last `size` bytes to the live
   * edge, as shared slices; undefined when the window holds no place to start.
   */
  recent (): Burst | undefined {
    const from = Math.max(this.#end - this.size, this.#notBefore)
    for (const [i, entry] of this.#entries.entries()) {
      const offset = this.#startIn(entry, from)
      if (offset === undefined) continue
      const rest = this.#entries.slice(i + 1).map((e) => e.chunk)
      const chunks = offset === 0 ? [entry.chunk, ...rest] : [entry.chunk.subarray(offset), ...rest]
      return { headers: entry.headers ?? [], chunks }
    }
    return undefined
  }

  #startIn (entry: Entry, from: number): number | undefined {
    if (entry.sync === NO_SYNC) return undefined
    const offset = entry.sync === SYNC_ANYWHERE ? Math.max(0, from - entry.start) : entry.sync
    return entry.start + offset >= from && offset < entry.chunk.length ? offset : undefined
  }

  /** A new stream: nothing before this point is a place to start, and its headers are not known yet. */
  clear (): void {
    this.#entries = []
    this.#notBefore = this.#end
    this.#headers = undefined
  }
}
