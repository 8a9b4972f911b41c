/**
 * ID3v2.4 tags as HLS packed audio needs them (RFC 8216 §3.4): the timestamp PRIV frame that starts each
 * segment and the TIT2 frame that carries a title. Written by hand: the npm ID3 writers write v2.3 or need files.
 */

/** The 33-bit MPEG-2 timestamp wraps here (90 kHz ticks). */
export const TIMESTAMP_WRAP = 2 ** 33
const TIMESTAMP_OWNER = 'com.apple.streaming.transportStreamTimestamp'
const HEADER_BYTES = 10
/** A sync-safe integer has 7 bits in each of its 4 bytes. */
export const MAX_SYNCSAFE = 2 ** 28 - 1
const UTF8 = 3

/** `value` in 4 bytes of 7 bits each, so that no byte of a size looks like a sync word. */
export function syncsafe (value: number): Buffer {
  return Buffer.from([(value >> 21) & 0x7f, (value >> 14) & 0x7f, (value >> 7) & 0x7f, value & 0x7f])
}

export function readSyncsafe (b: Buffer, at: number): number {
  return (b[at]! << 21) | (b[at + 1]! << 14) | (b[at + 2]! << 7) | b[at + 3]!
}

function frame (id: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(id, 'latin1'), syncsafe(body.length), Buffer.alloc(2), body])
}

function tag (frames: Buffer[]): Buffer {
  const body = Buffer.concat(frames)
  return Buffer.concat([Buffer.from([0x49, 0x44, 0x33, 4, 0, 0]), syncsafe(body.length), body])
}

/**
 * The tag that starts a segment: where its first sample sits on the 90 kHz clock, modulo 2^33, and the title
 * then, so that a player starting there shows it (ffmpeg reads titles from this tag only).
 */
export function segmentTag (ticks: number, title: string | undefined): Buffer {
  const stamp = Buffer.alloc(8)
  stamp.writeBigUInt64BE(BigInt(Math.round(ticks) % TIMESTAMP_WRAP))
  const priv = frame('PRIV', Buffer.concat([Buffer.from(TIMESTAMP_OWNER + '\0', 'latin1'), stamp]))
  return tag(title === undefined ? [priv] : [priv, titleFrame(title)])
}

/** Bytes of title kept in a tag: far more than any ICY title (4080), far less than a sync-safe size. */
export const MAX_TITLE_BYTES = 65536

/** The TIT2 frame of a title, in UTF-8; a title past MAX_TITLE_BYTES is cut on a character boundary. */
function titleFrame (title: string): Buffer {
  let text = Buffer.from(title, 'utf8')
  if (text.length > MAX_TITLE_BYTES) {
    let end = MAX_TITLE_BYTES
    while ((text[end]! & 0xc0) === 0x80) end--
    text = text.subarray(0, end)
  }
  return frame('TIT2', Buffer.concat([Buffer.from([UTF8]), text]))
}

/** A tag with a title that starts within a segment, before its first frame. */
export function titleTag (title: string): Buffer {
  return tag([titleFrame(title)])
}

/** The whole length of the ID3v2 tag at `at`, or 0 when there is none there. */
export function tagLength (b: Buffer, at: number): number {
  if (b.length < at + HEADER_BYTES || b.toString('latin1', at, at + 3) !== 'ID3') return 0
  return HEADER_BYTES + readSyncsafe(b, at + 6)
}
