import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { hasBasicCredentials } from '../../../lib/auth.js'
import { bitrateOf, escapeHtml, nowPlaying, shoutcastSevenHtml, statusPage } from '../../../lib/stats/page.js'
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
  assert.equal(bitrateOf(statusFixture({ stream: noBr, headers: {} })), undefined)
})

test('the status page: every mount with its state, listeners, title, bitrate and a player; all text escaped', () => {
  const html = statusPage([
    statusFixture(),
    statusFixture({ localMount: '/a b<script>', state: 'retrying', listeners: 0, maxListeners: 10, metadata: { title: '<b>bold</b>', fields: {}, source: 'manual', updatedAt: '' } })
  ], { server: { hostname: undefined, location: 'Studio & Co', adminEmail: 'x', serverId: 'fastify-icecast-relay' }, startedAt: new Date(), mountBase: '/radio' })
  assert.match(html, /^<!DOCTYPE html>/)
  assert.match(html, /<h1>Studio &amp; Co<\/h1>/)
  assert.match(html, /2 mounts · 3 listeners/)
  assert.match(html, /<section class="mount" data-mount="\/live\.mp3" data-state="live">/)
  assert.match(html, /<dt>Listeners<\/dt><dd>3 \(peak 7\)<\/dd>/)
  assert.match(html, /<dt>Now playing<\/dt><dd>Artist B - Track Two<\/dd>/)
  assert.match(html, /<dt>Bitrate<\/dt><dd>128 kbit\/s<\/dd>/)
  assert.match(html, /<audio controls preload="none" src="\/radio\/live\.mp3"><\/audio>/)
  assert.match(html, /<span class="state retrying">retrying<\/span>/)
  assert.match(html, /<dd>0 of 10 \(peak 7\)<\/dd>/)
  assert.match(html, /&lt;b&gt;bold&lt;\/b&gt;/)
  assert.match(html, /src="\/radio\/a%20b%3Cscript%3E"/)
  assert.doesNotMatch(html, /<script>|<b>/)
  assert.equal(escapeHtml('<a href="x">\'&\'</a>'), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
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
