// The HLS URLs of a mount against a scripted upstream: what players, caches and hostile clients get.
import assert from 'node:assert/strict'
import http from 'node:http'
import { test, type TestContext } from 'node:test'
import Fastify from 'fastify'
import fastifyIcecastRelay, { type RelayPluginOptions } from '../../../lib/index.js'
import { scriptedRelay, waitUntil, type RelayApp, type ScriptedRelayOptions } from '../../helpers/app.js'
import { mp3Frames, MP3_FRAME_BYTES, vorbisStream } from '../../helpers/frames.js'
import { syntheticAdts } from '../../helpers/adts.js'
import { ADMIN, adminGet } from '../../helpers/admin.js'
import { noise, type ScriptedUpstream } from '../../helpers/scripted.js'
import { openListener } from '../../helpers/listen.js'

const HLS = { segmentSeconds: 1, windowSegments: 3 }

type HlsRelay = RelayApp & { upstream: ScriptedUpstream }

/** An upstream answering with `type` instead of MP3's. */
function answering (type: string): ScriptedRelayOptions['upstream'] {
  return { head: `HTTP/1.0 200 OK\r\nContent-Type: ${type}\r\n\r\n` }
}

/** The HLS sessions the public stats show on /live. */
async function hlsListeners (relay: RelayApp): Promise<number | undefined> {
  const stats = await (await fetch(relay.url('/status-json.xsl'))).json() as { icestats: { source: Array<{ listeners: number, hls_listeners?: number }> } }
  return stats.icestats.source[0]?.hls_listeners
}

async function hlsRelay (t: TestContext, options: ScriptedRelayOptions = {}): Promise<HlsRelay> {
  const relay = await scriptedRelay(t, '/live', { ...options, plugin: { hls: HLS, ...options.plugin } })
  await relay.upstream.waitForClients(1)
  return relay
}

/** The first URI a playlist names. */
function firstUri (body: string): string {
  const uri = body.split('\n').find((line) => line !== '' && !line.startsWith('#'))
  assert.ok(uri !== undefined, body)
  return uri
}

/** `index.m3u8` once the mount has a segment: the multivariant playlist. */
async function mainPlaylist (relay: RelayApp, init: RequestInit = {}): Promise<Response> {
  for (;;) {
    const response = await fetch(relay.url('/live/index.m3u8'), init)
    if (response.status !== 503) return response
    await response.arrayBuffer()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** A new session's media playlist URL, polled once, as a player does: its place is taken. */
async function sessionUrl (relay: RelayApp, init: RequestInit = {}): Promise<string> {
  const main = await mainPlaylist(relay, init)
  assert.equal(main.status, 200)
  const url = relay.url('/live/' + firstUri(await main.text()))
  const first = await fetch(url, init)
  const body = await first.text()
  assert.equal(first.status, 200, body)
  return url
}

/** A request with the path as written (fetch would resolve dot segments itself). */
async function rawGet (relay: RelayApp, path: string, method = 'GET'): Promise<number> {
  return await new Promise((resolve, reject) => {
    http.request({ host: '127.0.0.1', port: new URL(relay.base).port, path, method }, (response) => { response.resume(); resolve(response.statusCode!) }).on('error', reject).end()
  })
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

function segmentTimestamp (bytes: Buffer): number {
  return Number(bytes.readBigUInt64BE(10 + 10 + 45))
}

test('an MP3 mount: index.m3u8 names a session playlist whose segments start with the timestamp ID3, then whole frames', async (t) => {
  const relay = await hlsRelay(t)
  relay.upstream.push(mp3Frames(200))
  const main = await mainPlaylist(relay)
  assert.equal(main.status, 200)
  assert.equal(main.headers.get('content-type'), 'application/vnd.apple.mpegurl')
  assert.equal(main.headers.get('cache-control'), 'no-store')
  assert.equal(main.headers.get('access-control-allow-origin'), '*')
  const body = await main.text()
  assert.match(body, /^#EXTM3U\n/)
  assert.match(body, /CODECS="mp4a\.40\.34"/)
  const variant = firstUri(body)
  assert.match(variant, /^index\.m3u8\?session=[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/)
  const media = await fetch(relay.url('/live/' + variant))
  assert.equal(media.status, 200)
  const playlist = await media.text()
  assert.match(playlist, /#EXT-X-TARGETDURATION:1\n/)
  assert.equal(playlist.match(/#EXTINF/g)?.length, 4, 'the window: its oldest segment dropped would leave less than three target durations')
  const uris = playlist.split('\n').filter((line) => /^\d+\.mp3$/.test(line))
  let previous: { timestamp: number, seconds: number } | undefined
  for (const uri of uris) {
    const segment = await fetch(relay.url('/live/' + uri))
    assert.equal(segment.status, 200)
    assert.equal(segment.headers.get('content-type'), 'audio/mpeg')
    const bytes = Buffer.from(await segment.arrayBuffer())
    assert.equal(bytes.toString('latin1', 0, 3), 'ID3')
    const tagEnd = 10 + ((bytes[6]! << 21) | (bytes[7]! << 14) | (bytes[8]! << 7) | bytes[9]!)
    assert.equal(bytes[tagEnd], 0xff)
    assert.equal((bytes.length - tagEnd) % MP3_FRAME_BYTES, 0)
    const timestamp = segmentTimestamp(bytes)
    if (previous !== undefined) assert.ok(Math.abs(timestamp - previous.timestamp - previous.seconds * 90000) <= 1)
    previous = { timestamp, seconds: (bytes.length - tagEnd) / MP3_FRAME_BYTES * 1152 / 44100 }
  }
})

test('an AAC mount: .aac segments as audio/aac, CODECS of its ADTS profile', async (t) => {
  const relay = await hlsRelay(t, { upstream: answering('audio/aac') })
  relay.upstream.push(syntheticAdts(400))
  const main = await mainPlaylist(relay)
  assert.match(await main.text(), /CODECS="mp4a\.40\.2"/)
  const uri = firstUri(await (await fetch(await sessionUrl(relay))).text())
  assert.match(uri, /^\d+\.aac$/)
  const segment = await fetch(relay.url('/live/' + uri))
  assert.equal(segment.headers.get('content-type'), 'audio/aac')
  assert.equal((await fetch(relay.url('/live/' + uri.replace('.aac', '.mp3')))).status, 404, 'another extension is no segment')
})

test('caching: segments for the window, playlists for half a target; ETag and Last-Modified answer 304; HEAD', async (t) => {
  const relay = await hlsRelay(t, { plugin: { hls: { segmentSeconds: 2, windowSegments: 4 } } })
  relay.upstream.push(mp3Frames(600))
  const media = await fetch(await sessionUrl(relay))
  assert.equal(media.headers.get('cache-control'), 'max-age=1')
  const etag = media.headers.get('etag')!
  const playlistUrl = media.url
  const uri = firstUri(await media.text())
  assert.equal((await fetch(playlistUrl, { headers: { 'if-none-match': etag } })).status, 304)
  const segment = await fetch(relay.url('/live/' + uri))
  assert.equal(segment.headers.get('cache-control'), 'public, max-age=8')
  const bytes = Buffer.from(await segment.arrayBuffer())
  const validators = { etag: segment.headers.get('etag')!, modified: segment.headers.get('last-modified')! }
  assert.equal((await fetch(relay.url('/live/' + uri), { headers: { 'if-none-match': validators.etag } })).status, 304)
  assert.equal((await fetch(relay.url('/live/' + uri), { headers: { 'if-modified-since': validators.modified } })).status, 304)
  assert.equal((await fetch(relay.url('/live/' + uri), { headers: { 'if-none-match': '"other"' } })).status, 200)
  const head = await fetch(relay.url('/live/' + uri), { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(head.headers.get('content-length'), String(bytes.length))
  assert.equal((await head.arrayBuffer()).byteLength, 0)
})

/** Reads a playlist, then asks each segment it lists at the end of its time (RFC 8216 §6.2.2). */
async function servedAsListed (relay: HlsRelay): Promise<void> {
  const url = await sessionUrl(relay)
  const listedIn = (playlist: string): Array<{ uri: string, seconds: number }> =>
    [...playlist.matchAll(/#EXTINF:([\d.]+),\n(\d+\.mp3)\n/g)].map(([, duration, uri]) => ({ uri: uri!, seconds: Number(duration) }))
  let fetchedAt: number
  let listed: Array<{ uri: string, seconds: number }>
  // a playlist of the full window (three target durations at least, so four segments of 0.993 s), within 10 s
  const deadline = Date.now() + 10_000
  do {
    await sleep(200)
    fetchedAt = Date.now()
    listed = listedIn(await (await fetch(url)).text())
  } while (listed.length < 4 && fetchedAt < deadline)
  const total = listed.reduce((sum, segment) => sum + segment.seconds, 0)
  assert.ok(total >= 3, `${total} s`)
  for (const { uri, seconds } of [...listed].sort((a, b) => a.seconds - b.seconds)) {
    // at the very end of its time: what a player that read the playlist late may still ask
    await sleep(Math.max(0, fetchedAt + (seconds + total) * 1000 - 150 - Date.now()))
    const answer = await fetch(relay.url('/live/' + uri))
    const body = Buffer.from(await answer.arrayBuffer())
    assert.equal(answer.status, 200, `${uri} ${Date.now() - fetchedAt} ms after the playlist: ${body.toString()}`)
  }
  const later = await (await fetch(url)).text()
  assert.ok(!later.includes(`\n${listed[0]!.uri}\n`), 'listed no more, served still')
}

test('RFC 8216 §6.2.2: every segment a playlist lists answers 200 for its duration plus the playlist\'s after the playlist was fetched', async (t) => {
  const relay = await hlsRelay(t)
  // in real time (a stream faster than that runs into the bounds of what is kept)
  const feeding = setInterval(() => relay.upstream.push(mp3Frames(38)), 990)
  try {
    await servedAsListed(relay)
  } finally {
    clearInterval(feeding)
  }
})

test('odd requests: out of the window, huge, negative, non-numeric and non-canonical sequences, dot segments', async (t) => {
  const relay = await hlsRelay(t)
  relay.upstream.push(mp3Frames(300))
  await fetch(await sessionUrl(relay))
  const notInWindow = await fetch(relay.url('/live/0.mp3'))
  assert.equal(notInWindow.status, 404)
  assert.match(await notInWindow.text(), /not in the window of \/live/)
  assert.equal((await fetch(relay.url('/live/999999999999999.mp3'))).status, 404)
  for (const path of ['/live/99999999999999999999.mp3', '/live/-1.mp3', '/live/abc.mp3', '/live/01.mp3', '/live/1.5.mp3', '/live/1.ogg', '/live/index.m3u', '/live/../live/index.m3u8', '/live/%2e%2e/index.m3u8', '/nowhere/index.m3u8', '/live/index.m3u8/1.mp3']) {
    assert.equal(await rawGet(relay, path), 404, path)
  }
  const bogus = await fetch(relay.url('/live/index.m3u8?session=../../etc'))
  assert.equal(bogus.status, 404)
  const listener = await fetch(relay.url('/live'))
  assert.equal(listener.status, 200, 'the mount itself is the listener route still')
  await listener.body?.cancel()
})

test('an Ogg mount answers 404 with why; a relay with hls false has none; a mount not live yet answers 503', async (t) => {
  const ogg = await hlsRelay(t, { upstream: answering('application/ogg') })
  ogg.upstream.push(vorbisStream(7, 50, 1024))
  await waitUntil(() => ogg.app.relay.get('/live')?.contentType === 'application/ogg', 5000, 'ogg')
  const refused = await fetch(ogg.url('/live/index.m3u8'))
  assert.equal(refused.status, 404)
  assert.match(await refused.text(), /Ogg: HLS packed audio carries MP3 and AAC/)
  const off = await hlsRelay(t, { relay: { hls: false } })
  const none = await fetch(off.url('/live/index.m3u8'))
  assert.equal(none.status, 404)
  assert.match(await none.text(), /\/live has no HLS/)
  const early = await hlsRelay(t)
  early.upstream.push(noise(100000))
  const waiting = await fetch(early.url('/live/index.m3u8'))
  assert.equal(waiting.status, 503)
  assert.equal(waiting.headers.get('retry-after'), '1')
  assert.match(await waiting.text(), /not live yet/)
})

test('cors: the option sets the origin, false sends none', async (t) => {
  const own = await hlsRelay(t, { plugin: { hls: { ...HLS, cors: 'https://player.example' } } })
  own.upstream.push(mp3Frames(100))
  assert.equal((await mainPlaylist(own)).headers.get('access-control-allow-origin'), 'https://player.example')
  const none = await hlsRelay(t, { plugin: { hls: { ...HLS, cors: false } } })
  none.upstream.push(mp3Frames(100))
  assert.equal((await mainPlaylist(none)).headers.get('access-control-allow-origin'), null)
})

test('an upstream that changes from MP3 to AAC: a discontinuity, then .aac segments; a title as TIT2', async (t) => {
  const relay = await hlsRelay(t, { upstream: answering('audio/aac') })
  relay.upstream.push(mp3Frames(150))
  const media = await sessionUrl(relay)
  relay.upstream.drop()
  await relay.upstream.waitForClients(1)
  relay.app.relay.setMetadata('/live', { title: 'Ünïcode title' })
  relay.upstream.push(syntheticAdts(100))
  let playlist = ''
  for (let i = 0; i < 100 && !/\d+\.aac\n/.test(playlist); i++) {
    playlist = await (await fetch(media)).text()
    await sleep(50)
  }
  assert.match(playlist, /#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXTINF:[\d.]+,\n\d+\.aac\n/)
  const aac = playlist.split('\n').find((line) => line.endsWith('.aac'))!
  const bytes = Buffer.from(await (await fetch(relay.url('/live/' + aac))).arrayBuffer())
  const title = Buffer.from('Ünïcode title')
  assert.ok(bytes.includes(Buffer.concat([Buffer.from('TIT2'), Buffer.from([0, 0, 0, title.length + 1, 0, 0, 3]), title])), 'the title tag')
})

test('sessions are listeners: in the stats, listclients and metrics, ended by killclient, under the limits, and expire', async (t) => {
  const relay = await hlsRelay(t, { plugin: { admin: ADMIN, limits: { clients: 3 } }, relay: { maxListeners: 2 } })
  relay.upstream.push(mp3Frames(200))
  const first = await sessionUrl(relay, { headers: { 'user-agent': 'player one' } })
  for (let i = 0; i < 5; i++) assert.equal((await fetch(relay.url('/live/index.m3u8'), { method: 'HEAD' })).status, 200, 'a HEAD counts as no session')
  await sessionUrl(relay)
  const full = await fetch(relay.url('/live/index.m3u8'))
  assert.equal(full.status, 403, 'maxListeners counts sessions')
  assert.match(await full.text(), /Too many listeners on \/live/)
  assert.equal(await hlsListeners(relay), 2)
  const stats = await (await fetch(relay.url('/status-json.xsl'))).json() as { icestats: { source: Array<{ listeners: number }> } }
  assert.equal(stats.icestats.source[0]?.listeners, 0, 'listeners are the stream\'s own, as in Icecast')
  const clients = await adminGet(relay.url('/admin/listclients?mount=/live'))
  assert.match(clients.text, /<Listeners>2<\/Listeners>/)
  assert.match(clients.text, /<UserAgent>player one<\/UserAgent>/)
  assert.match(clients.text, /<type>hls<\/type>/)
  const id = /<ID>(\d+)<\/ID>/.exec(clients.text)![1]
  assert.match((await adminGet(relay.url('/admin/metrics'))).text, /icecast_relay_hls_listeners\{mount="\/live"\} 2/)
  assert.match((await adminGet(relay.url(`/admin/killclient?mount=/live&id=${id}`))).text, /<return>1<\/return>/)
  const killed = await fetch(first)
  assert.equal(killed.status, 403)
  assert.match(await killed.text(), /session was ended/)
  await sleep(4500) // three target durations without a poll, and a sweep
  assert.equal(await hlsListeners(relay), 0, 'a session that stops polling ends')
})

test('1000 sessions made and abandoned end within a few target durations', async (t) => {
  // two requests a session (its place is taken at its first poll): 2 s segments, so that the first last until the last is made
  const relay = await hlsRelay(t, { plugin: { limits: { clients: 2000 }, hls: { segmentSeconds: 2, windowSegments: 3 } } })
  relay.upstream.push(mp3Frames(200))
  // the stream goes on at its pace while the sessions are made, however slow the machine
  const pacer = setInterval(() => { relay.upstream.push(mp3Frames(40)) }, 1000)
  t.after(() => { clearInterval(pacer) })
  await mainPlaylist(relay)
  const count = async (): Promise<number> => await hlsListeners(relay) ?? -1
  // the first may end before the last are made on a slow machine: the most alive at once is what is known
  let most = 0
  for (let i = 0; i < 1000; i += 50) {
    await Promise.all(Array.from({ length: 50 }, async () => { await sessionUrl(relay) }))
    most = Math.max(most, await count())
  }
  assert.ok(most >= 300, `at most ${most} sessions at once`)
  const deadline = Date.now() + 12000
  while (await count() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200))
  assert.equal(await count(), 0)
})

test('listener auth: refused players get 401; on a guarded mount the segments need the session', async (t) => {
  const relay = await hlsRelay(t, { relay: { authenticate: (request) => request.headers['x-token'] === 'good' } })
  relay.upstream.push(mp3Frames(200))
  assert.equal((await mainPlaylist(relay)).status, 401)
  const media = await fetch(await sessionUrl(relay, { headers: { 'x-token': 'good' } }))
  assert.equal(media.headers.get('cache-control'), 'private, no-cache', 'a user\'s session: no shared cache keeps it')
  const uri = firstUri(await media.text())
  assert.match(uri, /^\d+\.mp3\?session=[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/)
  const segment = await fetch(relay.url('/live/' + uri))
  assert.equal(segment.status, 200)
  assert.equal(segment.headers.get('cache-control'), 'private, max-age=3')
  assert.equal((await fetch(relay.url('/live/' + uri.replace(/\?.*/, '')))).status, 403)
})

test('hls with workers (a machine link) without its hlsOrigin fails register: each worker would cut its own segments', async () => {
  const machine = { index: 1, ask: async (): Promise<unknown[]> => [], answer: (): void => {}, reserve: async () => 'ok' as const, release: (): void => {} }
  const app = Fastify()
  const options: RelayPluginOptions = { hls: true, machine }
  await assert.rejects(async () => { await app.register(fastifyIcecastRelay, options) }, { code: 'FST_ICECAST_RELAY_INVALID_OPTION', field: 'hls' })
  await app.close()
})

test('a reconnect is a discontinuity even while a listener of the stream rides the gap', async (t) => {
  const relay = await hlsRelay(t)
  relay.upstream.push(mp3Frames(100))
  const media = await sessionUrl(relay)
  const listener = openListener(relay.url('/live'))
  t.after(async () => { await listener.close() })
  await listener.waitForBytes(1000)
  relay.upstream.drop()
  await relay.upstream.waitForClients(1)
  relay.upstream.push(mp3Frames(60))
  let playlist = ''
  for (let i = 0; i < 100 && !playlist.includes('#EXT-X-DISCONTINUITY\n'); i++) {
    playlist = await (await fetch(media)).text()
    await sleep(50)
  }
  assert.match(playlist, /#EXT-X-DISCONTINUITY\n/)
  assert.equal(relay.app.relay.get('/live')?.listeners, 1, 'the listener rode over')
})

test('a session past maxListenerDuration is ended: its next poll is refused', async (t) => {
  const relay = await hlsRelay(t, { relay: { maxListenerDuration: 1 } })
  relay.upstream.push(mp3Frames(200))
  const media = await sessionUrl(relay)
  assert.equal((await fetch(media)).status, 200)
  await sleep(2200)
  assert.equal((await fetch(media)).status, 403)
})

test('limits.clients counts sessions and listeners of the stream together, either way', async (t) => {
  const relay = await hlsRelay(t, { plugin: { limits: { clients: 1 } } })
  relay.upstream.push(mp3Frames(200))
  await sessionUrl(relay)
  const refused = await fetch(relay.url('/live'))
  assert.equal(refused.status, 403, 'a session fills the server for the stream\'s listeners')
  assert.match(await refused.text(), /Too many listeners on this server/)
  const other = await hlsRelay(t, { plugin: { limits: { clients: 1 } } })
  other.upstream.push(mp3Frames(200))
  const listener = openListener(other.url('/live'))
  t.after(async () => { await listener.close() })
  await listener.waitForBytes(1000)
  const full = await mainPlaylist(other)
  assert.equal(full.status, 403, 'a listener of the stream fills the server for sessions')
})

test('the window (for the machine\'s other processes) is read with the relay credentials only: a listener gets a 404', async (t) => {
  const relayAuth = { username: 'relay', password: 'window-reader-secret' }
  const relay = await hlsRelay(t, { plugin: { relayAuth } })
  relay.upstream.push(mp3Frames(100))
  await mainPlaylist(relay)
  const refused = await fetch(relay.url('/live/hls-window.json'))
  assert.equal(refused.status, 404, 'an unknown path to a listener: no challenge')
  assert.equal(refused.headers.get('www-authenticate'), null)
  assert.match(await refused.text(), /Route GET:\/live\/hls-window.json not found/, 'the app\'s own 404')
  const wrong = { authorization: `Basic ${Buffer.from('relay:wrong').toString('base64')}` }
  assert.equal((await fetch(relay.url('/live/hls-window.json'), { headers: wrong })).status, 404)
  const right = { authorization: `Basic ${Buffer.from(`${relayAuth.username}:${relayAuth.password}`).toString('base64')}` }
  const answer = await fetch(relay.url('/live/hls-window.json'), { headers: right })
  assert.equal(answer.status, 200)
  const window = await answer.json() as { segments: Array<{ sequence: number, bytes: number, codec: string }> }
  const first = window.segments[0]!
  assert.equal(first.codec, 'mp3')
  const segment = await fetch(relay.url(`/live/${first.sequence}.mp3`), { headers: right })
  assert.equal((await segment.arrayBuffer()).byteLength, first.bytes)
})

test('the window is no relay password oracle: wrong relay passwords count as wrong logins (429 past limits.authFailures, the right one too); no credentials is still a 404', async (t) => {
  const relayAuth = { username: 'relay', password: 'window-reader-secret' }
  const relay = await hlsRelay(t, { plugin: { relayAuth, limits: { authFailures: 3, authWindow: 60 } } })
  relay.upstream.push(mp3Frames(100))
  await mainPlaylist(relay)
  const url = relay.url('/live/hls-window.json')
  const as = (password: string): RequestInit => ({ headers: { authorization: `Basic ${Buffer.from(`relay:${password}`).toString('base64')}` } })
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await fetch(url, as(`guess-${i}`))).status)
  assert.deepEqual(statuses, [404, 404, 404, 429, 429])
  const right = await fetch(url, as(relayAuth.password))
  assert.equal(right.status, 429, 'the right password waits too: no 200 among the 429s')
  assert.ok(Number(right.headers.get('retry-after')) > 0)
  const bare = await fetch(url)
  assert.equal(bare.status, 404, 'no credentials: the app\'s 404, no challenge')
  assert.match(await bare.text(), /Route GET:\/live\/hls-window.json not found/)
})

test('players asking at once while their auth is pending: no more sessions than maxListeners', async (t) => {
  const relay = await hlsRelay(t, {
    plugin: { limits: { clients: 10 }, authenticate: async () => { await sleep(300); return true } },
    relay: { maxListeners: 5 }
  })
  relay.upstream.push(mp3Frames(200))
  while ((await fetch(relay.url('/live/index.m3u8'), { method: 'HEAD' })).status !== 200) await sleep(50)
  const answers = await Promise.all(Array.from({ length: 30 }, async () => {
    const main = await fetch(relay.url('/live/index.m3u8'))
    if (main.status !== 200) return main.status
    const response = await fetch(relay.url('/live/' + firstUri(await main.text())))
    await response.arrayBuffer()
    return response.status
  }))
  assert.deepEqual([answers.filter((status) => status === 200).length, answers.filter((status) => status === 403).length], [5, 25])
  assert.equal(await hlsListeners(relay), 5)
})

test('the same title set again is no new title: MP3 segments are not cut for it', async (t) => {
  const relay = await hlsRelay(t, { plugin: { hls: { segmentSeconds: 3, windowSegments: 10 } } })
  relay.upstream.push(mp3Frames(60))
  await sleep(200)
  relay.app.relay.setMetadata('/live', { title: 'Same' })
  for (let i = 0; i < 8; i++) {
    relay.upstream.push(mp3Frames(50))
    await sleep(200)
    relay.app.relay.setMetadata('/live', { title: 'Same' })
  }
  const playlist = await (await fetch(await sessionUrl(relay))).text()
  const durations = [...playlist.matchAll(/#EXTINF:([\d.]+)/g)].map((match) => Number(match[1]))
  assert.ok(durations.length >= 3, playlist)
  // the first title, 1.6 s into the first segment, cuts it; the same title again cuts nothing
  assert.ok(durations.slice(1).every((duration) => duration > 2.9), playlist)
})

test('the window of a single process without relay credentials is a 404 to anyone, as any unknown path', async (t) => {
  const relay = await hlsRelay(t)
  relay.upstream.push(mp3Frames(100))
  await mainPlaylist(relay)
  const tries: Array<Record<string, string>> = [{}, { authorization: `Basic ${Buffer.from('relay:').toString('base64')}` }, { authorization: 'Basic ' }]
  for (const headers of tries) {
    const answer = await fetch(relay.url('/live/hls-window.json'), { headers })
    assert.equal(answer.status, 404)
    assert.equal(answer.headers.get('www-authenticate'), null)
    assert.match(await answer.text(), /Route GET:\/live\/hls-window.json not found/)
  }
})

test('odd spellings as the listener route reads them: %XX decoded (%2F too) in the mount, the HLS name after a real slash; no slash or dot folded', async (t) => {
  const relay = await scriptedRelay(t, '/radio/live', { plugin: { hls: HLS } })
  await relay.upstream.waitForClients(1)
  relay.upstream.push(mp3Frames(200))
  while ((await fetch(relay.url('/radio/live/index.m3u8'), { method: 'HEAD' })).status !== 200) await sleep(50)
  // the mount part decoded as a listener's URL is: relative URIs then resolve under the same spelling
  const encodedMount = relay.url('/radio%2Flive/index.m3u8')
  const main = await fetch(encodedMount)
  assert.equal(main.status, 200)
  const media = await fetch(new URL(firstUri(await main.text()), encodedMount))
  assert.equal(media.status, 200)
  assert.equal(new URL(media.url).pathname, '/radio%2Flive/index.m3u8')
  const segment = await fetch(new URL(firstUri(await media.text()), media.url))
  assert.equal(segment.status, 200)
  assert.equal(segment.headers.get('content-type'), 'audio/mpeg')
  assert.equal(await rawGet(relay, '/radio/live/%69ndex.m3u8', 'HEAD'), 200, 'a name decoded as the listener route decodes')
  assert.equal(await rawGet(relay, '/radio%2flive', 'HEAD'), 200, 'the listener route: %2F is a slash of the mount')
  // a name after %2F would have its relative URIs resolve outside the mount
  for (const path of ['/radio/live%2Findex.m3u8', '/radio/live%2f0.mp3', '/radio%2Flive%2Findex.m3u8']) {
    const answer = await fetch(relay.url(path))
    assert.equal(answer.status, 404, path)
    assert.match(await answer.text(), /not found/, `${path}: the app's own 404`)
  }
  for (const path of ['/radio/live//index.m3u8', '//radio/live/index.m3u8', '/radio//live/index.m3u8', '/radio/./live/index.m3u8', '/radio/live/./index.m3u8', '/radio/x/../live/index.m3u8', '/radio/live/%2E/index.m3u8', '/radio/live/index.m3u8%3Fsession=x']) {
    assert.equal(await rawGet(relay, path), 404, path)
  }
  for (const path of ['//radio/live', '/radio//live', '/radio/./live']) assert.equal(await rawGet(relay, path, 'HEAD'), 404, `the listener route: ${path}`)
})

test('conditional requests: If-None-Match * and lists answer 304, If-Modified-Since is ignored beside If-None-Match', async (t) => {
  const relay = await hlsRelay(t, { plugin: { hls: { segmentSeconds: 1, windowSegments: 10 } } })
  relay.upstream.push(mp3Frames(200))
  const media = await fetch(await sessionUrl(relay))
  const playlistUrl = media.url
  const etag = media.headers.get('etag')!
  const segmentUrl = relay.url('/live/' + firstUri(await media.text()))
  const segment = await fetch(segmentUrl)
  const validators = { etag: segment.headers.get('etag')!, modified: segment.headers.get('last-modified')! }
  await segment.arrayBuffer()
  for (const [url, tag] of [[playlistUrl, etag], [segmentUrl, validators.etag]] as const) {
    for (const match of ['*', `"other", ${tag}`, `W/${tag}`]) {
      const answer = await fetch(url, { headers: { 'if-none-match': match } })
      assert.equal(answer.status, 304, `${url} ${match}`)
      assert.equal(answer.headers.get('etag'), tag)
    }
    const stale = await fetch(url, { headers: { 'if-none-match': '"other"', 'if-modified-since': new Date(Date.now() + 60_000).toUTCString() } })
    assert.equal(stale.status, 200, `${url}: the date says current, the tag does not`)
    await stale.arrayBuffer()
  }
  assert.equal((await fetch(segmentUrl, { headers: { 'if-modified-since': validators.modified } })).status, 304)
})

/** Resolves at the start of a second of the clock, so that what follows is likely within it. */
async function startOfSecond (): Promise<void> {
  await sleep(1000 - Date.now() % 1000)
}

test('a playlist cut again within the second of its Last-Modified: that date gets the new playlist, not a 304', async (t) => {
  const relay = await hlsRelay(t, { plugin: { hls: { segmentSeconds: 1, windowSegments: 10 } } })
  relay.upstream.push(mp3Frames(100))
  const url = await sessionUrl(relay)
  /** 40 frames more: a cut; the playlist once it has it */
  async function cut (before: string): Promise<{ body: string, modified: string }> {
    relay.upstream.push(mp3Frames(40))
    for (let i = 0; ; i++) {
      assert.ok(i < 100, 'the playlist changed')
      const answer = await fetch(url)
      const body = await answer.text()
      if (body !== before) return { body, modified: answer.headers.get('last-modified')! }
    }
  }
  for (let attempt = 0; ; attempt++) {
    assert.ok(attempt < 10, 'two cuts within one second of the clock')
    await startOfSecond()
    const copy = await cut(await (await fetch(url)).text())
    const now = await cut(copy.body)
    if (now.modified !== copy.modified) continue
    const conditional = await fetch(url, { headers: { 'if-modified-since': copy.modified } })
    assert.equal(conditional.status, 200, 'the copy is not the playlist now')
    assert.equal(await conditional.text(), now.body)
    return
  }
})

test('Range on a segment: 206 with its part, 416 past the end, the whole for several ranges or a stale If-Range; HEAD alike', async (t) => {
  const relay = await hlsRelay(t)
  relay.upstream.push(mp3Frames(200))
  const url = relay.url('/live/' + firstUri(await (await fetch(await sessionUrl(relay))).text()))
  const whole = await fetch(url)
  assert.equal(whole.headers.get('accept-ranges'), 'bytes')
  const etag = whole.headers.get('etag')!
  const bytes = Buffer.from(await whole.arrayBuffer())
  const part = await fetch(url, { headers: { range: 'bytes=10-109' } })
  assert.equal(part.status, 206)
  assert.equal(part.headers.get('content-range'), `bytes 10-109/${bytes.length}`)
  assert.equal(part.headers.get('content-length'), '100')
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(10, 110)))
  const tail = await fetch(url, { headers: { range: 'bytes=-50', 'if-range': etag } })
  assert.equal(tail.status, 206)
  assert.ok(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(-50)))
  const past = await fetch(url, { headers: { range: `bytes=${bytes.length}-` } })
  assert.equal(past.status, 416)
  assert.equal(past.headers.get('content-range'), `bytes */${bytes.length}`)
  assert.equal(past.headers.get('cache-control'), 'no-store')
  await past.arrayBuffer()
  const wholeAsked: Array<Record<string, string>> = [{ range: 'bytes=0-9,20-29' }, { range: 'bytes=0-9', 'if-range': '"another"' }, { range: 'pages=1-2' }]
  for (const headers of wholeAsked) {
    const answer = await fetch(url, { headers })
    assert.equal(answer.status, 200, JSON.stringify(headers))
    assert.equal((await answer.arrayBuffer()).byteLength, bytes.length)
  }
  const head = await fetch(url, { method: 'HEAD', headers: { range: 'bytes=0-0' } })
  assert.equal(head.status, 206)
  assert.equal(head.headers.get('content-length'), '1')
  const playlist = await fetch(relay.url('/live/index.m3u8'), { headers: { range: 'bytes=0-5' } })
  assert.equal(playlist.status, 200, 'a playlist is sent whole')
  await playlist.arrayBuffer()
})

/** A CORS preflight of `path`, as a browser sends it before a GET with `headers`. */
async function preflight (relay: RelayApp, path: string, headers = 'range'): Promise<Response> {
  return await fetch(relay.url(path), {
    method: 'OPTIONS',
    headers: { origin: 'https://player.example', 'access-control-request-method': 'GET', 'access-control-request-headers': headers }
  })
}

test('CORS: a preflight of the playlist or a segment gets 204 with methods, headers and max-age; answers expose what hls.js reads', async (t) => {
  const relay = await hlsRelay(t, { plugin: { hls: { ...HLS, cors: 'https://player.example' } } })
  relay.upstream.push(mp3Frames(200))
  const main = await mainPlaylist(relay, { headers: { origin: 'https://player.example' } })
  assert.equal(main.headers.get('access-control-allow-origin'), 'https://player.example')
  assert.equal(main.headers.get('access-control-expose-headers'), 'Age, Content-Range, Retry-After')
  const segment = firstUri(await (await fetch(relay.url('/live/' + firstUri(await main.text())))).text())
  for (const path of ['/live/index.m3u8', `/live/${segment}`, '/live/index.m3u8?session=x']) {
    const answer = await preflight(relay, path, 'Range, X-Player-Token,bad header,')
    assert.equal(answer.status, 204, path)
    assert.equal(answer.headers.get('access-control-allow-origin'), 'https://player.example')
    assert.equal(answer.headers.get('access-control-allow-methods'), 'GET, HEAD, OPTIONS')
    assert.equal(answer.headers.get('access-control-allow-headers'), 'range, x-player-token')
    assert.equal(answer.headers.get('access-control-max-age'), '7200')
    assert.equal((await answer.arrayBuffer()).byteLength, 0)
  }
  assert.equal((await preflight(relay, '/live/index.m3u8', '')).headers.get('access-control-allow-headers'), 'range', 'Range always')
  for (const path of ['/live', '/live/hls-window.json', '/nowhere/index.m3u8', '/live/index.m3u', '/elsewhere']) {
    const answer = await preflight(relay, path)
    assert.equal(answer.status, 404, path)
    assert.equal(answer.headers.get('access-control-allow-origin'), null)
    await answer.arrayBuffer()
  }
})

test('cors false: no preflight route, so a host app may have its own OPTIONS on every path (as @fastify/cors adds)', async () => {
  const app = Fastify()
  await app.register(fastifyIcecastRelay, { hls: { ...HLS, cors: false } })
  app.options('/*', async (_request, reply) => await reply.code(204).header('x-host-app', 'yes').send())
  await app.ready()
  const answer = await app.inject({ method: 'OPTIONS', url: '/live/index.m3u8', headers: { origin: 'https://player.example', 'access-control-request-method': 'GET' } })
  assert.equal(answer.headers['x-host-app'], 'yes')
  await app.close()
})
