// A listener joins a mount without a flush (lib/mount/tier.ts): its burst holds the stream gathered for the
// listeners already in, and the next flush sends it only what came after. Whatever the interleaving of
// reads, flushes, joins, leaves, title changes and slices of rounds, every listener gets a contiguous run of
// the stream, nothing lost, doubled or reordered, with the title that was current for each byte.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SYNC_ANYWHERE } from '../../../lib/formats/sink.js'
import { Listener, type EndReason, type Framer } from '../../../lib/mount/listener.js'
import { gatherBound, Mount } from '../../../lib/mount/mount.js'
import { SLICE } from '../../../lib/mount/round.js'
import { IcyMuxer, SharedFrames } from '../../../lib/shoutcast/mux.js'
import { IcyDemuxer } from '../../../lib/shoutcast/demux.js'
import { buildMetadataBlock } from '../../../lib/shoutcast/metadata.js'
import { Crowd, CROWD_JOINS, gatheredInterval } from '../../../lib/relay/crowd.js'
import { recordingListener } from '../../helpers/recording.js'

interface Recorded { listener: Listener, writes: Buffer[], tls: boolean, burstBytes: number, gone: boolean }

function recording (id: number, mount: Mount, framer: Framer, tls: boolean): Recorded {
  const { listener, writes } = recordingListener({ id, framer, encrypted: tls, onEnd: (ended, reason) => { mount.detach(ended, reason) } })
  return { listener, writes, tls, burstBytes: 0, gone: false }
}

/** The slices a round leaves for later, run when the test says. */
function steppedDefer (): { defer: (next: () => void) => void, step: () => void } {
  const queue: Array<() => void> = []
  return { defer: (next) => { queue.push(next) }, step: () => { queue.shift()?.() } }
}

type Step = { push: Uint8Array } | { flush: 'live' | 'encrypted' | 'all' } | { join: 'plain' | 'tls' } |
{ leave: number } | { title: true } | { slice: true }

/**
 * Checks one listener's ICY body: the audio is the stream from its start, after its burst each byte came
 * under its title, and no write after its start carried more than `largest` bytes of audio.
 */
function wellServed (r: Recorded, metaint: number, stream: Buffer, titleAt: number[], titles: Buffer[], largest: number): boolean {
  const audio: Buffer[] = []
  let audioLength = 0
  const changes: Array<{ at: number, block: Buffer }> = []
  const demuxer = new IcyDemuxer(metaint, {
    audio (chunk) { audio.push(chunk); audioLength += chunk.length },
    metadata (block) { changes.push({ at: audioLength, block }) }
  })
  for (const [i, write] of r.writes.entries()) {
    const before = audioLength
    demuxer.push(write)
    if (i > 0 && audioLength - before > largest) return false
  }
  const got = Buffer.concat(audio)
  if (!got.equals(stream.subarray(0, got.length))) return false
  if (!r.gone && got.length !== stream.length) return false
  let known: Buffer | undefined
  let next = 0
  for (let at = metaint; at < got.length; at += metaint) {
    while (next < changes.length && changes[next]!.at <= at) known = changes[next++]!.block
    if (at < r.burstBytes) continue
    if (known === undefined || !known.equals(titles[titleAt[at]!]!.subarray(1))) return false
  }
  return true
}

test('mount: a listener joins without a flush; whatever comes between, every listener gets the stream once, in order, each byte with its title, in writes within the gathering bound', () => {
  const step = fc.oneof(
    { arbitrary: fc.record({ push: fc.uint8Array({ minLength: 1, maxLength: 40 }) }), weight: 4 },
    { arbitrary: fc.record({ flush: fc.constantFrom<'live' | 'encrypted' | 'all'>('live', 'encrypted', 'all') }), weight: 2 },
    { arbitrary: fc.record({ join: fc.constantFrom<'plain' | 'tls'>('plain', 'tls') }), weight: 3 },
    { arbitrary: fc.record({ leave: fc.nat() }), weight: 1 },
    { arbitrary: fc.record({ title: fc.constant(true as const) }), weight: 1 },
    { arbitrary: fc.record({ slice: fc.constant(true as const) }), weight: 2 }
  )
  const bound = fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined })
  fc.assert(fc.property(fc.integer({ min: 1, max: 24 }), fc.boolean(), bound, fc.array(step, { maxLength: 50 }), (metaint, crowded, gatherBound, steps: Step[]) => {
    const { defer, step: runSlice } = steppedDefer()
    const mount = new Mount({ burstSize: 1 << 30, onLeave: () => {}, defer, gatherBound })
    // a flush comes once a push took a tier to the bound: one write holds less than the bound and a push more,
    // unless a round in slices runs, which carries all a listener is owed (round.test.ts: it keeps up so)
    const longestPush = Math.max(0, ...steps.map((s) => 'push' in s ? s.push.length : 0))
    const largest = gatherBound === undefined || crowded ? Infinity : gatherBound + longestPush - 1
    const titles: Buffer[] = [buildMetadataBlock({ title: 'first' })]
    const shared = new SharedFrames()
    const framer = (): Framer => {
      const muxer = new IcyMuxer(metaint)
      return {
        frame: (chunk) => muxer.frame(chunk, titles.at(-1)!, shared),
        slices: (chunk, out) => { muxer.interleave(chunk, titles.at(-1)!, out) }
      }
    }
    const pushed: Buffer[] = []
    const titleAt: number[] = []
    const all: Recorded[] = []
    const join = (tls: boolean): void => {
      const r = recording(all.length, mount, framer(), tls)
      all.push(r)
      const others = all.map((o) => o.writes.length)
      mount.attach(r.listener)
      r.burstBytes = r.listener.bytesSent
      // joining writes to no one but the newcomer
      all.forEach((o, i) => { if (o !== r) assert.equal(o.writes.length, others[i]) })
    }
    // more listeners than a slice: rounds are written in slices, which the steps run or not
    if (crowded) {
      for (let i = 0; i < SLICE + 2; i++) join(false)
    }
    for (const s of steps) {
      if ('push' in s) {
        const chunk = Buffer.from(s.push)
        pushed.push(chunk)
        for (let i = 0; i < chunk.length; i++) titleAt.push(titles.length - 1)
        mount.push(chunk, SYNC_ANYWHERE)
      } else if ('flush' in s) {
        if (s.flush === 'live') mount.flushLive()
        else if (s.flush === 'encrypted') mount.flushEncrypted()
        else mount.flush()
      } else if ('join' in s) {
        join(s.join === 'tls')
      } else if ('leave' in s) {
        const staying = all.filter((r) => !r.gone)
        const r = staying[s.leave % Math.max(1, staying.length)]
        if (r !== undefined) {
          r.gone = true
          r.listener.end('client')
        }
      } else if ('title' in s) {
        // as Relay.setMetadata: the audio pushed before the new title goes out with the one that was current
        mount.flush()
        titles.push(buildMetadataBlock({ title: `title ${titles.length}` }))
      } else {
        runSlice()
      }
    }
    mount.flush()
    const stream = Buffer.concat(pushed)
    return all.every((r) => wellServed(r, metaint, stream, titleAt, titles, largest) &&
      r.listener.bytesSent === (r.gone ? r.listener.bytesSent : stream.length))
  }), { numRuns: 150 })
})

test('mount: a tier is written at once when it gathered gatherBound bytes (a quarter of queueSize), plain and TLS alike, whatever the interval', () => {
  assert.equal(gatherBound(4096), 1024)
  assert.equal(gatherBound(524288), 131072)
  const mount = new Mount({ burstSize: 1 << 20, onLeave: () => {}, gatherBound: 10 })
  const onEnd = (ended: Listener, reason: EndReason): void => { mount.detach(ended, reason) }
  const plain = recordingListener({ id: 0, onEnd })
  const tls = recordingListener({ id: 1, onEnd, encrypted: true })
  mount.push(Buffer.from('-'), SYNC_ANYWHERE)
  mount.attach(plain.listener)
  mount.attach(tls.listener)
  mount.flush()
  // nine bytes wait for the relay's timer; the tenth makes the flush come at once, the next read waits again
  mount.push(Buffer.from('abcdefghi'), SYNC_ANYWHERE)
  assert.deepEqual(plain.writes.map(String), ['-'])
  mount.push(Buffer.from('jk'), SYNC_ANYWHERE)
  mount.push(Buffer.from('l'), SYNC_ANYWHERE)
  for (const r of [plain, tls]) assert.deepEqual(r.writes.map(String), ['-', 'abcdefghijk'])
  // one read larger than the bound goes as it came, in one write
  mount.push(Buffer.from('m'.repeat(25)), SYNC_ANYWHERE)
  for (const r of [plain, tls]) assert.deepEqual(r.writes.map(String), ['-', 'abcdefghijk', 'l' + 'm'.repeat(25)])
})

test('crowd: 100 joins within a second gather the stream for crowdWriteInterval, until a second passes with fewer; a slower trickle never does', () => {
  const crowd = new Crowd()
  for (let i = 0; i < CROWD_JOINS - 1; i++) crowd.joined(1000 + i)
  assert.equal(gatheredInterval(0.005, 0.5, crowd.active(1100)), 0.005)
  crowd.joined(1100)
  assert.equal(gatheredInterval(0.005, 0.5, crowd.active(1100)), 0.5)
  // a longer writeInterval is kept; 0 keeps writeInterval
  assert.equal(gatheredInterval(2, 0.5, crowd.active(1100)), 2)
  assert.equal(gatheredInterval(0.005, 0, crowd.active(1100)), 0.005)
  assert.equal(gatheredInterval(0.005, 0.5, crowd.active(2099)), 0.5)
  assert.equal(gatheredInterval(0.005, 0.5, crowd.active(2100)), 0.005)
  fc.assert(fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 5000 }), (perSecond, count) => {
    const trickle = new Crowd()
    const gap = 1000 / perSecond
    let seen = false
    for (let i = 0; i < count; i++) {
      trickle.joined(i * gap)
      seen ||= gatheredInterval(0, 0.5, trickle.active(i * gap)) > 0
    }
    // fewer than CROWD_JOINS in any second is no crowd; twice as many makes one as soon as they came
    if (perSecond < CROWD_JOINS / 2) return !seen
    return count < CROWD_JOINS || perSecond < 2 * CROWD_JOINS || seen
  }))
})
