/** Offset within a chunk where a new listener may start anywhere: the format has no frames we know. */
export const SYNC_ANYWHERE = -2
/** A chunk with no point where a new listener may start. */
export const NO_SYNC = -1

export interface AudioInfo {
  codec: 'mp3' | 'mp2' | 'mp1' | 'aac' | 'vorbis' | 'opus' | 'flac' | 'speex' | 'theora' | 'unknown'
  /** kbit/s: from the frames (MPEG, ADTS) or the nominal rate in the codec header (Vorbis), else null */
  bitrate: number | null
  sampleRate: number | null
  channels: number | null
}

export type OggCodec = Exclude<AudioInfo['codec'], 'mp3' | 'mp2' | 'mp1' | 'aac'>

export interface FormatSink {
  /**
   * Stream bytes to send on, in order. `sync` is the offset of the first byte in `bytes` where a new
   * listener may start (a frame or page boundary), NO_SYNC when there is none, SYNC_ANYWHERE when any
   * byte will do.
   */
  chunk (bytes: Buffer, sync: number): void
  /** Codec headers (Ogg header pages) a new listener needs before any data: they replace earlier ones. */
  headers (pages: Buffer[]): void
  info (info: AudioInfo): void
  /** Comment fields (Vorbis comments, OpusTags), keys upper-cased, first value of a key kept. */
  tags (codec: OggCodec, fields: Record<string, string>): void
  /** Bytes that were skipped or passed on without a sync point, and why. */
  corrupt (reason: string): void
}

/**
 * A pure reader. Whatever the chunking of the same input, the bytes it hands on (concatenated), its
 * headers, infos and tags are the same, and every sync offset it reports is a frame or page start.
 */
export interface FormatReader {
  push (chunk: Buffer): void
}
