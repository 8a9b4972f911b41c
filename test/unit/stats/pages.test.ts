import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { hasBasicCredentials } from '../../../lib/auth.js'
import { escapeHtml, nowPlaying, shoutcastSevenHtml, STATUS_PAGE_CSP, statusPage, whyNotLive } from '../../../lib/stats/page.js'
import { bitrateOf } from '../../../lib/stats/icestats.js'
import { prefersJson } from '../../../lib/admin/accept.js'
import { CONFORMANCE_DIR, conformancePresent } from '../../helpers/icy.js'
import { statusFixture } from '../../helpers/admin.js'

const basic = (text: string): string => `Basic ${Buffer.from(text).toString('base64')}`

test('admin Basic credentials: compared whole, user and password both', () => {
  const expected = { username: 'admin', password: 'pa:ss word' }
  assert.equal(hasBasicCredentials(basic('admin:pa:ss word'), expected), true)
  const wrong = [undefined, '', 'Bearer x', 'Basic', 'Basic !!!', basic('no-colon'), basic('admin:pa:ss wor'),
    basic('admin:pa:ss word2'), basic('Admin:pa:ss word'), basic(':pa:ss word'), basic('admin:')]
  for (const header of wrong) assert.equal(hasBasicCredentials(header, expected), false, String(header))
  assert.equal(hasBasicCredentials(basic('ädmin:pässwörd'), { username: 'ädmin', password: 'pässwörd' }), true)
})

test('JSON only when the client ranks it above XML', () => {
  assert.equal(prefersJson(undefined), false)
  assert.equal(prefersJson('application/json'), true)
  assert.equal(prefersJson('application/json, text/plain, */*'), true)
  assert.equal(prefersJson('*/*'), false)
  assert.equal(prefersJson('text/xml'), false)
  assert.equal(prefersJson('text/xml;q=0.5, application/json'), true)
  assert.equal(prefersJson('application/json;q=0.4, text/xml;q=0.5'), false)
  assert.equal(prefersJson('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'), false)
  assert.equal(prefersJson('application/json;q=0'), false)
  assert.equal(prefersJson('application/*'), false)
  assert.equal(prefersJson('application/*, application/json'), true)
})

test('now playing and bitrate as a person reads them', () => {
  assert.equal(nowPlaying(statusFixture()), 'Artist B - Track Two')
  assert.equal(nowPlaying(statusFixture({ metadata: { fields: { TITLE: 'T', ARTIST: 'A' }, source: 'vorbis', updatedAt: '' } })), 'A - T')
  assert.equal(nowPlaying(statusFixture({ metadata: null })), undefined)
  assert.equal(nowPlaying(statusFixture({ metadata: { title: '', fields: {}, source: 'icy', updatedAt: '' } })), undefined)
  assert.equal(bitrateOf(statusFixture()), 128)
  const noBr = { name: null, genre: null, description: null, url: null, bitrate: null, public: null }
  assert.equal(bitrateOf(statusFixture({ stream: noBr })), 128, 'from ice-audio-info')
  assert.equal(bitrateOf(statusFixture({ stream: noBr, headers: {} })), 128, 'from the MPEG frames')
  const aac = { codec: 'aac', bitrate: 96, sampleRate: 44100, channels: 2 } as const
  assert.equal(bitrateOf(statusFixture({ stream: noBr, headers: {}, contentType: 'audio/aac', audio: aac })), 96, 'from the ADTS frames')
  assert.equal(bitrateOf(statusFixture({ stream: noBr, headers: {}, audio: null })), undefined)
  assert.equal(bitrateOf(statusFixture({ stream: noBr, headers: {}, audio: { codec: 'opus', bitrate: null, sampleRate: 48000, channels: 2 } })), undefined)
})

const SERVER = { hostname: undefined, location: 'Studio & Co', adminEmail: 'x', serverId: 'Radio <X>' }
const PAGE = { server: SERVER, startedAt: new Date(), mountBase: '/radio', listenBase: 'http://relay.example:8000/radio' }

test('the status page: what the server is, every mount with its stream, state, listeners, title, bitrate, listen URL, playlists and a player; all text escaped', () => {
  const html = statusPage([
    statusFixture(),
    statusFixture({ localMount: '/a b<script>', state: 'retrying', listeners: 0, maxListeners: 10, metadata: { title: '<b>bold</b>', fields: {}, source: 'manual', updatedAt: '' } })
  ], PAGE)
  assert.match(html, /^<!DOCTYPE html>/)
  assert.match(html, /<h1>Icecast-compatible relay <small>Radio &lt;X&gt;<\/small><\/h1>/)
  assert.match(html, /<p>Studio &amp; Co · 2 mounts · 3 listeners/)
  assert.match(html, /<section class="mount" data-mount="\/live\.mp3" data-state="live" data-listenurl="http:\/\/relay\.example:8000\/radio\/live\.mp3">/)
  assert.match(html, /<dt>Stream<\/dt><dd>Master MP3<\/dd><dt>Description<\/dt><dd>Desc<\/dd><dt>Genre<\/dt><dd>Test<\/dd><dt>Started<\/dt><dd>\w{3}, 0[12] Jan 2026 /)
  assert.match(html, /<dt>Listeners<\/dt><dd>3 \(peak 7\)<\/dd>/)
  assert.match(html, /<dt>Now playing<\/dt><dd class="now-playing">Artist B - Track Two<\/dd>/)
  assert.match(html, /<dt>Bitrate<\/dt><dd>128 kbit\/s<\/dd>/)
  assert.match(html, /<a href="http:\/\/relay\.example:8000\/radio\/live\.mp3">http:\/\/relay\.example:8000\/radio\/live\.mp3<\/a>/)
  for (const format of ['m3u', 'pls', 'xspf']) {
    assert.match(html, new RegExp(`<a href="http://relay\\.example:8000/radio/live\\.mp3\\.${format}">${format.toUpperCase()}</a>`))
  }
  assert.match(html, /<dt>Website<\/dt><dd><a href="http:\/\/example\.org\/">/)
  assert.match(html, /<audio controls preload="none" src="\/radio\/live\.mp3"><\/audio>/)
  assert.match(html, /<span class="state retrying">retrying<\/span>/)
  assert.match(html, /<dd>0 of 10 \(peak 7\)<\/dd>/)
  assert.match(html, /&lt;b&gt;bold&lt;\/b&gt;/)
  assert.match(html, /data-listenurl="http:\/\/relay\.example:8000\/radio\/a%20b%3Cscript%3E"/)
  assert.doesNotMatch(html, /<script>(?!\(\(\) =>)|<b>/, 'no markup but the page\'s own script')
  assert.equal(escapeHtml('<a href="x">\'&\'</a>'), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
})

test('the status page: a mount that is not live says why, in words that name no upstream, and has no player', () => {
  const error = { code: 'FST_ICECAST_RELAY_CONNECT_FAILED', message: 'upstream http://10.1.2.3:8000/live: connection failed: ECONNREFUSED', at: '2026-01-02T03:04:05.000Z' }
  const down = statusFixture({ state: 'retrying', lastError: error })
  const html = statusPage([down], PAGE)
  assert.match(html, /<p class="why">Not live: its upstream cannot be reached \(FST_ICECAST_RELAY_CONNECT_FAILED, \w{3}, 0[12] Jan 2026 [\d:]+ [+-]\d{4}\)<\/p>/)
  assert.doesNotMatch(html, /10\.1\.2\.3|<audio|<dt>Started/)
  assert.equal(whyNotLive(statusFixture()), undefined)
  assert.match(whyNotLive(statusFixture({ state: 'retrying', lastError: { ...error, code: 'ERR_SOMETHING' } }))!, /^Not live: its upstream failed \(ERR_SOMETHING, /)
  assert.equal(whyNotLive(statusFixture({ state: 'connecting' })), 'Not live yet: connecting to its upstream')
  assert.equal(whyNotLive(statusFixture({ state: 'stopped' })), 'Stopped')
  const onDemand = statusPage([statusFixture({ state: 'idle', onDemand: true, connectedSince: null })], PAGE)
  assert.match(onDemand, /<p class="why">On demand: it connects to its upstream when a listener comes<\/p>/)
  assert.match(onDemand, /<audio /, 'an on-demand mount plays once a listener comes')
  assert.match(statusPage([statusFixture({ state: 'retrying', lastError: error, fallbackMount: '/backup.mp3' })], PAGE), /<audio /, 'its fallback plays')
  assert.doesNotMatch(statusPage([statusFixture({ stream: { ...statusFixture().stream, url: 'javascript:alert(1)' } })], PAGE), /javascript|Website/)
})

test('the status page\'s CSP lets its own style and script run, nothing else', () => {
  const html = statusPage([statusFixture()], PAGE)
  const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!
  assert.equal(STATUS_PAGE_CSP, `default-src 'none'; script-src ${hash(script)}; style-src ${hash(style)}; connect-src 'self'; media-src 'self'; base-uri 'none'; form-action 'none'`)
  assert.match(script, /textContent/)
  assert.doesNotMatch(script, /innerHTML|insertAdjacentHTML|document\.write/)
})

/** What SHOUTcast-reading clients do with /7.html: the comma-separated fields between <body> and </body>. */
function sevenFields (html: string): string[] {
  const body = /<body>(.*?)<\/body>/.exec(html)![1]!
  const fields = body.split(',')
  return [...fields.slice(0, 6), fields.slice(6).join(',')]
}

test('/7.html: SHOUTcast v1\'s fields in its order, the title last, as in a real capture', (t) => {
  const html = shoutcastSevenHtml({ status: statusFixture({ metadata: { title: 'Commas, and <tags>', fields: {}, source: 'icy', updatedAt: '' } }), maxListeners: 100, uniqueListeners: 2 })
  assert.deepEqual(sevenFields(html), ['3', '1', '7', '100', '2', '128', 'Commas, and &lt;tags&gt;'])
  assert.deepEqual(sevenFields(shoutcastSevenHtml({ status: statusFixture({ state: 'retrying', metadata: null }), maxListeners: 5, uniqueListeners: 0 })),
    ['3', '0', '7', '5', '0', '128', ''])
  assert.deepEqual(sevenFields(shoutcastSevenHtml({ status: undefined, maxListeners: 100, uniqueListeners: 0 })), ['0', '0', '0', '100', '0', '', ''])
  if (!conformancePresent(t)) return
  const real = readFileSync(new URL('icecast-metadata-js/stats-testdata/7.html', CONFORMANCE_DIR), 'utf8')
  assert.deepEqual(sevenFields(real), ['24', '1', '61', '1000', '9', '64', 'The HHA - HHA Show 26 Oct 2018'])
  assert.equal(html.slice(0, html.indexOf('<body>')), real.trimStart().slice(0, real.trimStart().indexOf('<body>')), 'the same head')
})
