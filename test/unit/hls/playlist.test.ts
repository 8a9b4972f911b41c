import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mediaPlaylist, multivariantPlaylist } from '../../../lib/hls/playlist.js'
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

test('a multivariant playlist names the one stream with its bandwidth and codecs', () => {
  assert.equal(multivariantPlaylist({ bandwidth: 130000.4, codecs: 'mp4a.40.2', uri: 'index.m3u8?session=abc' }), [
    '#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-STREAM-INF:BANDWIDTH=130001,CODECS="mp4a.40.2"', 'index.m3u8?session=abc', ''
  ].join('\n'))
})
