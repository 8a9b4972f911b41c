import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { backoffDelay } from '../../../lib/relay/backoff.js'
import { BurstRing } from '../../../lib/mount/burst.js'
import { SYNC_ANYWHERE } from '../../../lib/formats/sink.js'
import { OggReader } from '../../../lib/formats/ogg.js'
import { logicalStream } from '../fuzz/inputs.js'
import { cut } from '../../helpers/chunking.js'
import { noise } from '../../helpers/scripted.js'
import { listenerHead, streamHeaders, streamInfo } from '../../../lib/mount/headers.js'
import { mountOfUrl } from '../../../lib/listen/route.js'
import { Mount } from '../../../lib/mount/mount.js'
import type { Framer } from '../../../lib/mount/listener.js'
import { IcyMuxer, SharedFrames } from '../../../lib/shoutcast/mux.js'
import { EMPTY_TITLE_BLOCK } from '../../../lib/shoutcast/metadata.js'
import { recordingListener, type RecordingListener } from '../../helpers/recording.js'

function recording (id: number, mount: Mount, framer?: Framer, encrypted = false): RecordingListener {
  return recordingListener({ id, framer, encrypted, onEnd: (ended, reason) => { mount.detach(ended, reason) } })
}

test('backoff: first retry within 1 s, exponential, capped, jittered', () => {
  assert.ok(backoffDelay(0, 30000, () => 0) >= 250)
  assert.ok(backoffDelay(0, 30000, () => 0.999) <= 1000)
  assert.equal(backoffDelay(1, 30000, () => 1), 1000)
  assert.equal(backoffDelay(3, 30000, () => 1), 4000)
  assert.equal(backoffDelay(20, 30000, () => 1), 30000)
  assert.equal(backoffDelay(1000, 30000, () => 0), 15000)
  fc.assert(fc.property(fc.nat(100), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
    const delay = backoffDelay(attempt, 30000, () => r)
    return delay > 0 && delay <= 30000 && delay <= backoffDelay(attempt + 1, 30000, () => 1)
  }))
})

test('burst ring: with no frames known it keeps exactly the last `size` bytes, as shared slices', () => {
  fc.assert(fc.property(fc.nat(5000), fc.array(fc.uint8Array({ minLength: 0, maxLength: 700 }), { maxLength: 40 }), (size, arrays) => {
    const ring = new BurstRing(size)
    const chunks = arrays.map((a) => Buffer.from(a))
    for (const chunk of chunks) ring.push(chunk, SYNC_ANYWHERE)
    const all = Buffer.concat(chunks)
    const recent = ring.recent()
    const expected = all.subarray(Math.max(0, all.length - size))
    if (expected.length === 0) return recent === undefined
    return recent !== undefined && Buffer.concat(recent.chunks).equals(expected) && recent.headers.length === 0
  }))
  const chunk = Buffer.from('abcdef')
  const ring = new BurstRing(4)
  ring.push(chunk, SYNC_ANYWHERE)
  const [slice] = ring.recent()!.chunks
  assert.equal(slice!.toString(), 'cdef')
  assert.equal(slice!.buffer, chunk.buffer)
})

test('burst ring: starts at the earliest place to start inside the window, never before the first headers; in an earlier chain, with that chain\'s headers', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 3000 }),
    fc.array(fc.record({ length: fc.integer({ min: 1, max: 500 }), sync: fc.integer({ min: -1, max: 600 }), headers: fc.boolean() }), { maxLength: 30 }),
    (size, specs) => {
      const ring = new BurstRing(size)
      let end = 0
      let notBefore = 0
      let current: Buffer[] | undefined
      const starts: Array<{ at: number, headers: Buffer[] | undefined }> = []
      const chunks: Buffer[] = []
      for (const [i, spec] of specs.entries()) {
        if (spec.headers) {
          if (current === undefined) notBefore = end
          current = [Buffer.from(`headers ${i}`)]
          ring.setHeaders(current)
        }
        const chunk = noise(spec.length)
        const sync = spec.sync >= spec.length ? -1 : spec.sync
        ring.push(chunk, sync)
        if (sync >= 0) starts.push({ at: end + sync, headers: current })
        chunks.push(chunk)
        end += spec.length
      }
      const all = Buffer.concat(chunks)
      const from = starts.find((start) => start.at >= end - size && start.at >= notBefore)
      const recent = ring.recent()
      if (from === undefined) return recent === undefined
      return recent !== undefined && Buffer.concat(recent.chunks).equals(all.subarray(from.at)) &&
        (from.headers === undefined ? recent.headers.length === 0 : recent.headers === from.headers)
    }))
})

test('stream headers: icy-* pass on, ice-* and x-audiocast-* are mapped, icy-metaint is not passed', () => {
  const headers = streamHeaders({
    'content-type': 'audio/mpeg',
    'icy-name': 'Own name',
    'ice-name': 'Ignored: icy-name wins',
    'ice-audio-info': 'ice-samplerate=44100;ice-bitrate=128;ice-channels=2',
    'ice-public': '1',
    'x-audiocast-genre': 'Jazz',
    'icy-metaint': '8192',
    server: 'Icecast 2.4.4'
  })
  assert.deepEqual(headers, {
    'icy-name': 'Own name',
    'icy-pub': '1',
    'icy-genre': 'Jazz',
    'ice-audio-info': 'ice-samplerate=44100;ice-bitrate=128;ice-channels=2',
    'icy-br': '128'
  })
})

test('listener head follows Icecast 2.4.4', () => {
  const head = listenerHead({
    server: 'x',
    contentType: 'audio/ogg',
    stream: { 'icy-name': 'n' },
    extra: { 'icy-metaint': '16000' },
    date: new Date(0)
  })
  assert.equal(head.toString('latin1'), [
    'HTTP/1.0 200 OK', 'Server: x', 'Connection: Close', 'Date: Thu, 01 Jan 1970 00:00:00 GMT',
    'Content-Type: audio/ogg', 'Cache-Control: no-cache, no-store', 'Expires: Mon, 26 Jul 1997 05:00:00 GMT',
    'Pragma: no-cache', 'X-Content-Type-Options: nosniff',
    "Content-Security-Policy: default-src 'none'; media-src 'self'; form-action 'none'",
    'icy-name: n', 'icy-metaint: 16000', '', ''
  ].join('\r\n'))
})

test('stream headers: names the upstream chose find no inherited mapping; bytes pass on as they came', () => {
  assert.deepEqual(streamHeaders({ constructor: 'x', ['__proto__']: 'y', 'icy-name': 'n' }), { 'icy-name': 'n' })
  const utf8Name = Buffer.from('Radio Ré ♪', 'utf8').toString('latin1')
  const head = listenerHead({ server: 'x', contentType: 'audio/mpeg', stream: { 'icy-name': utf8Name }, extra: {} })
  assert.ok(head.includes(Buffer.from('icy-name: Radio Ré ♪\r\n', 'utf8')), 'the upstream\'s UTF-8 bytes, not re-encoded')
  const latin1Name = Buffer.from('Radio Ré', 'latin1').toString('latin1')
  assert.ok(listenerHead({ server: 'x', contentType: 'audio/mpeg', stream: { 'icy-name': latin1Name }, extra: {} })
    .includes(Buffer.from('icy-name: Radio R\xe9\r\n', 'latin1')))
})

test('stream info shows names as UTF-8 where their bytes are UTF-8, else as Latin-1', () => {
  assert.equal(streamInfo({ 'icy-name': Buffer.from('Radio Ré ♪', 'utf8').toString('latin1') }).name, 'Radio Ré ♪')
  assert.equal(streamInfo({ 'ice-name': Buffer.from('Radio Ré', 'latin1').toString('latin1') }).name, 'Radio Ré')
  assert.equal(streamInfo({}).name, null)
})

test('mountOfUrl strips prefix and query and decodes', () => {
  assert.equal(mountOfUrl('/live.mp3?x=1', ''), '/live.mp3')
  assert.equal(mountOfUrl('/radio/a%20b', '/radio'), '/a b')
  assert.equal(mountOfUrl('/radiox/a', '/radio'), undefined)
  assert.equal(mountOfUrl('/%E0%A4%A', ''), undefined)
  assert.equal(mountOfUrl('/', ''), '/')
})

test('mount: the pieces of one upstream read reach a listener as one write; a listener joining between forces no write and gets them once', () => {
  const mount = new Mount({ burstSize: 100, onLeave: () => {} })
  const a = recording(1, mount)
  mount.push(Buffer.from('ab'), SYNC_ANYWHERE)
  mount.flush()
  mount.attach(a.listener)
  assert.deepEqual(a.writes.map(String), ['ab'])
  // the ICY demuxer cuts a read in two at a metadata block: one write per read, not per piece
  mount.push(Buffer.from('cd'), SYNC_ANYWHERE)
  mount.push(Buffer.from('ef'), SYNC_ANYWHERE)
  const b = recording(2, mount)
  mount.attach(b.listener)
  mount.push(Buffer.from('gh'), SYNC_ANYWHERE)
  mount.flush()
  mount.flush()
  // b's joining forced no write on a: the stream gathered for a goes in the next flush's one write
  assert.deepEqual(a.writes.map(String), ['ab', 'cdefgh'])
  assert.deepEqual(b.writes.map(String), ['abcdef', 'gh'])
  assert.deepEqual(Buffer.concat(b.writes).toString(), 'abcdefgh')
  assert.equal(a.listener.bytesSent, 8)
})

type TierStep = { push: Uint8Array } | { flush: 'live' | 'encrypted' | 'all' } | { join: 'plain' | 'tls' }

test('mount: listeners over TLS are written to only when their tier is flushed, and every listener gets every byte once, in order', () => {
  const step = fc.oneof(
    fc.record({ push: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
    fc.record({ flush: fc.constantFrom<'live' | 'encrypted' | 'all'>('live', 'encrypted', 'all') }),
    fc.record({ join: fc.constantFrom<'plain' | 'tls'>('plain', 'tls') })
  )
  fc.assert(fc.property(fc.array(step, { maxLength: 60 }), (steps: TierStep[]) => {
    const mount = new Mount({ burstSize: 1 << 20, onLeave: () => {} })
    const pushed: Buffer[] = []
    const joined: Array<{ writes: Buffer[], tls: boolean, writesOutsideItsFlushes: number }> = []
    for (const s of steps) {
      if ('push' in s) {
        pushed.push(Buffer.from(s.push))
        mount.push(pushed.at(-1)!, SYNC_ANYWHERE)
      } else if ('join' in s) {
        const { listener, writes } = recording(joined.length, mount, undefined, s.join === 'tls')
        mount.attach(listener)
        joined.push({ writes, tls: s.join === 'tls', writesOutsideItsFlushes: 0 })
      } else {
        const before = joined.map((j) => j.writes.length)
        if (s.flush === 'live') mount.flushLive()
        else if (s.flush === 'encrypted') mount.flushEncrypted()
        else mount.flush()
        const itsFlush = (tls: boolean): boolean => s.flush === 'all' || (s.flush === 'encrypted') === tls
        joined.forEach((j, i) => { if (!itsFlush(j.tls)) j.writesOutsideItsFlushes += j.writes.length - before[i]! })
      }
    }
    mount.flush()
    const all = Buffer.concat(pushed)
    return joined.every((j) => Buffer.concat(j.writes).equals(all) && j.writesOutsideItsFlushes === 0)
  }))
})

test('mount: a listener over TLS moved to another mount (release) or ended with the mount (endAll) first gets what it is owed', () => {
  const mount = new Mount({ burstSize: 100, onLeave: () => {} })
  const moved = recording(1, mount, undefined, true)
  const ended = recording(2, mount, undefined, true)
  mount.push(Buffer.from('-'), SYNC_ANYWHERE)
  mount.attach(moved.listener)
  mount.attach(ended.listener)
  assert.equal(mount.hasEncrypted, true)
  mount.push(Buffer.from('ab'), SYNC_ANYWHERE)
  mount.flushLive()
  assert.deepEqual(moved.writes.map(String), ['-'])
  assert.equal(mount.release(moved.listener), true)
  assert.deepEqual(moved.writes.map(String), ['-', 'ab'])
  mount.push(Buffer.from('cd'), SYNC_ANYWHERE)
  mount.endAll('stopped')
  assert.deepEqual(ended.writes.map(String), ['-', 'ab', 'cd'])
})

/** An ICY framer as the shoutcast plugin makes one, at a fixed title. */
function icyFramer (metaint: number): Framer {
  const muxer = new IcyMuxer(metaint)
  const shared = new SharedFrames()
  return {
    frame: (chunk) => muxer.frame(chunk, EMPTY_TITLE_BLOCK, shared),
    slices: (chunk, out) => { muxer.interleave(chunk, EMPTY_TITLE_BLOCK, out) }
  }
}

test('mount: a listener starts with its burst in one write, framed as the live chunks after it would be', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.uint8Array({ minLength: 1, maxLength: 120 }), { minLength: 1, maxLength: 12 }),
    fc.nat(12), (metaint, arrays, at) => {
      const chunks = arrays.map((a) => Buffer.from(a))
      const joinAt = Math.min(at, chunks.length)
      const mount = new Mount({ burstSize: 1 << 20, onLeave: () => {} })
      const late = recording(1, mount, icyFramer(metaint))
      const reference = icyFramer(metaint)
      for (const chunk of chunks.slice(0, joinAt)) {
        mount.push(chunk, SYNC_ANYWHERE)
        mount.flush()
      }
      mount.attach(late.listener)
      const burstWrites = late.writes.length
      for (const chunk of chunks.slice(joinAt)) {
        mount.push(chunk, SYNC_ANYWHERE)
        mount.flush()
      }
      const expected = Buffer.concat(chunks.map((chunk) => reference.frame(chunk)))
      return burstWrites === (joinAt === 0 ? 0 : 1) && Buffer.concat(late.writes).equals(expected) &&
        late.listener.bytesSent === Buffer.concat(chunks).length
    }))
})

test('mount: right after an Ogg chain change, a new listener gets burstSize: the previous chain\'s headers and tail, then the new chain as it came', () => {
  const BURST = 8000
  const previous = logicalStream('vorbis', 1, 20).slice(0, -1)
  const next = logicalStream('opus', 2, 3)
  const stream = Buffer.concat([...previous, ...next.slice(0, 3)])
  // upstream reads of up to a page or so, as a live stream comes: a chunk's first page start is its place to start
  const reads = fc.array(fc.integer({ min: 100, max: 1200 }), { minLength: 1, maxLength: 40 })
  fc.assert(fc.property(reads, (sizes) => {
    const points: number[] = []
    for (let at = 0, i = 0; at < stream.length; i++) points.push(at += sizes[i % sizes.length]!)
    const mount = new Mount({ burstSize: BURST, onLeave: () => {} })
    const reader = new OggReader({
      chunk: (bytes, sync) => mount.push(bytes, sync),
      headers: (pages) => mount.setHeaders(pages),
      info: () => {},
      tags: () => {},
      corrupt: () => {}
    })
    for (const piece of cut(stream, points)) reader.push(piece)
    mount.flush()
    const late = recording(1, mount)
    mount.attach(late.listener)
    const got = Buffer.concat(late.writes)
    const headers = Buffer.concat(previous.slice(0, 2))
    assert.ok(got.subarray(0, headers.length).equals(headers), 'the previous chain\'s header pages first')
    const burst = got.subarray(headers.length)
    assert.ok(stream.subarray(stream.length - burst.length).equals(burst), 'then the stream\'s last bytes, as they came')
    const dataPageStarts = new Set(previous.slice(2).map((_, i) => Buffer.concat(previous.slice(0, i + 2)).length))
    assert.ok(dataPageStarts.has(stream.length - burst.length), 'from a data page of the previous chain')
    assert.ok(burst.length <= BURST && burst.length > BURST - 2500, `${burst.length} bytes of burst`)
  }), { numRuns: 50 })
})
