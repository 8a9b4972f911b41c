// The plugin as the slave of a real Icecast 2 master with several ezstream sources: every mount mirrored
// under its name, sources coming and going followed poll by poll, a refused poll changing nothing.
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import {
  assertTools, httpGet, makeFixtures, openListener, runMpg123, sleep, startIcecast, startSource, waitFor,
  type Fixtures, type Icecast, type Source
} from '../../helpers/icecast.js'

const INTERVAL = 1
/** What "by the next poll" may take on a loaded 2-core machine: the interval, the poll, the relay connecting. */
const NEXT_POLL_MS = INTERVAL * 1000 + 4000

let fixtures: Fixtures
let icecast: Icecast
const sources = new Map<string, Source>()
let slave: RelayApp

async function startMount (mount: string, format: 'mp3' | 'ogg' = 'mp3'): Promise<void> {
  const files = format === 'mp3' ? fixtures.mp3.tracks : [fixtures.vorbis.long]
  sources.set(mount, await startSource({ icecast, mount, files, format, name: `Master ${mount}` }))
}

/** Changes Icecast's `<relay-password>` and has it re-read its configuration (SIGHUP), as an admin would. */
async function changeRelayPassword (password: string): Promise<void> {
  const config = readFileSync(icecast.configFile, 'utf8')
  writeFileSync(icecast.configFile, config.replace(/<relay-password>[^<]*</, `<relay-password>${password}<`))
  process.kill(icecast.pid, 'SIGHUP')
  await waitFor(async () => (await httpGet(icecast.url('/admin/streamlist.txt'), {
    auth: { user: 'relay', password }
  })).status === 200, { message: 'Icecast to take the new relay password' })
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123')
  fixtures = await makeFixtures()
  icecast = await startIcecast()
  await Promise.all([startMount('/one.mp3'), startMount('/two.mp3'), startMount('/three.ogg', 'ogg')])
  slave = await relayApp({
    master: { server: icecast.host, port: icecast.port, password: icecast.relayPassword, updateInterval: INTERVAL }
  })
})

after(async () => {
  await slave?.app.close()
  await Promise.all([...sources.values()].map((source) => source.stop()))
  await icecast?.stop()
})

test('every mount of the master is served under the same name within one interval, with its titles', async () => {
  const mounts = ['/one.mp3', '/three.ogg', '/two.mp3']
  await Promise.all(mounts.map((mount) => waitForState(slave.app, mount, 'live', NEXT_POLL_MS)))
  const [master] = slave.app.relay.masters()
  assert.deepEqual([...master!.mounts].sort(), mounts)
  assert.deepEqual([...master!.relays].sort(), mounts)
  assert.equal(master!.lastError, null)
  assert.equal(slave.app.relay.get('/three.ogg')!.contentType, 'application/ogg')
  for (const mount of mounts) {
    const status = slave.app.relay.get(mount)!
    assert.equal(status.origin, `master:${icecast.host}:${icecast.port}`)
    assert.equal(status.upstream, icecast.url(mount))
    assert.equal(status.stream.name, `Master ${mount}`)
  }

  const decoded = await runMpg123(slave.url('/one.mp3'), { ms: 4000 })
  assert.ok(decoded.ok, decoded.problems.join('\n') + decoded.stderr)
  assert.ok(decoded.seconds > 1, `decoded ${decoded.seconds} s`)
  assert.ok(decoded.titles.length > 0, 'ICY titles are relayed from master-derived relays')
})

test('a source started at the master later is served by the next poll', async () => {
  await startMount('/late.mp3')
  const live = Date.now()
  await waitForState(slave.app, '/late.mp3', 'live', NEXT_POLL_MS)
  assert.ok(Date.now() - live < NEXT_POLL_MS)
  const listener = openListener(slave.url('/late.mp3'))
  assert.equal((await listener.head).status, 200)
  const decoded = await runMpg123(await listener.waitForBytes(32_000, 10_000), { icy: false })
  await listener.close()
  assert.ok(decoded.ok, decoded.problems.join('\n'))
})

test('a source stopped at the master is gone by the next poll: its listeners end, its mount answers 404', async () => {
  const listener = openListener(slave.url('/two.mp3'))
  await listener.head
  const connectedSince = slave.app.relay.get('/one.mp3')!.connectedSince
  await sources.get('/two.mp3')!.stop()
  sources.delete('/two.mp3')
  const stopped = Date.now()
  await waitUntil(() => slave.app.relay.get('/two.mp3') === undefined, NEXT_POLL_MS, '/two.mp3 to go')
  assert.ok(Date.now() - stopped < NEXT_POLL_MS)
  await listener.ended
  assert.equal((await httpGet(slave.url('/two.mp3'))).status, 404)
  assert.ok(!slave.app.relay.masters()[0]!.mounts.includes('/two.mp3'))
  assert.equal(slave.app.relay.get('/one.mp3')!.connectedSince, connectedSince, 'the other relays are untouched')
})

test('a wrong master password changes nothing that runs, and is reported', async (t) => {
  const wrong = await relayApp({
    master: { server: icecast.host, port: icecast.port, password: 'not-the-password', updateInterval: INTERVAL }
  })
  t.after(async () => { await wrong.app.close() })
  const running = new Map(slave.app.relay.list().map((status) => [status.localMount, status]))
  const pollsBefore = slave.app.relay.masters()[0]!.polls

  await changeRelayPassword('changed-on-the-master')
  await waitUntil(() => slave.app.relay.masters()[0]!.lastError !== null, NEXT_POLL_MS, 'a refused poll')
  await waitUntil(() => wrong.app.relay.masters()[0]!.lastError !== null, NEXT_POLL_MS, 'a refused first poll')
  for (const app of [slave.app, wrong.app]) {
    const error = app.relay.masters()[0]!.lastError!
    assert.equal(error.code, 'FST_ICECAST_RELAY_UPSTREAM_STATUS')
    assert.match(error.message, /answered 401/)
  }
  assert.deepEqual(wrong.app.relay.list(), [], 'nothing relayed without the password')
  await sleep(INTERVAL * 1000 * 2)
  const master = slave.app.relay.masters()[0]!
  assert.ok(master.polls >= pollsBefore + 2 && master.failures >= 2, JSON.stringify(master))
  for (const [mount, before] of running) {
    const now = slave.app.relay.get(mount)!
    assert.equal(now.state, 'live', mount)
    assert.equal(now.connectedSince, before.connectedSince, `${mount} kept its upstream connection`)
    assert.ok(now.bytesIn > before.bytesIn, `${mount} still receives`)
  }
})
