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

/** ADTS frames (AAC LC, 44.1 kHz, stereo, no CRC) with noise (or `payload`) as payload: enough for frame sync. */
export function syntheticAdts (frames: number, payload: (length: number) => Buffer = noise): Buffer {
  const out: Buffer[] = []
  for (let i = 0; i < frames; i++) {
    const length = 300 + (i % 7) * 10
    const frame = Buffer.concat([Buffer.alloc(7), payload(length - 7)])
    frame[0] = 0xff
    frame[1] = 0xf1
    frame[2] = (1 << 6) | (4 << 2)
    frame[3] = (2 << 6) | (length >> 11)
    frame[4] = (length >> 3) & 0xff
    frame[5] = ((length & 7) << 5) | 0x1f
    frame[6] = 0xfc
    out.push(frame)
  }
  return Buffer.concat(out)
}
