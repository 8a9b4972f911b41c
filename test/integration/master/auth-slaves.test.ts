// A master whose mounts ask listeners for an htpasswd login, mirrored anyway: Icecast 2 (ezstream source) → the
// plugin (its slave; a master with relayAuth and htpasswd listener auth) → a real Debian Icecast 2.4 slave,
// icecast-kh and another app with this plugin, each giving the relay credentials on its relay connection.
// The slaves' connections ask no listener auth and are relays, not listeners. Icecast 2.4.4's <master-server>
// relays send no credentials (its slave.c sets none on the relays a stream list brings): it mirrors with a
// <relay> that names them; kh's <master-server> sends them with <master-relay-auth>.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import { startIcecastKh } from '../../helpers/icecast-kh.js'
import {
  assertPlaysTracks, assertTools, httpGet, makeFixtures, makeTempDir, startIcecast, startSource,
  type Icecast, type Source
} from '../../helpers/icecast.js'
import { removeTempDir } from '../../helpers/procs.js'

const MOUNT = '/locked.mp3'
const RELAY_PASSWORD = 'locked-relay-secret'
/** each tier polls every second or two; what a mount may take to cross two tiers on a loaded machine */
const TWO_TIERS_MS = 15_000

let dir: string
let top: Icecast
let source: Source
let mid: RelayApp
let icecastSlave: Icecast
let khSlave: Icecast
let pluginSlave: RelayApp

/** kh's `<master-server>` pointing at the app, with its relay credentials sent on each relay connection too. */
function khSlaveXml (port: number): string {
  return `<master-server>127.0.0.1</master-server><master-server-port>${port}</master-server-port>` +
    '<master-update-interval>1</master-update-interval><master-username>relay</master-username>' +
    `<master-password>${RELAY_PASSWORD}</master-password><master-relay-auth>1</master-relay-auth>`
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123')
  const fixtures = await makeFixtures()
  dir = makeTempDir('auth-slaves-')
  const listeners = join(dir, 'listeners')
  writeFileSync(listeners, `ann:${createHash('md5').update('open-sesame').digest('hex')}\n`)
  top = await startIcecast()
  source = await startSource({ icecast: top, mount: MOUNT, files: fixtures.mp3.tracks, format: 'mp3', name: 'Locked' })
  mid = await relayApp({
    master: { server: top.host, port: top.port, password: top.relayPassword, updateInterval: 1 },
    relayAuth: { password: RELAY_PASSWORD },
    listenerAuth: { htpasswd: listeners }
  })
  await waitForState(mid.app, MOUNT, 'live')
  const midPort = Number(new URL(mid.base).port)
  ;[icecastSlave, khSlave, pluginSlave] = await Promise.all([
    startIcecast({
      host: '127.0.0.2',
      extraXml: `<relay><server>127.0.0.1</server><port>${midPort}</port><mount>${MOUNT}</mount>` +
        `<username>relay</username><password>${RELAY_PASSWORD}</password><relay-shoutcast-metadata>1</relay-shoutcast-metadata></relay>`
    }),
    startIcecastKh({ host: '127.0.0.3', extraXml: khSlaveXml(midPort) }),
    relayApp({ master: { server: '127.0.0.1', port: midPort, password: RELAY_PASSWORD, updateInterval: 1 } })
  ])
})

after(async () => {
  await pluginSlave?.app.close()
  await khSlave?.stop()
  await icecastSlave?.stop()
  await mid?.app.close()
  await source?.stop()
  await top?.stop()
  if (dir !== undefined) removeTempDir(dir)
})

test('the master\'s mount asks a plain listener for a login, and plays to ann\'s', async () => {
  const refused = await httpGet(mid.url(MOUNT))
  assert.equal(refused.status, 401)
  const port = new URL(mid.base).port
  await assertPlaysTracks(`http://ann:open-sesame@127.0.0.1:${port}${MOUNT}`, 'from the master')
})

test('a Debian Icecast 2.4 slave (a <relay> with the relay credentials) mirrors the htpasswd mount, and serves audio mpg123 decodes', async () => {
  await icecastSlave.waitForMount(MOUNT, { timeoutMs: TWO_TIERS_MS })
  await assertPlaysTracks(icecastSlave.url(MOUNT), 'through an Icecast 2 slave')
})

test('icecast-kh (<master-server> with <master-relay-auth>) mirrors the htpasswd mount, and serves audio mpg123 decodes', async () => {
  await khSlave.waitForMount(MOUNT, { timeoutMs: TWO_TIERS_MS })
  await assertPlaysTracks(khSlave.url(MOUNT), 'through an icecast-kh slave')
})

test('another app mirrors it with its master password, and serves the same audio', async () => {
  await waitForState(pluginSlave.app, MOUNT, 'live', TWO_TIERS_MS)
  await assertPlaysTracks(pluginSlave.url(MOUNT), 'through a plugin slave')
})

test('the three slaves\' connections are relays on the master, never listeners', async () => {
  await waitUntil(() => mid.app.relay.get(MOUNT)!.relays === 3, TWO_TIERS_MS, 'three relay connections')
  assert.equal(mid.app.relay.get(MOUNT)!.listeners, 0)
  const json = await (await fetch(mid.url('/status-json.xsl'))).json() as { icestats: { source: Array<{ listeners: number, relay_connections: number }> } }
  const [stats] = json.icestats.source
  assert.deepEqual([stats!.listeners, stats!.relay_connections], [0, 3])
})
