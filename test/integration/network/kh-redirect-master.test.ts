// The plugin as a redirect slave of icecast-kh: the app's master option `redirect` adds kh's registration
// (`?rserver=&rport=&interval=`) to its stream list polls; kh (<max-redirect-slaves>) keeps it and sends a
// listener of a full mount to the app, which mirrors the mount and serves it.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, type RelayApp } from '../../helpers/app.js'
import { startIcecastKh } from '../../helpers/icecast-kh.js'
import {
  assertPlaysTracks, assertTools, httpGet, makeFixtures, openListener, startSource,
  type Icecast, type OpenListener, type Source
} from '../../helpers/icecast.js'

/** kh ignores a registration whose interval is shorter */
const INTERVAL = 5

let kh: Icecast
let source: Source
let app: RelayApp
let holder: OpenListener | undefined

before(async () => {
  assertTools('ezstream', 'mpg123')
  const fixtures = await makeFixtures()
  // two places on the mount: the app's relay takes one (kh counts it as a listener), the test's holder the other
  kh = await startIcecastKh({
    extraXml: '<max-redirect-slaves>2</max-redirect-slaves><mount><mount-name>/m.mp3</mount-name><max-listeners>2</max-listeners></mount>'
  })
  source = await startSource({ icecast: kh, mount: '/m.mp3', files: fixtures.mp3.tracks, format: 'mp3' })
  app = await relayApp({
    master: { server: kh.host, port: kh.port, username: kh.relayUser, password: kh.relayPassword, updateInterval: INTERVAL, redirect: true }
  })
  await waitForState(app.app, '/m.mp3', 'live', 10_000)
})

after(async () => {
  await holder?.close()
  await app?.app.close()
  await source?.stop()
  await kh?.stop()
})

test('icecast-kh sends a listener of its full mount to the app that registered, and the app plays it', async () => {
  holder = openListener(kh.url('/m.mp3'))
  assert.equal((await holder.head).status, 200)
  const answer = await httpGet(kh.url('/m.mp3?from=test'))
  assert.equal(answer.status, 302, `kh answered ${answer.status}\n${kh.logs()}`)
  // kh writes the listener's protocol as the scheme: `HTTP://`
  assert.equal(answer.headers.location, `HTTP://127.0.0.1:${new URL(app.base).port}/m.mp3?from=test`)
  await assertPlaysTracks(new URL(String(answer.headers.location)).href, 'through kh\'s redirect to the app')
})

test('the app stays registered: past the 15 s kh forgets a silent slave in, kh still sends listeners to it', async () => {
  await new Promise((resolve) => setTimeout(resolve, (INTERVAL + 11) * 1000))
  const answer = await httpGet(kh.url('/m.mp3'))
  assert.equal(answer.status, 302, `kh answered ${answer.status}\n${kh.logs()}`)
  assert.equal(new URL(String(answer.headers.location)).port, new URL(app.base).port)
})
