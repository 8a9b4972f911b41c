import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { before, test } from 'node:test'
import fc from 'fast-check'
import { FormatDetector } from '../../../lib/formats/detect.js'
import { MpegReader, frameHeader } from '../../../lib/formats/mpeg.js'
import { ENTRY_COST, MAX_HEADER_CACHE, MAX_STREAMS, OggReader, REMEMBERED_BYTES, pageCrc, pageLength, type OpenChain } from '../../../lib/formats/ogg.js'
import { NO_SYNC, SYNC_ANYWHERE, type AudioInfo, type FormatReader, type FormatSink } from '../../../lib/formats/sink.js'
import { BurstRing } from '../../../lib/mount/burst.js'
import { makeFixtures, type Fixtures } from '../../helpers/icecast.js'
import { noise } from '../../helpers/scripted.js'
import { cut } from '../../helpers/chunking.js'
import { adtsFixture, syntheticAdts } from '../../helpers/adts.js'
import { CODEC_HEADERS, logicalStream, oggPage, pagesOf, reconnectingReaders } from '../fuzz/inputs.js'

interface Read {
  out: Buffer
  /** absolute stream offsets of the reported places to start */
  syncs: number[]
  /** for each place to start, how many times headers had been published when it was handed on */
  headersBefore: number[]
  anywhere: boolean
  headers: Buffer[][]
  infos: AudioInfo[]
  tags: Array<Record<string, string>>
  corrupt: string[]
}

function read (make: (sink: FormatSink) => FormatReader, chunks: Buffer[]): Read {
  const result: Read = { out: Buffer.alloc(0), syncs: [], headersBefore: [], anywhere: false, headers: [], infos: [], tags: [], corrupt: [] }
  const out: Buffer[] = []
  let at = 0
  const reader = make({
    chunk: (bytes, sync) => {
      if (sync === SYNC_ANYWHERE) result.anywhere = true
      else if (sync !== NO_SYNC) {
        result.syncs.push(at + sync)
        result.headersBefore.push(result.headers.length)
      }
      out.push(bytes)
      at += bytes.length
    },
    headers: (pages) => result.headers.push(pages),
    info: (info) => result.infos.push(info),
    tags: (_codec, fields) => result.tags.push(fields),
    corrupt: (reason) => result.corrupt.push(reason)
  })
  for (const chunk of chunks) reader.push(chunk)
  result.out = Buffer.concat(out)
  return result
}

/** Frame starts of an MPEG/ADTS file that begins with a frame, walking frame lengths. */
function frameStarts (bytes: Buffer): number[] {
  const starts: number[] = []
  for (let at = 0; at < bytes.length;) {
    const header = frameHeader(bytes, at)
    if (header === undefined) break
    starts.push(at)
    at += header.length
  }
  return starts
}

const sample = readFileSync(new URL('../../demo/sample.mp3', import.meta.url))
const cuts = fc.array(fc.nat(), { maxLength: 30 })
let fixtures: Fixtures

before(async () => { fixtures = await makeFixtures() })

test('MPEG frame headers: every field checked, lengths as the encoder wrote them', () => {
  const header = frameHeader(sample, 0)!
  assert.deepEqual({ ...header, length: undefined }, { codec: 'mp3', length: undefined, bitrate: 96, sampleRate: 44100, channels: 2, samples: 1152 })
  assert.ok(header.length === 313 || header.length === 314)
  const starts = frameStarts(sample)
  assert.ok(starts.length > 1100, `${starts.length} frames walked`)
  assert.equal(frameHeader(Buffer.from([0xff, 0xfb, 0xf0, 0x00, 0, 0, 0]), 0), undefined, 'bitrate index 15')
  assert.equal(frameHeader(Buffer.from([0xff, 0xfb, 0x0c, 0x00, 0, 0, 0]), 0), undefined, 'sample rate index 3')
  assert.equal(frameHeader(Buffer.from([0xff, 0xeb, 0x90, 0x00, 0, 0, 0]), 0), undefined, 'reserved version')
  assert.equal(frameHeader(Buffer.from([0xff, 0xf9, 0x90, 0x00, 0, 0, 0]), 0), undefined, 'layer bits 00 with MPEG-1 is ADTS, whose rate index 4 is fine but length 0 is not')
})

test('MPEG reader: any chunking hands on the same whole frames; every place to start is a frame start', () => {
  const junk = noise(777)
  const input = Buffer.concat([junk, sample.subarray(5000, 60000)])
  const frames = new Set(frameStarts(sample.subarray(5000 + frameOffset(sample, 5000))).map((s) => s + junk.length + frameOffset(sample, 5000)))
  const whole = read((sink) => new MpegReader(sink), [input])
  fc.assert(fc.property(cuts, (points) => {
    const r = read((sink) => new MpegReader(sink), cut(input, points))
    assert.ok(r.out.equals(whole.out))
    assert.ok(input.subarray(0, r.out.length).equals(r.out), 'a prefix of the input: nothing lost, nothing invented')
    assert.ok(input.length - r.out.length < 400, 'at most the unfinished last frame is held')
    for (const sync of r.syncs) assert.ok(frames.has(sync), `sync at ${sync}`)
    assert.deepEqual(r.infos, whole.infos)
    return r.syncs.length > 0
  }))
  assert.equal(whole.infos[0]?.bitrate, 96)
})

function frameOffset (bytes: Buffer, from: number): number {
  for (let at = from; at < bytes.length; at++) {
    const h = frameHeader(bytes, at)
    if (h !== undefined && frameHeader(bytes, at + h.length) !== undefined) return at - from
  }
  return -1
}

test('MPEG reader: an unfinished frame is held, so a reconnect never leaves half a frame', () => {
  const r = read((sink) => new MpegReader(sink), [sample.subarray(0, 1000)])
  const starts = frameStarts(sample)
  assert.equal(r.out.length, starts.find((s) => s > 1000 - 314 && s <= 1000))
  assert.equal(r.syncs[0], 0)
})

test('ADTS frames: the reader finds them and reports AAC', () => {
  const aac = adtsFixture()
  const r = read((sink) => new MpegReader(sink), cut(aac, [100, 5000, 5001]))
  assert.equal(r.infos[0]?.codec, 'aac')
  assert.ok(r.syncs.length > 0)
  for (const sync of r.syncs) {
    const h = frameHeader(aac, sync)
    assert.ok(h !== undefined && h.codec === 'aac')
  }
})

test('synthetic ADTS frames are valid frames', () => {
  const aac = syntheticAdts(20)
  assert.equal(frameStarts(aac).length, 20)
  assert.equal(frameHeader(aac, 0)?.sampleRate, 44100)
  assert.equal(frameHeader(aac, 0)?.channels, 2)
})

test('Ogg CRC and pages: every page of a real file checks out', () => {
  const ogg = readFileSync(fixtures.vorbis.tracks[0]!.file)
  let pages = 0
  for (let at = 0; at < ogg.length; pages++) {
    const length = pageLength(ogg, at)
    assert.equal(typeof length, 'number', `page at ${at}`)
    at += length as number
  }
  assert.ok(pages > 5, `${pages} pages`)
  assert.equal(pageCrc(ogg.subarray(0, pageLength(ogg, 0) as number)), ogg.readUInt32LE(22))
})

for (const kind of ['vorbis', 'opus'] as const) {
  test(`Ogg ${kind}: header pages cached, tags and info read, any chunking gives the same result`, () => {
    const track = fixtures[kind].tracks[1]!
    const ogg = readFileSync(track.file)
    const whole = read((sink) => new OggReader(sink), [ogg])
    assert.ok(whole.out.equals(ogg), 'every page handed on')
    assert.equal(whole.headers.length, 1)
    const headerBytes = Buffer.concat(whole.headers[0]!)
    assert.ok(ogg.subarray(0, headerBytes.length).equals(headerBytes), 'the header pages are the first pages')
    assert.equal(whole.tags[0]!['TITLE'], track.title)
    assert.equal(whole.tags[0]!['ARTIST'], track.artist)
    assert.equal(whole.infos[0]!.codec, kind)
    assert.equal(whole.infos[0]!.channels, 2)
    assert.equal(whole.infos[0]!.sampleRate, kind === 'opus' ? 48000 : 44100)
    assert.equal(whole.syncs[0], headerBytes.length, 'the first place to start is the first data page')
    assert.deepEqual(whole.corrupt, [])
    fc.assert(fc.property(cuts, (points) => {
      const r = read((sink) => new OggReader(sink), cut(ogg, points))
      assert.ok(r.out.equals(ogg))
      assert.deepEqual(r.headers.map((pages) => Buffer.concat(pages)), [headerBytes])
      assert.deepEqual(r.tags, whole.tags)
      for (const sync of r.syncs) assert.ok(sync >= headerBytes.length && pageLength(ogg, sync) !== false)
    }), { numRuns: 50 })
  })
}

test('Ogg chained stream: a BOS page after data starts a new chain whose headers replace the old', () => {
  const first = readFileSync(fixtures.vorbis.tracks[0]!.file)
  const second = readFileSync(fixtures.opus.tracks[2]!.file)
  const r = read((sink) => new OggReader(sink), cut(Buffer.concat([first, second]), [4000, first.length - 3, first.length + 50]))
  assert.equal(r.headers.length, 2)
  const secondHeaders = Buffer.concat(r.headers[1]!)
  assert.ok(second.subarray(0, secondHeaders.length).equals(secondHeaders))
  assert.deepEqual(r.tags.map((t) => t['TITLE']), [fixtures.vorbis.tracks[0]!.title, fixtures.opus.tracks[2]!.title])
  assert.deepEqual(r.infos.map((i) => i.codec), ['vorbis', 'opus'])
  assert.ok(r.syncs.some((s) => s === first.length + secondHeaders.length))
  assert.ok(!r.syncs.some((s) => s >= first.length && s < first.length + secondHeaders.length))

  // Whatever the chunking (one read holding the end of one chain and the whole head of the next
  // included), a place to start handed on after a chain's headers lies in that chain's data.
  const both = Buffer.concat([first, second])
  const secondData = first.length + secondHeaders.length
  fc.assert(fc.property(cuts, (points) => {
    const c = read((sink) => new OggReader(sink), cut(both, points))
    assert.ok(c.out.equals(both))
    c.syncs.forEach((s, i) => {
      if (c.headersBefore[i] === 1) assert.ok(s < first.length, `sync ${s} after the first headers`)
      else assert.ok(s >= secondData, `sync ${s} after the second headers, before the second chain's data at ${secondData}`)
    })
  }), { numRuns: 100, examples: [[[]], [[first.length - 20000, secondData + 100]]] })
})

/**
 * Two upstream connections, each with its own reader as the relay has them: the second one gets what the
 * first one's end() returned. The output is what a listener riding the gap gets.
 */
function readAcross (first: Buffer[], second: Buffer[]): { out: Buffer, chain: OpenChain | undefined } {
  const readers = reconnectingReaders()
  const a = read(readers.first, first)
  const b = read(readers.second, second)
  return { out: Buffer.concat([a.out, b.out]), chain: readers.chain() }
}

/** The page with its last lacing value 255: its last packet goes on in the next page. */
function unfinishedPacket (page: Buffer): Buffer {
  const count = page[26]!
  const body = page.subarray(27 + count)
  const lacing = [...page.subarray(27, 27 + count)]
  const whole = lacing.slice(0, -1).reduce((sum, n) => sum + n, 0)
  const open = Buffer.concat([page.subarray(0, 26), Buffer.from([count]), Buffer.from([...lacing.slice(0, -1), 255]), body.subarray(0, whole), Buffer.alloc(255, 7)])
  open.writeBigInt64LE(-1n, 6)
  open.writeUInt32LE(pageCrc(open), 22)
  return open
}

const flagsOf = (page: Buffer): number => page[5]!
const seqOfPage = (page: Buffer): number => page.readUInt32LE(18)

test('Ogg across a reconnect: a new chain comes after an EOS page for each open stream of the old one, whatever the chunking', () => {
  const file = pagesOf(readFileSync(fixtures.vorbis.long.file))
  // a page whose last packet goes on in the next page (which never comes): the EOS page after it must
  // not claim to continue it
  const unfinished = 12
  const pages = [...file.slice(0, unfinished), unfinishedPacket(file[unfinished]!), ...file.slice(unfinished + 1)]
  const next = readFileSync(fixtures.opus.tracks[0]!.file)
  fc.assert(fc.property(fc.integer({ min: 3, max: pages.length - 2 }), fc.nat(4000), cuts, cuts, (count, tail, pointsA, pointsB) => {
    const whole = Buffer.concat(pages.slice(0, count))
    // the first connection may end inside a page: that page was never handed on
    const sent = Buffer.concat([whole, pages[count]!.subarray(0, tail % pages[count]!.length)])
    const { out } = readAcross(cut(sent, pointsA), cut(next, pointsB))
    const last = pages[count - 1]!
    const granules = pages.slice(0, count).map((page) => page.readBigInt64LE(6)).filter((g) => g !== -1n)
    const eos = out.subarray(whole.length, whole.length + 27)
    assert.ok(out.subarray(0, whole.length).equals(whole), 'the old chain\'s whole pages, untouched')
    assert.equal(pageLength(eos, 0), 27, 'a sound page (CRC) with no segments: no packet invented')
    assert.equal(flagsOf(eos), 0x04, 'EOS, neither BOS nor continued')
    assert.equal(eos.readUInt32LE(14), last.readUInt32LE(14), 'the old stream\'s serial')
    assert.equal(seqOfPage(eos), seqOfPage(last) + 1, 'the next page sequence number')
    assert.equal(eos.readBigInt64LE(6), granules.at(-1), 'the last granule position')
    assert.ok(out.subarray(whole.length + 27).equals(next), 'then the new chain as it came')
  }), { numRuns: 60, examples: [[unfinished + 1, 0, [], []], [unfinished + 1, 100, [5000], [1]]] })
})

test('Ogg across a reconnect: a stream that had its EOS gets none; a connection that sent nothing hands the open chain on', () => {
  const track = readFileSync(fixtures.vorbis.tracks[0]!.file)
  const next = readFileSync(fixtures.opus.tracks[0]!.file)
  assert.ok(readAcross([track], [next]).out.equals(Buffer.concat([track, next])), 'no second EOS')
  const pages = pagesOf(readFileSync(fixtures.vorbis.long.file))
  const open = Buffer.concat(pages.slice(0, 10))
  const { chain } = readAcross([open], [])
  const empty = new OggReader({ chunk: () => assert.fail('nothing to hand on'), headers: () => {}, info: () => {}, tags: () => {}, corrupt: () => {} }, chain)
  assert.equal(empty.end(), chain, 'an answer without pages leaves the chain open')
  assert.deepEqual(empty.end(), chain, 'end() twice')
  const r = read((sink) => new OggReader(sink, empty.end()), [next])
  assert.equal(r.out.length, next.length + 27)
  assert.equal(flagsOf(r.out), 0x04)
})

test('Ogg across a reconnect: every logical stream of a multiplexed chain gets its EOS page', () => {
  const video = logicalStream('theora', 7, 3).slice(0, -1)
  const audio = logicalStream('vorbis', 8, 3).slice(0, -1)
  const chain = Buffer.concat([video[0]!, audio[0]!, ...video.slice(1), ...audio.slice(1)])
  const next = Buffer.concat(logicalStream('opus', 9, 2))
  fc.assert(fc.property(cuts, cuts, (a, b) => {
    const { out } = readAcross(cut(chain, a), cut(next, b))
    const eos = pagesOf(out.subarray(chain.length, out.length - next.length))
    assert.deepEqual(eos.map((page) => [page.readUInt32LE(14), seqOfPage(page), flagsOf(page)]), [[7, 4, 0x04], [8, 4, 0x04]])
  }), { numRuns: 30 })
})

test('Ogg across a reconnect to a source that kept running: the same headers and a burst of pages already sent carry the stream on, nothing twice', () => {
  for (const ogg of [readFileSync(fixtures.vorbis.long.file), readFileSync(fixtures.opus.long.file)]) {
    const pages = pagesOf(ogg)
    const headers = read((sink) => new OggReader(sink), [ogg]).headers[0]!
    fc.assert(fc.property(fc.integer({ min: 8, max: pages.length - 10 }), fc.integer({ min: 1, max: 6 }), fc.nat(8), cuts, cuts,
      (count, overlap, more, a, b) => {
        // what a server sends a client that joins: the chain's header pages, then its burst
        const burst = Buffer.concat([...headers, ...pages.slice(Math.max(headers.length, count - overlap), count + more)])
        const { out } = readAcross(cut(Buffer.concat(pages.slice(0, count)), a), cut(burst, b))
        assert.ok(out.equals(Buffer.concat(pages.slice(0, count + more))), 'the file itself: nothing twice, nothing invented')
      }), { numRuns: 40 })
    // the same headers, then a page listeners never got (other bytes under a sequence number they got): another
    // stream with the same serial
    const changed = Buffer.from(pages[10]!)
    changed[changed.length - 1] ^= 0xff
    changed.writeUInt32LE(pageCrc(changed), 22)
    const other = Buffer.concat([...headers, changed, ...pages.slice(11, 30)])
    const again = read((sink) => new OggReader(sink, readAcross([Buffer.concat(pages.slice(0, 20))], []).chain), [other])
    assert.equal(flagsOf(again.out), 0x04)
    assert.ok(again.out.subarray(27).equals(other))
    // a burst that starts after the last page sent (a gap longer than the burst): pages were lost, and the
    // stream carries on across the hole, never ended and begun again under the same serial
    const gap = Buffer.concat([...headers, ...pages.slice(24)])
    const lost = read((sink) => new OggReader(sink, readAcross([Buffer.concat(pages.slice(0, 20))], []).chain), [gap])
    assert.ok(lost.out.equals(Buffer.concat(pages.slice(24))), 'no EOS page, no header pages again: the pages after the hole')
  }
})

test('Ogg from a hostile upstream (thousands of serials, floods of tiny pages): the streams followed and the pages remembered stay bounded, nothing is lost', () => {
  const serials = 4000
  const bos = Array.from({ length: serials }, (_, serial) => oggPage(serial, 0, 0x02, [CODEC_HEADERS['opus']![0]!]))
  const tags = Array.from({ length: serials }, (_, serial) => oggPage(serial, 1, 0, [CODEC_HEADERS['opus']![1]!]))
  // 27-byte pages: no segments, no packet
  const tiny = Array.from({ length: 40000 }, (_, i) => oggPage(i % MAX_STREAMS, 2 + Math.floor(i / MAX_STREAMS), 0, []))
  const input = Buffer.concat([...bos, ...tags, ...tiny])
  let reader: OggReader | undefined
  const r = read((sink) => (reader = new OggReader(sink)), cut(input, [5000, 100000, 300000]))
  assert.ok(r.out.equals(input), 'every page handed on, followed or not')
  assert.equal(r.corrupt.length, serials - MAX_STREAMS, 'each stream past the limit is reported')
  assert.match(r.corrupt[0]!, new RegExp(`Ogg logical stream ${MAX_STREAMS} is past ${MAX_STREAMS} in one chain: passed on, not followed`))
  assert.equal(r.headers.length, 1, 'the followed streams\' headers are published')
  const chain = reader!.end()!
  assert.equal(chain.streams.length, MAX_STREAMS)
  assert.ok(chain.sent.size <= REMEMBERED_BYTES / ENTRY_COST, `${chain.sent.size} pages remembered`)
  assert.equal(chain.sent.size, REMEMBERED_BYTES / ENTRY_COST, 'the budget is full: every page counted ENTRY_COST')
  // a reconnect with a new chain ends only the streams followed
  const next = Buffer.concat(logicalStream('opus', 9, 2))
  const after = read((sink) => new OggReader(sink, chain), [next])
  assert.equal(after.out.length, MAX_STREAMS * 27 + next.length)
})

test('Ogg headers that never end are given up past MAX_HEADER_CACHE: the cache stays bounded, data pages become places to start', () => {
  // a Speex header announcing 2^32 - 1 extra header packets: every later page would be a header page
  const speex = Buffer.from(CODEC_HEADERS['speex']![0]!)
  speex.writeUInt32LE(0xffffffff, 68)
  const pages = [oggPage(5, 0, 0x02, [speex])]
  const page = Buffer.alloc(60000, 0x41)
  for (let i = 1; pages.length * page.length < MAX_HEADER_CACHE + 3 * page.length; i++) pages.push(oggPage(5, i, 0, [page]))
  const input = Buffer.concat(pages)
  const r = read((sink) => new OggReader(sink), cut(input, [100, 70000]))
  assert.ok(r.out.equals(input), 'every page handed on')
  assert.deepEqual(r.headers, [[]], 'no headers for new listeners rather than megabytes of them')
  assert.equal(r.corrupt.length, 1)
  assert.match(r.corrupt[0]!, /codec headers of over 4194304 bytes: not cached/)
  const firstData = input.length - 2 * pages.at(-1)!.length
  assert.deepEqual(r.syncs.filter((sync) => sync >= firstData).length > 0, true, 'the pages after it are places to start')
  assert.ok(r.syncs.every((sync) => sync > MAX_HEADER_CACHE), 'no place to start among the pages read as headers')
})

test('Ogg: a corrupt page and garbage between pages are skipped with a reason; resync on the next page', () => {
  const ogg = Buffer.from(readFileSync(fixtures.vorbis.tracks[0]!.file))
  const pages: Array<[number, number]> = []
  for (let at = 0; at < ogg.length;) {
    const length = pageLength(ogg, at) as number
    pages.push([at, length])
    at += length
  }
  const [badAt, badLength] = pages[6]!
  ogg[badAt + badLength - 1] ^= 0x55
  const [gapAt] = pages[9]!
  const input = Buffer.concat([ogg.subarray(0, gapAt), Buffer.from('garbage!'), ogg.subarray(gapAt)])
  const r = read((sink) => new OggReader(sink), cut(input, [badAt + 10, gapAt + 3]))
  assert.ok(r.out.equals(Buffer.concat([ogg.subarray(0, badAt), ogg.subarray(badAt + badLength)])))
  assert.equal(r.corrupt.filter((reason) => /corrupt Ogg page skipped/.test(reason)).length, 1)
  const skipped = r.corrupt.map((reason) => /^(\d+) bytes between Ogg pages skipped/.exec(reason)?.[1]).filter((n) => n !== undefined)
  assert.equal(skipped.reduce((sum, n) => sum + Number(n), 0), 8)
})

test('format detection by the bytes: Ogg, MPEG, ADTS, and unknown bytes passed on untouched', () => {
  const ogg = readFileSync(fixtures.opus.tracks[0]!.file)
  const detected = (bytes: Buffer, chunking: number[]): Read => read((sink) => new FormatDetector(sink), cut(bytes, chunking))
  assert.equal(detected(ogg, [1, 2, 30, 90]).infos[0]?.codec, 'opus')
  assert.ok(detected(ogg, [1, 2, 30, 90]).out.equals(ogg))
  const mp3 = Buffer.concat([noise(100), sample.subarray(333, 20000)])
  const m = detected(mp3, [3, 50, 400])
  assert.equal(m.infos[0]?.codec, 'mp3')
  assert.ok(mp3.subarray(0, m.out.length).equals(m.out))
  assert.equal(detected(adtsFixture(), [10]).infos[0]?.codec, 'aac')
  // bytes passed on before the frames showed are no place to start: a burst begins at a frame header
  fc.assert(fc.property(cuts, (points) => {
    const ring = new BurstRing(65536)
    const detector = new FormatDetector({
      chunk: (bytes, sync) => { ring.push(bytes, sync) },
      headers: (pages) => { ring.setHeaders(pages) },
      info: () => {},
      tags: () => {},
      corrupt: () => {}
    })
    for (const piece of cut(mp3, points)) detector.push(piece)
    const first = ring.recent()!.chunks[0]!
    assert.ok(frameHeader(first, 0) !== undefined, `the burst starts with ${first.subarray(0, 4).toString('hex')}`)
  }), { numRuns: 50, examples: [[[3, 50, 400]]] })
  fc.assert(fc.property(fc.integer({ min: 0, max: 100000 }), cuts, (length, points) => {
    const bytes = noise(length)
    const r = detected(bytes, points)
    return r.out.equals(bytes) && r.syncs.length === 0 && (length === 0 || r.anywhere)
  }), { numRuns: 30 })
})

test('random garbage never throws from any reader', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 10 }), (arrays) => {
    const chunks = arrays.map((a) => Buffer.from(a))
    for (const make of [(s: FormatSink) => new MpegReader(s), (s: FormatSink) => new OggReader(s), (s: FormatSink) => new FormatDetector(s)]) {
      read(make, chunks)
    }
  }), { numRuns: 300 })
  fc.assert(fc.property(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 64 }), cuts, (where, patch, points) => {
    const ogg = Buffer.from(readFileSync(fixtures.vorbis.tracks[0]!.file))
    Buffer.from(patch).copy(ogg, where % ogg.length)
    read((s) => new OggReader(s), cut(ogg, points))
    const mp3 = Buffer.from(sample.subarray(0, 30000))
    Buffer.from(patch).copy(mp3, where % mp3.length)
    read((s) => new MpegReader(s), cut(mp3, points))
  }), { numRuns: 100 })
})

test('Ogg across a switch to another upstream whose stream has the serial of the old one: it gets a serial of its own', () => {
  const old = pagesOf(readFileSync(fixtures.vorbis.long.file)).slice(0, 10)
  const serial = old[0]!.readUInt32LE(14)
  const sameSerial = (page: Buffer): Buffer => {
    const copy = Buffer.from(page)
    copy.writeUInt32LE(serial, 14)
    copy.writeUInt32LE(pageCrc(copy), 22)
    return copy
  }
  const next = pagesOf(readFileSync(fixtures.vorbis.tracks[1]!.file)).map(sameSerial)
  fc.assert(fc.property(cuts, cuts, (pointsA, pointsB) => {
    const { out } = readAcross(cut(Buffer.concat(old), pointsA), cut(Buffer.concat(next), pointsB))
    const pages = pagesOf(out.subarray(Buffer.concat(old).length + 27))
    assert.equal(pages.length, next.length)
    pages.forEach((page, i) => {
      assert.equal(pageLength(page, 0), page.length, 'a sound page (CRC made anew)')
      assert.equal(page.readUInt32LE(14), serial + 1, 'a serial of its own')
      assert.ok(page.subarray(27).equals(next[i]!.subarray(27)), 'its segments and packets untouched')
    })
  }), { numRuns: 30 })
  // the same headers again (the same source after a reconnect) carry the chain on under its own serial
  assert.ok(readAcross([Buffer.concat(old)], [Buffer.concat(old.slice(0, 3))]).out.equals(Buffer.concat(old)))
})
