// The plugin as a slave of icecast-kh: kh is fed by ezstream, the app's `master` points at it with kh's
// relay credentials. The app mirrors kh's mounts as they come and go, and serves audio mpg123 decodes.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import { startIcecastKh } from '../../helpers/icecast-kh.js'
import {
  assertPlaysTracks, assertTools, httpGet, makeFixtures, startSource,
  type Fixtures, type Icecast, type Source
} from '../../helpers/icecast.js'

/** the app polls every second; what a change may take to reach it on a loaded machine */
const ONE_TIER_MS = 10_000

let fixtures: Fixtures
let kh: Icecast
const sources = new Map<string, Source>()
let app: RelayApp

async function startMount (mount: string, format: 'mp3' | 'ogg' = 'mp3'): Promise<void> {
  const files = format === 'mp3' ? fixtures.mp3.tracks : fixtures.vorbis.tracks
  sources.set(mount, await startSource({ icecast: kh, mount, files, format, name: `kh ${mount}` }))
}

before(async () => {
  assertTools('ezstream', 'mpg123')
  fixtures = await makeFixtures()
  kh = await startIcecastKh()
  await startMount('/from-kh.mp3')
  app = await relayApp({ master: { server: kh.host, port: kh.port, username: kh.relayUser, password: kh.relayPassword, updateInterval: 1 } })
})

after(async () => {
  await app?.app.close()
  await Promise.all([...sources.values()].map((source) => source.stop()))
  await kh?.stop()
})

test('the app as a slave of icecast-kh mirrors its mount, with its stream name, and serves audio mpg123 decodes', async () => {
  await waitForState(app.app, '/from-kh.mp3', 'live', ONE_TIER_MS)
  assert.equal(app.app.relay.get('/from-kh.mp3')!.stream.name, 'kh /from-kh.mp3')
  await assertPlaysTracks(app.url('/from-kh.mp3'), 'from kh')
})

test('a mount started on icecast-kh reaches the app; stopped, it leaves the app', async () => {
  await startMount('/from-kh.ogg', 'ogg')
  await waitForState(app.app, '/from-kh.ogg', 'live', ONE_TIER_MS)
  assert.match(app.app.relay.get('/from-kh.ogg')!.contentType ?? '', /ogg/)
  await sources.get('/from-kh.ogg')!.stop()
  sources.delete('/from-kh.ogg')
  await waitUntil(() => app.app.relay.get('/from-kh.ogg') === undefined, ONE_TIER_MS, '/from-kh.ogg to leave the app')
  assert.equal((await httpGet(app.url('/from-kh.ogg'))).status, 404)
  assert.equal(app.app.relay.get('/from-kh.mp3')?.state, 'live')
})
