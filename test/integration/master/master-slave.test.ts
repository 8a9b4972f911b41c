// Relay trees: Icecast 2 (ezstream sources) → the plugin (a slave of it, and a master with relayAuth) →
// both a real Icecast 2 configured as its slave and another app with this plugin. Mounts and audio
// travel down every branch, and a source started or stopped at the top is followed at the bottom.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import {
  assertPlaysTracks, assertTools, httpGet, makeFixtures, startIcecast, startSource,
  type Fixtures, type Icecast, type Source
} from '../../helpers/icecast.js'

const RELAY_PASSWORD = 'mid-relay-secret'
/** Polls every second at each tier; this is what a change may take to cross two tiers on a loaded machine. */
const TWO_TIERS_MS = 12_000

let fixtures: Fixtures
let top: Icecast
const sources = new Map<string, Source>()
let mid: RelayApp
let icecastSlave: Icecast
let pluginSlave: RelayApp

async function startMount (mount: string): Promise<void> {
  sources.set(mount, await startSource({ icecast: top, mount, files: fixtures.mp3.tracks, format: 'mp3', name: `Top ${mount}` }))
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123')
  fixtures = await makeFixtures()
  top = await startIcecast()
  await startMount('/tree.mp3')
  mid = await relayApp({
    master: { server: top.host, port: top.port, password: top.relayPassword, updateInterval: 1 },
    relayAuth: { password: RELAY_PASSWORD }
  })
  const midPort = Number(new URL(mid.base).port)
  await waitForState(mid.app, '/tree.mp3', 'live')
  ;[icecastSlave, pluginSlave] = await Promise.all([
    startIcecast({
      extraXml: `<master-server>127.0.0.1</master-server><master-server-port>${midPort}</master-server-port>` +
        '<master-update-interval>1</master-update-interval><master-username>relay</master-username>' +
        `<master-password>${RELAY_PASSWORD}</master-password>`
    }),
    relayApp({ master: { server: '127.0.0.1', port: midPort, password: RELAY_PASSWORD, updateInterval: 1 } })
  ])
})

after(async () => {
  await pluginSlave?.app.close()
  await icecastSlave?.stop()
  await mid?.app.close()
  await Promise.all([...sources.values()].map((source) => source.stop()))
  await top?.stop()
})

test('three tiers, Icecast → plugin → Icecast: the Icecast slave mirrors the plugin and serves audio mpg123 decodes', async () => {
  await icecastSlave.waitForMount('/tree.mp3', { timeoutMs: TWO_TIERS_MS })
  await assertPlaysTracks(icecastSlave.url('/tree.mp3'), 'through three tiers')
})

test('plugin → plugin: another app mirrors the plugin\'s mounts and serves the same audio', async () => {
  await waitForState(pluginSlave.app, '/tree.mp3', 'live', TWO_TIERS_MS)
  assert.equal(pluginSlave.app.relay.get('/tree.mp3')!.stream.name, 'Top /tree.mp3')
  await assertPlaysTracks(pluginSlave.url('/tree.mp3'), 'through three tiers')
})

test('a source started at the top reaches both bottoms; stopped, it leaves both', async () => {
  await startMount('/new.mp3')
  await Promise.all([
    icecastSlave.waitForMount('/new.mp3', { timeoutMs: TWO_TIERS_MS }),
    waitForState(pluginSlave.app, '/new.mp3', 'live', TWO_TIERS_MS)
  ])
  await sources.get('/new.mp3')!.stop()
  sources.delete('/new.mp3')
  await Promise.all([
    icecastSlave.waitForMount('/new.mp3', { timeoutMs: TWO_TIERS_MS, gone: true }),
    waitUntil(() => pluginSlave.app.relay.get('/new.mp3') === undefined, TWO_TIERS_MS, '/new.mp3 to leave the bottom app')
  ])
  assert.equal(mid.app.relay.get('/new.mp3'), undefined)
  assert.equal((await httpGet(pluginSlave.url('/new.mp3'))).status, 404)
  assert.ok(pluginSlave.app.relay.get('/tree.mp3') !== undefined)
})
