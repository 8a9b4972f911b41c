import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import {
  assertTools, makeFixtures, openListener, runMpg123, runOgginfo, startIcecast, startSource,
  type Fixtures, type Icecast, type Source
} from '../../helpers/icecast.js'

let fixtures: Fixtures
let icecast: Icecast
let sources: Source[] = []
const apps: RelayApp[] = []

async function startSources (): Promise<void> {
  sources = await Promise.all([
    startSource({ icecast, mount: '/f.mp3', files: [fixtures.mp3.long], format: 'mp3' }),
    startSource({ icecast, mount: '/f.ogg', files: [fixtures.vorbis.long], format: 'ogg' })
  ])
}

async function stopSources (): Promise<void> {
  await Promise.all(sources.map((s) => s.stop()))
  sources = []
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123', 'ogginfo')
  fixtures = await makeFixtures()
  icecast = await startIcecast()
  await startSources()
})

after(async () => {
  await Promise.all(apps.map((a) => a.app.close()))
  await stopSources()
  await icecast?.stop()
})

test('the master\'s source stops and returns within the grace period: listeners stay and decode again; past a shorter grace they are ended cleanly', async () => {
  const relays = [
    { server: icecast.host, port: icecast.port, mount: '/f.mp3' },
    { server: icecast.host, port: icecast.port, mount: '/f.ogg' }
  ]
  const patient = await relayApp({ relays, limits: { gracePeriod: 8 } })
  const hasty = await relayApp({ relays: [relays[0]!], limits: { gracePeriod: 1 } })
  apps.push(patient, hasty)
  await Promise.all([
    waitForState(patient.app, '/f.mp3', 'live'), waitForState(patient.app, '/f.ogg', 'live'), waitForState(hasty.app, '/f.mp3', 'live')
  ])
  const mp3 = openListener(patient.url('/f.mp3'))
  const ogg = openListener(patient.url('/f.ogg'))
  const gone = openListener(hasty.url('/f.mp3'))
  await Promise.all([mp3.waitForBytes(40000), ogg.waitForBytes(20000), gone.head])

  await stopSources()
  await waitForState(patient.app, '/f.mp3', 'retrying', 15000)
  const stoppedAt = Date.now()
  await gone.ended
  assert.ok(Date.now() - stoppedAt < 4000, 'the hasty relay ended its listener after its grace')
  const before = { mp3: mp3.received().length, ogg: ogg.received().length }
  await startSources()
  await Promise.all([waitForState(patient.app, '/f.mp3', 'live', 10000), waitForState(patient.app, '/f.ogg', 'live', 10000)])
  await Promise.all([mp3.waitForBytes(before.mp3 + 80000, 15000), ogg.waitForBytes(before.ogg + 30000, 15000)])
  const [mp3Result, oggResult] = await Promise.all([mp3.close(), ogg.close()])
  assert.equal(mp3Result.ended, false)
  assert.equal(oggResult.ended, false)

  const decoded = await runMpg123(mp3Result.body, { icy: false })
  assert.ok(decoded.ok && decoded.problems.length === 0, decoded.problems.join('\n') + decoded.stderr)
  const info = await runOgginfo(oggResult.body, {
    allowMidStreamJoin: true,
    allow: [/EOS not set on stream 1/, /illegally placed page\(s\) for logical stream 2/, /new stream before EOS/]
  })
  assert.ok(info.ok, info.output)
  assert.ok(info.streams.length >= 2, 'the new stream\'s headers reached the listener')
  assert.ok(patient.app.relay.get('/f.mp3')!.reconnects >= 1)

  await waitForState(hasty.app, '/f.mp3', 'live', 10000)
  assert.ok(hasty.app.relay.get('/f.mp3')!.reconnects >= 1, 'the hasty relay came back too')
})

test('the master process is killed and restarted: the poller recovers and no relay is lost for good', async () => {
  const mirror = await relayApp({
    master: { server: icecast.host, port: icecast.port, password: icecast.relayPassword, username: icecast.relayUser, updateInterval: 1 },
    limits: { gracePeriod: 2 }
  })
  apps.push(mirror)
  await waitUntil(() => mirror.app.relay.get('/f.mp3')?.state === 'live' && mirror.app.relay.get('/f.ogg')?.state === 'live', 10000, 'mirrored mounts')

  const port = icecast.port
  await icecast.stop({ signal: 'SIGKILL' })
  await stopSources()
  await waitUntil(() => mirror.app.relay.masters()[0]!.failures > 0, 10000, 'a failed poll')
  assert.deepEqual(mirror.app.relay.list().map((s) => s.localMount).sort(), ['/f.mp3', '/f.ogg'], 'relays kept while the master is away')
  assert.notEqual(mirror.app.relay.get('/f.mp3')!.state, 'live')

  icecast = await startIcecast({ port, relayPassword: icecast.relayPassword, relayUser: icecast.relayUser })
  await startSources()
  await waitUntil(() => mirror.app.relay.get('/f.mp3')?.state === 'live' && mirror.app.relay.get('/f.ogg')?.state === 'live', 20000, 'mounts live again')
  const master = mirror.app.relay.masters()[0]!
  await waitUntil(() => mirror.app.relay.masters()[0]!.lastError === null, 5000, 'a good poll')
  assert.ok(master.failures > 0)
  const listener = openListener(mirror.url('/f.mp3'))
  assert.equal((await listener.head).status, 200)
  await listener.waitForBytes(20000)
  await listener.close()
})
