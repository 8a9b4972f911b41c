// icecast-kh as a slave of the plugin: kh's <master-server> points at an app that serves
// /admin/streamlist.txt (relayAuth), itself a slave of Debian's Icecast fed by ezstream. kh mirrors the
// app's mounts as they come and go, and serves audio mpg123 decodes. kh asks its own /admin/streams, which the
// app answers: kh never falls back to /admin/streamlist.txt (a warning and a second request at each poll).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, type RelayApp } from '../../helpers/app.js'
import { startIcecastKh } from '../../helpers/icecast-kh.js'
import {
  assertPlaysTracks, assertTools, makeFixtures, startIcecast, startSource,
  type Fixtures, type Icecast, type Source
} from '../../helpers/icecast.js'

const RELAY_PASSWORD = 'kh-slave-secret'
/** each tier polls every second; what a change may take to cross two tiers on a loaded machine */
const TWO_TIERS_MS = 15_000

let fixtures: Fixtures
let top: Icecast
const sources = new Map<string, Source>()
let app: RelayApp
let kh: Icecast
/** the stream list requests the app got, in order */
const listRequests: string[] = []

async function startMount (mount: string): Promise<void> {
  sources.set(mount, await startSource({ icecast: top, mount, files: fixtures.mp3.tracks, format: 'mp3', name: `Top ${mount}` }))
}

async function stopMount (mount: string): Promise<void> {
  await sources.get(mount)?.stop()
  sources.delete(mount)
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123')
  fixtures = await makeFixtures()
  top = await startIcecast()
  await startMount('/kh.mp3')
  app = await relayApp({
    master: { server: top.host, port: top.port, password: top.relayPassword, updateInterval: 1 },
    relayAuth: { password: RELAY_PASSWORD }
  }, (fastify) => {
    fastify.addHook('onRequest', async (request) => {
      if (request.url.startsWith('/admin/stream')) listRequests.push(request.url)
    })
  })
  await waitForState(app.app, '/kh.mp3', 'live')
  const appPort = Number(new URL(app.base).port)
  // on an address of its own, as on another machine
  kh = await startIcecastKh({
    host: '127.0.0.2',
    extraXml: `<master-server>127.0.0.1</master-server><master-server-port>${appPort}</master-server-port>` +
      '<master-update-interval>2</master-update-interval><master-username>relay</master-username>' +
      `<master-password>${RELAY_PASSWORD}</master-password>`
  })
})

after(async () => {
  await kh?.stop()
  await app?.app.close()
  await Promise.all([...sources.values()].map((source) => source.stop()))
  await top?.stop()
})

test('icecast-kh as a slave of the app mirrors its mount and serves audio mpg123 decodes, titles included', async () => {
  await kh.waitForMount('/kh.mp3', { timeoutMs: TWO_TIERS_MS })
  await assertPlaysTracks(kh.url('/kh.mp3'), 'through kh')
})

test('a mount started behind the app reaches icecast-kh; stopped, it leaves kh too', async () => {
  await startMount('/kh-new.mp3')
  await kh.waitForMount('/kh-new.mp3', { timeoutMs: TWO_TIERS_MS })
  await stopMount('/kh-new.mp3')
  await kh.waitForMount('/kh-new.mp3', { timeoutMs: TWO_TIERS_MS, gone: true })
  assert.ok((await kh.sources()).some((source) => source.mount === '/kh.mp3'), 'the other mount stays')
})

test('icecast-kh asks the app its own /admin/streams at every poll and never falls back to /admin/streamlist.txt', async () => {
  await startMount('/kh-a.mp3')
  await startMount('/kh-b.mp3')
  for (const mount of ['/kh.mp3', '/kh-a.mp3', '/kh-b.mp3']) await kh.waitForMount(mount, { timeoutMs: TWO_TIERS_MS })
  assert.ok(listRequests.length >= 3, `kh polled: ${listRequests.join(' ')}`)
  assert.deepEqual([...new Set(listRequests)], ['/admin/streams'])
  assert.doesNotMatch(kh.logs(), /failed trying streamlist|Failed response from master/)
  await Promise.all([stopMount('/kh-a.mp3'), stopMount('/kh-b.mp3')])
})

test("a kh <relay> of a kh master's slave path, /admin/streams?mount=, follows the app's 302 to the mount and plays", async () => {
  const appPort = Number(new URL(app.base).port)
  const relay = await startIcecastKh({
    host: '127.0.0.3',
    extraXml: `<relay><server>127.0.0.1</server><port>${appPort}</port><mount>/admin/streams?mount=/kh.mp3</mount>` +
      `<local-mount>/via-admin.mp3</local-mount><username>relay</username><password>${RELAY_PASSWORD}</password></relay>`
  })
  try {
    await relay.waitForMount('/via-admin.mp3', { timeoutMs: TWO_TIERS_MS })
    await assertPlaysTracks(relay.url('/via-admin.mp3'), 'through the redirect')
  } finally {
    await relay.stop()
  }
})

test('icecast-kh with a wrong relay password mirrors nothing, and the app stays up', async () => {
  const appPort = Number(new URL(app.base).port)
  const intruder = await startIcecastKh({
    extraXml: `<master-server>127.0.0.1</master-server><master-server-port>${appPort}</master-server-port>` +
      '<master-update-interval>2</master-update-interval><master-username>relay</master-username>' +
      // from an address of its own: the app's limit on failed credentials is per address
      '<master-password>not-the-secret</master-password><master-bind>127.0.0.3</master-bind>'
  })
  try {
    await assert.rejects(intruder.waitForMount('/kh.mp3', { timeoutMs: 4000 }), /to appear/)
    assert.match(intruder.logs(), /Failed response from master "HTTP\/1\.1 401/)
    assert.equal(app.app.relay.get('/kh.mp3')?.state, 'live')
  } finally {
    await intruder.stop()
  }
})
