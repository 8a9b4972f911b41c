// ADTS (AAC) test input: a real capture when the shared conformance folder is there, else our own frames.
import { existsSync, readFileSync } from 'node:fs'
import { CONFORMANCE_DIR } from './icy.js'
import { noise } from './scripted.js'

/** A real ADTS capture when the conformance folder is there, else frames of our own making. */
export function adtsFixture (): Buffer {
  const capture = new URL('icecast-metadata-js/aac-somafm-deepspaceone-metaint16000-truncated/music-128k.aac.prefix-1312000', CONFORMANCE_DIR)
  if (existsSync(capture)) return readFileSync(capture).subarray(0, 200000)
  return syntheticAdts(400)
}

/** What an ADTS header says of its frames: AAC LC, 44.1 kHz, stereo by default; `length` by frame index. */
export interface AdtsShape {
  objectType?: number
  /** an index of the ADTS sampling frequencies (4: 44.1 kHz, 3: 48 kHz, 0: 96 kHz) */
  rateIndex?: number
  channels?: number
  length?: (index: number) => number
}

/** ADTS frames (no CRC, one raw block each) with noise (or `payload`) as payload: enough for frame sync. */
export function syntheticAdts (frames: number, payload: (length: number) => Buffer = noise, shape: AdtsShape = {}): Buffer {
  const { objectType = 2, rateIndex = 4, channels = 2, length: lengthOf = (i: number) => 300 + (i % 7) * 10 } = shape
  const out: Buffer[] = []
  for (let i = 0; i < frames; i++) {
    const length = lengthOf(i)
    const frame = Buffer.concat([Buffer.alloc(7), payload(length - 7)])
    frame[0] = 0xff
    frame[1] = 0xf1
    frame[2] = ((objectType - 1) << 6) | (rateIndex << 2) | (channels >> 2)
    frame[3] = ((channels & 3) << 6) | (length >> 11)
    frame[4] = (length >> 3) & 0xff
    frame[5] = ((length & 7) << 5) | 0x1f
    frame[6] = 0xfc
    out.push(frame)
  }
  return Buffer.concat(out)
}
