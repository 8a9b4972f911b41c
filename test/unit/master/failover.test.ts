// Several masters listing the same mount: its relay has them all as upstreams, in the masters' order, and a
// listener stays through the passing of the mount from one master to the next.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { relayApp, waitUntil, type RelayApp } from '../../helpers/app.js'
import { fakeMaster, type FakeMaster } from '../../helpers/fake-master.js'
import { openListener, type OpenListener } from '../../helpers/listen.js'

/** MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 417 bytes a frame. */
const FRAME_HEADER = [0xff, 0xfb, 0x90, 0x00]
const FRAME_LENGTH = 417

/** `count` MP3 frames whose bodies are all `fill`, so that a listener's bytes tell which master sent them. */
function frames (fill: string, count: number): Buffer {
  const frame = Buffer.alloc(FRAME_LENGTH, fill)
  frame.set(FRAME_HEADER)
  return Buffer.concat(Array.from({ length: count }, () => frame))
}

/** The fill of each whole frame in a listener's bytes, runs collapsed: `AB` is a run of A's frames, then B's. */
function runs (bytes: Buffer): string {
  let out = ''
  for (let at = 0; at + FRAME_LENGTH <= bytes.length; at += FRAME_LENGTH) {
    assert.deepEqual([...bytes.subarray(at, at + 4)], FRAME_HEADER, `a frame header at ${at}`)
    const fill = String.fromCharCode(bytes[at + 4]!)
    assert.ok(bytes.subarray(at + 4, at + FRAME_LENGTH).every((byte) => byte === bytes[at + 4]), `one master's frame at ${at}`)
    if (!out.endsWith(fill)) out += fill
  }
  return out
}

interface TwoMasters extends RelayApp {
  first: FakeMaster
  second: FakeMaster
  listener: OpenListener
}

/** How often each master sends a frame: 8 KB/s, as a live source sends all the time (a silent one stalls). */
const FRAME_EVERY_MS = 50

/**
 * Two masters both listing /x and streaming it (the first A's frames, the second B's), a slave of both in that
 * order, a listener of /x that got a run of the first's frames.
 */
async function twoMasters (t: TestContext): Promise<TwoMasters> {
  const first = await fakeMaster({ body: '/x\r\n' })
  const second = await fakeMaster({ body: '/x\r\n' })
  first.mounts.add('/x')
  second.mounts.add('/x')
  const feed = setInterval(() => {
    first.push(frames('A', 1))
    second.push(frames('B', 1))
  }, FRAME_EVERY_MS)
  t.after(() => { clearInterval(feed) })
  const slave = await relayApp({
    master: [
      { server: '127.0.0.1', port: first.port, password: 'one', updateInterval: 0.2 },
      { server: '127.0.0.1', port: second.port, username: 'two', password: 'two', updateInterval: 0.2 }
    ],
    limits: { gracePeriod: 10, maxBackoff: 1, connectTimeout: 2 }
  })
  t.after(async () => { await slave.app.close(); await Promise.all([first.close(), second.close()]) })
  // the masters answer their first polls in any order: the relay has both upstreams once both did
  await waitUntil(() => {
    const status = slave.app.relay.get('/x')
    return status?.state === 'live' && status.upstreams.length === 2 && status.upstream === first.url('/x')
  }, 5000, '/x to be live from the first master')
  assert.deepEqual(slave.app.relay.get('/x')!.upstreams.map((upstream) => upstream.url), [first.url('/x'), second.url('/x')])
  const listener = openListener(slave.url('/x'))
  t.after(async () => { await listener.close() })
  assert.equal((await listener.head).status, 200)
  await listener.waitForBytes(12 * FRAME_LENGTH)
  return { ...slave, first, second, listener }
}

/** The relay plays the second master's /x, and the listener gets a run of its frames. */
async function secondPlays ({ app, second, listener }: TwoMasters): Promise<void> {
  await waitUntil(() => {
    const status = app.relay.get('/x')
    return status?.state === 'live' && status.upstream === second.url('/x')
  }, 10_000, 'the relay to play the second master')
  await listener.waitForBytes(listener.received().length + 12 * FRAME_LENGTH)
}

test('two masters list a mount: one relay with both as upstreams, the first master\'s first; both report it', async (t) => {
  const slave = await twoMasters(t)
  const status = slave.app.relay.get('/x')!
  assert.equal(status.origin, `master:127.0.0.1:${slave.first.port}`)
  assert.equal(status.upstream, slave.first.url('/x'))
  const [one, two] = slave.app.relay.masters()
  assert.deepEqual([one!.relays, one!.shadowed, two!.relays, two!.shadowed], [['/x'], [], ['/x'], []])
})

test('the first master stops listing the mount: the relay goes on from the second, its listener kept', async (t) => {
  const slave = await twoMasters(t)
  slave.first.answer = { body: '' }
  await secondPlays(slave)
  assert.equal(runs(slave.listener.received()), 'AB', 'a run of the first master\'s frames, then a run of the second\'s')
  const status = slave.app.relay.get('/x')!
  assert.equal(status.origin, `master:127.0.0.1:${slave.second.port}`)
  assert.deepEqual(status.upstreams.map((upstream) => upstream.url), [slave.second.url('/x')])
  const [one, two] = slave.app.relay.masters()
  assert.deepEqual([one!.relays, two!.relays], [[], ['/x']])

  // it lists the mount again: its upstream comes back first in the list, and the relay fails back to it
  slave.first.answer = { body: '/x\r\n' }
  await waitUntil(() => slave.app.relay.get('/x')!.upstreams.length === 2, 5000, 'the first master\'s upstream to come back')
  assert.equal(slave.app.relay.get('/x')!.origin, `master:127.0.0.1:${slave.first.port}`)
  await waitUntil(() => slave.app.relay.get('/x')!.upstream === slave.first.url('/x'), 10_000, 'the relay to fail back to the first master')
  await slave.listener.waitForBytes(slave.listener.received().length + 12 * FRAME_LENGTH)
  assert.equal(runs(slave.listener.received()), 'ABA')
})

test('the first master dies: it keeps its relays (its polls fail), and the relay fails over to the second', async (t) => {
  const slave = await twoMasters(t)
  await slave.first.close()
  await secondPlays(slave)
  assert.equal(runs(slave.listener.received()), 'AB', 'a run of the first master\'s frames, then a run of the second\'s')
  const [one] = slave.app.relay.masters()
  assert.ok(one!.failures > 0)
  assert.deepEqual(one!.relays, ['/x'], 'a master whose poll fails keeps its relays')
  assert.equal(slave.app.relay.get('/x')!.upstreams.length, 2)
})
