// The segmenter is pure: any chunking of the same upstream bytes gives the same segments, each an ID3 tag
// with its timestamp, then whole frames (and, in AAC, title tags), its duration the sum of its frames'.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { frameHeader, type FrameHeader } from '../../../lib/formats/mpeg.js'
import { readSyncsafe, segmentTag, tagLength, titleTag, TIMESTAMP_WRAP, MAX_TITLE_BYTES } from '../../../lib/hls/id3.js'
import { Segmenter, type Segment, type SegmenterSettings } from '../../../lib/hls/segmenter.js'
import { cut, offsets } from '../../helpers/chunking.js'
import { MP3_FRAME_BYTES, mp3Frames, tagFrame, type TagFrameKind } from '../../helpers/frames.js'
import { syntheticAdts } from '../../helpers/adts.js'
import { noise } from '../../helpers/scripted.js'

const NOW = Date.UTC(2026, 0, 1)

interface Id3Frame { id: string, body: Buffer }

/** The frames of the ID3v2.4 tag at `at`, checking that every size is sync-safe and that they fill the tag. */
function id3Frames (b: Buffer, at: number): Id3Frame[] {
  assert.equal(b.toString('latin1', at, at + 3), 'ID3')
  assert.equal(b[at + 3], 4)
  for (let i = 6; i < 10; i++) assert.ok(b[at + i]! < 0x80, 'tag size is sync-safe')
  const end = at + tagLength(b, at)
  const frames: Id3Frame[] = []
  let p = at + 10
  while (p < end) {
    for (let i = 4; i < 8; i++) assert.ok(b[p + i]! < 0x80, 'frame size is sync-safe')
    const size = readSyncsafe(b, p + 4)
    frames.push({ id: b.toString('latin1', p, p + 4), body: b.subarray(p + 10, p + 10 + size) })
    p += 10 + size
  }
  assert.equal(p, end, 'the frames fill the tag')
  return frames
}

interface Parsed {
  timestamp: number
  title: string | undefined
  titles: string[]
  frames: FrameHeader[]
  /** the title in effect at each frame: the head tag's, then each title tag's from where it stands */
  frameTitles: Array<string | undefined>
}

function titleOf (frame: Id3Frame): string {
  assert.equal(frame.id, 'TIT2')
  assert.equal(frame.body[0], 3, 'UTF-8')
  return frame.body.subarray(1).toString('utf8')
}

/** A segment read back: its timestamp and title, then audio frames and title tags up to its very end. */
function parse (segment: Segment): Parsed {
  const b = segment.data
  const [priv, tit2, ...more] = id3Frames(b, 0)
  assert.equal(more.length, 0)
  assert.equal(priv?.id, 'PRIV')
  const owner = 'com.apple.streaming.transportStreamTimestamp\0'
  assert.equal(priv.body.toString('latin1', 0, owner.length), owner)
  const timestamp = Number(priv.body.readBigUInt64BE(owner.length))
  assert.ok(timestamp < TIMESTAMP_WRAP)
  let at = tagLength(b, 0)
  const title = tit2 === undefined ? undefined : titleOf(tit2)
  let current = title
  const titles: string[] = []
  const frames: FrameHeader[] = []
  const frameTitles: Array<string | undefined> = []
  while (at < b.length) {
    const length = tagLength(b, at)
    if (length > 0) {
      const [change, ...others] = id3Frames(b, at)
      assert.equal(others.length, 0)
      current = titleOf(change!)
      titles.push(current)
      at += length
      continue
    }
    const header = frameHeader(b, at)
    assert.ok(header !== undefined, `a frame at ${at} of segment ${segment.sequence}`)
    frames.push(header)
    frameTitles.push(current)
    at += header.length
  }
  assert.equal(at, b.length, 'the last frame ends the segment')
  return { timestamp, title, titles, frames, frameTitles }
}

function run (settings: SegmenterSettings, chunks: Buffer[], titles: Map<number, string> = new Map()): Segmenter {
  const segmenter = new Segmenter(settings)
  segmenter.begin(NOW)
  chunks.forEach((chunk, i) => {
    const title = titles.get(i)
    if (title !== undefined) segmenter.title(title)
    segmenter.push(chunk, NOW + i)
  })
  segmenter.end(NOW + chunks.length)
  return segmenter
}

const stable = (segments: readonly Segment[]): unknown[] => segments.map(({ createdAt, ...rest }) => rest)
const WIDE: SegmenterSettings = { segmentSeconds: 2, windowSegments: 1000 }

test('any chunking of the same bytes gives the same segments', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 2000 }), offsets, fc.constantFrom(1, 2, 6), (frames, junk, at, seconds) => {
    const stream = Buffer.concat([noise(junk), mp3Frames(frames), noise(junk), mp3Frames(frames)])
    const settings = { segmentSeconds: seconds, windowSegments: 1000 }
    assert.deepEqual(stable(run(settings, cut(stream, at)).segments), stable(run(settings, [stream]).segments))
  }))
})

test('each segment starts on a frame after its ID3 tag, lasts the sum of its frames, at most segmentSeconds', () => {
  // three frames in a row make a believable sync point: fewer are taken for noise
  fc.assert(fc.property(fc.integer({ min: 3, max: 400 }), fc.integer({ min: 3, max: 400 }), fc.constantFrom(1, 2, 6), offsets, (mp3, aac, seconds, at) => {
    const stream = Buffer.concat([mp3Frames(mp3), syntheticAdts(aac)])
    const segmenter = run({ segmentSeconds: seconds, windowSegments: 1000 }, cut(stream, at))
    let total = 0
    for (const segment of segmenter.segments) {
      const { frames } = parse(segment)
      const samples = frames.reduce((sum, frame) => sum + frame.samples, 0)
      assert.equal(segment.duration, samples / segment.sampleRate)
      assert.ok(segment.duration <= seconds, `${segment.duration} s`)
      total += frames.length
    }
    assert.equal(total, mp3 + aac, 'every frame is in a segment')
  }))
})

test('timestamps are continuous across segments and across a discontinuity, on the 90 kHz clock', () => {
  const segmenter = run(WIDE, [mp3Frames(300), syntheticAdts(300), mp3Frames(100)])
  const segments = segmenter.segments
  for (let i = 1; i < segments.length; i++) {
    const expected = parse(segments[i - 1]!).timestamp + segments[i - 1]!.duration * 90000
    assert.ok(Math.abs(parse(segments[i]!).timestamp - expected) <= 1, `segment ${i}`)
  }
  assert.equal(readTimestamp(segmentTag(TIMESTAMP_WRAP + 5, undefined)), 5, 'wraps at 2^33')
  assert.equal(readTimestamp(segmentTag(TIMESTAMP_WRAP - 1, 'a title')), TIMESTAMP_WRAP - 1)
})

/** MPEG-1 layer III, 128 kbit/s, 48 kHz: 384 bytes a frame. */
function mp3At48k (count: number): Buffer {
  const frames: Buffer[] = []
  for (let i = 0; i < count; i++) frames.push(Buffer.from([0xff, 0xfb, 0x94, 0x00]), noise(380))
  return Buffer.concat(frames)
}

function readTimestamp (tag: Buffer): number {
  return Number(id3Frames(tag, 0)[0]!.body.readBigUInt64BE(45))
}

test('a change of codec, a change of sample rate and a new stream are discontinuities; a window of windowSegments', () => {
  const segmenter = new Segmenter({ segmentSeconds: 1, windowSegments: 4 })
  segmenter.begin(NOW)
  segmenter.push(mp3Frames(100), NOW)
  segmenter.push(syntheticAdts(100), NOW)
  const aacStart = segmenter.segments.find((segment) => segment.codec === 'aac')
  segmenter.end(NOW)
  assert.ok(aacStart?.discontinuity, 'the first AAC segment follows a discontinuity')
  assert.equal(aacStart.codecs, 'mp4a.40.2')
  assert.equal(segmenter.segments.length, 4)
  const left = segmenter.discontinuitySequence
  segmenter.begin(NOW + 10_000)
  segmenter.push(syntheticAdts(100), NOW + 10_000)
  segmenter.end(NOW + 10_000)
  const resumed = segmenter.segments.filter((segment) => segment.programDateTime >= NOW + 10_000)
  assert.ok(resumed[0]?.discontinuity, 'a new stream starts after a discontinuity')
  assert.equal(resumed[0].programDateTime, NOW + 10_000, 'its program date is the clock at its start')
  assert.equal(segmenter.discontinuitySequence, left + 1, 'the AAC discontinuity left the window')
  const changed = run(WIDE, [mp3Frames(50), mp3At48k(50)]).segments
  assert.deepEqual(changed.map((segment) => [segment.sampleRate, segment.discontinuity]), [[44100, false], [48000, true]])
})

test('a title is an ID3 TIT2 tag before the AAC frame where it starts, in UTF-8, however long, and in the tag of each later segment', () => {
  const long = 'Ünïcødé 🎵 '.repeat(800) // about 11 KB
  const segmenter = run(WIDE, [syntheticAdts(10), syntheticAdts(10), syntheticAdts(200)], new Map([[1, 'First'], [2, long]]))
  const parsed = segmenter.segments.map(parse)
  assert.deepEqual(parsed.flatMap((segment) => segment.titles), ['First', long])
  assert.deepEqual(parsed.map((segment) => segment.title), [undefined, long, long])
  assert.deepEqual(parsed[0]!.frameTitles.slice(9, 12), [undefined, 'First', 'First'], 'before the eleventh frame')
  const atStart = run({ segmentSeconds: 1, windowSegments: 10 }, [syntheticAdts(43), syntheticAdts(43)], new Map([[1, 'On the cut']])).segments.map(parse)
  assert.deepEqual(atStart.map((segment) => [segment.title, segment.titles]), [[undefined, []], ['On the cut', []]], 'a title on a cut is in the segment\'s own tag only')
  const huge = titleTag('é'.repeat(MAX_TITLE_BYTES))
  assert.ok(huge.length <= MAX_TITLE_BYTES + 21)
  assert.doesNotThrow(() => id3Frames(huge, 0))
  assert.doesNotMatch(id3Frames(huge, 0)[0]!.body.subarray(1).toString('utf8'), /\uFFFD/, 'cut on a character boundary')
})

/** Frames of one codec, each piece's title (if any) set before it, each piece cut at its own offsets. */
interface Piece { frames: Buffer, title: string | undefined, at: number[] }

function runPieces (settings: SegmenterSettings, pieces: Piece[], chunked: boolean): Segmenter {
  const segmenter = new Segmenter(settings)
  segmenter.begin(NOW)
  pieces.forEach((piece, i) => {
    if (piece.title !== undefined) segmenter.title(piece.title)
    for (const chunk of chunked ? cut(piece.frames, piece.at) : [piece.frames]) segmenter.push(chunk, NOW + i)
  })
  segmenter.end(NOW + pieces.length)
  return segmenter
}

test('titles: any chunking gives the same segments; an MP3 title starts a segment (or is its own from less than 1 s in), with no tag between MP3 frames; each frame has the title set last before it', () => {
  const piece = fc.record({
    count: fc.integer({ min: 3, max: 120 }),
    title: fc.option(fc.constantFrom('', 'A', 'B', 'Ünï 🎵'), { nil: undefined }),
    at: offsets
  })
  fc.assert(fc.property(fc.constantFrom('mp3', 'aac'), fc.constantFrom(1, 2, 6), fc.array(piece, { minLength: 1, maxLength: 8 }), (codec, seconds, drawn) => {
    const pieces = drawn.map(({ count, title, at }) => ({ frames: codec === 'mp3' ? mp3Frames(count) : syntheticAdts(count), title, at }))
    const settings = { segmentSeconds: seconds, windowSegments: 1000 }
    const segments = runPieces(settings, pieces, true).segments
    assert.deepEqual(stable(segments), stable(runPieces(settings, pieces, false).segments))
    const parsed = segments.map(parse)
    const starts = new Set<number>()
    parsed.reduce((frame, segment) => { starts.add(frame); return frame + segment.frames.length }, 0)
    const segmentStart = (frame: number): number => Math.max(...[...starts].filter((start) => start <= frame))
    // each frame's title: the last set before it, except that in AAC an empty one ends it at the next segment,
    // and that an MP3 one set less than a second into a segment is the segment's from its head
    const expected: Array<string | undefined> = []
    const changes = new Set<number>()
    let title: string | undefined
    let ending = false
    for (const { count, title: set } of drawn) {
      const at = expected.length
      if (set !== undefined) changes.add(at)
      if (set !== undefined && set !== '') title = set
      ending = set === '' || (ending && set === undefined)
      if (set !== undefined && codec === 'mp3') expected.fill(set === '' ? undefined : set, segmentStart(at))
      for (let i = 0; i < count; i++) {
        if (ending && (codec === 'mp3' || starts.has(expected.length))) [title, ending] = [undefined, false]
        expected.push(title)
      }
    }
    assert.deepEqual(parsed.flatMap((segment) => segment.frameTitles), expected)
    assert.ok(!parsed.flatMap((segment) => [segment.title, ...segment.titles]).includes(''), 'no empty TIT2')
    parsed.forEach((segment, i) => { assert.ok(segments[i]!.duration <= seconds, `${segments[i]!.duration} s`) })
    if (codec === 'mp3') {
      assert.deepEqual(parsed.flatMap((segment) => segment.titles), [], 'no tag between MP3 frames')
      for (const change of changes) {
        assert.ok((change - segmentStart(change)) * 1152 < 44100, `a title change at frame ${change} starts a segment, or is less than 1 s into one`)
      }
    }
  }))
})

test('Icecast\'s initial empty ICY title is no TIT2 (an empty cue in hls.js), and an empty title ends the one before', () => {
  for (const frames of [mp3Frames, syntheticAdts]) {
    const parsed = run(WIDE, [frames(50), frames(50), frames(50)], new Map([[0, ''], [1, 'Song'], [2, '']])).segments.map(parse)
    const tit2 = parsed.flatMap((segment) => [segment.title, ...segment.titles]).filter((title) => title !== undefined)
    assert.deepEqual([...new Set(tit2)], ['Song'], 'TIT2 frames of the one title only')
    assert.equal(parsed[0]!.title, undefined, 'the first segment has no title')
  }
})

test('garbage makes no segment and holds no memory; MPEG layer II is no packed audio', () => {
  const segmenter = new Segmenter(WIDE)
  segmenter.begin(NOW)
  for (let i = 0; i < 200; i++) segmenter.push(Buffer.alloc(65536, i % 2 === 0 ? 0xff : 0x55), NOW)
  segmenter.end(NOW)
  assert.equal(segmenter.segments.length, 0)
  const mp2 = Buffer.from(mp3Frames(50))
  for (let at = 0; at < mp2.length; at += 417) mp2.set([0xfd, 0x80], at + 1) // layer II, 128 kbit/s
  const layer2 = run(WIDE, [mp2])
  assert.equal(layer2.segments.length, 0)
  assert.equal(layer2.unsupported, 'mp2')
})

/** Whether `frame` holds an encoder's tag where a demuxer looks for one (as ffmpeg's mp3dec.c reads them). */
function hasTag (frame: Buffer): boolean {
  return ['Info', 'Xing'].includes(frame.toString('latin1', 36, 40)) || frame.toString('latin1', 21, 25) === 'Xing' || frame.toString('latin1', 36, 40) === 'VBRI'
}

test('MP3 tag frames (Xing/Info, VBRI: a file\'s header, mid-stream where a station plays files) are in no segment and count no time; any chunking gives the same segments', () => {
  const piece = fc.oneof(fc.integer({ min: 1, max: 80 }), fc.constantFrom<TagFrameKind>('Info', 'Xing', 'Xing mono', 'VBRI'))
  fc.assert(fc.property(fc.array(piece, { minLength: 1, maxLength: 10 }), offsets, fc.constantFrom(1, 2, 6), (pieces, at, seconds) => {
    // three audio frames first: a sync point is a run of three frames
    const stream = Buffer.concat([mp3Frames(3), ...pieces.map((each) => typeof each === 'number' ? mp3Frames(each) : tagFrame(each))])
    const audioFrames = 3 + pieces.reduce<number>((sum, each) => sum + (typeof each === 'number' ? each : 0), 0)
    const settings = { segmentSeconds: seconds, windowSegments: 1000 }
    const segments = run(settings, cut(stream, at)).segments
    assert.deepEqual(stable(segments), stable(run(settings, [stream]).segments))
    let frames = 0
    let ticks = parse(segments[0]!).timestamp
    for (const segment of segments) {
      const parsed = parse(segment)
      assert.ok(Math.abs(parsed.timestamp - ticks) <= 1, 'each timestamp follows the audio before it')
      const audio = segment.data.subarray(tagLength(segment.data, 0))
      for (let p = 0; p < audio.length; p += MP3_FRAME_BYTES) assert.ok(!hasTag(audio.subarray(p, p + MP3_FRAME_BYTES)), `a tag frame in segment ${segment.sequence}`)
      assert.equal(segment.duration, parsed.frames.length * 1152 / 44100, 'the duration is its audio frames\'')
      frames += parsed.frames.length
      ticks += parsed.frames.length * 1152 * 90000 / 44100
    }
    assert.equal(frames, audioFrames, 'every audio frame is in a segment')
  }))
})
