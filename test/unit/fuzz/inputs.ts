// Inputs for the fuzz targets: token soups that look like each format often enough to get past its first
// checks, real inputs with mutations, and Ogg streams of every codec the reader knows, built here with valid
// CRCs so that mutations reach the codec headers instead of stopping at the page check.
import fc from 'fast-check'
import { OggReader, pageCrc, pageLength, type OpenChain } from '../../../lib/formats/ogg.js'
import type { FormatReader, FormatSink } from '../../../lib/formats/sink.js'

/** Text made of the format's own tokens and a little of anything, so that parsers get past their first line. */
export function soup (tokens: readonly string[], maxParts = 40): fc.Arbitrary<string> {
  return fc.array(fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...tokens) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }).map((bytes) => Buffer.from(bytes).toString('latin1')) }
  ), { maxLength: maxParts }).map((parts) => parts.join(''))
}

type Mutation =
  | { op: 'set' | 'insert', at: number, bytes: Uint8Array }
  | { op: 'delete' | 'repeat', at: number, length: number }
  | { op: 'truncate', at: number }

/** Mutations whose new bytes are random or, with `tokens`, the format's own tokens. */
function mutations (tokens: readonly string[] = []): fc.Arbitrary<Mutation[]> {
  const bytes = tokens.length === 0
    ? fc.uint8Array({ minLength: 1, maxLength: 16 })
    : fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.constantFrom(...tokens).map((t) => new Uint8Array(Buffer.from(t, 'latin1'))))
  const at = fc.nat()
  return fc.array(fc.oneof(
    fc.record({ op: fc.constantFrom('set' as const, 'insert' as const), at, bytes }),
    fc.record({ op: fc.constantFrom('delete' as const, 'repeat' as const), at, length: fc.integer({ min: 1, max: 512 }) }),
    fc.record({ op: fc.constant('truncate' as const), at })
  ), { minLength: 1, maxLength: 8 })
}

/** A copy of `base` with the mutations applied in order; offsets are taken modulo the current length. */
function mutate (base: Buffer, list: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(base)
  for (const m of list) {
    const at = m.at % (bytes.length + 1)
    switch (m.op) {
      case 'set': bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at + m.bytes.length)]); break
      case 'insert': bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]); break
      case 'delete': bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]); break
      case 'repeat': bytes = Buffer.concat([bytes.subarray(0, at + m.length), bytes.subarray(at)]); break
      case 'truncate': bytes = bytes.subarray(0, at)
    }
  }
  return bytes
}

/** Windows of `base` up to `maxLength` bytes: the parsers' streams start anywhere in a file. */
export function windows (base: Buffer, maxLength: number): fc.Arbitrary<Buffer> {
  return fc.tuple(fc.nat({ max: base.length }), fc.nat({ max: maxLength }))
    .map(([start, length]) => base.subarray(start, start + length))
}

/** One of `bases` with mutations made of random bytes or, with `tokens`, of the format's own tokens. */
export function mutated (bases: fc.Arbitrary<Buffer>, tokens?: readonly string[]): fc.Arbitrary<Buffer> {
  return fc.tuple(bases, mutations(tokens)).map(([base, list]) => mutate(base, list))
}

/** Rewrites the CRC of every whole page found, so that a mutated page is read instead of skipped as corrupt. */
export function withPageCrcs (stream: Buffer): Buffer {
  const bytes = Buffer.from(stream)
  for (let at = bytes.indexOf('OggS'); at !== -1; at = bytes.indexOf('OggS', at + 1)) {
    if (at + 27 > bytes.length) break
    const count = bytes[at + 26]!
    let length = 27 + count
    for (let i = 0; i < count && at + 27 + i < bytes.length; i++) length += bytes[at + 27 + i]!
    if (at + length <= bytes.length) bytes.writeUInt32LE(pageCrc(bytes.subarray(at, at + length)), at + 22)
  }
  return bytes
}

const BOS = 0x02
const EOS = 0x04

/** One Ogg page holding `packets` (lacing as the spec says: a packet of 255*k bytes ends with a 0). */
export function oggPage (serial: number, sequence: number, flags: number, packets: readonly Buffer[]): Buffer {
  const lacing: number[] = []
  for (const packet of packets) {
    for (let left = packet.length; ; left -= 255) {
      lacing.push(Math.min(left, 255))
      if (left < 255) break
    }
  }
  const head = Buffer.alloc(27 + lacing.length)
  head.write('OggS', 0, 'latin1')
  head[5] = flags
  head.writeUInt32LE(sequence, 10) // granule position, low half: any increasing number will do
  head.writeUInt32LE(serial, 14)
  head.writeUInt32LE(sequence, 18)
  head[26] = lacing.length
  Buffer.from(lacing).copy(head, 27)
  const page = Buffer.concat([head, ...packets])
  page.writeUInt32LE(pageCrc(page), 22)
  return page
}

/** A Vorbis-comment list: vendor, then `KEY=value` strings, little-endian lengths. */
function commentList (vendor: string, comments: readonly string[]): Buffer {
  const strings = [vendor, ...comments].map((text) => Buffer.from(text))
  const parts: Buffer[] = []
  for (const [i, text] of strings.entries()) {
    const length = Buffer.alloc(4)
    length.writeUInt32LE(text.length)
    parts.push(length, text)
    if (i === 0) {
      const count = Buffer.alloc(4)
      count.writeUInt32LE(comments.length)
      parts.push(count)
    }
  }
  return Buffer.concat(parts)
}

const le32 = (value: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(value >>> 0); return b }
const COMMENTS = ['TITLE=Fuzz title', 'ARTIST=Fuzz artist', 'title=again', 'no equals sign']
/** Bytes of a fixed pattern: payloads that are the same for the same seed, so that a fuzz run replays. */
export const filler = (length: number, seed = 0): Buffer => Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff))

/** The header packets of each codec the Ogg reader identifies, as an encoder writes them. */
export const CODEC_HEADERS: Record<string, Buffer[]> = {
  vorbis: [
    Buffer.concat([Buffer.from('\x01vorbis', 'latin1'), le32(0), Buffer.from([2]), le32(44100), le32(0), le32(128000), le32(0), Buffer.from([0xb8, 1])]),
    Buffer.concat([Buffer.from('\x03vorbis', 'latin1'), commentList('fuzz', COMMENTS), Buffer.from([1])]),
    Buffer.concat([Buffer.from('\x05vorbis', 'latin1'), filler(300, 5)])
  ],
  opus: [
    Buffer.concat([Buffer.from('OpusHead', 'latin1'), Buffer.from([1, 2, 0x38, 1]), le32(48000), Buffer.from([0, 0, 0])]),
    Buffer.concat([Buffer.from('OpusTags', 'latin1'), commentList('fuzz', COMMENTS)])
  ],
  flac: [
    // `\x7fFLAC`, version 1.0, one more header packet, `fLaC`, then STREAMINFO (not last) of 34 bytes
    Buffer.concat([Buffer.from('\x7fFLAC\x01\x00\x00\x01fLaC\x00\x00\x00\x22', 'latin1'), filler(10, 1), Buffer.from([0x0a, 0xc4, 0x42]), filler(21, 2)]),
    Buffer.concat([Buffer.from([0x84, 0, 0, 60]), commentList('fuzz', COMMENTS)])
  ],
  speex: [
    Buffer.concat([Buffer.from('Speex   ', 'latin1'), filler(28, 3), le32(16000), filler(8, 4), le32(1), le32(24000), filler(12, 5), le32(0), filler(8, 6)]),
    commentList('fuzz', COMMENTS)
  ],
  theora: [
    Buffer.concat([Buffer.from('\x80theora', 'latin1'), filler(35, 7)]),
    Buffer.concat([Buffer.from('\x81theora', 'latin1'), commentList('fuzz', COMMENTS)]),
    Buffer.concat([Buffer.from('\x82theora', 'latin1'), filler(200, 8)])
  ],
  unknown: [Buffer.from('not a codec we know')]
}

/** A logical stream: BOS page with the first header, the other headers, then `dataPages` pages of data. */
export function logicalStream (codec: string, serial: number, dataPages: number): Buffer[] {
  const [first, ...rest] = CODEC_HEADERS[codec]!
  const pages = [oggPage(serial, 0, BOS, [first!])]
  if (rest.length > 0) pages.push(oggPage(serial, 1, 0, rest))
  for (let i = 0; i < dataPages; i++) {
    const packets = [filler(150 + i * 40, i), filler(700, serial + i)]
    pages.push(oggPage(serial, 2 + i, i === dataPages - 1 ? EOS : 0, packets))
  }
  return pages
}

/** Ogg streams to mutate: each codec alone, a chain (Vorbis then Opus), and Theora multiplexed with Vorbis. */
export const OGG_STREAMS: Buffer[] = [
  ...Object.keys(CODEC_HEADERS).map((codec, i) => Buffer.concat(logicalStream(codec, 100 + i, 4))),
  Buffer.concat([...logicalStream('vorbis', 1, 3), ...logicalStream('opus', 2, 3)]),
  (() => {
    const video = logicalStream('theora', 7, 3)
    const audio = logicalStream('vorbis', 8, 3)
    // both BOS pages first, as the spec wants for multiplexed streams; then the rest interleaved
    return Buffer.concat([video[0]!, audio[0]!, ...video.slice(1).flatMap((page, i) => [page, audio[i + 1]!])])
  })()
]

/**
 * Pages with valid CRCs and made-up contents: codec headers (whole, cut, or mutated) and random packets on a
 * few serials with random flags, some packets left open to continue on the next page.
 */
export const oggPageSoup: fc.Arbitrary<Buffer> = fc.array(fc.record({
  serial: fc.integer({ min: 1, max: 3 }),
  flags: fc.integer({ min: 0, max: 7 }),
  packets: fc.array(fc.oneof(
    fc.constantFrom(...Object.values(CODEC_HEADERS).flat()),
    fc.tuple(fc.constantFrom(...Object.values(CODEC_HEADERS).flat()), mutations()).map(([header, list]) => mutate(header, list)),
    fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes))
  ), { maxLength: 4 }),
  open: fc.boolean(),
  garbage: fc.uint8Array({ maxLength: 8 })
}), { maxLength: 12 }).map((pages) => Buffer.concat(pages.flatMap(({ serial, flags, packets, open, garbage }, i) => {
  const page = oggPage(serial, i, flags, open ? [...packets, filler(255, i)] : packets)
  if (open) {
    // the last lacing value of 255 (and the 0 after it) would close the packet: drop the 0 so it continues
    return [withPageCrcs(dropLastLacing(page)), Buffer.from(garbage)]
  }
  return [page, Buffer.from(garbage)]
})))

/** The page without its last lacing value (a 0 after a 255), so that its last packet continues on the next page. */
function dropLastLacing (page: Buffer): Buffer {
  const count = page[26]!
  if (count === 0 || page[27 + count - 1] !== 0) return page
  const out = Buffer.concat([page.subarray(0, 27 + count - 1), page.subarray(27 + count)])
  out[26] = count - 1
  return out
}

/**
 * The Ogg readers of two upstream connections, as the relay has them: the second gets the chain the first
 * left open (`end()` after each of the first one's pushes, as the relay may end it at any moment).
 */
export function reconnectingReaders (): {
  first: (sink: FormatSink) => FormatReader
  second: (sink: FormatSink) => FormatReader
  chain: () => OpenChain | undefined
} {
  let chain: OpenChain | undefined
  return {
    first: (sink) => {
      const reader = new OggReader(sink)
      return { push: (chunk) => { reader.push(chunk); chain = reader.end() } }
    },
    second: (sink) => new OggReader(sink, chain),
    chain: () => chain
  }
}

/** The pages of an Ogg file, in order. */
export function pagesOf (ogg: Buffer): Buffer[] {
  const pages: Buffer[] = []
  for (let at = 0; at < ogg.length;) {
    const length = pageLength(ogg, at) as number
    pages.push(ogg.subarray(at, at + length))
    at += length
  }
  return pages
}
