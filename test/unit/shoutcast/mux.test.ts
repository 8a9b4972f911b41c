import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { buildMetadataBlock, EMPTY_TITLE_BLOCK, ZERO_BLOCK } from '../../../lib/shoutcast/metadata.js'
import { IcyMuxer, SharedFrames } from '../../../lib/shoutcast/mux.js'
import { chunkBy, demux, ownCopy, randomBytes, stripIcy } from '../../helpers/icy.js'

const title = (text: string): Buffer => buildMetadataBlock({ title: text })

test('full block at the first boundary, a zero byte while unchanged, the full block again on change', () => {
  const muxer = new IcyMuxer(4)
  const out: Buffer[] = []
  const audio = Buffer.from('abcdefghijklmnop')
  const first = title('first')
  muxer.interleave(audio.subarray(0, 6), EMPTY_TITLE_BLOCK, out) // boundary 1 inside
  muxer.interleave(audio.subarray(6, 12), EMPTY_TITLE_BLOCK, out) // boundary 2 inside
  muxer.interleave(audio.subarray(12, 16), first, out) // boundary 3 at its start
  assert.deepEqual(out, [
    audio.subarray(0, 4), EMPTY_TITLE_BLOCK, audio.subarray(4, 6),
    audio.subarray(6, 8), ZERO_BLOCK, audio.subarray(8, 12),
    first, audio.subarray(12, 16)
  ])
  assert.equal(out[1], EMPTY_TITLE_BLOCK)
  assert.equal(out[4], ZERO_BLOCK)
  assert.equal(out[6], first)
})

test('a new block object with the same bytes counts as a change; the check is identity only', () => {
  const muxer = new IcyMuxer(1)
  const out: Buffer[] = []
  const block = title('same')
  muxer.interleave(Buffer.from('ab'), block, out)
  muxer.interleave(Buffer.from('c'), Buffer.from(block), out)
  assert.deepEqual(out.map(b => b.length), [1, block.length, 1, block.length, 1])
})

test('several boundaries in one chunk: the block once, then zero bytes', () => {
  const out: Buffer[] = []
  new IcyMuxer(2).interleave(Buffer.from('abcdefg'), EMPTY_TITLE_BLOCK, out)
  assert.deepEqual(out, [
    Buffer.from('ab'), EMPTY_TITLE_BLOCK, Buffer.from('cd'), ZERO_BLOCK, Buffer.from('ef'), ZERO_BLOCK,
    Buffer.from('g')
  ])
})

test('a boundary at the end of a chunk waits for the next audio and its current block', () => {
  const muxer = new IcyMuxer(3)
  const out: Buffer[] = []
  muxer.interleave(Buffer.from('abc'), EMPTY_TITLE_BLOCK, out)
  assert.deepEqual(out, [Buffer.from('abc')])
  const next = title('next')
  muxer.interleave(Buffer.from('d'), next, out)
  assert.deepEqual(out, [Buffer.from('abc'), next, Buffer.from('d')])
})

test('audio is never copied: a chunk without boundary goes out as is, others as subarrays', () => {
  const chunk = ownCopy(randomBytes(4, 10))
  const out: Buffer[] = []
  new IcyMuxer(100).interleave(chunk, EMPTY_TITLE_BLOCK, out)
  assert.equal(out[0], chunk)
  const split: Buffer[] = []
  new IcyMuxer(4).interleave(chunk, EMPTY_TITLE_BLOCK, split)
  for (const piece of split.filter(b => b !== EMPTY_TITLE_BLOCK && b !== ZERO_BLOCK)) {
    assert.equal(piece.buffer, chunk.buffer)
  }
})

test('an invalid metaint is refused', () => {
  assert.throws(() => new IcyMuxer(0), { code: 'FST_ICECAST_RELAY_BAD_METAINT' })
})

// One step of a mount's life: some audio, and maybe a change of the current block before it.
const stepArb = fc.record({
  length: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 30000 })),
  seed: fc.integer(),
  change: fc.oneof(
    fc.constant('keep' as const),
    fc.constant('same bytes, new object' as const),
    fc.string({ unit: 'binary', maxLength: 120 }).map(text => ({ text }))
  )
})

test('property: mux then demux is the identity (audio, and each block when it changed)', () => {
  fc.assert(fc.property(
    fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 20000 })),
    fc.array(stepArb, { maxLength: 30 }),
    fc.array(fc.integer({ min: 1, max: 50000 }), { minLength: 1, maxLength: 8 }),
    (metaint, steps, sizes) => {
      const muxer = new IcyMuxer(metaint)
      const out: Buffer[] = []
      const audio: Buffer[] = []
      const expectedBlocks: Buffer[] = []
      let current = EMPTY_TITLE_BLOCK
      let lastSent: Buffer | undefined
      let position = 0
      for (const { length, seed, change } of steps) {
        if (change === 'same bytes, new object') current = Buffer.from(current)
        else if (change !== 'keep') current = title(change.text)
        const chunk = ownCopy(randomBytes(seed, length))
        const before = out.length
        muxer.interleave(chunk, current, out)
        for (const part of out.slice(before)) {
          assert.ok(part === current || part === ZERO_BLOCK || part.buffer === chunk.buffer, 'no copies')
        }
        // The model: boundary k sits before audio byte k*metaint and goes out with the chunk holding it.
        for (let k = Math.max(1, Math.ceil(position / metaint)); k * metaint < position + length; k++) {
          if (current !== lastSent) expectedBlocks.push(current.subarray(1))
          lastSent = current
        }
        position += length
        audio.push(chunk)
      }
      const body = Buffer.concat(out)
      const demuxed = demux(metaint, chunkBy(body, sizes))
      assert.deepEqual(demuxed.audio, Buffer.concat(audio))
      assert.deepEqual(demuxed.events, expectedBlocks.map(block => ({ kind: 'metadata', block })))
      assert.equal(stripIcy(body, metaint).boundaries, Math.max(0, Math.ceil(position / metaint) - 1))
    }))
})

test('shared frames: listeners framing the same chunks through one SharedFrames get what each muxer alone makes', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 600 }),
    // each listener first gets audio of its own (where it joined), then the shared chunks with the others
    fc.array(fc.record({ own: fc.integer({ min: 0, max: 1500 }), seed: fc.integer() }), { minLength: 1, maxLength: 12 }),
    fc.array(fc.record({ length: fc.integer({ min: 1, max: 1500 }), seed: fc.integer(), retitle: fc.boolean() }), { maxLength: 15 }),
    (metaint, listeners, chunks) => {
      const shared = new SharedFrames()
      const blocks = [title('first'), title('second')]
      let current = EMPTY_TITLE_BLOCK
      const together = listeners.map(() => new IcyMuxer(metaint))
      const alone = listeners.map(() => new IcyMuxer(metaint))
      const got = listeners.map((): Buffer[] => [])
      const want = listeners.map((): Buffer[] => [])
      listeners.forEach(({ own, seed }, i) => {
        const audio = randomBytes(seed, own)
        if (own === 0) return
        got[i]!.push(together[i]!.frame(audio, current, shared))
        alone[i]!.interleave(audio, current, want[i]!)
      })
      for (const { length, seed, retitle } of chunks) {
        if (retitle) current = blocks[seed & 1]!
        const chunk = randomBytes(seed, length)
        listeners.forEach((_, i) => {
          got[i]!.push(together[i]!.frame(chunk, current, shared))
          alone[i]!.interleave(chunk, current, want[i]!)
        })
      }
      listeners.forEach((_, i) => assert.deepEqual(Buffer.concat(got[i]!), Buffer.concat(want[i]!)))
    }))
})

test('shared frames: a chunk with no boundary is written as it is; listeners at one place share one buffer', () => {
  const shared = new SharedFrames()
  const [a, b, c] = [new IcyMuxer(10), new IcyMuxer(10), new IcyMuxer(10)]
  const chunk = Buffer.from('0123456789abcdef')
  const early = Buffer.from('xyz')
  c.frame(early, EMPTY_TITLE_BLOCK, shared)
  const fromA = a.frame(chunk, EMPTY_TITLE_BLOCK, shared)
  assert.equal(b.frame(chunk, EMPTY_TITLE_BLOCK, shared), fromA)
  assert.notEqual(c.frame(chunk, EMPTY_TITLE_BLOCK, shared), fromA)
  assert.deepEqual(fromA, Buffer.concat([chunk.subarray(0, 10), EMPTY_TITLE_BLOCK, chunk.subarray(10)]))
  const small = Buffer.from('gh')
  assert.equal(a.frame(small, EMPTY_TITLE_BLOCK, shared), small)
})
