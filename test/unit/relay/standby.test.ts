import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { pageLength } from '../../../lib/formats/ogg.js'
import type { RelayDefinition } from '../../../lib/index.js'
import { waitForState, waitUntil } from '../../helpers/app.js'
import { failoverRelay, listenerOnFirst, type FailoverSetup } from '../../helpers/failover.js'
import { MP3_FRAME_BYTES as FRAME, mp3Frames, vorbisStream } from '../../helpers/frames.js'
import { icyBlock, icyBody } from '../../helpers/icy.js'
import { demuxIcy, openListener } from '../../helpers/listen.js'
import type { ScriptedOptions } from '../../helpers/scripted.js'

const pause = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** A relay at `/f` with a hot standby, one scripted upstream per `answers` entry. */
async function standbyRelay (
  t: TestContext,
  answers: ScriptedOptions[],
  relay: Omit<RelayDefinition, 'upstreams' | 'localMount'> = { standby: true },
  maxBackoff = 5
): Promise<FailoverSetup> {
  return await failoverRelay(t, answers, relay, { limits: { maxBackoff } })
}

const states = (setup: FailoverSetup): string[] => setup.app.relay.get('/f')!.upstreams.map((u) => u.state)

test('standby: the next upstream is connected and read while the first plays, and shows as standby', async (t) => {
  const setup = await standbyRelay(t, [{}, {}])
  const [a, b] = setup.upstreams
  const listener = await listenerOnFirst(setup)
  await b!.waitForClients(1)
  b!.push(mp3Frames(20))
  await waitUntil(() => states(setup)[1] === 'standby')
  assert.deepEqual(states(setup), ['active', 'standby'])
  await pause(100)
  assert.equal(listener.received().length, 12 * FRAME, 'none of the standby\'s bytes is sent')
  assert.ok(a!.sent().includes(listener.received()))
  await listener.close()
})

test('at a switch the standby takes over with no new connection: a run of A, then B from its first byte after A\'s last, whole frames', async (t) => {
  const setup = await standbyRelay(t, [{}, {}, {}])
  const { app, events, upstreams: [a, b, c] } = setup
  const listener = await listenerOnFirst(setup)
  await b!.waitForClients(1)
  // B plays along while A plays: this much of B is older than A's last bytes
  b!.push(mp3Frames(30))
  await pause(100)
  a!.push(mp3Frames(3))
  await listener.waitForBytes(15 * FRAME)
  // half a frame of A that the listener must not get
  a!.push(mp3Frames(1).subarray(0, 200))
  await pause(50)
  // what B sends from here on came after A's last byte; its first frame starts 150 bytes in
  const after = b!.sent().length
  b!.push(mp3Frames(1).subarray(FRAME - 150))
  b!.push(mp3Frames(6))
  await pause(100)
  assert.equal(c!.requests.length, 0, 'only the next upstream stands by')
  a!.drop()
  await listener.waitForBytes(21 * FRAME)
  b!.push(mp3Frames(4))
  await listener.waitForBytes(25 * FRAME)

  const got = listener.received()
  assert.equal(got.length, 25 * FRAME, 'whole frames only')
  const aBytes = a!.sent()
  assert.ok(got.subarray(0, 15 * FRAME).equals(aBytes.subarray(0, 15 * FRAME)), 'a run of A, its whole frames')
  const bRun = got.subarray(15 * FRAME)
  assert.equal(b!.sent().indexOf(bRun), after + 150, 'then B from its first frame after A\'s last byte, every byte since')
  assert.equal(b!.requests.length, 1, 'no new connection to B: its standby took over')
  assert.deepEqual(events, [{ localMount: '/f', from: 0, to: 1, reason: 'FST_ICECAST_RELAY_UPSTREAM_CLOSED' }])
  await c!.waitForClients(1)
  await waitUntil(() => states(setup)[2] === 'standby')
  assert.deepEqual(states(setup), ['failed', 'active', 'standby'], 'the next one stands by now')
  assert.equal(app.relay.get('/f')!.listeners, 1, 'the listener was never dropped')
  await listener.close()
})

test('a standby that fails is retried with the backoff and never disturbs the active upstream', async (t) => {
  const setup = await standbyRelay(t, [{}, { head: 'HTTP/1.0 503 Service Unavailable\r\n\r\n' }], { standby: true }, 0.3)
  const { app, upstreams: [a, b] } = setup
  const listener = await listenerOnFirst(setup)
  await waitUntil(() => b!.requests.length >= 3, 5000, 'standby retries')
  assert.equal(states(setup)[1], 'failed')
  assert.equal(app.relay.get('/f')!.upstreams[1]!.lastError?.code, 'FST_ICECAST_RELAY_UPSTREAM_STATUS')
  a!.push(mp3Frames(6))
  await listener.waitForBytes(18 * FRAME)
  assert.equal(a!.requests.length, 1, 'the active upstream kept its connection')
  const status = app.relay.get('/f')!
  assert.equal(status.activeUpstream, 0)
  assert.equal(status.state, 'live')
  assert.equal(status.switches, 0)
  assert.equal(status.lastError, null)
  await listener.close()
})

test('no standby without the option, nor for a single upstream', async (t) => {
  const off = await standbyRelay(t, [{}, {}], {})
  await listenerOnFirst(off).then(async (listener) => await listener.close())
  const single = await standbyRelay(t, [{}], { standby: true })
  await listenerOnFirst(single).then(async (listener) => await listener.close())
  await pause(300)
  assert.equal(off.upstreams[1]!.requests.length, 0)
  assert.deepEqual(states(off), ['active', 'idle'])
  assert.equal(single.upstreams[0]!.requests.length, 1)
})

test('on demand: a standby only while the relay is live', async (t) => {
  const setup = await standbyRelay(t, [{}, {}], { standby: true, onDemand: true })
  const { app, url, upstreams: [a, b] } = setup
  await pause(200)
  assert.equal(b!.requests.length, 0, 'no standby while idle')
  const listener = openListener(url('/f'))
  await a!.waitForClients(1)
  a!.push(mp3Frames(12))
  assert.equal((await listener.head).status, 200)
  await b!.waitForClients(1)
  await listener.close()
  await waitForState(app, '/f', 'idle')
  await waitUntil(() => b!.clients.size === 0, 3000, 'the standby let go')
  assert.deepEqual(states(setup), ['active', 'idle'])
})

/** The pages of an Ogg stream, in order. */
function pages (stream: Buffer): Buffer[] {
  const out: Buffer[] = []
  for (let at = 0; at < stream.length;) {
    const length = pageLength(stream, at)
    assert.ok(typeof length === 'number', `a whole page at ${at}`)
    out.push(stream.subarray(at, at + length))
    at += length
  }
  return out
}

test('Ogg: the standby takes over as a new chain, its header pages first, then its pages after A\'s last', async (t) => {
  const ogg = { head: 'HTTP/1.0 200 OK\r\nContent-Type: audio/ogg\r\n\r\n' }
  const setup = await standbyRelay(t, [ogg, ogg])
  const { app, url, upstreams: [a, b] } = setup
  const aPages = pages(vorbisStream(1, 40, 1024))
  const bPages = pages(vorbisStream(2, 60, 1024))
  await waitForState(app, '/f', 'live')
  a!.push(Buffer.concat(aPages.slice(0, 12)))
  const listener = openListener(url('/f'))
  await listener.head
  await waitUntil(() => app.relay.get('/f')!.listeners === 1)
  await b!.waitForClients(1)
  b!.push(Buffer.concat(bPages.slice(0, 20)))
  await pause(100)
  a!.push(Buffer.concat(aPages.slice(12, 20)))
  await pause(100)
  b!.push(Buffer.concat(bPages.slice(20, 30)))
  a!.drop()
  await waitUntil(() => app.relay.get('/f')!.activeUpstream === 1)
  b!.push(Buffer.concat(bPages.slice(30, 40)))
  await waitUntil(() => listener.received().includes(bPages[39]!), 3000, 'B\'s pages')

  const got = pages(listener.received())
  const firstOfB = got.findIndex((page) => page.readUInt32LE(14) === 2)
  assert.ok(firstOfB > 0)
  assert.ok(got.slice(0, firstOfB).every((page) => page.readUInt32LE(14) === 1), 'a run of A first')
  assert.deepEqual(got.slice(firstOfB), [bPages[0], bPages[1], ...bPages.slice(20, 40)], 'B\'s headers, then every page of B after A\'s last')
  assert.equal(b!.requests.length, 1)
  await listener.close()
})

test('ICY: the standby takes over where an audio run of its stream starts, no metadata byte in the audio, none of it twice', async (t) => {
  const icy = { head: 'HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-metaint: 2000\r\n\r\n' }
  const setup = await standbyRelay(t, [{}, icy])
  const { app, upstreams: [a, b] } = setup
  const listener = await listenerOnFirst(setup)
  const bAudio = mp3Frames(60)
  const bBody = icyBody(bAudio, 2000, { 1: icyBlock("StreamTitle='B one';"), 3: icyBlock("StreamTitle='B two';") })
  await b!.waitForClients(1)
  // B's connection is in the middle of an audio run when A sends its last bytes
  const mark = 7000
  b!.push(bBody.subarray(0, mark))
  await pause(100)
  a!.push(mp3Frames(2))
  await listener.waitForBytes(14 * FRAME)
  await pause(50)
  b!.push(bBody.subarray(mark))
  a!.drop()
  await waitUntil(() => listener.received().subarray(-FRAME).equals(bAudio.subarray(-FRAME)), 3000, 'B\'s last frame')

  const bRun = listener.received().subarray(14 * FRAME)
  assert.ok(listener.received().subarray(0, 14 * FRAME).equals(a!.sent().subarray(0, 14 * FRAME)))
  assert.equal(bRun.length % FRAME, 0, 'whole frames')
  const from = bAudio.indexOf(bRun)
  assert.ok(from >= 0, 'B\'s audio, contiguous, with no metadata byte in it')
  const markAudio = demuxIcy(bBody.subarray(0, mark), 2000).audio.length
  assert.ok(from >= markAudio && from < markAudio + 2000 + FRAME, `none of B's audio before A's last byte (${from} ≥ ${markAudio}), and little lost`)
  assert.equal(b!.requests.length, 1)
  assert.equal(app.relay.get('/f')!.activeUpstream, 1)
  await listener.close()
})
