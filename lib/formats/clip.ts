import { FormatDetector } from './detect.js'
import { endPages } from './ogg.js'
import type { AudioInfo } from './sink.js'

/** The container a player decodes for a codec: Ogg whatever its codec, MPEG audio, or AAC (ADTS). */
export type Container = 'mpeg' | 'aac' | 'ogg'

export function containerOf (codec: AudioInfo['codec']): Container {
  return codec === 'aac' ? 'aac' : codec.startsWith('mp') ? 'mpeg' : 'ogg'
}

/** A file cut to what a decoder can follow from its first byte to its last, with its container. */
export interface Clip {
  container: Container
  bytes: Buffer
}

/**
 * The playable part of a whole file (an intro), read by the stream's own readers: MPEG/ADTS from its first
 * frame to its last whole one (tags before and after, and a cut last frame, left out); Ogg as its whole,
 * CRC-checked pages, codec headers included, every logical stream ended (an EOS page where the file has
 * none), so that a stream after it may begin a chain of its own. A string says why there is none: no audio
 * format the relay reads, damage (long runs of bytes between frames, corrupt pages), or no whole frame.
 */
export function clipOf (file: Buffer): Clip | string {
  const chunks: Buffer[] = []
  let info: AudioInfo | undefined
  let damage: string | undefined
  const detector = new FormatDetector({
    chunk: (bytes, sync) => {
      if (detector.format === 'mpeg' && chunks.length === 0) {
        if (sync < 0) return
        bytes = bytes.subarray(sync)
      }
      chunks.push(bytes)
    },
    headers: () => {},
    info: (found) => { info ??= found },
    tags: () => {},
    corrupt: (reason) => { damage ??= reason }
  })
  detector.push(file)
  if (detector.format === undefined || info === undefined) return 'no MP3, AAC (ADTS) or Ogg audio in it'
  if (damage !== undefined) return `damaged: ${damage}`
  const chain = detector.end()
  if (chain !== undefined) chunks.push(...endPages(chain))
  if (chunks.length === 0) return 'no whole frame in it'
  return { container: containerOf(info.codec), bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }
}
