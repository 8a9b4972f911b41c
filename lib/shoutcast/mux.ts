import { assertMetaint } from './metaint.js'
import { ZERO_BLOCK } from './metadata.js'

/** What one listener made of a chunk, and where that left it. */
interface Framed {
  bytes: Buffer
  untilBoundary: number
  /** it got the current block in this chunk, or had it already */
  hasCurrent: boolean
}

/**
 * What the listeners of one interval make of the chunk they all get: listeners that stand at the same
 * place (audio bytes to their next boundary, and whether they already have the current block) get the
 * same bytes, so those are joined once, for all of them. A relay's listeners join in groups (all who
 * arrive between two upstream reads start at the same place), so a chunk has a few such places, and
 * each listener writes one buffer instead of a corked list of slices.
 */
export class SharedFrames {
  #chunk: Buffer | undefined
  #current: Buffer | undefined
  readonly #framed = new Map<number, Framed>()

  /** The bytes made of `chunk` with `current` by a listener at `place`, if one made them already. */
  get (chunk: Buffer, current: Buffer, place: number): Framed | undefined {
    if (chunk !== this.#chunk || current !== this.#current) {
      this.#chunk = chunk
      this.#current = current
      this.#framed.clear()
      return undefined
    }
    return this.#framed.get(place)
  }

  set (place: number, framed: Framed): void {
    this.#framed.set(place, framed)
  }
}

/**
 * One listener's ICY interleaving: after every `metaint` audio bytes it puts a metadata block, the
 * mount's current block the first time and whenever it changed since this listener last got it, a
 * single zero byte otherwise (as Icecast does). `interleave` never copies: `out` receives subarrays of
 * the audio and the shared block buffers. `frame` joins them, once for every listener at the same place.
 */
export class IcyMuxer {
  readonly #metaint: number
  /** audio bytes this listener gets before its next boundary */
  #untilBoundary: number
  /** the block object this listener got last; compared by identity, never byte by byte */
  #lastSent: Buffer | undefined

  constructor (metaint: number) {
    assertMetaint(metaint)
    this.#metaint = metaint
    this.#untilBoundary = metaint
  }

  /**
   * Appends `chunk`, with the blocks due inside it, to `out`. `current` is the mount's current block,
   * length byte first (`EMPTY_TITLE_BLOCK` before any title); the mount replaces the object when the
   * title changes. A boundary at the very end of `chunk` waits for the next audio, so the block sent
   * is the one current when the audio after it goes out.
   */
  interleave (chunk: Buffer, current: Buffer, out: Buffer[]): void {
    let pos = 0
    while (pos < chunk.length) {
      if (this.#untilBoundary === 0) {
        out.push(this.#blockFor(current))
        this.#untilBoundary = this.#metaint
      }
      const end = Math.min(chunk.length, pos + this.#untilBoundary)
      out.push(pos === 0 && end === chunk.length ? chunk : chunk.subarray(pos, end))
      this.#untilBoundary -= end - pos
      pos = end
    }
  }

  /**
   * `chunk` with the blocks due inside it, as one buffer: the one `shared` holds when another listener
   * stood at the same place, else joined here (the chunk itself when no boundary falls inside it).
   */
  frame (chunk: Buffer, current: Buffer, shared: SharedFrames): Buffer {
    const place = this.#untilBoundary * 2 + (this.#lastSent === current ? 1 : 0)
    const known = shared.get(chunk, current, place)
    if (known !== undefined) {
      this.#untilBoundary = known.untilBoundary
      if (known.hasCurrent) this.#lastSent = current
      return known.bytes
    }
    const parts: Buffer[] = []
    this.interleave(chunk, current, parts)
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts)
    shared.set(place, { bytes, untilBoundary: this.#untilBoundary, hasCurrent: this.#lastSent === current })
    return bytes
  }

  #blockFor (current: Buffer): Buffer {
    if (current === this.#lastSent) return ZERO_BLOCK
    this.#lastSent = current
    return current
  }
}
