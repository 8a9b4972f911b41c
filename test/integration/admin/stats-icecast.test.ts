// The stats against the real thing: a real Icecast 2 master with an ezstream source, relayed both by a
// real Icecast 2 slave (the reference) and by the plugin. Icecast's own /status-json.xsl of the slave says
// what ours must say; real listeners give exact counts; mpg123 prints a title set through /admin/metadata.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import {
  LONG_TAGS, assertTools, makeFixtures, openListener, runMpg123, startIcecast, startSource, waitFor,
  type Icecast, type IcecastSource, type OpenListener, type Source
} from '../../helpers/icecast.js'
import { ADMIN, adminGet } from '../../helpers/admin.js'

let master: Icecast
let slave: Icecast
let source: Source
let relay: RelayApp
const TITLE = `${LONG_TAGS.artist} - ${LONG_TAGS.title}`

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123')
  const fixtures = await makeFixtures()
  master = await startIcecast()
  // "Artist - Title" as one ICY StreamTitle, which Icecast does not split
  source = await startSource({
    icecast: master,
    mount: '/live.mp3',
    files: [fixtures.mp3.long],
    format: 'mp3',
    metadataFormat: '@a@ - @t@',
    name: 'Master MP3',
    genre: 'Test',
    description: 'A description',
    url: 'http://example.org/',
    bitrate: 128,
    samplerate: 44100,
    channels: 2
  })
  slave = await startIcecast({
    extraXml: `<relay><server>127.0.0.1</server><port>${master.port}</port><mount>/live.mp3</mount><local-mount>/relayed.mp3</local-mount></relay>`
  })
  relay = await relayApp({
    relays: [{ server: master.host, port: master.port, mount: '/live.mp3', localMount: '/relayed.mp3' }],
    admin: ADMIN,
    location: 'Relay test'
  })
  await waitForState(relay.app, '/relayed.mp3', 'live')
  await slave.waitForMount('/relayed.mp3', { timeoutMs: 10000 })
  await waitUntil(() => relay.app.relay.get('/relayed.mp3')!.metadata?.title === TITLE, 10000, 'the master\'s title')
  // the slave shows a title only from the first ICY block it reads, which can come later than ours
  await waitFor(async () => (await slaveSource())?.['title'] === TITLE, { timeoutMs: 10000, message: 'the slave\'s title' })
})

after(async () => {
  await relay?.app.close()
  await slave?.stop()
  await source?.stop()
  await master?.stop()
})

async function ourSource (): Promise<IcecastSource> {
  const { icestats } = JSON.parse((await adminGet(relay.url('/status-json.xsl'), { auth: null })).text)
  assert.equal(icestats.source.length, 1)
  return icestats.source[0]
}

async function slaveSource (): Promise<IcecastSource | undefined> {
  return (await slave.sources()).find((s) => s.mount === '/relayed.mp3')
}

test('the relayed mount\'s status JSON says what a real Icecast slave relaying the same mount says', async () => {
  const [ours, reference] = await Promise.all([ourSource(), slaveSource()])
  assert.ok(reference !== undefined, 'the slave relays the mount')
  const { dummy: _dummy, mount: _mount, ...icecast } = reference
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(icecast).sort(), 'the same values, by the same names')
  for (const key of ['server_name', 'server_description', 'server_type', 'server_url', 'genre', 'bitrate', 'audio_info', 'channels', 'samplerate', 'title']) {
    assert.deepEqual(ours[key], icecast[key], key)
  }
  assert.equal(ours['title'], TITLE, 'the ICY title whole')
  assert.equal(ours['artist'], undefined)
  assert.equal(ours.listenurl, relay.url('/relayed.mp3'))
  assert.match(String(ours['stream_start_iso8601']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$/)

  const { icestats } = JSON.parse((await adminGet(relay.url('/status-json.xsl'), { auth: null })).text)
  const real = await slave.status()
  assert.deepEqual(Object.keys(icestats).sort(), Object.keys(real.icestats).sort())
  assert.equal(icestats.location, 'Relay test')
})

test('listener counts are exact, as the slave\'s are, with plain and ICY listeners coming and going', async () => {
  const ours: OpenListener[] = []
  const theirs: OpenListener[] = []
  for (let i = 0; i < 4; i++) {
    ours.push(openListener(relay.url('/relayed.mp3'), { icy: i % 2 === 0 }))
    theirs.push(openListener(slave.url('/relayed.mp3'), { icy: i % 2 === 0 }))
  }
  await Promise.all([...ours, ...theirs].map((l) => l.head))
  const counts = async (): Promise<string> => {
    const [a, b] = await Promise.all([ourSource(), slaveSource()])
    return `${a.listeners}/${a['listener_peak']} ${b?.listeners}/${b?.['listener_peak']}`
  }
  await waitFor(async () => (await counts()) === '4/4 4/4', { timeoutMs: 5000, message: async () => `4 listeners on both: ${await counts()}` })
  await Promise.all([ours[0]!.close(), ours[1]!.close(), theirs[0]!.close(), theirs[1]!.close()])
  await waitFor(async () => (await counts()) === '2/4 2/4', { timeoutMs: 5000, message: 'two left, peak four' })
  const stats = JSON.parse((await adminGet(relay.url('/admin/stats'), { headers: { accept: 'application/json' } })).text).icestats
  assert.equal(stats.listeners, 2)
  assert.equal(stats.source[0].listeners, 2)
  await Promise.all([...ours.slice(2), ...theirs.slice(2)].map((l) => l.close()))
})

test('a title set through /admin/metadata reaches a real ICY client (mpg123) and the stats', async () => {
  const song = `Live from the relay ${Date.now()}`
  const set = await adminGet(relay.url(`/admin/metadata?mount=/relayed.mp3&mode=updinfo&song=${encodeURIComponent(song)}`))
  assert.equal(set.status, 200)
  const played = await runMpg123(relay.url('/relayed.mp3'), { ms: 4000 })
  assert.ok(played.problems.length === 0, played.problems.join('\n'))
  assert.ok(played.titles.includes(song), `mpg123 printed ${JSON.stringify(played.titles)}`)
  assert.equal((await ourSource())['title'], song)
})
