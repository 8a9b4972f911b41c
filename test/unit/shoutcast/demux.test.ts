import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { IcyDemuxer } from '../../../lib/shoutcast/demux.js'
import { DEFAULT_METAINT } from '../../../lib/shoutcast/metaint.js'
import { buildMetadataBlock, validateBlock } from '../../../lib/shoutcast/metadata.js'
import { chunkAt, chunkBy, demux, ownCopy, randomBytes, stripIcy } from '../../helpers/icy.js'

const title = (text: string): Buffer => buildMetadataBlock({ title: text })

/** An ICY body written plainly: audio pieces of `metaint` bytes, each followed by the next block. */
function icyBody (audio: Buffer, metaint: number, blocks: readonly Buffer[]): Buffer {
  const parts: Buffer[] = []
  let k = 0
  for (let pos = 0; pos < audio.length; pos += metaint) {
    parts.push(audio.subarray(pos, pos + metaint))
    if (pos + metaint <= audio.length) parts.push(blocks[k++ % blocks.length])
  }
  return Buffer.concat(parts)
}

test('audio passes through and titled blocks come out, zero blocks do not', () => {
  const audio = randomBytes(1, 40)
  const body = icyBody(audio, 10, [title('one'), Buffer.of(0), title('two'), Buffer.of(0)])
  const out = demux(10, [body])
  assert.deepEqual(out.audio, audio)
  assert.deepEqual(out.events.map(e => e.block), [title('one').subarray(1), title('two').subarray(1)])
  assert.ok(out.events.every(e => e.kind === 'metadata'))
})

test('a chunk holding no boundary is handed on as the same object', () => {
  const chunk = randomBytes(2, 100)
  const seen: Buffer[] = []
  const demuxer = new IcyDemuxer(DEFAULT_METAINT, { audio: (a) => seen.push(a), metadata () {} })
  demuxer.push(chunk)
  assert.equal(seen[0], chunk)
})

test('metaint 1: a length byte after every audio byte', () => {
  const audio = Buffer.from('abcdef')
  const body = icyBody(audio, 1, [Buffer.of(0), title('x'), Buffer.of(0)])
  for (const sizes of [[1], [2], [3], [body.length]]) {
    const out = demux(1, chunkBy(body, sizes))
    assert.deepEqual(out.audio, audio)
    assert.deepEqual(out.events.map(e => e.block), [title('x').subarray(1), title('x').subarray(1)])
  }
})

test('length byte split from its block, block split across chunks, cuts right at boundaries', () => {
  const block = title('a title long enough to span several sixteen-byte units')
  const audio = randomBytes(3, 15)
  const body = icyBody(audio, 10, [block])
  const lengthByte = 10
  const cutSets = [
    [lengthByte], // cut before the length byte
    [lengthByte + 1], // cut between the length byte and its block
    [lengthByte + 1, lengthByte + 2, lengthByte + 17, lengthByte + 33], // block in pieces
    [lengthByte + block.length], // cut right after the block
    Array.from({ length: body.length }, (_, i) => i) // one byte at a time
  ]
  for (const cuts of cutSets) {
    const out = demux(10, chunkAt(body, cuts))
    assert.deepEqual(out.audio, audio, `cuts ${cuts.join(',')}`)
    assert.deepEqual(out.events, [{ kind: 'metadata', block: block.subarray(1) }], `cuts ${cuts.join(',')}`)
  }
})

test('the block handed on is a copy: the upstream chunk may be reused or freed', () => {
  const body = icyBody(Buffer.from('0123'), 4, [title('kept')])
  const chunk = ownCopy(body)
  let block: Buffer | undefined
  new IcyDemuxer(4, { audio () {}, metadata (b) { block = b } }).push(chunk)
  chunk.fill(0)
  assert.deepEqual(block, title('kept').subarray(1))
})

test('a malformed block goes to malformed() with its reason, never to metadata()', () => {
  const garbage = Buffer.concat([Buffer.of(1), Buffer.from('not metadata\0\0\0\0')])
  const body = icyBody(Buffer.from('abcdefgh'), 4, [garbage, title('fine')])
  const out = demux(4, [body])
  assert.equal(out.events.length, 2)
  assert.equal(out.events[0].kind, 'malformed')
  assert.match(out.events[0].reason ?? '', /does not start with Key=/)
  assert.deepEqual(out.events[1], { kind: 'metadata', block: title('fine').subarray(1) })
  // without a malformed() handler the block is dropped quietly
  const titles: Buffer[] = []
  new IcyDemuxer(4, { audio () {}, metadata: (b) => titles.push(b) }).push(body)
  assert.deepEqual(titles, [title('fine').subarray(1)])
})

test('empty chunks change nothing', () => {
  const body = icyBody(Buffer.from('abcd'), 2, [title('t')])
  const out = demux(2, [Buffer.alloc(0), ...chunkBy(body, [3]), Buffer.alloc(0)])
  assert.deepEqual(out.audio, Buffer.from('abcd'))
  assert.equal(out.events.length, 2)
})

test('an invalid metaint is refused', () => {
  for (const metaint of [0, -1, 1.5, Number.NaN, Infinity]) {
    assert.throws(() => new IcyDemuxer(metaint, { audio () {}, metadata () {} }),
      { code: 'FST_ICECAST_RELAY_BAD_METAINT' })
    assert.throws(() => stripIcy(Buffer.alloc(1), metaint), { code: 'FST_ICECAST_RELAY_BAD_METAINT' })
  }
})

test('stripIcy reports offsets, audio before each block and every length byte', () => {
  const body = icyBody(Buffer.from('abcdef'), 2, [Buffer.of(0), title('x'), Buffer.of(0)])
  const stripped = stripIcy(body, 2)
  assert.deepEqual(stripped.audio, Buffer.from('abcdef'))
  assert.equal(stripped.boundaries, 3)
  assert.deepEqual(stripped.blocks, [{ lengthByteOffset: 5, audioBefore: 4, block: title('x').subarray(1) }])
  // a block cut off by the end of the body is left out
  assert.deepEqual(stripIcy(body.subarray(0, 10), 2).blocks, [])
})

// A block for the generated streams: zero, a built title, or random bytes (often malformed).
const blockArb = fc.oneof(
  fc.constant(Buffer.of(0)),
  fc.string({ unit: 'binary', maxLength: 300 }).map(title),
  fc.record({ units: fc.integer({ min: 1, max: 255 }), seed: fc.integer() })
    .map(({ units, seed }) => Buffer.concat([Buffer.of(units), randomBytes(seed, units * 16)]))
)

const streamArb = fc.record({
  metaint: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 20000 })),
  audioLength: fc.integer({ min: 0, max: 60000 }),
  seed: fc.integer(),
  blocks: fc.array(blockArb, { minLength: 1, maxLength: 6 }),
  // where the body ends, as a fraction: a capture may stop anywhere, even inside a block
  end: fc.double({ min: 0, max: 1, noNaN: true })
})

const chunkSizesArb = fc.array(
  fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 70000 })), { minLength: 1, maxLength: 12 })

test('property: demux output equals the plain strip of the whole body, for any chunking', () => {
  fc.assert(fc.property(streamArb, chunkSizesArb, ({ metaint, audioLength, seed, blocks, end }, sizes) => {
    const full = icyBody(randomBytes(seed, audioLength), metaint, blocks)
    const body = full.subarray(0, Math.round(full.length * end))
    const expected = stripIcy(body, metaint)
    const out = demux(metaint, chunkBy(body, sizes))
    assert.deepEqual(out.audio, expected.audio)
    assert.deepEqual(out.events.map(e => e.block), expected.blocks.map(b => b.block))
    for (const event of out.events) {
      assert.equal(event.kind, validateBlock(event.block) === undefined ? 'metadata' : 'malformed')
    }
  }))
})

test('property: the plain strip gives back the generated audio and blocks', () => {
  fc.assert(fc.property(streamArb, ({ metaint, audioLength, seed, blocks }) => {
    const audio = randomBytes(seed, audioLength)
    const stripped = stripIcy(icyBody(audio, metaint, blocks), metaint)
    const boundaries = Math.floor(audioLength / metaint)
    const sent = Array.from({ length: boundaries }, (_, k) => blocks[k % blocks.length])
    assert.deepEqual(stripped.audio, audio)
    assert.equal(stripped.boundaries, boundaries)
    assert.deepEqual(stripped.blocks.map(b => b.block), sent.filter(b => b[0] > 0).map(b => b.subarray(1)))
  }))
})
