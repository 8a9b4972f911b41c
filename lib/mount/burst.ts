import { NO_SYNC, SYNC_ANYWHERE } from '../formats/sink.js'

interface Entry {
  chunk: Buffer
  /** offset of the chunk's first place to start: NO_SYNC, SYNC_ANYWHERE or an offset */
  sync: number
  /** stream position of the chunk's first byte */
  start: number
}

/**
 * The recent bytes of a stream, kept as the chunks that arrived (shared, never copied), so that a new
 * listener can start with up to `size` bytes at once instead of waiting for the live edge. The burst
 * starts at a place the format allows (a frame or page start), never before the current codec headers.
 */
export class BurstRing {
  readonly size: number
  #entries: Entry[] = []
  #end = 0
  #notBefore = 0

  constructor (size: number) {
    this.size = size
  }

  push (chunk: Buffer, sync: number): void {
    this.#entries.push({ chunk, sync, start: this.#end })
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

  /** Places to start before this point belong to codec headers that are no longer current. */
  markHeadersChanged (): void {
    this.#notBefore = this.#end
  }

  /**
   * The bytes from the earliest place to start within the last `size` bytes to the live edge, as
   * shared slices; undefined when the window holds no place to start.
   */
  recent (): Buffer[] | undefined {
    const from = Math.max(this.#end - this.size, this.#notBefore)
    for (const [i, entry] of this.#entries.entries()) {
      const offset = this.#startIn(entry, from)
      if (offset === undefined) continue
      const rest = this.#entries.slice(i + 1).map((e) => e.chunk)
      return offset === 0 ? [entry.chunk, ...rest] : [entry.chunk.subarray(offset), ...rest]
    }
    return undefined
  }

  #startIn (entry: Entry, from: number): number | undefined {
    if (entry.sync === NO_SYNC) return undefined
    const offset = entry.sync === SYNC_ANYWHERE ? Math.max(0, from - entry.start) : entry.sync
    return entry.start + offset >= from && offset < entry.chunk.length ? offset : undefined
  }

  clear (): void {
    this.#entries = []
    this.#notBefore = this.#end
  }
}
