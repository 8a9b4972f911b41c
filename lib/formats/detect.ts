import { findFrameRun } from './mpeg.js'
import { MpegReader } from './mpeg.js'
import { OggReader, endPages, pageLength, partialCaptureAtEnd, type OpenChain } from './ogg.js'
import { NO_SYNC, SYNC_ANYWHERE, type FormatReader, type FormatSink } from './sink.js'

const CAPTURE = Buffer.from('OggS')

export type Detected = 'ogg' | 'mpeg'

/** Where a stream's format shows, from its bytes: the format, or the offset from which more bytes are needed. */
export function detectFormat (b: Buffer): { format: Detected } | { undecidedFrom: number } | { none: true } {
  let undecidedFrom = b.length
  for (let at = b.indexOf(CAPTURE); at !== -1; at = b.indexOf(CAPTURE, at + 1)) {
    const length = pageLength(b, at)
    if (typeof length === 'number') return { format: 'ogg' }
    if (length === undefined) {
      undecidedFrom = at
      break
    }
  }
  const frames = findFrameRun(b, 0)
  if ('found' in frames && frames.found < undecidedFrom) return { format: 'mpeg' }
  if ('undecidedFrom' in frames) undecidedFrom = Math.min(undecidedFrom, frames.undecidedFrom)
  undecidedFrom = Math.min(undecidedFrom, b.length - partialCaptureAtEnd(b))
  return undecidedFrom < b.length ? { undecidedFrom } : { none: true }
}

/** The bytes from the first run of MPEG frames on: what comes before is no frame a decoder can follow. */
function fromFirstFrame (b: Buffer): Buffer {
  const frames = findFrameRun(b, 0)
  return 'found' in frames ? b.subarray(frames.found) : b
}

/** Gives up waiting for a format after this many bytes: the stream is passed on as it comes. */
export const GIVE_UP_BYTES = 65536

/**
 * Chooses the reader by the stream's bytes, not its content type (`audio/ogg; codecs=opus` and
 * `application/ogg` alike are Ogg; an MP3 labelled `audio/aacp` is MP3). Until a format shows, bytes
 * that cannot begin one are passed on at once and may be started anywhere, as Icecast does; a stream
 * whose format never shows is passed on untouched.
 *
 * Listeners riding an upstream gap in an open Ogg chain get nothing of the new connection before that
 * chain is carried on (an Ogg connection, see OggReader) or ended: a connection in another format, or in
 * none, comes after an EOS page for each of the chain's open streams.
 */
export class FormatDetector implements FormatReader {
  readonly #sink: FormatSink
  #reader: FormatReader | undefined
  #ogg: OggReader | undefined
  #held: Buffer = Buffer.alloc(0)
  #seen = 0
  /** the chain listeners are in, until it is handed to this connection's reader or ended */
  #previous: OpenChain | undefined

  /** listeners ride over from an MPEG connection: they get nothing of this one before a frame starts */
  readonly #afterFrames: boolean

  /**
   * `previous`: what `end()` of the detector of the upstream's previous connection returned.
   * `afterFrames`: listeners who got whole MPEG frames of the previous connection get this one's bytes
   * too, so those before its first frame (the tail of a frame whose head they never got) are dropped, and
   * none are passed on before a format shows.
   */
  constructor (sink: FormatSink, previous?: OpenChain, afterFrames = false) {
    this.#sink = sink
    this.#previous = previous
    this.#afterFrames = afterFrames
  }

  /** The format the stream showed, once it did. */
  get format (): Detected | undefined {
    return this.#reader === undefined ? undefined : this.#ogg !== undefined ? 'ogg' : this.#reader instanceof MpegReader ? 'mpeg' : undefined
  }

  /** The Ogg chain listeners are in, for the detector of the next connection (see OggReader). */
  end (): OpenChain | undefined {
    return this.#reader === undefined ? this.#previous : this.#ogg?.end()
  }

  push (chunk: Buffer): void {
    if (this.#reader !== undefined) {
      this.#reader.push(chunk)
      return
    }
    const buf = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk])
    this.#seen += chunk.length
    const detected = detectFormat(buf)
    if ('format' in detected) {
      this.#held = Buffer.alloc(0)
      if (detected.format === 'ogg') this.#ogg = new OggReader(this.#sink, this.#previous)
      else this.#endPrevious()
      this.#previous = undefined
      // MPEG has no codec headers to wait for: saying so marks the bytes passed on before the format
      // showed, which may be the tail of a frame, as no place for a burst to start (a listener who was
      // waiting for a place to start got them as they came, as from Icecast)
      if (detected.format === 'mpeg') this.#sink.headers([])
      this.#reader = this.#ogg ?? new MpegReader(this.#sink)
      this.#reader.push(this.#afterFrames && detected.format === 'mpeg' ? fromFirstFrame(buf) : buf)
      return
    }
    const givingUp = this.#seen > GIVE_UP_BYTES
    if (givingUp) this.#endPrevious()
    if ((this.#previous !== undefined || this.#afterFrames) && !givingUp) {
      this.#held = buf
      return
    }
    const passOn = 'undecidedFrom' in detected && !givingUp ? detected.undecidedFrom : buf.length
    if (passOn > 0) this.#sink.chunk(buf.subarray(0, passOn), SYNC_ANYWHERE)
    this.#held = buf.subarray(passOn)
    if (givingUp) this.#reader = { push: (bytes) => this.#sink.chunk(bytes, SYNC_ANYWHERE) }
  }

  /** Ends the previous connection's open Ogg chain: this connection does not carry it on. */
  #endPrevious (): void {
    if (this.#previous === undefined) return
    const pages = endPages(this.#previous)
    this.#previous = undefined
    if (pages.length > 0) this.#sink.chunk(Buffer.concat(pages), NO_SYNC)
  }
}
