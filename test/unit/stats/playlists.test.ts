import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { isLocalMount, MOUNT_PATTERN } from '../../../lib/options.js'
import { listenUrl } from '../../../lib/stats/icestats.js'
import { m3uPlaylist, playlistPath, plsPlaylist, webUrl, xspfPlaylist, type PlaylistEntry } from '../../../lib/stats/playlists.js'
import { statusFixture } from '../../helpers/admin.js'
import { slaveUrls } from '../../../lib/stats/plugin.js'
import type { SlaveStatus } from '../../../lib/index.js'

const xspf = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, trimValues: false, processEntities: true, htmlEntities: false })

const mount = fc.stringMatching(new RegExp(MOUNT_PATTERN)).filter((m) => m.length <= 200 && isLocalMount(m))
/** Text an upstream may send as a title or a stream name: anything, line breaks and control characters too. */
const hostileText = fc.string({ unit: 'binary', maxLength: 80 })
/** What the playlist keeps of a text: one line, of characters XML can hold. */
const kept = (text: string): string => text.replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/[\ufffe\uffff]/g, '') // eslint-disable-line no-control-regex

function entry (localMount: string, overrides: Parameters<typeof statusFixture>[0] = {}): PlaylistEntry {
  return { url: listenUrl('http://relay.example:8000/radio', localMount), serverId: 'fastify-icecast-relay', status: statusFixture({ localMount, ...overrides }) }
}

test('a playlist path names its mount and format, its extension case-sensitive as in Icecast', () => {
  assert.deepEqual(playlistPath('/live.mp3.m3u'), { mount: '/live.mp3', format: 'm3u' })
  assert.deepEqual(playlistPath('/a/b.pls'), { mount: '/a/b', format: 'pls' })
  assert.deepEqual(playlistPath('/live.xspf'), { mount: '/live', format: 'xspf' })
  for (const path of ['/live.M3U', '/live.mp3', '/live', '/m3u', '/live.m3u8', '/live.toString', '/live.__proto__', '/live.constructor']) {
    assert.equal(playlistPath(path), undefined, path)
  }
  fc.assert(fc.property(mount, fc.constantFrom('m3u', 'pls', 'xspf'), (m, format) => {
    assert.deepEqual(playlistPath(`${m}.${format}`), { mount: m, format })
  }))
})

test('.m3u: the listen URL alone, as Icecast 2.4.4 answers it', () => {
  assert.equal(m3uPlaylist(entry('/live.mp3')), 'http://relay.example:8000/radio/live.mp3\r\n')
  fc.assert(fc.property(mount, (m) => {
    const text = m3uPlaylist(entry(m))
    assert.match(text, /^http:\/\/relay\.example:8000\/radio\/[\x21-\x7e]*\r\n$/, 'one line of URL characters')
    assert.equal(decodeURI(new URL(text.trim()).pathname), `/radio${m}`, 'the URL leads to the mount')
  }))
})

test('.pls: one entry, the stream name as its title on one line whatever the upstream sent', () => {
  assert.equal(plsPlaylist(entry('/live.mp3')),
    '[playlist]\nNumberOfEntries=1\nFile1=http://relay.example:8000/radio/live.mp3\nTitle1=Master MP3\nLength1=-1\nVersion=2\n')
  const unnamed = entry('/live.mp3', { stream: { ...statusFixture().stream, name: null } })
  assert.match(plsPlaylist(unnamed), /^Title1=\/live\.mp3$/m)
  fc.assert(fc.property(mount, hostileText, (m, name) => {
    const lines = plsPlaylist(entry(m, { stream: { ...statusFixture().stream, name } })).split('\n')
    assert.equal(lines.length, 7)
    assert.deepEqual([lines[0], lines[1], lines[4], lines[5], lines[6]], ['[playlist]', 'NumberOfEntries=1', 'Length1=-1', 'Version=2', ''])
    assert.equal(lines[2], `File1=${listenUrl('http://relay.example:8000/radio', m)}`)
    assert.ok(lines[3]!.startsWith('Title1='))
    assert.doesNotMatch(lines[3]!, /[\x00-\x1f\x7f]/) // eslint-disable-line no-control-regex
  }))
})

test('.xspf: Icecast\'s track with the listen URL, title, artist and what the stream is; hostile text stays text', () => {
  const ogg = entry('/live.ogg', {
    contentType: 'application/ogg',
    metadata: { fields: { TITLE: 'Song', ARTIST: 'Band' }, source: 'vorbis', updatedAt: '' }
  })
  assert.equal(xspfPlaylist(ogg), `<?xml version="1.0" encoding="UTF-8"?>
<playlist version="1" xmlns="http://xspf.org/ns/0/">
  <title>fastify-icecast-relay</title>
  <creator>fastify-icecast-relay</creator>
  <trackList>
    <track>
      <location>http://relay.example:8000/radio/live.ogg</location>
      <creator>Band</creator>
      <title>Song</title>
      <annotation>Stream Title: Master MP3
Stream Description: Desc
Content Type: application/ogg
Bitrate: 128
Stream Genre: Test</annotation>
      <info>http://example.org/</info>
    </track>
  </trackList>
</playlist>
`)
  fc.assert(fc.property(mount, hostileText, hostileText, hostileText, (m, title, name, url) => {
    const text = xspfPlaylist(entry(m, {
      metadata: { title, fields: {}, source: 'manual', updatedAt: '' },
      stream: { ...statusFixture().stream, name, url }
    }))
    assert.equal(XMLValidator.validate(text), true)
    const track = xspf.parse(text).playlist.trackList.track
    assert.equal(track.location, listenUrl('http://relay.example:8000/radio', m))
    assert.equal(track.title ?? '', kept(title))
    assert.equal(String(track.annotation).split('\n')[0], `Stream Title: ${kept(name)}`)
    assert.equal(track.info, webUrl(url))
  }))
})

test('a web URL is http or https, never a script', () => {
  assert.equal(webUrl('https://example.org/a?b'), 'https://example.org/a?b')
  for (const url of [null, 'javascript:alert(1)', 'data:text/html,x', 'example.org', 'ftp://example.org/']) assert.equal(webUrl(url), undefined, String(url))
})

// Many machines
test("the registered slaves' URLs follow the master's in every playlist, so players fail over down the list", () => {
  const base = statusFixture()
  const status = { ...base, stream: { ...base.stream, name: 'Net' } }
  const entry = { url: 'http://m:8000/live.mp3', mirrors: ['http://s1:8001/live.mp3', 'https://s2:8443/live.mp3'], serverId: 'x', status }
  assert.equal(m3uPlaylist(entry), 'http://m:8000/live.mp3\r\nhttp://s1:8001/live.mp3\r\nhttps://s2:8443/live.mp3\r\n')
  assert.equal(plsPlaylist(entry), ['[playlist]', 'NumberOfEntries=3',
    'File1=http://m:8000/live.mp3', 'Title1=Net', 'Length1=-1',
    'File2=http://s1:8001/live.mp3', 'Title2=Net', 'Length2=-1',
    'File3=https://s2:8443/live.mp3', 'Title3=Net', 'Length3=-1', 'Version=2', ''].join('\n'))
  const tracks = xspf.parse(xspfPlaylist(entry)).playlist.trackList.track
  assert.deepEqual(tracks.map((track: { location: string }) => track.location), [entry.url, ...entry.mirrors])
})

test('a slave is listed for the mounts it reports; one that reports nothing (icecast-kh) for every mount', () => {
  const slave: SlaveStatus = { key: 'a:1', host: 'a', port: 1, scheme: null, listeners: null, capacity: null, mounts: {}, address: '127.0.0.1', registeredAt: '', lastPollAt: '', expiresAt: '', sent: 0 }
  const slaves: SlaveStatus[] = [
    { ...slave, listeners: 0, capacity: 10, mounts: { '/r/live.mp3': 0 } },
    { ...slave, host: 'b', listeners: 0, capacity: 10, mounts: {} },
    { ...slave, host: '[::1]', scheme: 'https' as const, listeners: null, capacity: null, mounts: {} }
  ]
  assert.deepEqual(slaveUrls(slaves, 'http', '/r/live.mp3'), ['http://a:1/r/live.mp3', 'https://[::1]:1/r/live.mp3'])
})
