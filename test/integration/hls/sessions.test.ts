// HLS sessions and their identity against a scripted upstream: the multivariant playlist holds nothing (its id
// carries what the gate decided), the first poll takes the place, and segment numbers never name two segments.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { relayApp, scriptedRelay, type RelayApp, type ScriptedRelayOptions } from '../../helpers/app.js'
import { mp3Frames } from '../../helpers/frames.js'
import { openListener } from '../../helpers/listen.js'
import { makeTempDir, waitFor } from '../../helpers/procs.js'
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
