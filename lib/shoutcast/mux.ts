import { assertMetaint } from './metaint.js'
import { ZERO_BLOCK } from './metadata.js'

/**
 * One listener's ICY interleaving: after every `metaint` audio bytes it puts a metadata block, the
 * mount's current block the first time and whenever it changed since this listener last got it, a
 * single zero byte otherwise (as Icecast does). It never copies: `out` receives subarrays of the audio
 * and the shared block buffers, ready for a corked write / writev.
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

  #blockFor (current: Buffer): Buffer {
    if (current === this.#lastSent) return ZERO_BLOCK
    this.#lastSent = current
    return current
  }
}
