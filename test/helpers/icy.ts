import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { IcyDemuxer } from '../../lib/shoutcast/demux.js'
import { assertMetaint } from '../../lib/shoutcast/metaint.js'

/** Real captures shared by the team (see its README); never shipped, maybe absent. */
export const CONFORMANCE_DIR = new URL('../../../shared/conformance/', import.meta.url)

/**
 * True when the conformance folder is there. When it is not, says so loudly (diagnostic and a log
 * line) and skips, except under CI, where a missing folder must not pass unnoticed: it fails.
 */
export function conformancePresent (t: TestContext): boolean {
  if (existsSync(CONFORMANCE_DIR)) return true
  const message = `conformance folder ${fileURLToPath(CONFORMANCE_DIR)} is ABSENT: real captures were NOT checked`
  t.diagnostic(message)
  console.warn(`[test/shoutcast] ${message}`)
  if (process.env.CI) assert.fail(`${message} (CI is set, so this fails instead of skipping)`)
  t.skip(message)
  return false
}

/** A small seeded PRNG (mulberry32): property tests draw one seed instead of megabytes of bytes. */
export function prng (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

export function randomBytes (seed: number, length: number): Buffer {
  const next = prng(seed)
  const bytes = Buffer.alloc(length)
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(next() * 256)
  return bytes
}

/** Cuts `body` into chunks (views of it) whose sizes cycle through `sizes`. */
export function chunkBy (body: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = []
  for (let pos = 0, i = 0; pos < body.length; i++) {
    const end = Math.min(body.length, pos + sizes[i % sizes.length])
    chunks.push(body.subarray(pos, end))
    pos = end
  }
  return chunks
}

/** Cuts `body` at the given offsets (sorted, duplicates and out-of-range ones ignored). */
export function chunkAt (body: Buffer, cuts: readonly number[]): Buffer[] {
  const chunks: Buffer[] = []
  let pos = 0
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut <= pos || cut >= body.length) continue
    chunks.push(body.subarray(pos, cut))
    pos = cut
  }
  if (pos < body.length) chunks.push(body.subarray(pos))
  return chunks
}

/** A copy in an ArrayBuffer of its own, so that a view of it can be told from a copy. */
export function ownCopy (bytes: Buffer): Buffer {
  return Buffer.from(new Uint8Array(bytes).buffer)
}

export interface DemuxEvent {
  kind: 'metadata' | 'malformed'
  block: Buffer
  reason?: string
}

export interface Demuxed {
  audio: Buffer
  events: DemuxEvent[]
}

/**
 * Feeds `chunks` to an IcyDemuxer and collects what comes out, asserting on the way that every audio
 * piece is a view of the chunk being pushed (same memory, within its range), never a copy.
 */
export function demux (metaint: number, chunks: readonly Buffer[]): Demuxed {
  const audio: Buffer[] = []
  const events: DemuxEvent[] = []
  let pushing: Buffer = Buffer.alloc(0)
  const demuxer = new IcyDemuxer(metaint, {
    audio (piece) {
      assert.equal(piece.buffer, pushing.buffer, 'audio must be a subarray of the pushed chunk')
      assert.ok(piece.byteOffset >= pushing.byteOffset &&
        piece.byteOffset + piece.length <= pushing.byteOffset + pushing.length)
      audio.push(piece)
    },
    metadata (block) { events.push({ kind: 'metadata', block }) },
    malformed (reason, block) { events.push({ kind: 'malformed', block, reason }) }
  })
  for (const chunk of chunks) {
    pushing = chunk
    demuxer.push(chunk)
  }
  return { audio: Buffer.concat(audio), events }
}

export interface IcyBlock {
  /** where the block's length byte is in the body */
  lengthByteOffset: number
  /** audio bytes before it */
  audioBefore: number
  /** the L*16 bytes after the length byte (a subarray of the input), malformed or not */
  block: Buffer
}

export interface StrippedIcy {
  audio: Buffer
  /** the complete blocks with a non-zero length byte, in order */
  blocks: IcyBlock[]
  /** the length bytes read, zero ones included */
  boundaries: number
}

/**
 * Strips every metadata block from a whole ICY body at once. A plain walk, independent of
 * `IcyDemuxer`, so tests and conformance checks can hold one against the other. A block cut off by
 * the end of `body` is left out.
 */
export function stripIcy (body: Buffer, metaint: number): StrippedIcy {
  assertMetaint(metaint)
  const audio: Buffer[] = []
  const blocks: IcyBlock[] = []
  let boundaries = 0
  let audioBefore = 0
  let pos = 0
  while (pos < body.length) {
    const audioEnd = Math.min(body.length, pos + metaint)
    audio.push(body.subarray(pos, audioEnd))
    audioBefore += audioEnd - pos
    if (audioEnd === body.length) break
    const blockEnd = audioEnd + 1 + body[audioEnd] * 16
    boundaries++
    if (blockEnd > audioEnd + 1 && blockEnd <= body.length) {
      blocks.push({ lengthByteOffset: audioEnd, audioBefore, block: body.subarray(audioEnd + 1, blockEnd) })
    }
    pos = blockEnd
  }
  return { audio: Buffer.concat(audio), blocks, boundaries }
}

/** ICY framing of `audio` at `metaint`, with `blocks[i]` (length byte included) at boundary i, else 0x00. */
export function icyBody (audio: Buffer, metaint: number, blocks: Record<number, Buffer> = {}): Buffer {
  const parts: Buffer[] = []
  for (let i = 0, n = 0; i < audio.length; i += metaint, n++) {
    parts.push(audio.subarray(i, i + metaint))
    if (i + metaint <= audio.length) parts.push(blocks[n] ?? Buffer.from([0]))
  }
  return Buffer.concat(parts)
}

/** A metadata block (its length byte first) carrying `text`. */
export function icyBlock (text: string, encoding: BufferEncoding = 'utf8'): Buffer {
  const bytes = Buffer.from(text, encoding)
  const units = Math.ceil(bytes.length / 16)
  const out = Buffer.alloc(1 + units * 16)
  out[0] = units
  bytes.copy(out, 1)
  return out
}
