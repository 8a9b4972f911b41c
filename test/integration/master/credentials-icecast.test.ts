// The plugin as the slave of a real Icecast 2 master one of whose mounts asks listeners for credentials
// (`<authentication type="htpasswd">`): without credentials for it the relay of that mount is refused (401)
// and asks again at the master's poll interval, shown in the master's status; with them it plays.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { relayApp, waitForState } from '../../helpers/app.js'
import {
  assertTools, makeFixtures, runMpg123, sleep, startIcecast, startSource, waitFor, type Icecast, type Source
} from '../../helpers/icecast.js'

const INTERVAL = 3
const LOCKED = '/locked.mp3'
const USER = { username: 'listener', password: 'open sesame' }

let icecast: Icecast
const sources: Source[] = []

/** Icecast 2.4's htpasswd file: `user:` and the MD5 of the password in hex. */
function htpasswdLine (username: string, password: string): string {
  return `${username}:${createHash('md5').update(password).digest('hex')}\n`
}

/** The requests of `mount` Icecast refused with 401, from its access log. */
function refusedRequests (mount: string): number {
  return icecast.accessLog().split('\n').filter((line) => line.includes(`"GET ${mount} HTTP/1.`) && / 401 \d+ /.test(line)).length
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123')
  const fixtures = await makeFixtures()
  icecast = await startIcecast({
    extraXml: ({ dir }) => {
      writeFileSync(join(dir, 'listeners.htpasswd'), htpasswdLine(USER.username, USER.password))
      return `<mount><mount-name>${LOCKED}</mount-name><authentication type="htpasswd">
        <option name="filename" value="${join(dir, 'listeners.htpasswd')}"/><option name="allow_duplicate_users" value="1"/>
      </authentication></mount>`
    }
  })
  for (const mount of [LOCKED, '/open.mp3']) {
    sources.push(await startSource({ icecast, mount, files: fixtures.mp3.tracks, format: 'mp3', name: `Master ${mount}` }))
  }
})

after(async () => {
  await Promise.all(sources.map(async (source) => await source.stop()))
  await icecast?.stop()
})

test('a listed mount that asks for credentials, none given: refused (401), asked again once per poll interval, shown in the master\'s status', async (t) => {
  const slave = await relayApp({
    // a backoff that would ask twice a second
    limits: { maxBackoff: 0.5 },
    master: { server: icecast.host, port: icecast.port, password: icecast.relayPassword, updateInterval: INTERVAL }
  })
  t.after(async () => { await slave.app.close() })
  await waitForState(slave.app, '/open.mp3', 'live', 10000)
  const [first] = await waitFor(() => {
    const refused = slave.app.relay.masters()[0]!.refused
    return refused.length === 1 ? refused : undefined
  }, { timeoutMs: 10000, message: 'the refused mount in the master status' })
  assert.equal(first!.localMount, LOCKED)
  assert.equal(first!.status, 401)
  const retryIn = Date.parse(first!.retryAt) - Date.now()
  assert.ok(retryIn > 1000 && retryIn <= INTERVAL * 1000, `asks again in ${retryIn} ms`)
  assert.equal(slave.app.relay.get(LOCKED)!.state, 'retrying')
  assert.match(slave.app.relay.get(LOCKED)!.lastError!.message, /answered 401/)

  const before = refusedRequests(LOCKED)
  await sleep(INTERVAL * 2000 + 500)
  const asked = refusedRequests(LOCKED) - before
  assert.ok(asked >= 1 && asked <= 3, `${asked} requests in ${INTERVAL * 2 + 0.5} s: one per ${INTERVAL} s poll interval, not two a second`)
  const [still] = slave.app.relay.masters()[0]!.refused
  assert.equal(still!.since, first!.since, 'refused since the first refusal')
  assert.equal(slave.app.relay.masters()[0]!.relays.includes('/open.mp3'), true)
})

test('with the mount\'s own credentials (a function of the mount) it plays, and no mount is refused', async (t) => {
  const asked: string[] = []
  const slave = await relayApp({
    master: {
      server: icecast.host,
      port: icecast.port,
      password: icecast.relayPassword,
      updateInterval: INTERVAL,
      credentials: (mount) => { asked.push(mount); return mount === LOCKED ? USER : undefined }
    }
  })
  t.after(async () => { await slave.app.close() })
  await waitForState(slave.app, LOCKED, 'live', 10000)
  assert.deepEqual([...asked].sort(), [LOCKED, '/open.mp3'])
  assert.deepEqual(slave.app.relay.masters()[0]!.refused, [])
  const decoded = await runMpg123(slave.url(LOCKED), { ms: 4000 })
  assert.ok(decoded.ok && decoded.seconds > 1, decoded.stderr)
  assert.equal(decoded.icyName, `Master ${LOCKED}`)
})

test('with the credentials as a map by mount it plays too; wrong ones are refused as none are', async (t) => {
  const right = await relayApp({
    master: { server: icecast.host, port: icecast.port, password: icecast.relayPassword, updateInterval: INTERVAL, credentials: { [LOCKED]: USER } }
  })
  t.after(async () => { await right.app.close() })
  await waitForState(right.app, LOCKED, 'live', 10000)

  const wrong = await relayApp({
    master: {
      server: icecast.host,
      port: icecast.port,
      password: icecast.relayPassword,
      updateInterval: INTERVAL,
      credentials: { [LOCKED]: { username: USER.username, password: 'wrong' } }
    }
  })
  t.after(async () => { await wrong.app.close() })
  const refused = await waitFor(() => wrong.app.relay.masters()[0]!.refused[0], { timeoutMs: 10000, message: 'the refusal' })
  assert.equal(refused.status, 401)
})
