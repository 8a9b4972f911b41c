import { findFrameRun, frameHeader, isTagFrame, MAX_HEADER_BYTES, type FrameHeader } from '../formats/mpeg.js'
import { TIMESTAMP_WRAP, segmentTag, titleTag } from './id3.js'
import { maxKeptBytes, maxKeptCount, maxWindowBytes, maxWindowCount, minWindowSeconds, retainMs, served, type WindowSettings } from './windowing.js'

/** The codecs HLS packed audio has (RFC 8216 §3.4) of those the frame reader knows: MPEG-1/2 layer III and ADTS AAC. */
export type PackedCodec = 'mp3' | 'aac'

/**
 * `segmentSeconds`: the longest a segment may last, in whole seconds (segments are cut at the last frame that
 * fits); `windowSegments`: the playlist's sliding window, in target durations (windowing.ts).
 */
export type SegmenterSettings = WindowSettings

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
  /** it does not carry on what came before (a new stream, another codec, sample rate, channel count or AAC profile) */
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
/**
 * ms of audio a stream may run ahead of the clock before its dates are taken from the clock again (after a
 * discontinuity): an Icecast burst (64 KB by default, 4 s at 128 kbit/s) and a catch-up after a stall are far
 * less; an upstream that sends faster than real time would otherwise date its segments hours ahead.
 */
const MAX_LEAD_MS = 60_000

/** MP3 in MP4 registration (mp4a.40.34); for ADTS, its profile bits plus one are the audio object type. */
function codecsOf (frame: Buffer, codec: PackedCodec): string {
  return codec === 'mp3' ? 'mp4a.40.34' : `mp4a.40.${(frame[2]! >> 6) + 1}`
}

function sameStream (a: FrameHeader, b: FrameHeader): boolean {
  return a.codec === b.codec && a.sampleRate === b.sampleRate
}

/**
 * What a decoder is set up with from a frame: a change is a discontinuity, or a player keeps decoding with
 * the old setup (hls.js keeps an ADTS stream's first audio object type and channel count).
 */
function decoderSetup (frame: Buffer, header: FrameHeader): string {
  return `${header.codec}/${header.sampleRate}/${header.channels}/${header.codec === 'aac' ? frame[2]! >> 6 : ''}`
}

/** A segment that left the playlist, servable until `until` (ms since the epoch). */
interface Retired {
  readonly segment: Segment
  readonly until: number
}

/**
 * Frames in, packed audio segments out (RFC 8216 §3.4), with no I/O and no timers: the time comes in as an
 * argument. The cuts depend on the frames only, so any chunking of the same bytes gives the same segments.
 * Bytes that are no frames (junk, upstream ID3 tags) are left out, and so are MP3 tag frames (Xing/Info, VBRI:
 * a segment is not the file they describe); a change of codec or sample rate is found as a new run of frames,
 * and it, or a change of channel count or AAC profile, starts a new segment after a discontinuity.
 * The window is kept by time (windowing.ts): at least its length in target durations, within bounds of count
 * and bytes; a segment that left it stays servable, unlisted, as long as RFC 8216 §6.2.2 asks.
 */
export class Segmenter {
  readonly #settings: SegmenterSettings
  readonly #window: Segment[] = []
  #windowSeconds = 0
  #windowBytes = 0
  readonly #retired: Retired[] = []
  #retiredBytes = 0
  #carry: Buffer = Buffer.alloc(0)
  /** the header of the last frame while in sync */
  #current: FrameHeader | undefined
  /** the decoder setup of the last frame (decoderSetup) */
  #setup: string | undefined
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

  /** The segment numbered `sequence` if it is to be served at `now`: in the window, or left it not long ago. */
  servable (sequence: number, now: number): Segment | undefined {
    return served(this.#window, this.retired(now), sequence)
  }

  /** Segments that left the window and are still to be served at `now` (not listed), oldest first. */
  retired (now: number): Segment[] {
    return this.#retired.filter((retired) => retired.until > now).map((retired) => retired.segment)
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
    const setup = decoderSetup(frame, header)
    if (this.#setup !== undefined && setup !== this.#setup) {
      this.#cut(now)
      this.#discontinuity = this.#nextSequence > this.#epoch
    }
    this.#setup = setup
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
    if (this.#anchor + this.#elapsed * 1000 > now + MAX_LEAD_MS) {
      this.#anchor = now - Math.round(this.#elapsed * 1000)
      this.#discontinuity = true
    }
    const segment: Segment = {
      sequence: this.#nextSequence++,
      data: Buffer.concat([segmentTag(this.#ticks, first.title), ...this.#parts]),
      duration,
      codec,
      codecs: codecsOf(first.frame, codec),
      sampleRate: first.header.sampleRate,
      discontinuity: this.#discontinuity,
      programDateTime: this.#anchor + Math.round(this.#elapsed * 1000),
      createdAt: now
    }
    this.#window.push(segment)
    this.#windowSeconds += duration
    this.#windowBytes += segment.data.length
    this.#ticks = (this.#ticks + this.#samples * TICKS_PER_SECOND / first.header.sampleRate) % TIMESTAMP_WRAP
    this.#elapsed += duration
    this.#parts = []
    this.#samples = 0
    this.#first = undefined
    this.#discontinuity = false
    this.#evict(now)
  }

  /**
   * Drops the oldest segments while the window lasts its minimum without them (RFC 8216 §6.2.2: never shorter
   * than three target durations), or while it holds more than its bounds (a hostile upstream), never the newest.
   */
  #evict (now: number): void {
    const settings = this.#settings
    const minSeconds = minWindowSeconds(settings)
    const maxCount = maxWindowCount(settings)
    const maxBytes = maxWindowBytes(settings)
    while (this.#window.length > 1) {
      const oldest = this.#window[0]!
      const long = this.#windowSeconds - oldest.duration >= minSeconds
      if (!long && this.#window.length <= maxCount && this.#windowBytes <= maxBytes) break
      this.#window.shift()
      this.#windowSeconds -= oldest.duration
      this.#windowBytes -= oldest.data.length
      if (oldest.discontinuity) this.#discontinuitySequence++
      this.#retire(oldest, now)
    }
  }

  /** Keeps `segment` servable for its time (retainMs), within bounds of its own. */
  #retire (segment: Segment, now: number): void {
    this.#retired.push({ segment, until: now + retainMs(segment.duration, this.#settings) })
    this.#retiredBytes += segment.data.length
    const maxCount = maxKeptCount(this.#settings)
    const maxBytes = maxKeptBytes(this.#settings)
    while (this.#retired.length > 0 && (this.#retired[0]!.until <= now || this.#retired.length > maxCount || this.#retiredBytes > maxBytes)) {
      this.#retiredBytes -= this.#retired.shift()!.segment.data.length
    }
  }
}
