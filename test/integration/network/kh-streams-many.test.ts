// icecast-kh's parser of a stream list (slave.c `streamlist_data`) reads it in curl's pieces, a line cut between
// two pieces joined again: a list of 2000 mounts from the app reaches kh whole through /admin/streams, with no
// fallback to /admin/streamlist.txt. On demand at both ends, so that no mount needs an upstream connection.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, type RelayApp } from '../../helpers/app.js'
import { startIcecastKh } from '../../helpers/icecast-kh.js'
import { waitFor, type Icecast } from '../../helpers/icecast.js'
import { scriptedUpstream, type ScriptedUpstream } from '../../helpers/scripted.js'

const RELAY_PASSWORD = 'kh-many-secret'
const COUNT = 2000
const mounts = Array.from({ length: COUNT }, (_, i) => `/many-${String(i).padStart(4, '0')}-${'m'.repeat(i % 90)}.mp3`)

let upstream: ScriptedUpstream
let app: RelayApp
let kh: Icecast

before(async () => {
  upstream = await scriptedUpstream()
  app = await relayApp({
    relays: mounts.map((localMount) => ({ url: upstream.url(localMount), localMount, onDemand: true })),
    relayAuth: { password: RELAY_PASSWORD }
  })
  kh = await startIcecastKh({
    host: '127.0.0.2',
    logLevel: 4,
    extraXml: `<master-server>127.0.0.1</master-server><master-server-port>${new URL(app.base).port}</master-server-port>` +
      '<master-update-interval>2</master-update-interval><master-username>relay</master-username>' +
      `<master-password>${RELAY_PASSWORD}</master-password><relays-on-demand>1</relays-on-demand>`
  })
})

after(async () => {
  await kh?.stop()
  await app?.app.close()
  await upstream?.close()
})

/** The mounts kh read from its master's lists so far (its debug log names each line). */
function readByKh (): Set<string> {
  return new Set([...kh.logs().matchAll(/read from master "([^"]+)"/g)].map((match) => match[1]!))
}

test(`icecast-kh reads all ${COUNT} mounts of the app's /admin/streams, and never falls back`, async () => {
  await waitFor(() => readByKh().size >= COUNT, { timeoutMs: 20_000, message: () => `kh to read ${COUNT} mounts; it read ${readByKh().size}` })
  assert.deepEqual([...readByKh()].sort(), [...mounts].sort())
  assert.doesNotMatch(kh.logs(), /failed trying streamlist|Failed response from master|long line received/)
})
