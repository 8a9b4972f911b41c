import { commentsOf, identifyCodec, isLastFlacHeader, type CodecHeader } from './comments.js'
import { NO_SYNC, type FormatReader, type FormatSink } from './sink.js'

const CAPTURE = Buffer.from('OggS')
const HEADER_BYTES = 27
const CONTINUED = 0x01
const BOS = 0x02
/**
 * The most codec header bytes a chain may cache for new listeners. Comment headers may carry cover art, but
 * headers that never end (a Speex header announcing 2^32 extra packets, a header packet that never closes)
 * would otherwise be cached for as long as the stream runs, and no listener would ever get a place to start.
 */
export const MAX_HEADER_CACHE = 4 * 1024 * 1024

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let r = i << 24
    for (let k = 0; k < 8; k++) r = (r & 0x80000000) !== 0 ? (r << 1) ^ 0x04c11db7 : r << 1
    table[i] = r >>> 0
  }
  return table
})()

/** Ogg's CRC-32 (polynomial 0x04c11db7, no reflection) of a page with its CRC field read as zero. */
export function pageCrc (page: Buffer): number {
  let crc = 0
  for (let i = 0; i < page.length; i++) {
    const byte = i >= 22 && i < 26 ? 0 : page[i]!
    crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0
  }
  return crc
}

export interface Page {
  bytes: Buffer
  flags: number
  serial: number
  /** the lacing values */
  segments: Buffer
  body: Buffer
}

/**
 * The length of the page at `at`: a number when it is complete and sound, `undefined` when more bytes
 * are needed, `false` when the bytes there are no page (bad capture, version or CRC).
 */
export function pageLength (b: Buffer, at: number): number | false | undefined {
  if (b.length - at < HEADER_BYTES) {
    const n = Math.min(CAPTURE.length, b.length - at)
    return CAPTURE.subarray(0, n).equals(b.subarray(at, at + n)) ? undefined : false
  }
  if (b.readUInt32BE(at) !== 0x4f676753 || b[at + 4] !== 0) return false
  const count = b[at + 26]!
  if (b.length - at < HEADER_BYTES + count) return undefined
  let length = HEADER_BYTES + count
  for (let i = 0; i < count; i++) length += b[at + HEADER_BYTES + i]!
  if (b.length - at < length) return undefined
  return pageCrc(b.subarray(at, at + length)) === b.readUInt32LE(at + 22) ? length : false
}

function toPage (bytes: Buffer): Page {
  const count = bytes[26]!
  return {
    bytes,
    flags: bytes[5]!,
    serial: bytes.readUInt32LE(14),
    segments: bytes.subarray(HEADER_BYTES, HEADER_BYTES + count),
    body: bytes.subarray(HEADER_BYTES + count)
  }
}

interface LogicalStream {
  header: CodecHeader
  /** header packets completed so far */
  headersDone: number
  headersComplete: boolean
  /** the packet being assembled across pages */
  partial: Buffer[]
}

/**
 * Ogg reader: hands on whole, CRC-checked pages only (garbage and corrupt pages are skipped with a
 * reason), keeps the codec header pages of the current chain for new listeners, and marks data pages
 * of a chain whose headers are known as places to start. A BOS page after data starts a new chain,
 * whose headers replace the old ones. Multiplexed logical streams are followed one by one.
 */
export class OggReader implements FormatReader {
  readonly #sink: FormatSink
  #carry: Buffer = Buffer.alloc(0)
  #streams = new Map<number, LogicalStream>()
  #headerPages: Buffer[] = []
  #headerBytes = 0
  #chainHasData = false
  #headersPublished = false

  constructor (sink: FormatSink) {
    this.#sink = sink
  }

  push (chunk: Buffer): void {
    const buf = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk])
    let out: Buffer[] = []
    let outBytes = 0
    let firstSync = NO_SYNC
    let at = 0
    while (at < buf.length) {
      const length = pageLength(buf, at)
      if (length === undefined) break
      if (length === false) {
        at = this.#skipGarbage(buf, at)
        continue
      }
      const page = toPage(buf.subarray(at, at + length))
      if (this.#beginsChain(page) && out.length > 0) {
        // The old chain's pages go on before the new chain's headers are published: a listener who
        // gets those headers must not start in the old chain's data.
        this.#handOn(out, outBytes, firstSync)
        out = []
        outBytes = 0
        firstSync = NO_SYNC
      }
      if (this.#readPage(page) && firstSync === NO_SYNC) firstSync = outBytes
      out.push(page.bytes)
      outBytes += length
      at += length
    }
    this.#carry = buf.subarray(at)
    if (out.length > 0) this.#handOn(out, outBytes, firstSync)
  }

  #handOn (pages: Buffer[], bytes: number, firstSync: number): void {
    this.#sink.chunk(pages.length === 1 ? pages[0]! : Buffer.concat(pages, bytes), firstSync)
  }

  #beginsChain (page: Page): boolean {
    return (page.flags & BOS) !== 0 && this.#chainHasData
  }

  /** The offset of the next possible page after the bad bytes at `at`; reports what was skipped. */
  #skipGarbage (buf: Buffer, at: number): number {
    const next = buf.indexOf(CAPTURE, at + 1)
    const end = next === -1 ? Math.max(at + 1, buf.length - partialCaptureAtEnd(buf)) : next
    const page = CAPTURE.equals(buf.subarray(at, at + CAPTURE.length))
    this.#sink.corrupt(page ? `corrupt Ogg page skipped (${end - at} bytes)` : `${end - at} bytes between Ogg pages skipped`)
    return end
  }

  /** Follows the headers of the page's logical stream; true when the page is a place to start. */
  #readPage (page: Page): boolean {
    if ((page.flags & BOS) !== 0) return this.#beginStream(page)
    const stream = this.#streams.get(page.serial)
    if (stream === undefined || stream.headersComplete) {
      this.#chainHasData = true
      // Without any BOS page (an upstream that starts mid-stream) there are no headers to wait for.
      return this.#headersPublished || this.#streams.size === 0
    }
    if (!this.#cacheHeaderPage(page)) return false
    this.#readHeaderPackets(stream, page)
    this.#publishWhenComplete()
    return false
  }

  #beginStream (page: Page): boolean {
    if (this.#beginsChain(page)) {
      this.#streams = new Map()
      this.#headerPages = []
      this.#headerBytes = 0
      this.#chainHasData = false
      this.#headersPublished = false
    }
    const first = firstPacket(page)
    const header = identifyCodec(first)
    const stream: LogicalStream = { header, headersDone: 0, headersComplete: false, partial: [] }
    this.#streams.set(page.serial, stream)
    this.#headersPublished = false
    if (header.info !== undefined) this.#sink.info(header.info)
    if (!this.#cacheHeaderPage(page)) return false
    this.#readHeaderPackets(stream, page)
    this.#publishWhenComplete()
    return false
  }

  #readHeaderPackets (stream: LogicalStream, page: Page): void {
    if ((page.flags & CONTINUED) === 0) stream.partial = []
    let start = 0
    let length = 0
    for (const lacing of page.segments) {
      length += lacing
      if (lacing === 255) continue
      stream.partial.push(page.body.subarray(start, start + length))
      this.#headerPacket(stream, Buffer.concat(stream.partial))
      stream.partial = []
      start += length
      length = 0
      if (stream.headersComplete) return
    }
    if (length > 0) stream.partial.push(page.body.subarray(start, start + length))
  }

  #headerPacket (stream: LogicalStream, packet: Buffer): void {
    const index = stream.headersDone++
    const { codec, headerPackets } = stream.header
    const fields = commentsOf(codec, packet, index)
    if (fields !== undefined) this.#sink.tags(codec, fields)
    stream.headersComplete = headerPackets === undefined
      ? codec === 'flac' && (index === 0 ? isLastFlacHeader(packet.subarray(13)) : isLastFlacHeader(packet))
      : stream.headersDone >= headerPackets
  }

  /** Caches a header page; false when that took the cache past MAX_HEADER_CACHE and the headers were given up. */
  #cacheHeaderPage (page: Page): boolean {
    this.#headerPages.push(page.bytes)
    this.#headerBytes += page.bytes.length
    if (this.#headerBytes <= MAX_HEADER_CACHE) return true
    this.#giveUpHeaders()
    return false
  }

  /** Headers past MAX_HEADER_CACHE: the chain is read as having none, so that its data pages are places to start. */
  #giveUpHeaders (): void {
    this.#sink.corrupt(`codec headers of over ${MAX_HEADER_CACHE} bytes: not cached, listeners start without them`)
    for (const stream of this.#streams.values()) {
      stream.headersComplete = true
      stream.partial = []
    }
    this.#headerPages = []
    this.#headerBytes = 0
    this.#headersPublished = true
    this.#sink.headers([])
  }

  #publishWhenComplete (): void {
    if (this.#headersPublished) return
    for (const stream of this.#streams.values()) if (!stream.headersComplete) return
    this.#headersPublished = true
    this.#sink.headers([...this.#headerPages])
  }
}

/** How many bytes at the end of `buf` could be the start of a capture pattern cut by the chunking. */
export function partialCaptureAtEnd (buf: Buffer): number {
  for (let n = Math.min(CAPTURE.length - 1, buf.length); n > 0; n--) {
    if (CAPTURE.subarray(0, n).equals(buf.subarray(buf.length - n))) return n
  }
  return 0
}

/** The first packet of a BOS page: the lacing values up to the first one below 255. */
function firstPacket (page: Page): Buffer {
  let length = 0
  for (const lacing of page.segments) {
    length += lacing
    if (lacing < 255) break
  }
  return page.body.subarray(0, length)
}
