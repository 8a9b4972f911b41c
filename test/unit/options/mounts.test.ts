import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { resolveOptions, resolveRelay, withMountSettings, type MountSettings } from '../../../lib/options.js'
import { overriddenStreamHeaders, streamHeaders, streamInfo } from '../../../lib/mount/headers.js'
import { relayApp, waitForState } from '../../helpers/app.js'
import { fakeMaster } from '../../helpers/fake-master.js'
import { openListener } from '../../helpers/listen.js'
import { scriptedUpstream } from '../../helpers/scripted.js'

function refused (options: unknown, field: string, reason: RegExp): void {
  assert.throws(() => resolveOptions(options), (error: Error & { code?: string, field?: string, reason?: string }) => {
    assert.equal(error.code, 'FST_ICECAST_RELAY_INVALID_OPTION')
    assert.equal(error.field, field)
    assert.match(error.reason!, reason)
    return true
  }, field)
}

test('per-mount settings: every one is a relay option and a mounts/mountDefaults option, checked with the field named', () => {
  const settings: MountSettings = {
    maxListeners: 3,
    maxListenerDuration: 3600,
    hidden: true,
    public: false,
    streamName: 'Name',
    streamDescription: 'Description',
    streamUrl: 'https://radio.example/',
    genre: 'Jazz',
    burstSize: 8192,
    metaint: 8192,
    charset: 'iso-8859-2'
  }
  const resolved = resolveOptions({ relays: [{ url: 'http://127.0.0.1:1/a', ...settings }], mounts: { '/b': settings }, mountDefaults: settings })
  assert.deepEqual(resolved.relays[0], { ...resolveRelay({ url: 'http://127.0.0.1:1/a' }, 'relay', 'options'), ...settings })
  assert.deepEqual(resolved.mountSettings, { byMount: new Map([['/b', settings]]), defaults: settings })

  refused({ mounts: { live: {} } }, 'mounts["live"]', /not a local mount/)
  refused({ mounts: { '/a/../b': {} } }, 'mounts["/a/../b"]', /not a local mount/)
  refused({ mounts: { '/a': { hidden: 'yes' } } }, 'mounts["/a"].hidden', /boolean/)
  refused({ mounts: { '/a': { colour: 'red' } } }, 'mounts["/a"].colour', /Unexpected property/)
  refused({ mounts: { '/a': { charset: 'utf-16le' } } }, 'mounts["/a"].charset', /not an ASCII-compatible encoding/)
  refused({ mounts: [] }, 'mounts', /object/)
  refused({ mounts: JSON.parse('{"__proto__": {"hidden": true}}') }, 'mounts["__proto__"]', /not a local mount/)
  refused({ mountDefaults: { burstSize: -1 } }, 'mountDefaults.burstSize', /greater or equal to 0/)
  refused({ mountDefaults: { maxListenerDuration: 0 } }, 'mountDefaults.maxListenerDuration', /greater than 0/)
  // header values: a line break would let a setting write headers of its own into every listener's answer
  refused({ relays: [{ url: 'http://127.0.0.1:1/a', streamName: 'x\r\nSet-Cookie: a=b' }] }, 'relays[0].streamName', /to match/)
  refused({ mounts: { '/a': { genre: 'x\ny' } } }, 'mounts["/a"].genre', /to match/)
  refused({ relays: [{ url: 'http://127.0.0.1:1/a', streamUrl: 'u'.repeat(1025) }] }, 'relays[0].streamUrl', /length/)
})

const SETTING = fc.record({
  maxListeners: fc.nat(),
  hidden: fc.boolean(),
  public: fc.boolean(),
  streamName: fc.string(),
  burstSize: fc.nat(16_777_216)
}, { requiredKeys: [] })

test('a relay takes each setting from itself, else its mount\'s entry, else mountDefaults; other mounts\' never', () => {
  const own = resolveRelay({ url: 'http://127.0.0.1:1/a' })
  fc.assert(fc.property(SETTING, SETTING, SETTING, SETTING, (relaySettings, mount, other, defaults) => {
    const def = { ...own, ...relaySettings }
    const got = withMountSettings(def, { byMount: new Map([['/a', mount], ['/other', other]]), defaults })
    for (const key of ['maxListeners', 'hidden', 'public', 'streamName', 'burstSize'] as const) {
      assert.equal(got[key], relaySettings[key] ?? mount[key] ?? defaults[key], key)
    }
    assert.deepEqual(got.upstreams, own.upstreams)
    assert.equal(got.localMount, '/a')
  }))
})

test('stream overrides: the headers given replace the upstream\'s in whatever family it sent them; the rest pass on', () => {
  const upstream = { 'ice-name': 'Upstream', 'icy-genre': 'Rock', 'x-audiocast-url': 'http://up/', 'icy-br': '128', 'ice-public': '1' }
  const headers = overriddenStreamHeaders(streamHeaders(upstream), { streamName: 'Ünïcode ☕', genre: 'Jazz', public: false })
  assert.deepEqual(headers, {
    'icy-genre': 'Jazz', 'icy-br': '128', 'icy-name': Buffer.from('Ünïcode ☕').toString('latin1'), 'icy-url': 'http://up/', 'icy-pub': '0'
  })
  assert.deepEqual(streamInfo(headers), { name: 'Ünïcode ☕', genre: 'Jazz', description: null, url: 'http://up/', bitrate: 128, public: false })
  // a header the upstream did not send at all is given
  assert.equal(overriddenStreamHeaders({}, { streamDescription: 'About' })['icy-description'], 'About')
  assert.deepEqual(overriddenStreamHeaders(streamHeaders(upstream), {}), streamHeaders(upstream))
  fc.assert(fc.property(fc.string(), fc.string(), (name, url) => {
    const info = streamInfo(overriddenStreamHeaders(streamHeaders(upstream), { streamName: name, streamUrl: url }))
    return info.name === name && info.url === url
  }))
})

test('mounts applies to a relay of that name however it comes: options, app.relay.add, a master\'s list', async (t) => {
  const upstream = await scriptedUpstream({ headers: { 'icy-name': 'Upstream' } })
  const master = await fakeMaster({ body: '/m.mp3\r\n' })
  master.mounts.add('/m.mp3')
  const { app, url } = await relayApp({
    relays: [{ url: upstream.url(), localMount: '/o.mp3' }],
    master: { server: '127.0.0.1', port: master.port, password: 'p', updateInterval: 60 },
    mounts: {
      '/o.mp3': { streamName: 'From options' },
      '/a.mp3': { streamName: 'From the API', hidden: true },
      '/m.mp3': { streamName: 'From the master', maxListeners: 7 }
    },
    mountDefaults: { genre: 'Default genre' }
  })
  t.after(async () => { await app.close(); await upstream.close(); await master.close() })
  app.relay.add({ url: upstream.url(), localMount: '/a.mp3', streamName: 'Its own' })
  await waitForState(app, '/m.mp3', 'live')
  await waitForState(app, '/o.mp3', 'live')
  await waitForState(app, '/a.mp3', 'live')
  assert.equal(app.relay.get('/o.mp3')!.stream.name, 'From options')
  assert.equal(app.relay.get('/a.mp3')!.stream.name, 'Its own', 'a relay\'s own setting wins')
  assert.equal(app.relay.get('/a.mp3')!.hidden, true)
  assert.equal(app.relay.get('/m.mp3')!.stream.name, 'From the master')
  assert.equal(app.relay.get('/m.mp3')!.maxListeners, 7)
  for (const mount of ['/o.mp3', '/a.mp3', '/m.mp3']) assert.equal(app.relay.get(mount)!.stream.genre, 'Default genre')
  const listener = openListener(url('/o.mp3'))
  const head = await listener.head
  await listener.close()
  assert.equal(head.headers['icy-name'], 'From options')
  assert.equal(head.headers['icy-genre'], 'Default genre')
})
