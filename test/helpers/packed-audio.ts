// A static HLS stream of packed AAC (RFC 8216 §3.4) made here, independently of lib/hls/, so that the HLS
// clients' harnesses (hls.js page, ffprobe checker, load client) can be tested before and apart from the
// relay's own segmenter: ffmpeg encodes a tone to ADTS, cut here into segments of whole frames, each behind
// an ID3 tag with the transport stream timestamp and, where asked, a title.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runOk } from './procs.js'

const syncsafe = (n: number): Buffer => Buffer.from([(n >> 21) & 0x7f, (n >> 14) & 0x7f, (n >> 7) & 0x7f, n & 0x7f])

function id3Frame (id: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(id, 'latin1'), syncsafe(body.length), Buffer.alloc(2), body])
}

/** An ID3v2.4 tag: the 33-bit 90 kHz timestamp as Apple's PRIV frame, and a UTF-8 TIT2 when `title` is given. */
export function id3Tag (pts90k: number, title?: string): Buffer {
  const timestamp = Buffer.alloc(8)
  timestamp.writeBigUInt64BE(BigInt(pts90k) & 0x1ffffffffn)
  const frames = [id3Frame('PRIV', Buffer.concat([Buffer.from('com.apple.streaming.transportStreamTimestamp\0', 'latin1'), timestamp]))]
  if (title !== undefined) frames.push(id3Frame('TIT2', Buffer.concat([Buffer.from([3]), Buffer.from(title, 'utf8'), Buffer.alloc(1)])))
  const body = Buffer.concat(frames)
  return Buffer.concat([Buffer.from('ID3\x04\x00\x00', 'latin1'), syncsafe(body.length), body])
}

/** The ADTS frames of `adts` (whole frames only). */
export function adtsFrames (adts: Buffer): Buffer[] {
  const frames: Buffer[] = []
  for (let at = 0; at + 7 <= adts.length;) {
    if (adts[at] !== 0xff || (adts[at + 1] & 0xf6) !== 0xf0) throw new Error(`no ADTS sync at ${at}`)
    const length = ((adts[at + 3] & 3) << 11) | (adts[at + 4] << 3) | (adts[at + 5] >> 5)
    if (at + length > adts.length) break
    frames.push(adts.subarray(at, at + length))
    at += length
  }
  return frames
}

export interface PackedStream {
  /** the media playlist (VOD: with EXT-X-ENDLIST) */
  playlist: string
  segments: Buffer[]
  /** seconds per segment */
  durations: number[]
}

/**
 * `seconds` of a 440 Hz tone as AAC LC 44.1 kHz stereo (1024 samples a frame) in segments of
 * `framesPerSegment` frames, the first at `startPts` (90 kHz); segment i carries the title `titles[i]` if there is one.
 */
export async function packedAacStream ({ seconds, framesPerSegment, titles = [], startPts = 0 }:
{ seconds: number, framesPerSegment: number, titles?: Array<string | undefined>, startPts?: number }): Promise<PackedStream> {
  const adts = await runOk('ffmpeg', ['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`,
    '-ac', '2', '-c:a', 'aac', '-b:a', '64k', '-f', 'adts', '-'])
  const frames = adtsFrames(adts)
  const segments: Buffer[] = []
  const durations: number[] = []
  for (let first = 0, i = 0; first < frames.length; first += framesPerSegment, i++) {
    const part = frames.slice(first, first + framesPerSegment)
    // the timestamp of the segment's first sample; 90 kHz = 90000 / 44100 ticks a sample
    segments.push(Buffer.concat([id3Tag(startPts + Math.round(first * 1024 * 90000 / 44100), titles[i]), ...part]))
    durations.push(part.length * 1024 / 44100)
  }
  const target = Math.ceil(Math.max(...durations))
  const playlist = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${target}`, '#EXT-X-MEDIA-SEQUENCE:0',
    ...durations.flatMap((d, i) => [`#EXTINF:${d.toFixed(5)},`, `${i}.aac`]), '#EXT-X-ENDLIST', ''].join('\n')
  return { playlist, segments, durations }
}

/** Writes `stream` into `dir` as index.m3u8 and 0.aac, 1.aac, …; returns `dir`. */
export function writePackedStream (dir: string, stream: PackedStream): string {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'index.m3u8'), stream.playlist)
  stream.segments.forEach((segment, i) => writeFileSync(join(dir, `${i}.aac`), segment))
  return dir
}

const unsyncsafe = (b: Buffer, at: number): number => (b[at] << 21) | (b[at + 1] << 14) | (b[at + 2] << 7) | b[at + 3]

/**
 * The ID3v2.3/2.4 tags anywhere in `segment` (a packed-audio segment has one at its head and may have more
 * between frames), each as its frames' ids and text (TIT2: the title; PRIV: owner, then the 8 bytes in hex).
 */
export function id3TagsIn (segment: Buffer): Array<Record<string, string>> {
  const tags: Array<Record<string, string>> = []
  for (let at = segment.indexOf('ID3'); at !== -1 && at + 10 <= segment.length; at = segment.indexOf('ID3', at + 1)) {
    const version = segment[at + 3]
    if ((version !== 3 && version !== 4) || segment.subarray(at + 6, at + 10).some((byte) => byte >= 0x80)) continue
    const end = at + 10 + unsyncsafe(segment, at + 6)
    const tag: Record<string, string> = {}
    for (let frame = at + 10; frame + 10 <= end && segment[frame] !== 0;) {
      const id = segment.toString('latin1', frame, frame + 4)
      const size = version === 4 ? unsyncsafe(segment, frame + 4) : segment.readUInt32BE(frame + 4)
      const body = segment.subarray(frame + 10, frame + 10 + size)
      if (id === 'PRIV') {
        const owner = body.indexOf(0)
        tag.PRIV = `${body.toString('latin1', 0, owner)} ${body.subarray(owner + 1).toString('hex')}`
      } else if (id.startsWith('T')) {
        tag[id] = (body[0] === 3 ? body.toString('utf8', 1) : body.toString('latin1', 1)).replace(/\0+$/, '')
      }
      frame += 10 + size
    }
    tags.push(tag)
    at = end - 1
  }
  return tags
}
