import { NO_SYNC, type FormatReader, type FormatSink } from './sink.js'

/** What a frame header says; `length` is the whole frame in bytes, header included. */
export interface FrameHeader {
  codec: 'mp3' | 'mp2' | 'mp1' | 'aac'
  length: number
  bitrate: number
  sampleRate: number
  channels: number
  /** samples per frame, for the bitrate of variable-rate streams */
  samples: number
}

const MPEG_BITRATES: Record<string, readonly number[]> = {
  // kbit/s by index 1..14, per version group (1 = MPEG-1, 2 = MPEG-2/2.5) and layer
  '1-1': [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1-2': [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1-3': [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-1': [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  '2-3': [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
}
const MPEG1_RATES = [44100, 48000, 32000]
const ADTS_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]
export const MAX_HEADER_BYTES = 7

function mpegHeader (b: Buffer, at: number): FrameHeader | undefined {
  const b1 = b[at + 1]!
  const b2 = b[at + 2]!
  const version = (b1 >> 3) & 3 // 0: MPEG-2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1
  const layerBits = (b1 >> 1) & 3 // 1: III, 2: II, 3: I
  const bitrateIndex = b2 >> 4
  const rateIndex = (b2 >> 2) & 3
  if (version === 1 || layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return undefined
  if ((b[at + 3]! & 3) === 2) return undefined // reserved emphasis
  const layer = 4 - layerBits
  const group = version === 3 ? 1 : 2
  const bitrate = MPEG_BITRATES[`${group}-${layer}`]![bitrateIndex - 1]!
  const sampleRate = MPEG1_RATES[rateIndex]! / (version === 3 ? 1 : version === 2 ? 2 : 4)
  const padding = (b2 >> 1) & 1
  const samples = layer === 1 ? 384 : layer === 3 && group === 2 ? 576 : 1152
  const length = layer === 1
    ? (Math.floor(12000 * bitrate / sampleRate) + padding) * 4
    : Math.floor(samples / 8 * 1000 * bitrate / sampleRate) + padding
  const channels = (b[at + 3]! >> 6) === 3 ? 1 : 2
  const codec = layer === 3 ? 'mp3' : layer === 2 ? 'mp2' : 'mp1'
  return { codec, length, bitrate, sampleRate, channels, samples }
}

function adtsHeader (b: Buffer, at: number): FrameHeader | undefined {
  const rateIndex = (b[at + 2]! >> 2) & 0xf
  const sampleRate = ADTS_RATES[rateIndex]
  if (sampleRate === undefined) return undefined
  const length = ((b[at + 3]! & 3) << 11) | (b[at + 4]! << 3) | (b[at + 5]! >> 5)
  const headerBytes = (b[at + 1]! & 1) === 1 ? 7 : 9
  if (length < headerBytes) return undefined
  const channelConfig = ((b[at + 2]! & 1) << 2) | (b[at + 3]! >> 6)
  const blocks = (b[at + 6]! & 3) + 1
  const samples = 1024 * blocks
  return {
    codec: 'aac',
    length,
    bitrate: Math.round(length * 8 * sampleRate / samples / 1000),
    sampleRate,
    channels: channelConfig === 7 ? 8 : channelConfig,
    samples
  }
}

/**
 * The frame header at `at`, or undefined when the bytes there are not one (MPEG audio layers I-III or
 * AAC ADTS). Checks every field, not only the sync word. Needs MAX_HEADER_BYTES bytes from `at`.
 */
export function frameHeader (b: Buffer, at: number): FrameHeader | undefined {
  if (at + MAX_HEADER_BYTES > b.length || b[at] !== 0xff) return undefined
  const b1 = b[at + 1]!
  if ((b1 & 0xf6) === 0xf0) return adtsHeader(b, at)
  if ((b1 & 0xe0) !== 0xe0) return undefined
  return mpegHeader(b, at)
}

/** Where a Xing/Info tag stands in a layer III frame: after its 4-byte header and its side info, by version and channels. */
function xingOffset (frame: Buffer): number {
  const mpeg1 = ((frame[1]! >> 3) & 3) === 3
  const mono = (frame[3]! >> 6) === 3
  return 4 + (mpeg1 ? (mono ? 17 : 32) : (mono ? 9 : 17))
}

/** VBRI (Fraunhofer) tags stand at a fixed place, whatever the version and channels. */
const VBRI_OFFSET = 36

/**
 * Whether a layer III frame is a Xing/Info (LAME) or VBRI tag frame: an encoder writes one first in a file. It
 * carries no audio (silence to a decoder) and describes a file (its frames, bytes, seek table): where it stands
 * in a stream cut into other files, a demuxer that trusts it gets their length wrong.
 */
export function isTagFrame (frame: Buffer): boolean {
  const xing = frame.toString('latin1', xingOffset(frame), xingOffset(frame) + 4)
  return xing === 'Xing' || xing === 'Info' || frame.toString('latin1', VBRI_OFFSET, VBRI_OFFSET + 4) === 'VBRI'
}

function sameStream (a: FrameHeader, b: FrameHeader): boolean {
  return a.codec === b.codec && a.sampleRate === b.sampleRate
}

/** Frames in a row that make a sync point believable: one header alone matches random bytes too often. */
const CONFIRMING_FRAMES = 3

/** Whether a run of frames starts at `at`: its first header, false, or undefined until more bytes come. */
function frameRunAt (b: Buffer, at: number): FrameHeader | false | undefined {
  const first = frameHeader(b, at)
  if (first === undefined) return at + MAX_HEADER_BYTES > b.length ? undefined : false
  let next = at + first.length
  for (let i = 1; i < CONFIRMING_FRAMES; i++) {
    if (next + MAX_HEADER_BYTES > b.length) return undefined
    const header = frameHeader(b, next)
    if (header === undefined || !sameStream(first, header)) return false
    next += header.length
  }
  return first
}

export type FrameSearch = { found: number } | { undecidedFrom: number } | { none: true }

/**
 * The first offset from `from` where a run of frames starts; or the first offset that may start one
 * once more bytes come; or none at all.
 */
export function findFrameRun (b: Buffer, from: number): FrameSearch {
  for (let at = b.indexOf(0xff, from); at !== -1; at = b.indexOf(0xff, at + 1)) {
    const run = frameRunAt(b, at)
    if (run === undefined) return { undecidedFrom: at }
    if (run !== false) return { found: at }
  }
  return { none: true }
}

/** Bytes without frames after which they are passed on anyway, so that nothing is held forever. */
const MAX_JUNK = 16384
const BITRATE_EVERY_FRAMES = 200

/**
 * MPEG audio / ADTS frame reader. It hands on whole frames only, so a chunk always ends where a frame
 * ends: after an upstream reconnect listeners never get half a frame. Bytes between frames (junk, ID3
 * tags) are passed on, never dropped, but are no place to start. The bitrate reported is the average
 * over the frames seen, refreshed now and then, which is right for CBR and VBR alike.
 */
export class MpegReader implements FormatReader {
  readonly #sink: FormatSink
  #carry: Buffer = Buffer.alloc(0)
  /** offset in #carry of the next frame start when in sync, else undefined */
  #next: number | undefined
  #current: FrameHeader | undefined
  #frames = 0
  #bits = 0
  #seconds = 0

  constructor (sink: FormatSink) {
    this.#sink = sink
  }

  push (chunk: Buffer): void {
    const buf = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk])
    let emitEnd = 0
    let firstSync = NO_SYNC
    let at = this.#next ?? this.#resync(buf, 0)
    while (at !== undefined) {
      const header = frameHeader(buf, at)
      if (header === undefined) {
        if (at + MAX_HEADER_BYTES > buf.length) break
        this.#current = undefined
        at = this.#resync(buf, at + 1)
        continue
      }
      if (at + header.length > buf.length) break
      if (firstSync === NO_SYNC) firstSync = at
      this.#count(header)
      at += header.length
      emitEnd = at
    }
    if (at === undefined && buf.length - emitEnd > MAX_JUNK) {
      this.#sink.corrupt(`${buf.length - emitEnd} bytes without MPEG frames passed on`)
      emitEnd = buf.length - MAX_HEADER_BYTES
    }
    this.#next = at === undefined ? undefined : at - emitEnd
    if (emitEnd > 0) this.#sink.chunk(buf.subarray(0, emitEnd), firstSync)
    this.#carry = buf.subarray(emitEnd)
  }

  /** The next believable frame start at or after `from`, or undefined while none is known. */
  #resync (buf: Buffer, from: number): number | undefined {
    const search = findFrameRun(buf, from)
    return 'found' in search ? search.found : undefined
  }

  #count (header: FrameHeader): void {
    if (this.#current === undefined || !sameStream(this.#current, header) || this.#current.channels !== header.channels) {
      this.#current = header
      this.#report(header, header.bitrate)
    }
    this.#frames++
    this.#bits += header.length * 8
    this.#seconds += header.samples / header.sampleRate
    if (this.#frames % BITRATE_EVERY_FRAMES === 0) {
      const average = Math.round(this.#bits / this.#seconds / 1000)
      if (average !== header.bitrate || this.#frames === BITRATE_EVERY_FRAMES) this.#report(header, average)
    }
  }

  #report (header: FrameHeader, bitrate: number): void {
    this.#sink.info({ codec: header.codec, bitrate, sampleRate: header.sampleRate, channels: header.channels })
  }
}
