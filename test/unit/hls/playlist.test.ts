import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { bandwidthOf, mediaPlaylist, multivariantPlaylist, type Sized } from '../../../lib/hls/playlist.js'
import type { Segment } from '../../../lib/hls/segmenter.js'

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)

function segment (sequence: number, duration: number, discontinuity = false): Segment {
  return {
    sequence,
    duration,
    discontinuity,
    data: Buffer.alloc(0),
    codec: 'aac',
    codecs: 'mp4a.40.2',
    sampleRate: 44100,
    programDateTime: T0 + sequence * 6000,
    createdAt: T0
  }
}

test('a media playlist: version, target duration, sequences, program dates, EXTINF with 3 decimals, discontinuities', () => {
  const body = mediaPlaylist({
    segments: [segment(7, 5.990703), segment(8, 6, true), segment(9, 2.5)],
    targetDuration: 6,
    discontinuitySequence: 2,
    uri: (s) => `${s.sequence}.aac`
  })
  assert.equal(body, [
    '#EXTM3U',
    '#EXT-X-VERSION:6',
    '#EXT-X-TARGETDURATION:6',
    '#EXT-X-MEDIA-SEQUENCE:7',
    '#EXT-X-DISCONTINUITY-SEQUENCE:2',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:42.000Z',
    '#EXTINF:5.991,',
    '7.aac',
    '#EXT-X-DISCONTINUITY',
    '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:48.000Z',
    '#EXTINF:6.000,',
    '8.aac',
    '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:54.000Z',
    '#EXTINF:2.500,',
    '9.aac',
    ''
  ].join('\n'))
})

test('a discontinuity first in the window is still tagged: the sequence counts it once its segment has left', () => {
  const body = mediaPlaylist({ segments: [segment(3, 6, true)], targetDuration: 6, discontinuitySequence: 0, uri: () => 'x' })
  assert.match(body, /#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-DISCONTINUITY\n/)
})

test('a multivariant playlist names the one stream with its bandwidths and codecs', () => {
  assert.equal(multivariantPlaylist({ bandwidth: 130000.4, averageBandwidth: 128000, codecs: 'mp4a.40.2', uri: 'index.m3u8?session=abc' }), [
    '#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-STREAM-INF:BANDWIDTH=130001,AVERAGE-BANDWIDTH=128000,CODECS="mp4a.40.2"', 'index.m3u8?session=abc', ''
  ].join('\n'))
})

const TAG_BYTES = 100
const MP3_FRAME = { bytes: 417, seconds: 1152 / 44100 }

/** A 128 kbit/s MP3 segment of `frames` frames behind its head tag. */
function mp3Segment (frames: number): Sized {
  return { bytes: TAG_BYTES + frames * MP3_FRAME.bytes, duration: frames * MP3_FRAME.seconds }
}

test('bandwidth: a first segment of one frame (its tag weighs a fifth of it) does not make the peak', () => {
  const segments = [mp3Segment(1), mp3Segment(229), mp3Segment(229), mp3Segment(12), mp3Segment(229)]
  const frameRate = MP3_FRAME.bytes * 8 / MP3_FRAME.seconds
  assert.ok(segments[0]!.bytes * 8 / segments[0]!.duration > frameRate * 1.2, 'the short segment alone is 20% over')
  const { bandwidth, averageBandwidth } = bandwidthOf(segments, 6)
  assert.ok(bandwidth < frameRate * 1.005, `${bandwidth} against ${frameRate}`)
  assert.ok(averageBandwidth <= bandwidth && averageBandwidth > frameRate)
})

test('bandwidth: a window shorter than half a target duration has its average as its peak; none is 0', () => {
  assert.deepEqual(bandwidthOf([{ bytes: 1000, duration: 1 }, { bytes: 3000, duration: 1 }], 6), { bandwidth: 16000, averageBandwidth: 16000 })
  assert.deepEqual(bandwidthOf([], 6), { bandwidth: 0, averageBandwidth: 0 })
})

/** Segments of at most the target duration, as the segmenter cuts them. */
const windowOf = (target: number): fc.Arbitrary<Sized[]> => fc.array(
  fc.record({ bytes: fc.integer({ min: 0, max: 1_000_000 }), duration: fc.double({ min: 0.01, max: target, noNaN: true }) }),
  { minLength: 1, maxLength: 20 })

test('bandwidth (property): the peak is the highest rate of the runs lasting 0.5 to 1.5 target durations', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 30 }).chain((target) => fc.tuple(fc.constant(target), windowOf(target))), ([target, segments]) => {
    const runs: number[] = []
    for (let first = 0; first < segments.length; first++) {
      for (let last = first; last < segments.length; last++) {
        const run = segments.slice(first, last + 1)
        const seconds = run.reduce((sum, each) => sum + each.duration, 0)
        if (seconds >= target / 2 && seconds <= target * 1.5) runs.push(run.reduce((sum, each) => sum + each.bytes, 0) * 8 / seconds)
      }
    }
    const total = segments.reduce((sum, each) => sum + each.duration, 0)
    const { bandwidth } = bandwidthOf(segments, target)
    if (total >= target / 2) assert.ok(runs.length > 0, 'segments no longer than the target always make such a run')
    if (runs.length > 0) assert.equal(bandwidth, Math.max(...runs))
  }))
})

test('bandwidth (property): short segments between full ones of a constant bit rate add at most three head tags per target duration', () => {
  const frameRate = MP3_FRAME.bytes * 8 / MP3_FRAME.seconds
  const windows = fc.integer({ min: 1, max: 30 }).chain((target) => {
    const full = Math.floor(target / MP3_FRAME.seconds)
    // before each full segment, a short one or none: a title cut, the end of a stream
    return fc.tuple(fc.constant(target), fc.array(fc.option(fc.integer({ min: 1, max: full - 1 })), { minLength: 1, maxLength: 20 })
      .map((shorts) => shorts.flatMap((short) => short === null ? [full] : [short, full])))
  })
  fc.assert(fc.property(windows, ([target, frames]) => {
    const full = Math.floor(target / MP3_FRAME.seconds) * MP3_FRAME.seconds
    const { bandwidth, averageBandwidth } = bandwidthOf(frames.map(mp3Segment), target)
    assert.ok(bandwidth > frameRate && bandwidth <= frameRate + 3 * TAG_BYTES * 8 / full, `${bandwidth}`)
    assert.ok(averageBandwidth > frameRate && averageBandwidth <= bandwidth + 1e-6)
  }))
})
