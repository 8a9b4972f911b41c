// HLS sessions and their identity against a scripted upstream: the multivariant playlist holds nothing (its id
// carries what the gate decided), the first poll takes the place, and segment numbers never name two segments.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import Fastify, { type FastifyRequest } from 'fastify'
import fastifyIcecastRelay, { type RelayPluginOptions } from '../../../lib/index.js'
import { addressTag, READMIT_WITHIN, SessionIds } from '../../../lib/hls/sessions.js'
import { quietMachine, relayApp, scriptedRelay, type RelayApp, type ScriptedRelayOptions } from '../../helpers/app.js'
import { mp3Frames } from '../../helpers/frames.js'
import { openListener } from '../../helpers/listen.js'
import { freePort, makeTempDir, waitFor } from '../../helpers/procs.js'
import { scriptedUpstream, type ScriptedUpstream } from '../../helpers/scripted.js'

const HLS = { segmentSeconds: 1, windowSegments: 3 }

/** Keeps `upstream` sending MP3 at about its pace until the test ends. */
function paced (t: TestContext, upstream: ScriptedUpstream): void {
  upstream.push(mp3Frames(120))
  const pacer = setInterval(() => { upstream.push(mp3Frames(40)) }, 1000)
  t.after(() => { clearInterval(pacer) })
}

async function hlsRelay (t: TestContext, options: ScriptedRelayOptions = {}): Promise<RelayApp & { upstream: ScriptedUpstream }> {
  const relay = await scriptedRelay(t, '/live', { ...options, plugin: { hls: HLS, ...options.plugin } })
  await relay.upstream.waitForClients(1)
  paced(t, relay.upstream)
  return relay
}

async function hlsListeners (relay: RelayApp): Promise<number | undefined> {
  const stats = await (await fetch(relay.url('/status-json.xsl'))).json() as { icestats: { source: Array<{ hls_listeners?: number }> } }
  return stats.icestats.source[0]?.hls_listeners
}

/** The URIs a playlist names. */
function urisOf (playlist: string): string[] {
  return playlist.split('\n').filter((line) => line !== '' && !line.startsWith('#'))
}

/** `index.m3u8` of `/live` once it has a segment: its status and the media playlist URL it names. */
async function multivariant (relay: RelayApp, init: RequestInit = {}): Promise<{ status: number, media: string }> {
  await waitFor(async () => (await fetch(relay.url('/live/index.m3u8'), { method: 'HEAD', ...init })).status !== 503, { timeoutMs: 5000, intervalMs: 50 })
  const response = await fetch(relay.url('/live/index.m3u8'), init)
  const body = await response.text()
  return { status: response.status, media: response.status === 200 ? relay.url('/live/' + urisOf(body)[0]!) : body }
}

/** A media playlist poll: its status and body. */
async function poll (url: string, init: RequestInit = {}): Promise<{ status: number, body: string }> {
  const response = await fetch(url, init)
  return { status: response.status, body: await response.text() }
}

/** The segments of a media playlist: sequence → sha1 of its bytes. */
async function segmentsOf (mediaUrl: string): Promise<Map<number, string>> {
  const { body } = await poll(mediaUrl)
  const first = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(body)![1])
  const found = new Map<number, string>()
  for (const [i, uri] of urisOf(body).entries()) {
    const bytes = Buffer.from(await (await fetch(new URL(uri, mediaUrl))).arrayBuffer())
    assert.equal(Number(uri.replace(/\..*$/, '')), first + i)
    found.set(first + i, createHash('sha1').update(bytes).digest('hex'))
  }
  return found
}

test('500 bare multivariant GETs take no place and leave no session: with clients 2 a listener of the stream and a player still get in, a third is refused', async (t) => {
  const relay = await hlsRelay(t, { plugin: { limits: { clients: 2 } } })
  assert.equal((await multivariant(relay)).status, 200)
  for (let i = 0; i < 500; i += 50) {
    const statuses = await Promise.all(Array.from({ length: 50 }, async () => (await multivariant(relay)).status))
    assert.deepEqual(new Set(statuses), new Set([200]))
  }
  assert.equal(await hlsListeners(relay), 0, 'no session for a multivariant playlist')
  const listener = openListener(relay.url('/live'))
  t.after(async () => { await listener.close() })
  await listener.waitForBytes(1000)
  const player = await multivariant(relay)
  assert.equal(player.status, 200)
  assert.equal((await poll(player.media)).status, 200, 'the player\'s first poll takes the last place')
  assert.equal(await hlsListeners(relay), 1)
  const third = await multivariant(relay)
  assert.equal(third.status, 403)
  assert.match(third.media, /Too many listeners on this server/)
})

test('a place is taken at the first poll, under the limits checked there: two players past the multivariant, one place, one let in', async (t) => {
  const relay = await hlsRelay(t, { relay: { maxListeners: 1 } })
  const [a, b] = [await multivariant(relay), await multivariant(relay)]
  assert.deepEqual([a.status, b.status], [200, 200])
  assert.equal((await poll(a.media)).status, 200)
  const refused = await poll(b.media)
  assert.equal(refused.status, 403)
  assert.match(refused.body, /Too many listeners on \/live/)
  assert.equal((await poll(a.media)).status, 200, 'the player in polls on')
})

test('htpasswd: the id carries the user, so a second login of one user is refused at its first poll; an id of another mount or with altered claims is no session', async (t) => {
  const file = join(makeTempDir('hls-htpasswd-'), 'users')
  writeFileSync(file, `ann:${createHash('md5').update('secret').digest('hex')}\n`)
  const relay = await hlsRelay(t, { relay: { listenerAuth: { htpasswd: file } } })
  const ann = { headers: { authorization: `Basic ${Buffer.from('ann:secret').toString('base64')}` } }
  assert.equal((await multivariant(relay)).status, 401)
  const [first, second] = [await multivariant(relay, ann), await multivariant(relay, ann)]
  assert.deepEqual([first.status, second.status], [200, 200])
  assert.equal((await poll(first.media)).status, 200)
  assert.equal((await poll(second.media)).status, 401, 'ann listens already')
  const id = new URL(first.media).searchParams.get('session')!
  const [random, claims, mac] = id.split('.')
  const altered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(claims!, 'base64url').toString()), user: 'bob' })).toString('base64url')
  assert.equal((await poll(relay.url(`/live/index.m3u8?session=${random}.${altered}.${mac}`))).status, 404, 'altered claims')
  relay.app.relay.add({ url: relay.upstream.url(), localMount: '/other', listenerAuth: { htpasswd: file } })
  assert.equal((await poll(relay.url(`/other/index.m3u8?session=${id}`))).status, 404, 'an id of /live is none of /other')
})

test('a mount removed and added again: an old session is refused, and the new stream\'s numbers are all above the old one\'s', async (t) => {
  const relay = await hlsRelay(t)
  const old = await multivariant(relay)
  const before = await segmentsOf(old.media)
  assert.ok(before.size > 0)
  assert.ok(relay.app.relay.remove('/live'))
  relay.app.relay.add({ url: relay.upstream.url(), localMount: '/live' })
  await relay.upstream.waitForClients(1)
  const now = await multivariant(relay)
  assert.equal(now.status, 200)
  const refused = await poll(old.media)
  assert.equal(refused.status, 404)
  assert.match(refused.body, /earlier stream of \/live: ask index\.m3u8/)
  const after = await segmentsOf(now.media)
  assert.ok(Math.min(...after.keys()) > Math.max(...before.keys()), `${[...before.keys()]} then ${[...after.keys()]}`)
})

test('two apps one after the other on one mount (a restart) never give one number to two segments', async (t) => {
  const upstream = await scriptedUpstream()
  t.after(async () => { await upstream.close() })
  paced(t, upstream)
  const seen = new Map<number, string>()
  for (let run = 0; run < 2; run++) {
    const relay = await relayApp({ hls: HLS, relays: [{ url: upstream.url(), localMount: '/live' }] })
    try {
      const { media } = await multivariant(relay)
      const segments = await segmentsOf(media)
      for (const [sequence, hash] of segments) {
        assert.equal(seen.get(sequence) ?? hash, hash, `segment ${sequence} of run ${run} is another run's`)
      }
      if (run === 1) assert.ok(Math.min(...segments.keys()) > Math.max(...seen.keys()), 'the restarted app numbers above the first')
      for (const [sequence, hash] of segments) seen.set(sequence, hash)
    } finally {
      await relay.app.close()
    }
  }
})

/** A GET of `url` from the loopback address `from` (another "host"): its status and body. */
async function getFrom (url: string, from: string, headers: Record<string, string> = {}): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    http.get(url, { localAddress: from, headers }, (response) => {
      let body = ''
      response.setEncoding('utf8').on('data', (chunk: string) => { body += chunk }).on('end', () => { resolve({ status: response.statusCode!, body }) })
    }).on('error', reject)
  })
}

const TOKEN = { 'x-token': 'good' }
const GUARDED = { authenticate: (request: FastifyRequest) => request.headers['x-token'] === 'good' }

test('a guarded mount binds a session id to its address: a poll or a segment of it from another address is 403, from its own 200; an open mount\'s ids go anywhere', async (t) => {
  const relay = await hlsRelay(t, { relay: GUARDED })
  const player = await multivariant(relay, { headers: TOKEN })
  assert.equal(player.status, 200)
  assert.equal((await getFrom(player.media, '127.0.0.1')).status, 200)
  const copied = await getFrom(player.media, '127.0.0.2')
  assert.equal(copied.status, 403, 'a copied URL is no login from elsewhere')
  assert.match(copied.body, /given to another address: ask \/live\/index\.m3u8 again/)
  const segment = relay.url('/live/' + urisOf((await getFrom(player.media, '127.0.0.1')).body).at(-1)!)
  assert.match(segment, /\?session=/)
  assert.equal((await getFrom(segment, '127.0.0.3')).status, 403, 'nor are its segments')
  assert.equal((await getFrom(segment, '127.0.0.1')).status, 200)
  assert.equal(await hlsListeners(relay), 1, 'one session, one place')

  const open = await hlsRelay(t)
  const anywhere = await multivariant(open)
  assert.equal((await getFrom(anywhere.media, '127.0.0.2')).status, 200, 'no listener auth: the id is bound to nothing (caches, CDNs)')
})

test('a lapsed session of a guarded mount comes back from its address, even an hour after its index.m3u8 (within a day), under the limits; from another address, past its time limit or older than a day, never', async (t) => {
  // a worker of a machine (the link secret known): ids issued long ago are made as the machine makes them
  const window = {
    discontinuitySequence: 0,
    epoch: 7,
    segments: [{ sequence: 7, bytes: 3, duration: 2, codec: 'mp3', codecs: 'mp4a.40.34', sampleRate: 44100, discontinuity: false, programDateTime: 1, createdAt: 1 }],
    retired: []
  }
  const origin = http.createServer((request, response) => {
    if (request.url === '/live/hls-window.json') response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(window))
    else response.writeHead(404).end()
  })
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  t.after(() => { origin.close() })
  const secret = 'origin-secret'
  const options: RelayPluginOptions = {
    hls: { segmentSeconds: 2, windowSegments: 3 },
    machine: quietMachine(`http://127.0.0.1:${(origin.address() as AddressInfo).port}`, secret),
    relays: [{ url: `http://127.0.0.1:${await freePort()}/live`, localMount: '/live', maxListeners: 1, ...GUARDED }]
  }
  const worker = Fastify()
  t.after(async () => { await worker.close() })
  await worker.register(fastifyIcecastRelay, options)
  await worker.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(worker.server.address() as AddressInfo).port}`
  const ids = new SessionIds(secret)
  const now = Date.now()
  const lapsed = ids.issue('/live', { issued: now - 3_600_000, epoch: 7, from: addressTag('127.0.0.1') })
  const poll = async (id: string, from = '127.0.0.1'): Promise<{ status: number, body: string }> => await getFrom(`${base}/live/index.m3u8?session=${id}`, from)
  assert.equal((await poll(lapsed, '127.0.0.2')).status, 403, 'not from another address')
  assert.equal((await poll(lapsed)).status, 200, 'an hour after its index.m3u8, from its address')
  const other = ids.issue('/live', { issued: now - 3_600_000, epoch: 7, from: addressTag('127.0.0.1') })
  const full = await poll(other)
  assert.equal(full.status, 403, 'through the limits, as a first poll')
  assert.match(full.body, /Too many listeners on \/live/)
  const ended = ids.issue('/live', { issued: now - 3_600_000, epoch: 7, endsAt: now - 1, from: addressTag('127.0.0.1') })
  const late = await poll(ended)
  assert.equal(late.status, 403)
  assert.match(late.body, /past its time limit/)
  assert.equal((await poll(ids.issue('/live', { issued: now, epoch: 7 }))).status, 403, 'an id of a guarded mount bound to no address is no session')
  const tooOld = await poll(ids.issue('/live', { issued: now - READMIT_WITHIN - 1000, epoch: 7, from: addressTag('127.0.0.1') }))
  assert.equal(tooOld.status, 403)
  assert.match(tooOld.body, /too old to come back: ask \/live\/index\.m3u8 again/)
})

test('a fractional maxListenerDuration: the id carries its end in whole ms, the session polls, and ends past it', async (t) => {
  const relay = await hlsRelay(t, { relay: { maxListenerDuration: 1.0005 } })
  const player = await multivariant(relay)
  const claims = JSON.parse(Buffer.from(new URL(player.media).searchParams.get('session')!.split('.')[1]!, 'base64url').toString()) as { issued: number, endsAt: number }
  assert.equal(claims.endsAt - claims.issued, 1001, 'rounded up to the ms')
  assert.equal((await poll(player.media)).status, 200)
  await new Promise((resolve) => setTimeout(resolve, 2200))
  assert.equal((await poll(player.media)).status, 403)
})

test('URL auth: the auth server is told the relay\'s mount (with the playlist URL\'s query), not the playlist\'s path', async (t) => {
  const calls: Array<Record<string, string>> = []
  const auth = http.createServer((request, response) => {
    let body = ''
    request.setEncoding('latin1').on('data', (chunk: string) => { body += chunk }).on('end', () => {
      calls.push(Object.fromEntries(new URLSearchParams(body)))
      response.setHeader('icecast-auth-user', '1')
      response.end()
    })
  })
  await new Promise<void>((resolve) => auth.listen(0, '127.0.0.1', resolve))
  t.after(() => { auth.closeAllConnections(); auth.close() })
  const url = `http://127.0.0.1:${(auth.address() as AddressInfo).port}/auth`
  const relay = await hlsRelay(t, { relay: { listenerAuth: { url: { listenerAdd: url, listenerRemove: url } } } })
  await waitFor(async () => (await fetch(relay.url('/live/index.m3u8?token=wait'), { method: 'HEAD' })).status !== 503, { timeoutMs: 5000, intervalMs: 50 })
  const response = await fetch(relay.url('/live/index.m3u8?token=x'))
  assert.equal(response.status, 200, await response.text())
  const told = (): Array<Record<string, string>> => calls.filter((call) => call['mount']?.endsWith('?token=x'))
  await waitFor(async () => told().length >= 2, { timeoutMs: 5000, intervalMs: 20 })
  const [add, remove] = told()
  assert.deepEqual([add!['action'], add!['mount']], ['listener_add', '/live?token=x'])
  assert.deepEqual([remove!['action'], remove!['mount'], remove!['duration']], ['listener_remove', '/live?token=x', '0'], 'as docs/behaviour.md says: at once, duration 0')
})

test('a HEAD of index.m3u8 makes no session and keeps no on-demand upstream; a GET starts it', async (t) => {
  const relay = await scriptedRelay(t, '/live', { relay: { onDemand: true }, plugin: { hls: HLS } })
  for (let i = 0; i < 3; i++) assert.equal((await fetch(relay.url('/live/index.m3u8'), { method: 'HEAD' })).status, 503)
  await new Promise((resolve) => setTimeout(resolve, 500))
  assert.equal(relay.upstream.clients.size, 0, 'no upstream for a health check')
  assert.equal(relay.app.relay.get('/live')?.state, 'idle')
  assert.equal((await fetch(relay.url('/live/index.m3u8'))).status, 503)
  await relay.upstream.waitForClients(1)
})
