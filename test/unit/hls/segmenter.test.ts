// The segmenter is pure: any chunking of the same upstream bytes gives the same segments, each an ID3 tag
// with its timestamp, then whole frames (and, in AAC, title tags), its duration the sum of its frames'.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { frameHeader, type FrameHeader } from '../../../lib/formats/mpeg.js'
import { readSyncsafe, segmentTag, tagLength, titleTag, TIMESTAMP_WRAP, MAX_TITLE_BYTES } from '../../../lib/hls/id3.js'
import { Segmenter, type Segment, type SegmenterSettings } from '../../../lib/hls/segmenter.js'
import { maxKeptBytes, maxKeptCount, maxWindowBytes, maxWindowCount, minWindowSeconds, retainMs } from '../../../lib/hls/windowing.js'
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

const seconds = (segments: readonly Segment[]): number => segments.reduce((sum, segment) => sum + segment.duration, 0)
const bytes = (segments: readonly Segment[]): number => segments.reduce((sum, segment) => sum + segment.data.length, 0)
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

test('a change of codec, a change of sample rate and a new stream are discontinuities; a window of windowSegments target durations', () => {
  const segmenter = new Segmenter({ segmentSeconds: 1, windowSegments: 4 })
  segmenter.begin(NOW)
  segmenter.push(mp3Frames(100), NOW)
  segmenter.push(syntheticAdts(100), NOW)
  const aacStart = segmenter.segments.find((segment) => segment.codec === 'aac')
  segmenter.end(NOW)
  assert.ok(aacStart?.discontinuity, 'the first AAC segment follows a discontinuity')
  assert.equal(aacStart.codecs, 'mp4a.40.2')
  const left = segmenter.discontinuitySequence
  segmenter.begin(NOW + 10_000)
  segmenter.push(syntheticAdts(200), NOW + 10_000)
  segmenter.end(NOW + 10_000)
  assert.ok(seconds(segmenter.segments) >= 4, 'four target durations')
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

test('a change of channel count or AAC profile is a discontinuity, and CODECS follows the profile', () => {
  const mono = syntheticAdts(50, noise, { channels: 1 })
  const stereo = syntheticAdts(50)
  const main = syntheticAdts(50, noise, { objectType: 1 })
  const segments = run(WIDE, [mono, stereo, main]).segments
  assert.deepEqual(segments.map((segment) => [segment.codecs, segment.discontinuity]), [
    ['mp4a.40.2', false], ['mp4a.40.2', true], ['mp4a.40.1', true]
  ], 'mono LC, stereo LC, stereo Main')
  const mp3Mono = Buffer.from(mp3Frames(50))
  for (let at = 0; at < mp3Mono.length; at += MP3_FRAME_BYTES) mp3Mono[at + 3] = mp3Mono[at + 3]! | 0xc0
  const mp3s = run(WIDE, [mp3Frames(50), mp3Mono]).segments
  assert.deepEqual(mp3s.map((segment) => segment.discontinuity), [false, true], 'MP3 stereo then mono')
})

/** What a hostile or honest upstream does next: frames, a title, a new stream. */
type Step = { frames: Buffer } | { title: string } | { begin: true }

/** An honest MP3 radio: 128 kbit/s frames in chunks of any size, a title now and then (as often as every push). */
const honestSteps = fc.array(fc.oneof(
  fc.integer({ min: 1, max: 120 }).map((count): Step => ({ frames: mp3Frames(count) })),
  fc.string({ maxLength: 8 }).map((title): Step => ({ title }))
), { maxLength: 80 })

/** A hostile upstream: a sample rate that changes every few frames, 8 KB ADTS frames at 96 kHz, new streams. */
const hostileSteps = fc.array(fc.oneof(
  fc.integer({ min: 1, max: 4 }).map((count): Step => ({ frames: mp3Frames(count) })),
  fc.integer({ min: 1, max: 4 }).map((count): Step => ({ frames: mp3At48k(count) })),
  fc.integer({ min: 1, max: 100 }).map((count): Step => ({ frames: syntheticAdts(count, noise, { rateIndex: 0, length: () => 8191 }) })),
  fc.constant<Step>({ begin: true })
), { maxLength: 80 })

const windowSettings = fc.record({ segmentSeconds: fc.integer({ min: 1, max: 6 }), windowSegments: fc.integer({ min: 3, max: 8 }) })

/** Runs `steps` one a second of the clock, calling `check` after each. */
function replay (settings: SegmenterSettings, steps: Step[], check: (segmenter: Segmenter, now: number) => void): void {
  const segmenter = new Segmenter(settings, 1000)
  segmenter.begin(NOW)
  steps.forEach((step, i) => {
    const now = NOW + i * 1000
    if ('frames' in step) segmenter.push(step.frames, now)
    else if ('title' in step) segmenter.title(step.title)
    else segmenter.begin(now)
    check(segmenter, now)
  })
}

test('RFC 8216 §6.2.2: once it dropped a segment, the window lasts at least max(3, windowSegments) target durations', () => {
  fc.assert(fc.property(windowSettings, honestSteps, (settings, steps) => {
    replay(settings, steps, (segmenter) => {
      const dropped = segmenter.nextSequence - segmenter.epoch > segmenter.segments.length
      if (dropped) assert.ok(seconds(segmenter.segments) >= minWindowSeconds(settings) - 1e-9, `${seconds(segmenter.segments)} s`)
    })
  }))
})

test('whatever the upstream sends, the window and the segments kept after it stay within their count and bytes', () => {
  fc.assert(fc.property(windowSettings, hostileSteps, (settings, steps) => {
    replay(settings, steps, (segmenter) => {
      const listed = segmenter.segments
      const kept = segmenter.retired(0)
      assert.ok(listed.length <= maxWindowCount(settings), `${listed.length} listed`)
      assert.ok(listed.length === 1 || bytes(listed) <= maxWindowBytes(settings), `${bytes(listed)} bytes listed`)
      assert.ok(kept.length <= maxKeptCount(settings), `${kept.length} kept`)
      assert.ok(bytes(kept) <= maxKeptBytes(settings), `${bytes(kept)} bytes kept`)
    })
  }), { numRuns: 30 })
})

test('a segment that left the window is served, unlisted, for its duration and the longest window after it left, then dropped', () => {
  const settings = { segmentSeconds: 1, windowSegments: 3 }
  fc.assert(fc.property(fc.integer({ min: 5, max: 40 }), (pushes) => {
    const segmenter = new Segmenter(settings)
    segmenter.begin(NOW)
    const left = new Map<number, { segment: Segment, at: number, longest: number }>()
    for (let i = 0; i < pushes; i++) {
      const now = NOW + i * 1000
      const before = [...segmenter.segments]
      segmenter.push(mp3Frames(39), now)
      const window = seconds(segmenter.segments)
      for (const entry of left.values()) entry.longest = Math.max(entry.longest, window)
      for (const segment of before) {
        if (!segmenter.segments.includes(segment)) left.set(segment.sequence, { segment, at: now, longest: seconds(before) })
      }
      for (const [sequence, { segment, at, longest }] of left) {
        const due = at + (segment.duration + longest) * 1000
        if (now <= due) assert.equal(segmenter.servable(sequence, now), segment, `segment ${sequence} at ${now - at} ms`)
        if (now >= at + retainMs(segment.duration, settings)) assert.equal(segmenter.servable(sequence, now), undefined)
        assert.ok(!segmenter.segments.includes(segment))
      }
    }
    assert.ok(left.size > 0)
  }))
})

test('an upstream faster than real time: dates are the clock again, after a discontinuity, once a minute ahead of it', () => {
  const segmenter = new Segmenter({ segmentSeconds: 2, windowSegments: 1000 })
  segmenter.begin(NOW)
  // 300 s of audio in 30 s of the clock
  for (let i = 0; i < 300; i++) segmenter.push(mp3Frames(39), NOW + i * 100)
  const segments = segmenter.segments
  let jumps = 0
  segments.forEach((segment, i) => {
    assert.ok(segment.programDateTime <= segment.createdAt + 60_000, `segment ${i} dated ${segment.programDateTime - segment.createdAt} ms ahead`)
    const previous = segments[i - 1]
    if (previous === undefined) return
    const continued = Math.abs(segment.programDateTime - previous.programDateTime - previous.duration * 1000) <= 1
    if (!continued) jumps++
    assert.ok(continued || segment.discontinuity, `segment ${i}: a date that does not follow on is after a discontinuity`)
  })
  assert.ok(jumps > 0)
  const realTime = new Segmenter({ segmentSeconds: 2, windowSegments: 1000 })
  realTime.begin(NOW)
  for (let i = 0; i < 300; i++) realTime.push(mp3Frames(39), NOW + i * 1019)
  assert.ok(realTime.segments.every((segment) => !segment.discontinuity), 'a real-time stream has none')
})
