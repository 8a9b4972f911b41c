// Per-mount settings from an Icecast XML config's <mount> elements (readIcecastConfig), the relay serving two
// mounts of a real Icecast 2 fed by ezstream: hidden, max-listeners, max-listener-duration, the stream overrides,
// public, burst-size, and <mount type="default">.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import { ADMIN } from '../../helpers/admin.js'
import {
  assertTools, makeFixtures, openListener, runMpg123, sleep, startIcecast, startSource, type Icecast, type Source
} from '../../helpers/icecast.js'
import { httpGet } from '../../helpers/procs.js'
import { readIcecastConfig } from '../../../lib/config/icecast.js'
import type { RelayEvents } from '../../../lib/relay/relay.js'

const RELAY_AUTH = { username: 'slave', password: 'slave pass' }
const NAME = 'Relay Café ☕'
const LIVE_BURST = 16384
const DEFAULT_BURST = 32768

let icecast: Icecast
const sources: Source[] = []
let relay: RelayApp
const leaves: Array<RelayEvents['listener']> = []

/** The config a relay operator writes: two relays of the master, settings by mount name, a default mount. */
function config (port: number): string {
  return `<icecast>
  <relay><server>127.0.0.1</server><port>${port}</port><mount>/secret.mp3</mount></relay>
  <relay><server>127.0.0.1</server><port>${port}</port><mount>/live.mp3</mount></relay>
  <mount type="normal">
    <mount-name>/live.mp3</mount-name>
    <max-listeners>2</max-listeners>
    <stream-name>${NAME}</stream-name>
    <stream-description>Described here</stream-description>
    <stream-url>https://radio.example/</stream-url>
    <genre>Jazz &amp; Blues</genre>
    <public>1</public>
    <burst-size>${LIVE_BURST}</burst-size>
  </mount>
  <mount type="normal">
    <mount-name>/secret.mp3</mount-name>
    <hidden>1</hidden>
    <max-listener-duration>2</max-listener-duration>
    <max-listeners>-1</max-listeners>
  </mount>
  <mount type="default">
    <burst-size>${DEFAULT_BURST}</burst-size>
    <max-listeners>50</max-listeners>
  </mount>
</icecast>`
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123')
  const fixtures = await makeFixtures()
  icecast = await startIcecast()
  for (const mount of ['/live.mp3', '/secret.mp3']) {
    sources.push(await startSource({ icecast, mount, files: [fixtures.mp3.long], format: 'mp3', name: `Upstream ${mount}`, genre: 'Upstream genre', public: false }))
  }
  const { options, warnings } = readIcecastConfig(config(icecast.port))
  assert.deepEqual(warnings, [])
  relay = await relayApp({ ...options, admin: ADMIN, relayAuth: RELAY_AUTH }, (app) => {
    app.relay.on('listener', (event) => { if (event.action === 'leave') leaves.push(event) })
  })
  await waitForState(relay.app, '/live.mp3', 'live')
  await waitForState(relay.app, '/secret.mp3', 'live')
})

after(async () => {
  await relay?.app.close()
  await Promise.all(sources.map(async (source) => await source.stop()))
  await icecast?.stop()
})

const adminAuth = { auth: { user: ADMIN.username, password: ADMIN.password } }

async function text (path: string, options = {}): Promise<string> {
  const result = await httpGet(relay.url(path), options)
  assert.equal(result.status, 200, path)
  return result.body.toString('utf8')
}

test('<hidden>: not in status-json.xsl, status.xsl, /7.html nor the stream list slaves read; in /admin/listmounts and /admin/stats; still played', async () => {
  const json = JSON.parse(await text('/status-json.xsl')) as { icestats: { source: Array<{ listenurl: string }> } }
  assert.deepEqual(json.icestats.source.map((source) => new URL(source.listenurl).pathname), ['/live.mp3'])
  const page = await text('/status.xsl')
  assert.ok(page.includes('/live.mp3') && !page.includes('/secret.mp3'), page)
  // SHOUTcast's page tells of the first mount: /secret.mp3, the first relay, would say MAXLISTENERS 50
  assert.match(await text('/7.html'), /<body>\d+,1,\d+,2,/)
  const streamlist = await text('/admin/streamlist.txt', { auth: { user: RELAY_AUTH.username, password: RELAY_AUTH.password } })
  assert.deepEqual(streamlist.split(/\r?\n/).filter((line) => line !== ''), ['/live.mp3'])
  assert.match(await text('/admin/listmounts', adminAuth), /<source mount="\/secret\.mp3">/)
  assert.match(await text('/admin/stats', adminAuth), /<source mount="\/secret\.mp3">/)

  const listener = openListener(relay.url('/secret.mp3'))
  assert.equal((await listener.head).status, 200)
  const body = await listener.waitForBytes(40000, 10000)
  await listener.close()
  const decoded = await runMpg123(body, { icy: false })
  assert.ok(decoded.ok, decoded.problems.join('\n') + decoded.stderr)
})

test('<max-listeners>: the third listener of /live.mp3 gets 403; -1 is no limit of its own (the default mount\'s 50 applies)', async () => {
  const first = openListener(relay.url('/live.mp3'))
  const second = openListener(relay.url('/live.mp3'))
  assert.equal((await first.head).status, 200)
  assert.equal((await second.head).status, 200)
  const third = await httpGet(relay.url('/live.mp3'))
  assert.equal(third.status, 403)
  assert.match(third.body.toString(), /Too many listeners on \/live\.mp3/)
  await first.close()
  await second.close()
  assert.equal(relay.app.relay.get('/secret.mp3')?.maxListeners, 50)
})

test('<max-listener-duration>: a listener of /secret.mp3 is ended after 2 s, with the reason "duration"', async () => {
  const listener = openListener(relay.url('/secret.mp3'))
  await listener.head
  const started = Date.now()
  await listener.ended
  const lasted = Date.now() - started
  assert.ok(lasted >= 1900 && lasted < 4000, `ended after ${lasted} ms`)
  assert.ok(listener.received().length > 0)
  await waitUntil(() => leaves.some((leave) => leave.localMount === '/secret.mp3' && leave.reason === 'duration'))
  // /live.mp3 has no limit: a listener stays
  const other = openListener(relay.url('/live.mp3'))
  await other.head
  await sleep(2500)
  assert.equal(other.socket.destroyed, false)
  await other.close()
})

test('<stream-name>, <stream-description>, <stream-url>, <genre>, <public>: in the listeners\' icy-* headers and every stats page, instead of the upstream\'s', async () => {
  const listener = openListener(relay.url('/live.mp3'))
  const head = await listener.head
  await listener.close()
  // header values are bytes: the name goes out as its UTF-8, as Icecast sends its config's text
  assert.equal(Buffer.from(head.headers['icy-name'] as string, 'latin1').toString('utf8'), NAME)
  assert.equal(head.headers['icy-description'], 'Described here')
  assert.equal(head.headers['icy-url'], 'https://radio.example/')
  assert.equal(head.headers['icy-genre'], 'Jazz & Blues')
  assert.equal(head.headers['icy-pub'], '1')

  const json = JSON.parse(await text('/status-json.xsl')) as { icestats: { source: Array<Record<string, unknown>> } }
  const live = json.icestats.source[0]!
  assert.equal(live['server_name'], NAME)
  assert.equal(live['server_description'], 'Described here')
  assert.equal(live['server_url'], 'https://radio.example/')
  assert.equal(live['genre'], 'Jazz & Blues')
  assert.ok((await text('/status.xsl')).includes('Relay Café ☕'))
  const stats = await text('/admin/stats?mount=/live.mp3', adminAuth)
  assert.match(stats, /<public>1<\/public>/)
  assert.match(stats, /<server_name>Relay Café ☕<\/server_name>/)
  // the mount without overrides tells the upstream's, public 0 as its source said
  const secret = await text('/admin/stats?mount=/secret.mp3', adminAuth)
  assert.match(secret, /<server_name>Upstream \/secret\.mp3<\/server_name>/)
  assert.match(secret, /<public>0<\/public>/)
})

/** Body bytes a listener has 300 ms after its head: the burst, and what the stream brought meanwhile. */
async function bytesAtConnect (mount: string): Promise<number> {
  const listener = openListener(relay.url(mount))
  await listener.head
  // the burst leaves with the head, in one write; little of the live stream comes in 100 ms
  await sleep(100)
  const { body } = await listener.close()
  return body.length
}

test('<burst-size> per mount: a new listener of /live.mp3 gets its 16 KiB at once; /secret.mp3 the default mount\'s 32 KiB', async () => {
  // the relay's ring fills from Icecast's own burst at once, then in real time (128 kbit/s: 16 KiB/s): both
  // rings hold more than their bursts before a listener comes
  const filled = (mount: string): boolean => (relay.app.relay.get(mount)?.bytesIn ?? 0) > DEFAULT_BURST + 8000
  await waitUntil(() => filled('/live.mp3') && filled('/secret.mp3'), 10000, 'the rings to hold their bursts')
  const live = await bytesAtConnect('/live.mp3')
  const secret = await bytesAtConnect('/secret.mp3')
  // the burst starts at the first frame of an upstream read (the ring keeps one place to start per read, and
  // Icecast sends reads of ~4 KiB: up to one read less); ezstream's source comes in bursts of its own, so the
  // live bytes of those 100 ms may be a few KiB: still far from the other mount's burst (16 KiB apart)
  const UPSTREAM_READ = 4600
  assert.ok(live > LIVE_BURST - UPSTREAM_READ && live < LIVE_BURST + 8000, `/live.mp3: ${live} bytes`)
  assert.ok(secret > DEFAULT_BURST - UPSTREAM_READ && secret < DEFAULT_BURST + 8000, `/secret.mp3: ${secret} bytes`)
})
