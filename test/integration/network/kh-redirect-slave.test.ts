// icecast-kh as a redirect slave of the plugin: kh's <master-redirect> makes its stream list polls register
// it (`?rserver=&rport=&interval=`, kh's hostname and port) with the app, whose `redirect` option keeps it;
// a listener the full app would refuse gets a 302 to kh instead, and plays there.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, type RelayApp } from '../../helpers/app.js'
import { startIcecastKh } from '../../helpers/icecast-kh.js'
import {
  assertPlaysTracks, assertTools, makeFixtures, openListener, startIcecast, startSource, waitFor,
  type Icecast, type OpenListener, type Source
} from '../../helpers/icecast.js'

const RELAY_PASSWORD = 'kh-redirect-secret'
/** kh's shortest registration interval (a master ignores a shorter one) */
const INTERVAL = 5
/** the app's listeners: few, so that the test fills it */
const CLIENTS = 2
/** kh's address: another "machine" than the app's */
const KH_HOST = '127.0.0.2'

let top: Icecast
let source: Source
let app: RelayApp
let kh: Icecast
const holders: OpenListener[] = []

function khSlaveXml (appPort: number): string {
  return `<master-server>127.0.0.1</master-server><master-server-port>${appPort}</master-server-port>` +
    `<master-update-interval>${INTERVAL}</master-update-interval><master-username>relay</master-username>` +
    `<master-password>${RELAY_PASSWORD}</master-password><master-redirect>1</master-redirect>` +
    // its polls and relays leave from its own address, as from another machine: the app takes any request from
    // a registered slave's address for the slave's own, never redirected, and the test's listeners use 127.0.0.1
    `<master-bind>${KH_HOST}</master-bind>`
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123')
  const fixtures = await makeFixtures()
  top = await startIcecast()
  source = await startSource({ icecast: top, mount: '/r.mp3', files: fixtures.mp3.tracks, format: 'mp3' })
  app = await relayApp({
    master: { server: top.host, port: top.port, password: top.relayPassword, updateInterval: 1 },
    relayAuth: { password: RELAY_PASSWORD },
    redirect: {},
    limits: { clients: CLIENTS }
  })
  await waitForState(app.app, '/r.mp3', 'live')
  kh = await startIcecastKh({ host: KH_HOST, extraXml: khSlaveXml(Number(new URL(app.base).port)) })
  await kh.waitForMount('/r.mp3', { timeoutMs: 10_000 })
})

after(async () => {
  await Promise.all(holders.map((holder) => holder.close()))
  await kh?.stop()
  await app?.app.close()
  await source?.stop()
  await top?.stop()
})

/** Opens listeners of the app until it answers one otherwise than 200 (it takes at most CLIENTS); that answer. */
async function fillApp (): Promise<{ status: number, location: string | undefined }> {
  for (let i = 0; i <= CLIENTS; i++) {
    const listener = openListener(app.url('/r.mp3?from=test'))
    const head = await listener.head
    if (head.status !== 200) {
      await listener.close()
      return { status: head.status, location: head.headers.location }
    }
    holders.push(listener)
  }
  throw new Error(`the app took ${CLIENTS + 1} listeners with limits.clients ${CLIENTS}`)
}

test('a listener the full app would refuse is sent to the icecast-kh slave that registered, and plays there', async () => {
  assert.deepEqual(app.app.relay.slaves().map((slave) => slave.key), [`${KH_HOST}:${kh.port}`])
  const answer = await fillApp()
  assert.equal(answer.status, 302)
  assert.equal(answer.location, `http://${KH_HOST}:${kh.port}/r.mp3?from=test`)
  // mpg123 follows the app's 302 to kh by itself
  await assertPlaysTracks(app.url('/r.mp3'), 'through the redirect to kh')
  await waitFor(() => /"GET \/r\.mp3 HTTP\/1\.[01]" 200 .*mpg123/i.test(kh.accessLog()), { timeoutMs: 5000, message: () => `mpg123 in kh's access log:\n${kh.accessLog()}` })
})

test('once icecast-kh stops polling, the app forgets it after its expiry and refuses the listener it cannot take', async () => {
  await kh.stop()
  await waitFor(() => app.app.relay.slaves().length === 0, { timeoutMs: (INTERVAL + 15) * 1000, message: 'kh to expire' })
  // kh's relay connection is gone too: the app may take one listener more before it refuses
  assert.deepEqual(await fillApp(), { status: 403, location: undefined })
})
