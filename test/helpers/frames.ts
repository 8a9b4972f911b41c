// Timed audio of our own making, no system tools: MPEG-1 Layer III frames and an Ogg Vorbis stream whose
// granule positions say how long each page plays.
import { pageCrc } from '../../lib/formats/ogg.js'
import { CODEC_HEADERS, filler, oggPage } from '../unit/fuzz/inputs.js'
import { noise } from './scripted.js'

/** MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 417 bytes and 1152 samples a frame. */
export const MP3_FRAME_BYTES = 417
export const MP3_FRAME_SECONDS = 1152 / 44100

/** `count` MP3 frames with noise as payload (no 0xFF in it, so no false frame sync). */
export function mp3Frames (count: number): Buffer {
  const frames: Buffer[] = []
  for (let i = 0; i < count; i++) frames.push(Buffer.from([0xff, 0xfb, 0x90, 0x00]), noise(MP3_FRAME_BYTES - 4))
  return Buffer.concat(frames)
}

/** The tag frames an encoder writes first in an MP3 file: LAME's Info (CBR) and Xing (VBR), Fraunhofer's VBRI. */
export type TagFrameKind = 'Info' | 'Xing' | 'Xing mono' | 'VBRI'

/**
 * One such tag frame, with the header of mp3Frames' frames (a mono one's channel mode aside): its tag where
 * ffmpeg's mp3 demuxer looks, after the side info (32 bytes in MPEG-1 stereo, 17 in mono) or at 36 for VBRI.
 */
export function tagFrame (kind: TagFrameKind): Buffer {
  const frame = Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, kind === 'Xing mono' ? 0xc0 : 0x00]), Buffer.alloc(MP3_FRAME_BYTES - 4)])
  frame.write(kind.slice(0, 4), kind === 'Xing mono' ? 4 + 17 : 4 + 32, 'latin1')
  return frame
}

/** An ID3v2.4 tag of `size` bytes of body, as a file's tags come before its frames. */
export function id3Tag (size: number): Buffer {
  const head = Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1')
  for (let i = 0; i < 4; i++) head[6 + i] = (size >> (7 * (3 - i))) & 0x7f
  return Buffer.concat([head, noise(size)])
}

const BOS = 0x02
const EOS = 0x04

/**
 * An Ogg Vorbis stream (44.1 kHz): its three header pages, then `pages` pages of `samplesPerPage` samples
 * each, the last with EOS.
 */
export function vorbisStream (serial: number, pages: number, samplesPerPage: number): Buffer {
  const [identification, comments, setup] = CODEC_HEADERS.vorbis!
  const out = [
    withGranule(oggPage(serial, 0, BOS, [identification!]), 0),
    withGranule(oggPage(serial, 1, 0, [comments!, setup!]), 0)
  ]
  for (let i = 0; i < pages; i++) {
    const page = oggPage(serial, 2 + i, i === pages - 1 ? EOS : 0, [filler(200 + i % 50, i), filler(300, serial)])
    out.push(withGranule(page, (i + 1) * samplesPerPage))
  }
  return Buffer.concat(out)
}

function withGranule (page: Buffer, granule: number): Buffer {
  page.writeBigInt64LE(BigInt(granule), 6)
  page.writeUInt32LE(pageCrc(page), 22)
  return page
}
