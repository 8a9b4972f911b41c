// The file source: a local MP3/AAC/Ogg file played as an upstream, in a loop, at the rate its own frames
// and pages play. Pure parts (timeline, pacing) by property; the source itself with real files and timers.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import { pageCrc } from '../../../lib/formats/ogg.js'
import { TimelineScanner, type Timed } from '../../../lib/formats/timeline.js'
import { openFileUpstream } from '../../../lib/upstream/file.js'
import { Pacer, contiguousRuns, dueUnits } from '../../../lib/upstream/pacing.js'
import { syntheticAdts } from '../../helpers/adts.js'
import { codeOf, cut, offsets } from '../../helpers/chunking.js'
import { MP3_FRAME_BYTES, MP3_FRAME_SECONDS, id3Tag, mp3Frames, vorbisStream } from '../../helpers/frames.js'
import { makeTempDir } from '../../helpers/procs.js'
import { noise } from '../../helpers/scripted.js'

/** Every unit's bytes and duration, whatever the pushes they came in. */
function units (scanner: TimelineScanner, chunks: Buffer[]): { bytes: Buffer[], seconds: number[] } {
  const bytes: Buffer[] = []
  const seconds: number[] = []
  chunks.forEach((chunk, i) => {
    const { bytes: b, timeline } = scanner.push(chunk, i === chunks.length - 1)
    timeline.starts.forEach((start, k) => {
      bytes.push(b.subarray(start, timeline.ends[k]))
      const next = timeline.times[k + 1] ?? timeline.duration
      seconds.push(next - timeline.times[k]!)
    })
  })
  return { bytes, seconds }
}

const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9

test('MP3 frames play 1152 samples each; tags and junk around them are left out', () => {
  const frames = mp3Frames(40)
  const file = Buffer.concat([id3Tag(3000), frames.subarray(0, 20 * MP3_FRAME_BYTES), noise(500), frames.subarray(20 * MP3_FRAME_BYTES), Buffer.from('TAG'), noise(125)])
  const { bytes, seconds } = units(new TimelineScanner('mpeg'), [file])
  assert.equal(bytes.length, 40)
  assert.ok(Buffer.concat(bytes).equals(frames), 'exactly the frames, in order')
  assert.ok(seconds.every((s) => close(s, MP3_FRAME_SECONDS)))
})

test('ADTS frames play 1024 samples each', () => {
  const { seconds } = units(new TimelineScanner('mpeg'), [syntheticAdts(50)])
  assert.equal(seconds.length, 50)
  assert.ok(seconds.every((s) => close(s, 1024 / 44100)))
})

test('Ogg pages play the granule positions they advance: headers take no time', () => {
  const stream = vorbisStream(7, 30, 4410)
  const { bytes, seconds } = units(new TimelineScanner('ogg'), [stream])
  assert.equal(bytes.length, 32)
  assert.ok(Buffer.concat(bytes).equals(stream))
  assert.deepEqual(seconds.slice(0, 2), [0, 0])
  assert.ok(seconds.slice(2).every((s) => close(s, 0.1)))
})

test('a chain that starts again (a looped file) starts its clock again', () => {
  const stream = vorbisStream(7, 10, 44100)
  const { seconds } = units(new TimelineScanner('ogg'), [stream, stream])
  assert.ok(close(seconds.reduce((a, b) => a + b, 0), 20))
})

test('any chunking gives the same units with the same durations (MPEG, ADTS, Ogg)', () => {
  const inputs: Array<['mpeg' | 'ogg', Buffer]> = [
    ['mpeg', Buffer.concat([id3Tag(700), mp3Frames(30), noise(300), mp3Frames(5)])],
    ['mpeg', syntheticAdts(30)],
    ['ogg', Buffer.concat([noise(100), vorbisStream(3, 12, 1000), vorbisStream(4, 5, 2000)])]
  ]
  for (const [format, input] of inputs) {
    const whole = units(new TimelineScanner(format), [input])
    fc.assert(fc.property(offsets, (points) => {
      const pieces = units(new TimelineScanner(format), cut(input, points))
      assert.ok(Buffer.concat(pieces.bytes).equals(Buffer.concat(whole.bytes)))
      assert.equal(pieces.bytes.length, whole.bytes.length)
      pieces.seconds.forEach((s, i) => assert.ok(close(s, whole.seconds[i]!)))
    }), { numRuns: 60 })
  }
})

test('dueUnits counts the units begun by a time; contiguousRuns joins units that follow each other', () => {
  assert.equal(dueUnits([0, 1, 2, 3], -0.5), 0)
  assert.equal(dueUnits([0, 1, 2, 3], 0), 1)
  assert.equal(dueUnits([0, 1, 2, 3], 2.5), 3)
  assert.equal(dueUnits([0, 1, 2, 3], 9), 4)
  assert.deepEqual(contiguousRuns([0, 10, 25, 30], [10, 20, 30, 40], 0, 4), [[0, 20], [25, 40]])
  assert.deepEqual(contiguousRuns([0, 10], [10, 20], 1, 1), [])
})

/** A segment of `count` units of `bytes` bytes and `seconds` seconds each. */
function segment (count: number, bytes: number, seconds: number): Timed {
  const starts = Array.from({ length: count }, (_, i) => i * bytes)
  return {
    bytes: Buffer.from(Array.from({ length: count * bytes }, (_, i) => i & 0xff)),
    timeline: { starts, ends: starts.map((s) => s + bytes), times: starts.map((_, i) => i * seconds), duration: count * seconds }
  }
}

test('the pacer hands on every unit once, in order, across loops, lead seconds ahead of the clock', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 20 }), fc.double({ min: 0.01, max: 0.5, noNaN: true }), fc.double({ min: 0, max: 3, noNaN: true }),
    fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { minLength: 1, maxLength: 30 }),
    (count, unitSeconds, lead, steps) => {
      const looped = segment(count, 3, unitSeconds)
      // steps never come later than maxLate: every unit is due on time
      const pacer = new Pacer(lead, 2)
      pacer.load(looped)
      const sent: Buffer[] = []
      let elapsed = 0
      for (const step of steps) {
        elapsed += step
        for (;;) {
          const wait = pacer.take(elapsed, (bytes) => sent.push(bytes))
          if (wait !== undefined) {
            assert.ok(wait > 0 && wait <= unitSeconds + 1e-9, 'the next unit is due within a unit')
            break
          }
          pacer.load(looped)
        }
        const units = Buffer.concat(sent).length / 3
        // every unit begun by elapsed + lead is sent, none later
        const expected = Math.floor((elapsed + lead) / unitSeconds + 1e-9) + 1
        assert.ok(Math.abs(units - expected) <= 1, `${units} units at ${elapsed}s, ${expected} expected`)
      }
      const all = Buffer.concat(sent)
      for (let at = 0; at < all.length; at += looped.bytes.length) {
        const part = all.subarray(at, at + looped.bytes.length)
        assert.ok(part.equals(looped.bytes.subarray(0, part.length)), 'the segment again, from its start')
      }
    }), { numRuns: 200 })
})

test('after a stall the pacer sends the lead and maxLate seconds at once, then keeps time from there', () => {
  fc.assert(fc.property(
    fc.double({ min: 0.01, max: 0.5, noNaN: true }), fc.double({ min: 0, max: 3, noNaN: true }),
    fc.double({ min: 0.5, max: 3, noNaN: true }), fc.double({ min: 10, max: 10_000, noNaN: true }),
    (unitSeconds, lead, maxLate, stall) => {
      const looped = segment(7, 3, unitSeconds)
      const pacer = new Pacer(lead, maxLate)
      pacer.load(looped)
      let units = 0
      const takeAt = (elapsed: number): void => {
        for (;;) {
          if (pacer.take(elapsed, (bytes) => { units += bytes.length / 3 }) !== undefined) return
          pacer.load(looped)
        }
      }
      takeAt(0)
      const before = units
      takeAt(stall)
      const caughtUp = units - before
      const most = Math.floor((lead + maxLate) / unitSeconds + 1e-9) + 1
      assert.ok(caughtUp <= most, `${caughtUp} units sent after a ${stall}s stall, at most ${most}`)
      // from there on the clock runs as before: maxLate seconds later, maxLate seconds of audio are sent
      const after = units
      takeAt(stall + maxLate)
      assert.ok(Math.abs((units - after) - maxLate / unitSeconds) <= 1.000001, `${units - after} units in the ${maxLate}s after`)
    }), { numRuns: 200 })
})

const dir = makeTempDir('file-source')
function write (name: string, bytes: Buffer): string {
  const path = join(dir, name)
  writeFileSync(path, bytes)
  return path
}

test('a file that cannot be read, is empty, or holds no audio is refused with its own code', async () => {
  mkdirSync(join(dir, 'folder'))
  const cases: Array<[string, string]> = [
    [join(dir, 'missing.mp3'), 'FST_ICECAST_RELAY_FILE_UNREADABLE'],
    [join(dir, 'folder'), 'FST_ICECAST_RELAY_FILE_UNREADABLE'],
    [write('empty.mp3', Buffer.alloc(0)), 'FST_ICECAST_RELAY_FILE_EMPTY'],
    [write('text.mp3', Buffer.from('<html>not audio</html>\n'.repeat(100))), 'FST_ICECAST_RELAY_FILE_NOT_AUDIO'],
    [write('tag-only.mp3', id3Tag(5000)), 'FST_ICECAST_RELAY_FILE_NOT_AUDIO']
  ]
  for (const [path, code] of cases) {
    await assert.rejects(openFileUpstream({ path }), (error) => {
      assert.equal(codeOf(error), code, path)
      assert.ok((error as Error).message.includes(path), 'the message names the file')
      return true
    })
  }
})

test('the head says the file\'s format', async () => {
  const cases: Array<[Buffer, string]> = [
    [Buffer.concat([id3Tag(100), mp3Frames(10)]), 'audio/mpeg'],
    [syntheticAdts(20), 'audio/aac'],
    [vorbisStream(1, 5, 1000), 'audio/ogg']
  ]
  for (const [[bytes, type], i] of cases.map((c, i) => [c, i] as const)) {
    const connection = await openFileUpstream({ path: write(`format${i}`, bytes) })
    assert.equal(connection.head.status, 200)
    assert.equal(connection.head.headers['content-type'], type)
    assert.equal(connection.url.protocol, 'file:')
    connection.close()
  }
})

/** What a started file connection sends until `ms` have passed. */
async function receive (path: string, ms: number, options: { lead?: number, inMemoryBytes?: number } = {}): Promise<Array<{ at: number, bytes: Buffer }>> {
  const connection = await openFileUpstream({ path, ...options })
  const got: Array<{ at: number, bytes: Buffer }> = []
  const start = Date.now()
  connection.start({ data: (bytes) => got.push({ at: Date.now() - start, bytes }), end: (error) => assert.fail(error) })
  await new Promise((resolve) => setTimeout(resolve, ms))
  connection.close()
  return got
}

test('a file plays at its real rate after a lead, and loops', async () => {
  const frames = mp3Frames(Math.round(1 / MP3_FRAME_SECONDS)) // about a second of audio
  const path = write('second.mp3', Buffer.concat([id3Tag(2000), frames]))
  const got = await receive(path, 2100, { lead: 0.5 })
  const secondsBy = (ms: number): number => Buffer.concat(got.filter((c) => c.at <= ms).map((c) => c.bytes)).length / MP3_FRAME_BYTES * MP3_FRAME_SECONDS
  assert.ok(secondsBy(30) >= 0.5 && secondsBy(30) < 0.6, `the lead at once: ${secondsBy(30)} s`)
  assert.ok(secondsBy(400) < 1, `no more than real time: ${secondsBy(400)} s by 400 ms`)
  const total = secondsBy(2100)
  assert.ok(total > 2.4 && total < 2.7, `about 2.1 s + the lead in 2.1 s: ${total} s`)
  const all = Buffer.concat(got.map((c) => c.bytes))
  assert.ok(all.subarray(0, frames.length).equals(frames), 'the frames, without the tag')
  assert.ok(all.subarray(frames.length, 2 * frames.length).equals(frames), 'then again from the first frame')
})

test('a file larger than the in-memory limit is streamed from disk, block after block, and loops', async () => {
  const frames = mp3Frames(15000) // 6.2 MB, 6.5 minutes
  const path = write('large.mp3', Buffer.concat([id3Tag(100000), frames]))
  const got = await receive(path, 1500, { lead: 900, inMemoryBytes: 1024 * 1024 })
  const all = Buffer.concat(got.map((c) => c.bytes))
  assert.ok(all.length > frames.length * 2, `more than two loops at once: ${all.length}`)
  assert.ok(all.subarray(0, frames.length).equals(frames))
  assert.ok(all.subarray(frames.length, 2 * frames.length).equals(frames))
})

test('a FIFO is refused at once, not waited on for a writer that never comes', async () => {
  const fifo = join(dir, 'fifo.mp3')
  execFileSync('mkfifo', [fifo])
  const opened = openFileUpstream({ path: fifo })
  const outcome = await Promise.race([
    opened.then(() => 'opened', (error) => codeOf(error)),
    new Promise((resolve) => setTimeout(resolve, 1000, 'still opening after 1 s')).then(String)
  ])
  assert.equal(outcome, 'FST_ICECAST_RELAY_FILE_UNREADABLE')
})

test('an Ogg file whose granules claim far less time than its bytes take is refused, not sent in a flood', async () => {
  const path = write('fast.ogg', vorbisStream(7, 30, 1)) // 16 KB that say they play 0.7 ms
  await assert.rejects(openFileUpstream({ path }), (error) => {
    assert.equal(codeOf(error), 'FST_ICECAST_RELAY_FILE_NOT_AUDIO')
    assert.match((error as Error).message, /bytes a second/)
    return true
  })
  const streamed = write('fast-large.ogg', vorbisStream(7, 3000, 1))
  await assert.rejects(openFileUpstream({ path: streamed, inMemoryBytes: 1024 }), (error) => codeOf(error) === 'FST_ICECAST_RELAY_FILE_NOT_AUDIO')
})

test('an Ogg page whose granule jumps by years plays as no time: the pages after it are not held back forever', () => {
  const stream = vorbisStream(7, 10, 4410)
  const pages: Buffer[] = []
  for (let at = 0; at < stream.length;) {
    let length = 27 + stream[at + 26]!
    for (let i = 0; i < stream[at + 26]!; i++) length += stream[at + 27 + i]!
    pages.push(Buffer.from(stream.subarray(at, at + length)))
    at += length
  }
  const page = pages[5]!
  page.writeBigInt64LE(2n ** 50n, 6)
  page.writeUInt32LE(0, 22)
  page.writeUInt32LE(pageCrc(page), 22)
  const { seconds } = units(new TimelineScanner('ogg'), [Buffer.concat(pages)])
  assert.equal(seconds[5], 0, 'the jump plays no time')
  // the page after it goes back in granules: no time either; from the next on, each plays its own
  assert.ok(seconds.slice(7).every((s) => close(s, 0.1)), `the pages after it: ${seconds.join(', ')}`)
})
