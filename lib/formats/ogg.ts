import { commentsOf, identifyCodec, isLastFlacHeader, type CodecHeader } from './comments.js'
import { NO_SYNC, type FormatReader, type FormatSink } from './sink.js'

const CAPTURE = Buffer.from('OggS')
const HEADER_BYTES = 27
const CONTINUED = 0x01
const BOS = 0x02
const EOS = 0x04
/**
 * How much of a chain's last pages is remembered (serials, sequence numbers and CRCs), so that a
 * reconnect's burst can be matched with what listeners got: four times Icecast's default burst. A source
 * played anew from its start (the same file, the same serial, the same pages) cannot be told from a burst
 * when its stream was shorter than this: listeners then wait for what they have not heard yet.
 */
export const REMEMBERED_BYTES = 256 * 1024
/**
 * What a remembered or cached page counts at least, whatever its length: about what its entry costs in
 * memory, so that a flood of 27-byte pages cannot hold a hundred times its budget.
 */
export const ENTRY_COST = 128
/**
 * The most logical streams followed in one chain (Theora with a few audio tracks needs a handful). The pages
 * of further streams are passed on unfollowed: a hostile upstream announcing thousands of serials would
 * otherwise be followed stream by stream, and each would get an EOS page at every reconnect.
 */
export const MAX_STREAMS = 32
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

const seqOf = (page: Page): number => page.bytes.readUInt32LE(18)
const crcOf = (page: Page): number => page.bytes.readUInt32LE(22)

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

/** What listeners got of a logical stream: enough to end it, or to carry on with it after a reconnect. */
export interface SentStream {
  serial: number
  /** sequence number of the last page handed on */
  seq: number
  /** granule position of the last page handed on that had one */
  granule: bigint
  eos: boolean
}

/**
 * The CRCs of a chain's last pages handed on, by serial and sequence number, within one budget for the
 * whole chain (REMEMBERED_BYTES, each page counting at least ENTRY_COST): the oldest are forgotten first.
 */
export class SentPages {
  readonly #pages = new Map<string, { crc: number, cost: number }>()
  #bytes = 0

  /** how many pages are remembered */
  get size (): number {
    return this.#pages.size
  }

  add (serial: number, seq: number, crc: number, length: number): void {
    const key = `${serial}:${seq}`
    this.#forget(key)
    const cost = Math.max(length, ENTRY_COST)
    this.#pages.set(key, { crc, cost })
    this.#bytes += cost
    for (const oldest of this.#pages.keys()) {
      if (this.#bytes <= REMEMBERED_BYTES) break
      this.#forget(oldest)
    }
  }

  crcOf (serial: number, seq: number): number | undefined {
    return this.#pages.get(`${serial}:${seq}`)?.crc
  }

  #forget (key: string): void {
    const page = this.#pages.get(key)
    if (page === undefined) return
    this.#pages.delete(key)
    this.#bytes -= page.cost
  }
}

/**
 * The chain listeners were in when an upstream connection ended. The next connection's reader ends its
 * logical streams before a new chain, or carries on with them when the connection carries on with them.
 */
export interface OpenChain {
  streams: SentStream[]
  sent: SentPages
  headerPages: Buffer[]
}

interface LogicalStream {
  header: CodecHeader
  sent: SentStream
  /** carried on from the previous connection: pages it sent again are not handed on twice */
  resumed: boolean
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
 *
 * Across an upstream reconnect, listeners riding the gap must get a stream players follow: the reader of
 * the new connection gets the chain the old one left open (`end()`). A new chain ends it first with EOS
 * pages; a connection that carries on with it (the same source, reconnected, sending its headers and
 * burst again, or pages after those the listeners got) is followed from the first page the listeners did
 * not get, as one logical stream.
 */
export class OggReader implements FormatReader {
  readonly #sink: FormatSink
  #carry: Buffer = Buffer.alloc(0)
  #streams = new Map<number, LogicalStream>()
  /** the current chain's last pages handed on */
  #sent = new SentPages()
  #headerPages: Buffer[] = []
  #headerBytes = 0
  #chainHasData = false
  #headersPublished = false
  /** the previous connection's chain, until this connection's pages end it or carry on with it */
  #previous: OpenChain | undefined
  /** this connection's first pages, the same as the previous chain's header pages: not handed on yet */
  #held: Page[] = []
  /** serials of the previous chain, which a new stream of this connection's first chain must not take */
  #taken: Set<number>
  /** upstream serial → the serial listeners get, for streams renamed away from the previous chain's */
  readonly #renamed = new Map<number, number>()

  /** `previous`: what `end()` of the reader of the upstream's previous connection returned. */
  constructor (sink: FormatSink, previous?: OpenChain) {
    this.#sink = sink
    this.#previous = previous
    this.#taken = new Set(previous?.streams.map((stream) => stream.serial))
  }

  push (chunk: Buffer): void {
    const buf = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk])
    let batch = new Batch()
    let at = 0
    while (at < buf.length) {
      const length = pageLength(buf, at)
      if (length === undefined) break
      if (length === false) {
        at = this.#skipGarbage(buf, at)
        continue
      }
      const page = this.#named(toPage(buf.subarray(at, at + length)))
      if (this.#beginsChain(page) && batch.pages.length > 0) {
        // The old chain's pages go on before the new chain's headers are published: a listener who
        // gets those headers must not start in the old chain's data.
        this.#handOn(batch)
        batch = new Batch()
      }
      this.#take(page, this.#readPage(page), batch)
      at += length
    }
    this.#carry = buf.subarray(at)
    if (batch.pages.length > 0) this.#handOn(batch)
  }

  /**
   * The chain listeners are in, for the reader of the upstream's next connection: an unfinished page
   * at the end was never handed on, so it is not part of it.
   */
  end (): OpenChain | undefined {
    if (this.#previous !== undefined) return this.#previous
    if (this.#streams.size === 0) return undefined
    return { streams: [...this.#streams.values()].map((stream) => stream.sent), sent: this.#sent, headerPages: [...this.#headerPages] }
  }

  #handOn (batch: Batch): void {
    const { pages, bytes, sync } = batch
    this.#sink.chunk(pages.length === 1 ? pages[0]! : Buffer.concat(pages, bytes), sync)
  }

  /**
   * Hands the page on, unless it belongs to the previous connection's chain carried on: the same header
   * pages again (held until the next page shows whether the chain carries on), or pages sent already.
   */
  #take (page: Page, start: boolean, batch: Batch): void {
    const previous = this.#previous
    if (previous !== undefined) {
      if (this.#repeatsHeaders(previous, page)) {
        this.#held.push(page)
        return
      }
      this.#previous = undefined
      if (this.#carriesOn(previous, page)) {
        this.#resume(previous)
      } else {
        for (const eos of endPages(previous)) batch.add(eos, false)
        for (const read of [...this.#held, page]) if (this.#taken.has(read.serial)) this.#rename(read.serial)
        for (const held of this.#held) this.#send(this.#named(held), false, batch)
        page = this.#named(page)
      }
      this.#held = []
    }
    if (!this.#sentAlready(page)) this.#send(page, start, batch)
  }

  #send (page: Page, start: boolean, batch: Batch): void {
    batch.add(page.bytes, start)
    const sent = this.#streams.get(page.serial)?.sent
    if (sent === undefined) return
    sent.seq = seqOf(page)
    const granule = page.bytes.readBigInt64LE(6)
    if (granule !== -1n) sent.granule = granule
    if ((page.flags & EOS) !== 0) sent.eos = true
    this.#sent.add(page.serial, sent.seq, crcOf(page), page.bytes.length)
  }

  /**
   * The page as listeners get it. Another upstream (a failover) may start its stream under a serial of
   * the chain listeners were in (encoders that draw serials from an unseeded rand(), as libshout's users
   * do, all start alike); after that chain's EOS the same serial again would break RFC 3533 (ffmpeg and
   * VLC fail on it), so such a stream gets a serial of its own, its pages rewritten (their CRC too).
   */
  #named (page: Page): Page {
    if (this.#beginsChain(page)) {
      // a later chain of this connection follows one of its own: the previous chain's serials are free again
      this.#taken.clear()
      this.#renamed.clear()
    }
    // while the previous chain may still be carried on, its serials are this connection's too (see #take)
    if ((page.flags & BOS) !== 0 && this.#previous === undefined && this.#taken.has(page.serial)) this.#rename(page.serial)
    const serial = this.#renamed.get(page.serial)
    return serial === undefined ? page : toPage(withSerial(page.bytes, serial))
  }

  /** Gives the stream of upstream serial `serial` a serial of its own, in what was read of it so far too. */
  #rename (serial: number): void {
    if (this.#renamed.has(serial)) return
    const free = freeSerial(serial, this.#taken)
    this.#renamed.set(serial, free)
    this.#taken.add(free)
    const stream = this.#streams.get(serial)
    if (stream !== undefined) {
      this.#streams.delete(serial)
      stream.sent.serial = free
      this.#streams.set(free, stream)
    }
    this.#headerPages = this.#headerPages.map((bytes) => (bytes.readUInt32LE(14) === serial ? withSerial(bytes, free) : bytes))
  }

  #repeatsHeaders (previous: OpenChain, page: Page): boolean {
    return previous.headerPages[this.#held.length]?.equals(page.bytes) === true
  }

  /**
   * Whether, after the previous chain's header pages again, the page goes on with a stream the listeners
   * are in: one they got (a server's burst on reconnecting to a source that kept running), or one after
   * the last they got (a gap longer than the burst: pages were lost, which decoders take as a hole). A new
   * stream under the same serial after an EOS page would break RFC 3533 (serials are unique within a
   * physical stream), and ffmpeg and VLC fail on it.
   */
  #carriesOn (previous: OpenChain, page: Page): boolean {
    if (previous.headerPages.length === 0 || this.#held.length < previous.headerPages.length) return false
    const sent = previous.streams.find((stream) => stream.serial === page.serial)
    if (sent === undefined || sent.eos) return false
    const seq = seqOf(page)
    return seq > sent.seq || previous.sent.crcOf(page.serial, seq) === crcOf(page)
  }

  #resume (previous: OpenChain): void {
    this.#sent = previous.sent
    for (const stream of this.#streams.values()) {
      const sent = previous.streams.find((s) => s.serial === stream.sent.serial)
      if (sent === undefined) continue
      stream.sent = sent
      stream.resumed = true
    }
  }

  #sentAlready (page: Page): boolean {
    const stream = this.#streams.get(page.serial)
    return stream?.resumed === true && seqOf(page) <= stream.sent.seq
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
      this.#sent = new SentPages()
      this.#headerPages = []
      this.#headerBytes = 0
      this.#chainHasData = false
      this.#headersPublished = false
    }
    if (this.#streams.size >= MAX_STREAMS && !this.#streams.has(page.serial)) {
      this.#sink.corrupt(`Ogg logical stream ${page.serial} is past ${MAX_STREAMS} in one chain: passed on, not followed`)
      return false
    }
    const first = firstPacket(page)
    const header = identifyCodec(first)
    const sent: SentStream = { serial: page.serial, seq: -1, granule: 0n, eos: false }
    const stream: LogicalStream = { header, sent, resumed: false, headersDone: 0, headersComplete: false, partial: [] }
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
    // a copy: the page must not keep the whole upstream read it came in alive
    this.#headerPages.push(Buffer.from(page.bytes))
    this.#headerBytes += Math.max(page.bytes.length, ENTRY_COST)
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

/** A copy of a page under another serial, its CRC made anew. */
function withSerial (page: Buffer, serial: number): Buffer {
  const bytes = Buffer.from(page)
  bytes.writeUInt32LE(serial, 14)
  bytes.writeUInt32LE(pageCrc(bytes), 22)
  return bytes
}

/** The first serial from `serial` on that none of `taken` has. */
function freeSerial (serial: number, taken: ReadonlySet<number>): number {
  let free = (serial + 1) >>> 0
  while (taken.has(free)) free = (free + 1) >>> 0
  return free
}

/** Pages handed on together as one chunk, with the offset of the first place to start among them. */
class Batch {
  readonly pages: Buffer[] = []
  bytes = 0
  sync = NO_SYNC

  add (page: Buffer, start: boolean): void {
    if (start && this.sync === NO_SYNC) this.sync = this.bytes
    this.pages.push(page)
    this.bytes += page.length
  }
}

/**
 * An EOS page for each logical stream of the chain that has not had one: the only bytes the relay writes
 * itself. Players (VLC) take a new chain's headers only after the old chain's streams ended. No segments,
 * so no packet is invented, and not continued, even when the last page ended inside a packet.
 */
export function endPages (chain: OpenChain): Buffer[] {
  return chain.streams.filter((stream) => !stream.eos).map((stream) => {
    const page = Buffer.alloc(HEADER_BYTES)
    CAPTURE.copy(page)
    page[5] = EOS
    page.writeBigInt64LE(stream.granule, 6)
    page.writeUInt32LE(stream.serial, 14)
    page.writeUInt32LE((stream.seq + 1) >>> 0, 18)
    page.writeUInt32LE(pageCrc(page), 22)
    return page
  })
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
