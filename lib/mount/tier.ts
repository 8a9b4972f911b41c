import type { Listener } from './listener.js'

/**
 * A tier of a mount's streaming listeners (those over TLS are flushed apart) and the stream gathered for
 * them since its last flush. A listener that starts between two flushes was sent the gathered chunks in its
 * burst already, so it joins without a flush: it is noted with how many of them it holds, and the next
 * flush sends it only what came after. A crowd joining therefore forces no rounds of writes on the
 * listeners already in, however long the stream is gathered.
 */
export class Tier {
  /** the listeners sent every flush */
  readonly listeners = new Set<Listener>()
  /** chunks pushed since the last flush, while anyone streams or joins */
  #chunks: Buffer[] = []
  /** the bytes of `#chunks` */
  #bytes = 0
  /** listeners started since the last flush, each with how many of `#chunks` its start held */
  #joining = new Map<Listener, number>()
  /** the joiners of the flush under way, which a listener leaving during it leaves too */
  #admitting: Map<Listener, number> | undefined

  /** whether a flush would send to anyone */
  get wanted (): boolean {
    return this.listeners.size > 0 || this.#joining.size > 0
  }

  /** bytes pushed since the last flush: what the next one writes to each listener that was in */
  get gathered (): number {
    return this.#bytes
  }

  push (chunk: Buffer): void {
    if (!this.wanted) return
    this.#chunks.push(chunk)
    this.#bytes += chunk.length
  }

  /** A listener that was sent everything pushed so far: it streams from the next flush on. */
  join (listener: Listener): void {
    this.#joining.set(listener, this.#chunks.length)
  }

  forget (listener: Listener): void {
    this.listeners.delete(listener)
    this.#joining.delete(listener)
    this.#admitting?.delete(listener)
  }

  /**
   * Sends the gathered chunks: as one chunk to the listeners that were in, through `sendIn`, then to each
   * listener that joined since the last flush what came after its start; those are then in, and `joined`
   * hears of each. A flush called from inside one (by a listener's leaving, through the hooks it runs) leaves
   * what came meanwhile to the next.
   */
  flush (sendIn: (chunk: Buffer) => void, joined?: (listener: Listener) => void): void {
    const chunks = this.#chunks
    const joining = this.#joining
    if (this.#admitting !== undefined || (chunks.length === 0 && joining.size === 0)) return
    this.#chunks = []
    this.#bytes = 0
    // always a new map: a listener that joins during this flush holds none of `chunks`, and is the next's
    this.#joining = new Map()
    this.#admitting = joining
    try {
      if (chunks.length > 0) sendIn(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
      this.#admit(chunks, joining, joined)
    } finally {
      this.#admitting = undefined
    }
  }

  #admit (chunks: Buffer[], joining: Map<Listener, number>, joined?: (listener: Listener) => void): void {
    // listeners that joined between the same two pushes share one tail
    const tails = new Map<number, Buffer>()
    for (const [listener, held] of joining) {
      joining.delete(listener)
      if (held < chunks.length) listener.send(tailOf(chunks, held, tails))
      if (listener.ended) continue
      this.listeners.add(listener)
      joined?.(listener)
    }
  }
}

function tailOf (chunks: Buffer[], from: number, tails: Map<number, Buffer>): Buffer {
  if (from === chunks.length - 1) return chunks[from]!
  let tail = tails.get(from)
  if (tail === undefined) {
    tail = Buffer.concat(from === 0 ? chunks : chunks.slice(from))
    tails.set(from, tail)
  }
  return tail
}
