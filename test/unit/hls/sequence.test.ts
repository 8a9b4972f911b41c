import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { Segmenter } from '../../../lib/hls/segmenter.js'
import { SequenceStarts } from '../../../lib/hls/sequence.js'
import { mp3Frames } from '../../helpers/frames.js'

const SETTINGS = { segmentSeconds: 1, windowSegments: 100 }

test('a segmenter numbers from its first sequence, its first segment no discontinuity, a new stream after it one', () => {
  const segmenter = new Segmenter(SETTINGS, 1_765_000_000_000)
  segmenter.begin(0)
  segmenter.push(mp3Frames(100), 0)
  segmenter.begin(1)
  segmenter.push(mp3Frames(100), 1)
  segmenter.end(2)
  const { segments } = segmenter
  assert.equal(segmenter.epoch, 1_765_000_000_000)
  assert.deepEqual(segments.map((segment) => segment.sequence), segments.map((_, i) => 1_765_000_000_000 + i))
  assert.equal(segmenter.nextSequence, 1_765_000_000_000 + segments.length)
  assert.deepEqual(segments.map((segment) => segment.discontinuity).filter(Boolean).length, 1, 'the second stream only')
  assert.equal(segments[0]!.discontinuity, false)
})

test('sequence starts: a mount\'s streams, one after the other at any times, never give one number twice', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ mount: fc.constantFrom('/a', '/b'), after: fc.nat(50), segments: fc.nat(200) }), { maxLength: 30 }),
    (streams) => {
      const starts = new SequenceStarts()
      const given = new Map<string, Set<number>>()
      let now = 1_765_000_000_000
      for (const { mount, after, segments } of streams) {
        now += after
        const first = starts.first(mount, now)
        const numbers = given.get(mount) ?? new Set()
        for (let i = 0; i < segments; i++) {
          if (numbers.has(first + i)) return false
          numbers.add(first + i)
        }
        given.set(mount, numbers)
        starts.ended(mount, first + segments)
      }
      return true
    }
  ))
})

test('sequence starts: a process that starts later (a restart) starts above an earlier one\'s numbers, given a segment lasts a frame or more', () => {
  const earlier = new SequenceStarts()
  const from = earlier.first('/a', 1_765_000_000_000)
  // an hour of 24 ms MP3 frames, each a segment: the fewest milliseconds a number can take
  const last = from + Math.ceil(3_600_000 / 24)
  assert.ok(new SequenceStarts().first('/a', 1_765_000_000_000 + 3_600_000) > last)
})
