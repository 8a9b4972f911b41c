import assert from 'node:assert/strict'
import net from 'node:net'
import { test, type TestContext } from 'node:test'
import type { RelayPluginOptions } from '../../../lib/index.js'
import { ADMIN, adminGet } from '../../helpers/admin.js'
import { syntheticAdts } from '../../helpers/adts.js'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import { failoverRelay, listenerOnFirst } from '../../helpers/failover.js'
import { openListener } from '../../helpers/listen.js'
import { noise, onRequestHead, scriptedUpstream, type ScriptedUpstream } from '../../helpers/scripted.js'

const SECRET = 'pa55-w0rd-never-shown'

/** MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 417 bytes a frame. */
const FRAME = 417

/** `count` MP3 frames with random payloads (no 0xFF in them, so a frame sync is only at a frame start). */
function mp3Frames (count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, () => Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0x00]), noise(FRAME - 4)])))
}

interface Run { source: number, start: number, length: number }

/**
 * What a listener got, cut into MP3 frames (so it must be whole frames only, no half frame from either
 * side), as runs of the sources' bytes: consecutive frames that follow each other in one source.
 */
function frameRuns (got: Buffer, sources: Buffer[]): Run[] {
  assert.equal(got.length % FRAME, 0, `whole frames only (${got.length} bytes)`)
  const runs: Run[] = []
  for (let at = 0; at < got.length; at += FRAME) {
    const frame = got.subarray(at, at + FRAME)
    assert.deepEqual([...frame.subarray(0, 2)], [0xff, 0xfb], `a frame starts at ${at}`)
    const offsets = sources.map((bytes) => bytes.indexOf(frame))
    const source = offsets.findIndex((offset) => offset >= 0)
    assert.ok(source >= 0, `the frame at ${at} is in no source`)
    const last = runs.at(-1)
    if (last !== undefined && last.source === source && last.start + last.length === offsets[source]) last.length += FRAME
    else runs.push({ source, start: offsets[source]!, length: FRAME })
  }
  return runs
}

test('when the active upstream ends, the next is tried at once; listeners stay and get a run of A then a run of B', async (t) => {
  const setup = await failoverRelay(t, [{}, {}])
  const { app, upstreams: [a, b], events } = setup
  const listener = await listenerOnFirst(setup)
  // half a frame that the listener must not get: A ends before its rest comes
  a!.push(mp3Frames(1).subarray(0, 200))

  const dropped = Date.now()
  await a!.close()
  await b!.waitForClients(1)
  const switchMs = Date.now() - dropped
  assert.ok(switchMs < 200, `the backup was asked at once (${switchMs} ms), not after a backoff`)
  // B's connection starts in the middle of a frame, as an Icecast stream joined at any time does
  b!.push(mp3Frames(1).subarray(150))
  b!.push(mp3Frames(12))
  await listener.waitForBytes(24 * FRAME)
  await waitUntil(() => app.relay.get('/f')!.state === 'live' && app.relay.get('/f')!.activeUpstream === 1)

  const got = listener.received()
  const runs = frameRuns(got, [a!.sent(), b!.sent()])
  assert.deepEqual(runs.map((r) => r.source), [0, 1], 'a run of A, then a run of B')
  assert.equal(got.length, 24 * FRAME)
  assert.equal(app.relay.get('/f')!.listeners, 1, 'the listener was never dropped')
  assert.deepEqual(events, [{ localMount: '/f', from: 0, to: 1, reason: 'FST_ICECAST_RELAY_UPSTREAM_CLOSED' }])
  const status = app.relay.get('/f')!
  assert.equal(status.switches, 1)
  assert.equal(status.upstream, b!.url('/s'))
  assert.deepEqual(status.upstreams.map((u) => [u.url, u.state, u.lastError?.code ?? null]), [
    [a!.url('/s'), 'failed', 'FST_ICECAST_RELAY_UPSTREAM_CLOSED'],
    [b!.url('/s'), 'active', null]
  ])
  await listener.close()
})

test('backoff only once every upstream has failed in a row; then the first is tried again', async (t) => {
  const refused = { head: 'HTTP/1.0 503 Service Unavailable\r\n\r\n' }
  const { app, upstreams } = await failoverRelay(t, [refused, refused, refused])
  const tries: Array<{ index: number, at: number, state: string }> = []
  app.relay.on('state', (event) => {
    if (event.state === 'connecting' || event.state === 'retrying') tries.push({ index: app.relay.get('/f')!.activeUpstream, at: Date.now(), state: event.state })
  })
  await waitUntil(() => upstreams.every((u) => u.requests.length >= 2), 5000, 'two rounds')
  // the three upstreams of a round are asked one right after the other, then the relay waits
  const requests = upstreams.map((u) => u.requests.length)
  assert.ok(requests.every((n) => n >= 2), `every upstream asked in each round: ${requests.join(', ')}`)
  const retrying = tries.filter((s) => s.state === 'retrying')
  assert.ok(retrying.length >= 1)
  assert.ok(retrying.every((s) => s.index === 0), 'after a backoff the first upstream is tried')
  const status = app.relay.get('/f')!
  assert.ok(status.upstreams.every((u) => u.lastError?.code === 'FST_ICECAST_RELAY_UPSTREAM_STATUS'))
})

test('the first round asks each upstream at once; only the round after waits', async (t) => {
  const refused = { head: 'HTTP/1.0 503 Service Unavailable\r\n\r\n' }
  const [a, b] = await Promise.all([scriptedUpstream(refused), scriptedUpstream(refused)])
  const asked: number[] = []
  const start = Date.now()
  const relay = await relayApp({ limits: { maxBackoff: 5 }, relays: [{ localMount: '/f', upstreams: [{ url: a.url() }, { url: b.url() }] }] })
  t.after(async () => { await relay.app.close(); await a.close(); await b.close() })
  await waitUntil(() => b.requests.length >= 1)
  asked.push(Date.now() - start)
  await waitForState(relay.app, '/f', 'retrying')
  assert.equal(relay.app.relay.get('/f')!.activeUpstream, 0, 'the backoff ends with the first upstream')
  assert.equal(a.requests.length, 1)
  assert.ok(asked[0]! < 1000)
})

test('failback: the higher upstream, back with audio, takes over; listeners get runs of A, B, A, whole frames, nothing lost in the last', async (t) => {
  const setup = await failoverRelay(t, [{}, {}], {}, { limits: { maxBackoff: 1 } })
  const { app, upstreams: [a, b], events } = setup
  const listener = await listenerOnFirst(setup)
  await a!.close()
  await b!.waitForClients(1)
  b!.push(mp3Frames(12))
  await listener.waitForBytes(24 * FRAME)

  await a!.reopen()
  await a!.waitForClients(1, 5000)
  assert.equal(app.relay.get('/f')!.upstreams[0]!.state, 'probing')
  const probeFrom = a!.sent().length
  // B plays on while A proves itself; B's last frame is cut by the switch
  b!.push(mp3Frames(3))
  await listener.waitForBytes(27 * FRAME)
  b!.push(mp3Frames(1).subarray(0, 100))
  a!.push(mp3Frames(11))
  await waitUntil(() => app.relay.get('/f')!.activeUpstream === 0, 3000, 'the failback')
  a!.push(mp3Frames(4))
  await listener.waitForBytes(42 * FRAME)
  b!.push(mp3Frames(2))

  const got = listener.received()
  const runs = frameRuns(got, [a!.sent(), b!.sent()])
  assert.deepEqual(runs.map((r) => r.source), [0, 1, 0])
  assert.equal(runs[2]!.start, probeFrom, 'A\'s run starts with the first byte its new connection sent')
  assert.equal(runs[2]!.length, 15 * FRAME, 'and goes on with every byte since')
  assert.equal(runs[1]!.length, 15 * FRAME, 'B\'s run is every whole frame B sent')
  assert.equal(b!.clients.size, 0, 'B\'s connection is closed')
  assert.deepEqual(events.map((e) => [e.from, e.to, e.reason]), [[0, 1, 'FST_ICECAST_RELAY_UPSTREAM_CLOSED'], [1, 0, 'failback']])
  assert.equal(app.relay.get('/f')!.switches, 2)
  assert.equal(app.relay.get('/f')!.upstreams[1]!.state, 'idle')
  await listener.close()
})

test('failback: false stays on the upstream that works', async (t) => {
  const { app, upstreams: [a, b], events } = await failoverRelay(t, [{}, {}], { failback: false }, { limits: { maxBackoff: 1 } })
  await waitForState(app, '/f', 'live')
  await a!.close()
  await b!.waitForClients(1)
  b!.push(mp3Frames(12))
  await a!.reopen()
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.equal(a!.clients.size, 0, 'the first upstream is not tried again')
  assert.equal(app.relay.get('/f')!.activeUpstream, 1)
  assert.equal(events.length, 1)
})

test('a stalled upstream (open, silent) is left after stallTimeout, not sourceTimeout', async (t) => {
  const setup = await failoverRelay(t, [{}, {}], { stallTimeout: 0.4 }, { limits: { sourceTimeout: 30 } })
  const { app, upstreams: [, b], events } = setup
  const listener = await listenerOnFirst(setup)
  const silentFrom = Date.now()
  await b!.waitForClients(1, 3000)
  const after = Date.now() - silentFrom
  assert.ok(after >= 350 && after < 1500, `switched after ${after} ms of silence`)
  b!.push(mp3Frames(12))
  await listener.waitForBytes(24 * FRAME)
  assert.equal(app.relay.get('/f')!.upstreams[0]!.lastError?.code, 'FST_ICECAST_RELAY_UPSTREAM_STALLED')
  assert.deepEqual(events.map((e) => e.reason), ['FST_ICECAST_RELAY_UPSTREAM_STALLED'])
  await listener.close()
})

test('a single upstream has no stall detector: silence is judged by sourceTimeout only', async (t) => {
  const upstream = await scriptedUpstream()
  const relay = await relayApp({ limits: { sourceTimeout: 30 }, relays: [{ localMount: '/one', upstreams: [{ url: upstream.url() }], stallTimeout: 0.2 }] })
  t.after(async () => { await relay.app.close(); await upstream.close() })
  await waitForState(relay.app, '/one', 'live')
  upstream.push(mp3Frames(12))
  await new Promise((resolve) => setTimeout(resolve, 700))
  assert.equal(relay.app.relay.get('/one')!.state, 'live')
  assert.equal(upstream.requests.length, 1)
})

test('a change of codec across a switch: listeners of the old one are ended, new listeners get the new one', async (t) => {
  const setup = await failoverRelay(t, [{}, { head: 'HTTP/1.0 200 OK\r\nContent-Type: audio/aac\r\n\r\n' }])
  const { app, url, upstreams: [a, b] } = setup
  const listener = await listenerOnFirst(setup)
  assert.equal((await listener.head).headers['content-type'], 'audio/mpeg')
  await a!.close()
  await b!.waitForClients(1)
  const aac = syntheticAdts(40)
  b!.push(aac)
  await listener.ended
  const got = listener.received()
  assert.deepEqual(frameRuns(got, [a!.sent()]).map((r) => r.length), [12 * FRAME], 'the old listener got the MP3 and no AAC byte')
  assert.equal(app.relay.get('/f')!.audio?.codec, 'aac')

  const newcomer = openListener(url('/f'))
  assert.equal((await newcomer.head).headers['content-type'], 'audio/aac')
  await waitUntil(() => app.relay.get('/f')!.listeners === 1)
  const more = syntheticAdts(20)
  b!.push(more)
  const fresh = await newcomer.waitForBytes(more.length)
  assert.ok(b!.sent().includes(fresh.subarray(0, 1000)), 'the newcomer gets the AAC stream')
  await newcomer.close()
})

test('after a failover the status, the metrics and the admin stats tell the active upstream and the switches, never a credential', async (t) => {
  const [a, b] = await Promise.all([scriptedUpstream(), scriptedUpstream()])
  const relay = await relayApp({
    admin: ADMIN,
    relays: [{ localMount: '/f', upstreams: [{ url: `http://user:${SECRET}@127.0.0.1:${a.port}/s` }, { url: b.url('/s'), username: 'u', password: SECRET }] }]
  })
  t.after(async () => { await relay.app.close(); await a.close(); await b.close() })
  await waitForState(relay.app, '/f', 'live')
  a.push(mp3Frames(12))
  await a.close()
  await b.waitForClients(1)
  await waitUntil(() => relay.app.relay.get('/f')!.switches === 1)

  const status = relay.app.relay.get('/f')!
  assert.equal(status.activeUpstream, 1)
  assert.equal(status.upstream, b.url('/s'))
  assert.deepEqual(status.upstreams.map((u) => u.url), [a.url('/s'), b.url('/s')])
  const metrics = await adminGet(relay.url('/admin/metrics'))
  assert.match(metrics.text, /^icecast_relay_upstream_switches_total\{mount="\/f"\} 1$/m)
  assert.match(metrics.text, /^icecast_relay_active_upstream\{mount="\/f"\} 1$/m)
  const stats = await adminGet(relay.url('/admin/stats'))
  assert.match(stats.text, new RegExp(`<relay_upstream>${b.url('/s')}</relay_upstream>`))
  assert.match(stats.text, /<relay_switches>1<\/relay_switches>/)
  const everything = [JSON.stringify(relay.app.relay.list()), metrics.text, stats.text, (await adminGet(relay.url('/admin/relays'))).text].join('\n')
  assert.ok(!everything.includes(SECRET), 'no credential anywhere')
  assert.ok(!(await adminGet(relay.url('/status-json.xsl'))).text.includes('relay_upstream'), 'the public stats do not tell the upstream')
})

test('on demand: the higher upstreams are probed only while the relay is live; the next listener starts from the first', async (t) => {
  const setup = await failoverRelay(t, [{}, {}], { onDemand: true }, { limits: { onDemandLinger: 0.1, maxBackoff: 0.3 } })
  const { app, url, upstreams: [a, b] } = setup
  await a!.close()
  const listener = openListener(url('/f'))
  await b!.waitForClients(1)
  b!.push(mp3Frames(12))
  assert.equal((await listener.head).status, 200)
  await listener.close()
  await waitForState(app, '/f', 'idle')
  await a!.reopen()
  await new Promise((resolve) => setTimeout(resolve, 800))
  assert.equal(a!.requests.length, 0, 'no probe while idle')

  const next = openListener(url('/f'))
  await a!.waitForClients(1)
  a!.push(mp3Frames(12))
  assert.equal((await next.head).status, 200)
  assert.equal(app.relay.get('/f')!.activeUpstream, 0)
  await next.close()
})

interface ScriptedMain {
  /** when each connection's request came */
  connectedAt: number[]
  /** a relay at `/f` with this main (its answers scripted by connection) and a scripted backup fed all along */
  app: RelayApp['app']
  backup: ScriptedUpstream
}

/**
 * A main upstream that answers its `nth` connection (from 1) as `answer` says, the backup a steady stream,
 * and the relay of the two at `/f`; everything is closed after the test.
 */
async function scriptedMain (t: TestContext, limits: RelayPluginOptions['limits'], answer: (socket: net.Socket, nth: number, every: (ms: number, send: () => Buffer) => void) => void): Promise<ScriptedMain> {
  const sockets = new Set<net.Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const connectedAt: number[] = []
  const main = net.createServer((socket) => onRequestHead(socket, () => {
    sockets.add(socket)
    connectedAt.push(Date.now())
    const every = (ms: number, send: () => Buffer): void => { timers.add(setInterval(() => { if (!socket.destroyed) socket.write(send()) }, ms)) }
    answer(socket, connectedAt.length, every)
  }))
  await new Promise<void>((resolve) => main.listen(0, '127.0.0.1', resolve))
  const backup = await scriptedUpstream()
  const url = `http://127.0.0.1:${(main.address() as net.AddressInfo).port}/s`
  const { app } = await relayApp({ limits: { burstSize: 0, gracePeriod: 10, ...limits }, relays: [{ localMount: '/f', upstreams: [{ url }, { url: backup.url('/s') }] }] })
  const feed = setInterval(() => backup.push(mp3Frames(3)), 50)
  t.after(async () => {
    clearInterval(feed)
    for (const timer of timers) clearInterval(timer)
    await app.close()
    await backup.close()
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => main.close(resolve))
  })
  return { connectedAt, app, backup }
}

const MPEG_HEAD = 'HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n'

test('a main that proves a stream and dies at once does not win a failback every half second: its probes back off', async (t) => {
  // every connection of the main gets 11 frames (past the stream proof), then it hangs up
  const { connectedAt, app } = await scriptedMain(t, { maxBackoff: 30 }, (socket) => {
    socket.write(MPEG_HEAD)
    socket.write(mp3Frames(11))
    setTimeout(() => socket.destroy(), 30)
  })
  await waitUntil(() => connectedAt.length >= 4, 6000, 'three failback probes of A')
  const gaps = connectedAt.slice(1).map((at, i) => at - connectedAt[i]!)
  assert.ok(gaps[1]! >= 500 && gaps[2]! >= 1000, `the probes of A back off, 0.5 s then 1 s at least: ${gaps.join(', ')} ms apart`)
  assert.ok(app.relay.get('/f')!.switches <= 7, `switches: ${app.relay.get('/f')!.switches}`)
})

test('a failback probe that trickles a byte now and then is let go after sourceTimeout: it holds no failback off for good', async (t) => {
  // the main's first connection plays and ends; its second (the first probe) trickles; its third is a stream again
  const { connectedAt, app } = await scriptedMain(t, { sourceTimeout: 1, maxBackoff: 1 }, (socket, nth, every) => {
    socket.write(MPEG_HEAD)
    if (nth === 1) socket.end(mp3Frames(11))
    else if (nth === 2) every(200, () => Buffer.from([0x20]))
    else {
      socket.write(mp3Frames(11))
      every(50, () => mp3Frames(2))
    }
  })
  await waitUntil(() => connectedAt.length >= 2, 4000, 'the trickling probe')
  await waitUntil(() => app.relay.get('/f')!.upstreams[0]!.lastError?.code === 'FST_ICECAST_RELAY_PROBE_UNPROVEN', 3000, 'the probe let go')
  await waitUntil(() => app.relay.get('/f')!.activeUpstream === 0, 4000, 'the failback to A, a stream again')
})

test('a failback probe whose head cannot be played (a bad icy-metaint) fails as a probe: the working backup is not dropped for it', async (t) => {
  // the main's first connection plays and ends; every later one answers with audio under a head the relay refuses
  const { connectedAt, app, backup } = await scriptedMain(t, { maxBackoff: 0.5 }, (socket, nth) => {
    if (nth === 1) {
      socket.write(MPEG_HEAD)
      socket.end(mp3Frames(11))
      return
    }
    socket.write('HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-metaint: nope\r\n\r\n')
    socket.write(mp3Frames(11))
  })
  await waitUntil(() => connectedAt.length >= 4, 5000, 'three probes of A')
  const status = app.relay.get('/f')!
  assert.equal(status.upstreams[0]!.lastError?.code, 'FST_ICECAST_RELAY_BAD_METAINT')
  assert.equal(backup.requests.length, 1, 'the backup\'s connection plays on')
  assert.equal(status.switches, 1)
})
