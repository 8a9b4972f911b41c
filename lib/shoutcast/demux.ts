import { assertMetaint } from './metaint.js'
import { validateBlock } from './metadata.js'

export interface IcySink {
  /** Audio bytes, always a subarray of a pushed chunk (or the chunk itself): never a copy. */
  audio (chunk: Buffer): void
  /** A well-formed metadata block: exactly the L*16 bytes after a non-zero length byte, a copy. */
  metadata (block: Buffer): void
  /** A block `validateBlock` rejects, with its reason; it does not reach `metadata`. */
  malformed? (reason: string, block: Buffer): void
}

/**
 * Splits an ICY body (audio with a metadata block after every `metaint` audio bytes) into audio and
 * metadata, whatever the chunking. Pure: it holds only its position in the stream.
 */
export class IcyDemuxer {
  readonly #metaint: number
  readonly #sink: IcySink
  /** audio bytes before the next length byte */
  #audioLeft: number
  /** the metadata block being received, once its length byte is read */
  #block: Buffer | undefined
  #filled = 0

  constructor (metaint: number, sink: IcySink) {
    assertMetaint(metaint)
    this.#metaint = metaint
    this.#sink = sink
    this.#audioLeft = metaint
  }

  push (chunk: Buffer): void {
    let pos = 0
    while (pos < chunk.length) {
      if (this.#block !== undefined) pos = this.#fillBlock(this.#block, chunk, pos)
      else if (this.#audioLeft > 0) pos = this.#passAudio(chunk, pos)
      else pos = this.#readLengthByte(chunk, pos)
    }
  }

  #passAudio (chunk: Buffer, pos: number): number {
    const end = Math.min(chunk.length, pos + this.#audioLeft)
    // Most chunks hold no boundary: hand them on as they are, without even a subarray.
    this.#sink.audio(pos === 0 && end === chunk.length ? chunk : chunk.subarray(pos, end))
    this.#audioLeft -= end - pos
    return end
  }

  #readLengthByte (chunk: Buffer, pos: number): number {
    const length = chunk[pos] * 16
    if (length === 0) {
      this.#audioLeft = this.#metaint
    } else {
      // A copy, and only of the block: a subarray would keep the whole upstream chunk alive for as
      // long as the title is current, and the block may arrive split across chunks anyway.
      this.#block = Buffer.allocUnsafe(length)
      this.#filled = 0
    }
    return pos + 1
  }

  #fillBlock (block: Buffer, chunk: Buffer, pos: number): number {
    const copied = chunk.copy(block, this.#filled, pos)
    this.#filled += copied
    if (this.#filled === block.length) {
      this.#block = undefined
      this.#audioLeft = this.#metaint
      this.#deliver(block)
    }
    return pos + copied
  }

  #deliver (block: Buffer): void {
    const reason = validateBlock(block)
    if (reason === undefined) this.#sink.metadata(block)
    else this.#sink.malformed?.(reason, block)
  }
}
