import { identifyCodec } from './comments.js'
import { MAX_HEADER_BYTES, findFrameRun, frameHeader } from './mpeg.js'
import { pageLength } from './ogg.js'

export type TimedFormat = 'mpeg' | 'ogg'

/**
 * The audio units (MPEG/ADTS frames, Ogg pages) found in some bytes, in order, and when each plays: what
 * a source needs to send a file at its real rate.
 */
export interface Timeline {
  /** offset of each unit in the bytes */
  starts: number[]
  /** offset after each unit */
  ends: number[]
  /** seconds of audio before each unit, counted from the first unit of this timeline */
  times: number[]
  /** seconds of audio in all the units */
  duration: number
}

export interface Timed {
  /** the bytes the timeline's offsets are in: what was carried from the previous push, then the chunk */
  bytes: Buffer
  timeline: Timeline
}

/** The logical stream whose granule positions time a chain (the first with a known rate). */
interface OggClock {
  serial: number
  /** granule units per second */
  rate: number
  last: bigint
}

const BOS = 0x02
/**
 * No Ogg page of audio plays longer (255 packets of Vorbis's longest block at 8 kHz play about two minutes): a
 * page whose granule jumps further is a discontinuity (a cut, a bad muxer, a hostile file), played as no
 * time, or a file source would wait that long, silent, before its next page.
 */
export const MAX_PAGE_SECONDS = 300
const NO_GRANULE = -1n
const CAPTURE = Buffer.from('OggS')

function emptyTimeline (): Timeline {
  return { starts: [], ends: [], times: [], duration: 0 }
}

function addUnit (timeline: Timeline, start: number, end: number, seconds: number): void {
  timeline.starts.push(start)
  timeline.ends.push(end)
  timeline.times.push(timeline.duration)
  timeline.duration += seconds
}

/**
 * Finds the audio units of a stream pushed in chunks and how long each plays: an MPEG or ADTS frame plays
 * its samples at its sample rate, an Ogg page the granule positions it advances its chain's first timed
 * logical stream by (header pages and the pages of other streams take no time). Only whole, sound units
 * are in a timeline: bytes between them (ID3 and APE tags, junk, corrupt pages) are left out, so that a
 * file's tags never reach listeners in the middle of a stream. Pure: any chunking of the same bytes gives
 * the same units with the same durations.
 */
export class TimelineScanner {
  readonly #format: TimedFormat
  #carry: Buffer = Buffer.alloc(0)
  /** MPEG: the carried bytes start with a frame that follows a frame, so no run is needed to trust it */
  #inSync = false
  #clock: OggClock | undefined
  #chainHasData = false

  constructor (format: TimedFormat) {
    this.#format = format
  }

  /**
   * The units that are whole in what was carried and `chunk`. `final`: no bytes follow (the end of a
   * file): an unfinished unit at the end is dropped, not carried.
   */
  push (chunk: Buffer, final = false): Timed {
    const bytes = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk])
    const timeline = emptyTimeline()
    const consumed = this.#format === 'mpeg' ? this.#frames(bytes, final, timeline) : this.#pages(bytes, final, timeline)
    this.#carry = final ? Buffer.alloc(0) : bytes.subarray(consumed)
    if (final) this.#inSync = false
    return { bytes, timeline }
  }

  /** Adds the frames of `b` to `timeline`; returns the offset from which bytes are carried. */
  #frames (b: Buffer, final: boolean, timeline: Timeline): number {
    let at: number | undefined = 0
    if (!this.#inSync) {
      const search = findFrameRun(b, 0)
      if ('none' in search) return b.length
      if ('undecidedFrom' in search) return final ? b.length : search.undecidedFrom
      at = search.found
    }
    for (;;) {
      const header = frameHeader(b, at)
      if (header === undefined) {
        if (at + MAX_HEADER_BYTES > b.length) break
        this.#inSync = false
        const search = findFrameRun(b, at + 1)
        if ('none' in search) return b.length
        if ('undecidedFrom' in search) return final ? b.length : search.undecidedFrom
        at = search.found
        continue
      }
      if (at + header.length > b.length) break
      addUnit(timeline, at, at + header.length, header.samples / header.sampleRate)
      this.#inSync = true
      at += header.length
    }
    return final ? b.length : at
  }

  /** Adds the pages of `b` to `timeline`; returns the offset from which bytes are carried. */
  #pages (b: Buffer, final: boolean, timeline: Timeline): number {
    let at = 0
    for (;;) {
      const length = pageLength(b, at)
      if (length === undefined) return final ? b.length : at
      if (length === false) {
        const next = b.indexOf(CAPTURE, at + 1)
        // a capture pattern cut by the end of the bytes is carried
        if (next === -1) return final ? b.length : Math.max(at + 1, b.length - CAPTURE.length + 1)
        at = next
        continue
      }
      addUnit(timeline, at, at + length, this.#pageSeconds(b.subarray(at, at + length)))
      at += length
    }
  }

  #pageSeconds (page: Buffer): number {
    const serial = page.readUInt32LE(14)
    if ((page[5]! & BOS) !== 0) {
      if (this.#chainHasData) this.#clock = undefined
      this.#chainHasData = false
      this.#clock ??= clockOf(serial, page.subarray(27 + page[26]!))
      return 0
    }
    this.#chainHasData = true
    const clock = this.#clock
    const granule = page.readBigInt64LE(6)
    if (clock === undefined || clock.serial !== serial || granule === NO_GRANULE) return 0
    const advance = granule - clock.last
    clock.last = granule
    const seconds = advance > 0n ? Number(advance) / clock.rate : 0
    return seconds <= MAX_PAGE_SECONDS ? seconds : 0
  }
}

/** The clock of a logical stream from its first packet, when its codec says its granule rate. */
function clockOf (serial: number, first: Buffer): OggClock | undefined {
  const { codec, info } = identifyCodec(first)
  // Opus granule positions count 48 kHz samples whatever the input rate was
  const rate = codec === 'opus' ? 48000 : info?.sampleRate
  return rate === undefined || rate === null || rate <= 0 ? undefined : { serial, rate, last: 0n }
}
