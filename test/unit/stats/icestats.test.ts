import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { XMLParser } from 'fast-xml-parser'
import {
  audioInfoStats, icecastDate, icestats, icestatsJson, isListed, networkListeners, publicStats, sourceStats, titleStats, type StatsContext
} from '../../../lib/stats/icestats.js'
import { icestatsXml, iceresponseXml, listclientsXml, listmountsXml } from '../../../lib/admin/xml.js'
import type { RelayStatus } from '../../../lib/relay/relay.js'
import { CONFORMANCE_DIR, conformancePresent } from '../../helpers/icy.js'
import { statusFixture } from '../../helpers/admin.js'

const ctx: StatsContext = {
  server: { hostname: undefined, location: 'Earth', adminEmail: 'icemaster@localhost', serverId: 'fastify-icecast-relay' },
  startedAt: new Date('2026-01-02T03:00:00Z'),
  host: 'radio.example',
  listenBase: 'http://radio.example:8000'
}

test('dates as Icecast writes them, in local time with the offset', () => {
  const date = new Date('2026-11-24T22:09:42Z')
  assert.deepEqual(icecastDate(date, 0), { rfc822: 'Tue, 24 Nov 2026 22:09:42 +0000', iso8601: '2026-11-24T22:09:42+0000' })
  assert.deepEqual(icecastDate(date, 120), { rfc822: 'Wed, 25 Nov 2026 00:09:42 +0200', iso8601: '2026-11-25T00:09:42+0200' })
  assert.deepEqual(icecastDate(date, -570), { rfc822: 'Tue, 24 Nov 2026 12:39:42 -0930', iso8601: '2026-11-24T12:39:42-0930' })
  assert.deepEqual(icecastDate(new Date('2026-03-01T05:06:07Z'), 330).iso8601, '2026-03-01T10:36:07+0530')
})

test('audio info: kept as sent, each key a stat of its own with its value URL-decoded', () => {
  assert.deepEqual(audioInfoStats(undefined), {})
  assert.deepEqual(audioInfoStats('bitrate=128;samplerate=44100;channels=2'), {
    audio_info: 'bitrate=128;samplerate=44100;channels=2', bitrate: 128, samplerate: 44100, channels: 2
  })
  assert.deepEqual(audioInfoStats('ice-bitrate=64; quality=0%2e5;a=b=c;<bad>=1;=2;noval'), {
    audio_info: 'ice-bitrate=64; quality=0%2e5;a=b=c;<bad>=1;=2;noval', 'ice-bitrate': 64, quality: '0.5', a: 'b=c'
  })
})

test('titles: an ICY StreamTitle is the title whole; Ogg comments give title and artist', () => {
  const at = '2026-01-01T00:00:00.000Z'
  assert.deepEqual(titleStats(null), {})
  assert.deepEqual(titleStats({ title: 'A - B', fields: { StreamTitle: 'A - B' }, source: 'icy', updatedAt: at }), { title: 'A - B' })
  assert.deepEqual(titleStats({ title: 'By hand', fields: {}, source: 'manual', updatedAt: at }), { title: 'By hand' })
  assert.deepEqual(titleStats({ title: 'ignored', fields: { title: 'Victory Lane', Artist: "AC '83" }, source: 'opus', updatedAt: at }),
    { title: 'Victory Lane', artist: "AC '83" })
  assert.deepEqual(titleStats({ fields: { TITLE: 'Only a title' }, source: 'vorbis', updatedAt: at }), { title: 'Only a title' })
})

test('a source\'s stats: Icecast\'s names, alphabetical, unknown values left out, admin values apart', () => {
  const stats = sourceStats(statusFixture(), 'http://radio.example:8000/live.mp3')
  assert.deepEqual(stats, {
    audio_info: 'bitrate=128;samplerate=44100;channels=2',
    bitrate: 128,
    channels: 2,
    genre: 'Test',
    listener_peak: 7,
    listeners: 3,
    listenurl: 'http://radio.example:8000/live.mp3',
    max_listeners: 'unlimited',
    public: 0,
    relay_fallback_listeners: 0,
    relay_switches: 0,
    relay_upstream: 'http://master.example:8001/live.mp3',
    samplerate: 44100,
    server_description: 'Desc',
    server_name: 'Master MP3',
    server_type: 'audio/mpeg',
    server_url: 'http://example.org/',
    slow_listeners: 2,
    source_ip: 'master.example',
    stream_start: icecastDate(new Date('2026-01-02T03:04:05.000Z')).rfc822,
    stream_start_iso8601: icecastDate(new Date('2026-01-02T03:04:05.000Z')).iso8601,
    title: 'Artist B - Track Two',
    total_bytes_read: 1000,
    total_bytes_sent: 2500
  })
  assert.deepEqual(Object.keys(publicStats(stats)), Object.keys(stats).filter((k) =>
    !['max_listeners', 'public', 'relay_fallback_listeners', 'relay_switches', 'relay_upstream', 'slow_listeners', 'source_ip', 'total_bytes_read', 'total_bytes_sent'].includes(k)))
  const bare = sourceStats(statusFixture({
    state: 'idle',
    onDemand: true,
    connectedSince: null,
    contentType: null,
    headers: {},
    metadata: null,
    audio: null,
    maxListeners: 5,
    listeners: 0,
    stream: { name: null, genre: null, description: null, url: null, bitrate: null, public: null }
  }), 'http://x/live.mp3')
  assert.deepEqual(Object.keys(publicStats(bare)), ['listener_peak', 'listeners', 'listenurl'])
  assert.equal(bare['max_listeners'], 5)
})

test('the upstream\'s audio info never stands in for the relay\'s own values', () => {
  const stats = sourceStats(statusFixture({ headers: { 'ice-audio-info': 'listeners=999;bitrate=1' } }), 'http://x/')
  assert.equal(stats['listeners'], 3)
  assert.equal(stats['bitrate'], 128)
})

test('listed: live relays, on-demand relays, and relays in their grace period that still have listeners', () => {
  assert.equal(isListed(statusFixture()), true)
  assert.equal(isListed(statusFixture({ state: 'idle', onDemand: true, listeners: 0 })), true)
  assert.equal(isListed(statusFixture({ state: 'retrying', listeners: 2 })), true)
  assert.equal(isListed(statusFixture({ state: 'retrying', listeners: 0 })), false)
  assert.equal(isListed(statusFixture({ state: 'connecting', listeners: 0 })), false)
})

test('status JSON: source is always an array, for no mount, one mount and several', () => {
  const json = (statuses: RelayStatus[]): Record<string, unknown> => icestatsJson(icestats(statuses, ctx, { admin: false })).icestats
  assert.deepEqual(json([])['source'], [])
  const one = json([statusFixture()])
  assert.ok(Array.isArray(one['source']))
  assert.equal((one['source'] as unknown[]).length, 1)
  assert.equal(json([statusFixture(), statusFixture({ localMount: '/b' })])['source'] instanceof Array, true)
  assert.deepEqual(Object.keys(one).filter((k) => k !== 'source'), ['admin', 'host', 'location', 'server_id', 'server_start', 'server_start_iso8601'])
  assert.equal(one['host'], 'radio.example')
  const [source] = one['source'] as Array<Record<string, unknown>>
  assert.equal(source!['listenurl'], 'http://radio.example:8000/live.mp3')
  assert.equal(source!['total_bytes_read'], undefined)
  const admin = icestats([statusFixture(), statusFixture({ localMount: '/b', listeners: 4 })], ctx, { admin: true })
  assert.equal(admin.globals['listeners'], 7)
  assert.equal(admin.globals['sources'], 2)
  assert.equal(admin.sources[1]!.stats['total_bytes_read'], 1000)
})

test('status JSON has the shape of a real Icecast 2.4.4 /status-json.xsl', (t) => {
  const ours = icestatsJson(icestats([statusFixture()], ctx, { admin: false })).icestats
  const dateShape = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/
  const isoShape = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}$/
  assert.match(String(ours['server_start']), dateShape)
  assert.match(String(ours['server_start_iso8601']), isoShape)
  if (!conformancePresent(t)) return
  const real = JSON.parse(readFileSync(new URL('icecast-metadata-js/stats-testdata/status-json.xsl', CONFORMANCE_DIR), 'utf8')).icestats
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(real).sort())
  assert.match(real.server_start, dateShape)
  assert.match(real.server_start_iso8601, isoShape)
  const realMp3 = real.source.find((s: { server_type: string }) => s.server_type === 'audio/mpeg')
  const ourMp3 = (ours['source'] as Array<Record<string, unknown>>)[0]!
  const { dummy: _dummy, ...realKeys } = realMp3
  for (const key of Object.keys(realKeys)) assert.equal(typeof ourMp3[key], typeof realMp3[key], key)
})

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, isArray: (name) => name === 'source' || name === 'listener' })

test('/admin/stats XML: the server\'s values, then <source mount> elements; text escaped, control characters removed', () => {
  const stats = icestats([statusFixture({ localMount: '/a&b', metadata: { title: 'x < y & "z"\u0001', fields: {}, source: 'manual', updatedAt: '' } })], ctx, { admin: true })
  const xml = icestatsXml(stats)
  assert.match(xml, /^<\?xml version="1\.0"\?>\n<icestats><admin>icemaster@localhost<\/admin><host>/)
  const doc = parser.parse(xml).icestats
  assert.equal(doc.listeners, '3')
  assert.equal(doc.source[0]['@mount'], '/a&b')
  assert.equal(doc.source[0].title, 'x < y & "z"')
  assert.equal(doc.source[0].total_bytes_sent, '2500')
})

test('listmounts, listclients and iceresponse as Icecast names their elements', () => {
  const mounts = parser.parse(listmountsXml([statusFixture(), statusFixture({ localMount: '/idle', connectedSince: null, contentType: null })],
    Date.parse('2026-01-02T03:04:15.000Z'))).icestats.source
  assert.deepEqual(mounts, [
    { '@mount': '/live.mp3', listeners: '3', Connected: '10', 'content-type': 'audio/mpeg' },
    { '@mount': '/idle', listeners: '3' }
  ])
  const clients = parser.parse(listclientsXml('/live.mp3', [
    { id: 4, ip: '127.0.0.1', userAgent: 'mpg123/1.31', connectedSeconds: 12 },
    { id: 9, ip: '::1', userAgent: '', connectedSeconds: 0 }
  ])).icestats.source[0]
  assert.equal(clients['@mount'], '/live.mp3')
  assert.equal(clients.Listeners, '2')
  assert.deepEqual(clients.listener, [
    { IP: '127.0.0.1', UserAgent: 'mpg123/1.31', Connected: '12', ID: '4' },
    { IP: '::1', UserAgent: 'Unknown', Connected: '0', ID: '9' }
  ])
  assert.equal(iceresponseXml('Client 3 removed', true), '<?xml version="1.0"?>\n<iceresponse><message>Client 3 removed</message><return>1</return></iceresponse>\n')
  assert.match(iceresponseXml('No such action', false), /<return>0<\/return>/)
})

test('an Ogg stream\'s codec gives Icecast\'s subtype and audio_* stats; the frames give a bitrate when no header does', () => {
  const ogg = sourceStats(statusFixture({
    contentType: 'application/ogg',
    headers: {},
    stream: { name: null, genre: null, description: null, url: null, bitrate: null, public: null },
    audio: { codec: 'vorbis', bitrate: 112, sampleRate: 44100, channels: 2 }
  }), 'http://x/live.ogg')
  assert.equal(ogg['subtype'], 'Vorbis')
  assert.equal(ogg['audio_bitrate'], 112000)
  assert.equal(ogg['audio_samplerate'], 44100)
  assert.equal(ogg['audio_channels'], 2)
  assert.equal(ogg['bitrate'], 112)
  const mp3 = sourceStats(statusFixture({ headers: {}, stream: { name: null, genre: null, description: null, url: null, bitrate: null, public: null } }), 'http://x/')
  assert.equal(mp3['subtype'], undefined)
  assert.equal(mp3['bitrate'], 128)
})

// Many machines
test("a master's totals: its own listeners stay Icecast's `listeners`, the slaves' beside them, relay connections apart", () => {
  const slave = { key: 'a:1', host: 'a', port: 1, scheme: null, address: '127.0.0.1', registeredAt: '', lastPollAt: '', expiresAt: '', sent: 0 }
  const network = networkListeners([
    { ...slave, listeners: 5, capacity: 10, mounts: { '/radio/live.mp3': 4, '/radio/other.ogg': 1, '/elsewhere/live.mp3': 9 } },
    { ...slave, key: 'b:1', listeners: 2, capacity: 10, mounts: { '/radio/live.mp3': 2 } },
    { ...slave, key: 'c:1', listeners: null, capacity: null, mounts: {} }
  ], '/radio')
  assert.deepEqual(network, { byMount: new Map([['/live.mp3', 6], ['/other.ogg', 1]]), total: 7, slaves: 3 })
  const stats = sourceStats(statusFixture({ listeners: 3, relays: 2 }), 'http://x/live.mp3', network)
  assert.equal(stats['listeners'], 3)
  assert.equal(stats['slave_listeners'], 6)
  assert.equal(stats['cluster_listeners'], 9)
  assert.equal(stats['relay_connections'], 2)
  assert.equal(networkListeners([], '/radio'), undefined)
  assert.equal(sourceStats(statusFixture(), 'http://x/')['cluster_listeners'], undefined, 'no slave, no network fields')
})
