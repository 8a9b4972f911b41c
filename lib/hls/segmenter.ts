import { findFrameRun, frameHeader, isTagFrame, MAX_HEADER_BYTES, type FrameHeader } from '../formats/mpeg.js'
import { TIMESTAMP_WRAP, segmentTag, titleTag } from './id3.js'

/** The codecs HLS packed audio has (RFC 8216 §3.4) of those the frame reader knows: MPEG-1/2 layer III and ADTS AAC. */
export type PackedCodec = 'mp3' | 'aac'

export interface SegmenterSettings {
  /** the longest a segment may last, in whole seconds: segments are cut at the last frame that fits */
  segmentSeconds: number
  /** segments kept: the sliding window of the playlist */
  windowSegments: number
}

/** One packed audio segment: its bytes are one buffer, shared by every client. */
export interface Segment {
  readonly sequence: number
  /** an ID3 tag with its timestamp and title, then frames (and, in AAC, title tags before the frames where a title starts) */
  readonly data: Buffer
  /** seconds: the samples of its frames over their sample rate */
  readonly duration: number
  readonly codec: PackedCodec
  /** RFC 6381 codec string, for a multivariant playlist's CODECS */
  readonly codecs: string
  readonly sampleRate: number
  /** it does not carry on what came before (a new stream, another codec or sample rate) */
  readonly discontinuity: boolean
  /** ms since the epoch of its first sample: the clock at the last new stream plus the stream's duration since */
  readonly programDateTime: number
  /** ms since the epoch when it was cut */
  readonly createdAt: number
}

const TICKS_PER_SECOND = 90000
/**
 * Seconds into an MP3 segment that a title may start and be the segment's from its head instead of cutting it:
 * an ICY title is no more precise (a block every 16000 bytes, 1 s at 128 kbit/s), and ffmpeg cannot probe a
 * segment of a frame or two.
 */
const TITLE_SLACK_SECONDS = 1
const PACKED: ReadonlySet<string> = new Set<PackedCodec>(['mp3', 'aac'])

/** MP3 in MP4 registration (mp4a.40.34); for ADTS, its profile bits plus one are the audio object type. */
function codecsOf (frame: Buffer, codec: PackedCodec): string {
  return codec === 'mp3' ? 'mp4a.40.34' : `mp4a.40.${(frame[2]! >> 6) + 1}`
}

function sameStream (a: FrameHeader, b: FrameHeader): boolean {
  return a.codec === b.codec && a.sampleRate === b.sampleRate
}

/**
 * Frames in, packed audio segments out (RFC 8216 §3.4), with no I/O and no timers: the time comes in as an
 * argument. The cuts depend on the frames only, so any chunking of the same bytes gives the same segments.
 * Bytes that are no frames (junk, upstream ID3 tags) are left out, and so are MP3 tag frames (Xing/Info, VBRI:
 * a segment is not the file they describe); a change of codec or sample rate is found as a new run of frames,
 * and starts a new segment after a discontinuity.
 */
export class Segmenter {
  readonly #settings: SegmenterSettings
  readonly #window: Segment[] = []
  #carry: Buffer = Buffer.alloc(0)
  /** the header of the last frame while in sync */
  #current: FrameHeader | undefined
  #parts: Buffer[] = []
  #samples = 0
  #first: { header: FrameHeader, frame: Buffer, title: string | undefined } | undefined
  /** a title that starts with the next frame ('' for none: an ICY stream's empty title) */
  #title: string | undefined
  /** the title of the last frame */
  #playing: string | undefined
  /** 90 kHz ticks of the next segment's first sample, modulo 2^33 */
  #ticks = 0
  #anchor: number | undefined
  /** seconds of stream since the anchor */
  #elapsed = 0
  readonly #epoch: number
  #nextSequence: number
  #discontinuity = false
  #discontinuitySequence = 0
  #unsupported: string | undefined

  /** `firstSequence`: the number of its first segment (numbers then run on by one) */
  constructor (settings: SegmenterSettings, firstSequence = 0) {
    this.#settings = settings
    this.#epoch = firstSequence
    this.#nextSequence = firstSequence
  }

  /** The number of the first segment: it names this stream of the mount among the mount's others. */
  get epoch (): number {
    return this.#epoch
  }

  /** The number the next segment gets. */
  get nextSequence (): number {
    return this.#nextSequence
  }

  /** The window, oldest first. */
  get segments (): readonly Segment[] {
    return this.#window
  }

  /** Discontinuities of the segments that left the window (EXT-X-DISCONTINUITY-SEQUENCE). */
  get discontinuitySequence (): number {
    return this.#discontinuitySequence
  }

  /** The codec of the frames left out while they are no packed audio codec (MPEG layer I or II), else undefined. */
  get unsupported (): string | undefined {
    return this.#unsupported
  }

  /** A new stream: what was pending is cut, and the next segment follows a discontinuity. */
  begin (now: number): void {
    this.#cut(now)
    this.#carry = Buffer.alloc(0)
    this.#current = undefined
    this.#anchor = now
    this.#elapsed = 0
    this.#discontinuity = this.#nextSequence > this.#epoch
  }

  /** The stream ends: what is pending becomes the last segment. */
  end (now: number): void {
    this.#cut(now)
    this.#carry = Buffer.alloc(0)
    this.#current = undefined
  }

  /** A title that starts with the next frame; an empty one ends the title before, and is written nowhere. */
  title (title: string): void {
    this.#title = title
  }

  push (bytes: Buffer, now: number): void {
    const buf = this.#carry.length === 0 ? bytes : Buffer.concat([this.#carry, bytes])
    let at = 0
    while (at < buf.length) {
      const header = this.#current === undefined ? undefined : frameHeader(buf, at)
      if (header === undefined || !sameStream(header, this.#current!)) {
        if (this.#current !== undefined && at + MAX_HEADER_BYTES > buf.length) break
        this.#current = undefined
        const search = findFrameRun(buf, at)
        if ('none' in search) {
          at = buf.length
          break
        }
        at = 'found' in search ? search.found : search.undecidedFrom
        if ('undecidedFrom' in search) break
        this.#current = frameHeader(buf, at)
        continue
      }
      if (at + header.length > buf.length) break
      this.#frame(buf.subarray(at, at + header.length), header, now)
      at += header.length
    }
    this.#carry = buf.subarray(at)
  }

  #frame (frame: Buffer, header: FrameHeader, now: number): void {
    if (header.codec === 'mp3' && isTagFrame(frame)) return
    const first = this.#first?.header
    if (first !== undefined && !sameStream(first, header)) {
      this.#cut(now)
      this.#discontinuity = true
    }
    if (!PACKED.has(header.codec)) {
      this.#unsupported = header.codec
      this.#discontinuity = this.#nextSequence > this.#epoch
      return
    }
    this.#unsupported = undefined
    if (this.#samples > 0 && this.#samples + header.samples > this.#settings.segmentSeconds * header.sampleRate) this.#cut(now)
    if (this.#title !== undefined) {
      this.#playing = this.#title === '' ? undefined : this.#title
      this.#title = undefined
      // ffmpeg drops the MP3 frame after a tag between frames ("Header missing"): an MP3 title (or its end)
      // starts a segment, or is the segment's from its head when it started less than the slack ago
      if (header.codec !== 'mp3') {
        // first in a segment, it is in the segment's own tag; an AAC title ends at the next head tag, which has none
        if (this.#playing !== undefined && this.#first !== undefined) this.#parts.push(titleTag(this.#playing))
      } else if (this.#samples < TITLE_SLACK_SECONDS * header.sampleRate) {
        if (this.#first !== undefined) this.#first.title = this.#playing
      } else this.#cut(now)
    }
    if (this.#first === undefined) this.#first = { header, frame, title: this.#playing }
    this.#parts.push(frame)
    this.#samples += header.samples
  }

  #cut (now: number): void {
    const first = this.#first
    if (first === undefined) return
    const codec = first.header.codec as PackedCodec
    const duration = this.#samples / first.header.sampleRate
    this.#anchor ??= now
    this.#window.push({
      sequence: this.#nextSequence++,
      data: Buffer.concat([segmentTag(this.#ticks, first.title), ...this.#parts]),
      duration,
      codec,
      codecs: codecsOf(first.frame, codec),
      sampleRate: first.header.sampleRate,
      discontinuity: this.#discontinuity,
      programDateTime: this.#anchor + Math.round(this.#elapsed * 1000),
      createdAt: now
    })
    this.#ticks = (this.#ticks + this.#samples * TICKS_PER_SECOND / first.header.sampleRate) % TIMESTAMP_WRAP
    this.#elapsed += duration
    this.#parts = []
    this.#samples = 0
    this.#first = undefined
    this.#discontinuity = false
    while (this.#window.length > this.#settings.windowSegments) {
      if (this.#window.shift()!.discontinuity) this.#discontinuitySequence++
    }
  }
}
