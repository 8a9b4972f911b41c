import type { AudioInfo, OggCodec } from './sink.js'

/**
 * Vorbis-comment lists (Vorbis, Opus, FLAC, Speex, Theora all use them): a vendor string, then
 * `KEY=value` strings, little-endian lengths. Keys are upper-cased (they are case-insensitive); the first
 * value of a key wins. A truncated or lying list yields the fields read before the damage.
 */
export function parseCommentList (b: Buffer, at: number): Record<string, string> {
  const fields: Record<string, string> = {}
  if (at + 4 > b.length) return fields
  let pos = at + 4 + b.readUInt32LE(at)
  if (pos + 4 > b.length) return fields
  const count = b.readUInt32LE(pos)
  pos += 4
  for (let i = 0; i < count && pos + 4 <= b.length; i++) {
    const length = b.readUInt32LE(pos)
    pos += 4
    if (pos + length > b.length) break
    const text = b.toString('utf8', pos, pos + length)
    pos += length
    const eq = text.indexOf('=')
    if (eq <= 0) continue
    const key = text.slice(0, eq).toUpperCase()
    if (!Object.hasOwn(fields, key)) fields[key] = text.slice(eq + 1)
  }
  return fields
}

export interface CodecHeader {
  codec: OggCodec
  /** header packets in all, this one included; undefined: until a packet that is not a header */
  headerPackets: number | undefined
  info?: AudioInfo
}

function startsWith (b: Buffer, text: string, at = 0): boolean {
  return b.length >= at + text.length && b.toString('latin1', at, at + text.length) === text
}

function known (value: number): number | null {
  return value > 0 ? value : null
}

function vorbisHeader (p: Buffer): CodecHeader {
  if (p.length < 30) return { codec: 'vorbis', headerPackets: 3 }
  const nominal = p.readInt32LE(20)
  return {
    codec: 'vorbis',
    headerPackets: 3,
    info: { codec: 'vorbis', channels: p[11]!, sampleRate: p.readUInt32LE(12), bitrate: known(Math.round(nominal / 1000)) }
  }
}

function opusHeader (p: Buffer): CodecHeader {
  if (p.length < 19) return { codec: 'opus', headerPackets: 2 }
  return { codec: 'opus', headerPackets: 2, info: { codec: 'opus', channels: p[9]!, sampleRate: 48000, bitrate: null } }
}

function flacHeader (p: Buffer): CodecHeader {
  const count = p.length >= 9 ? p.readUInt16BE(7) : 0
  const headerPackets = count === 0 ? undefined : count + 1
  // STREAMINFO follows `fLaC` and its 4-byte block header: sample rate 20 bits, channels-1 3 bits
  const si = 13 + 4
  if (p.length < si + 18) return { codec: 'flac', headerPackets }
  const sampleRate = (p[si + 10]! << 12) | (p[si + 11]! << 4) | (p[si + 12]! >> 4)
  const channels = ((p[si + 12]! >> 1) & 7) + 1
  return { codec: 'flac', headerPackets, info: { codec: 'flac', channels, sampleRate, bitrate: null } }
}

function speexHeader (p: Buffer): CodecHeader {
  if (p.length < 80) return { codec: 'speex', headerPackets: 2 }
  return {
    codec: 'speex',
    headerPackets: 2 + p.readUInt32LE(68),
    info: { codec: 'speex', sampleRate: p.readUInt32LE(36), channels: p.readUInt32LE(48), bitrate: known(Math.round(p.readInt32LE(52) / 1000)) }
  }
}

/** What the first packet of an Ogg logical stream (on its BOS page) says about the codec. */
export function identifyCodec (first: Buffer): CodecHeader {
  if (first[0] === 0x01 && startsWith(first, 'vorbis', 1)) return vorbisHeader(first)
  if (startsWith(first, 'OpusHead')) return opusHeader(first)
  if (first[0] === 0x7f && startsWith(first, 'FLAC', 1)) return flacHeader(first)
  if (startsWith(first, 'Speex   ')) return speexHeader(first)
  if (first[0] === 0x80 && startsWith(first, 'theora', 1)) return { codec: 'theora', headerPackets: 3 }
  return { codec: 'unknown', headerPackets: 1 }
}

/** The comment fields in a header packet, or undefined when the packet is not a comment header. */
export function commentsOf (codec: OggCodec, packet: Buffer, index: number): Record<string, string> | undefined {
  switch (codec) {
    case 'vorbis': return packet[0] === 0x03 && startsWith(packet, 'vorbis', 1) ? parseCommentList(packet, 7) : undefined
    case 'opus': return startsWith(packet, 'OpusTags') ? parseCommentList(packet, 8) : undefined
    case 'flac': return (packet[0]! & 0x7f) === 4 ? parseCommentList(packet, 4) : undefined
    case 'speex': return index === 1 ? parseCommentList(packet, 0) : undefined
    case 'theora': return packet[0] === 0x81 && startsWith(packet, 'theora', 1) ? parseCommentList(packet, 7) : undefined
    default: return undefined
  }
}

/** FLAC header packets without a count end with the metadata block flagged last. */
export function isLastFlacHeader (packet: Buffer): boolean {
  return (packet[0]! & 0x80) !== 0
}
