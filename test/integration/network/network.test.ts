// Many machines: a real Icecast 2 at the top, a master app (its slave) and two slave apps of the master on
// 127.0.0.2 and 127.0.0.3 that register for redirects as icecast-kh's slaves do, with their load besides.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyIcecastRelay, { type RelayPluginOptions } from '../../../lib/index.js'
import { waitForState, waitUntil } from '../../helpers/app.js'
import {
  assertTools, httpGet, makeFixtures, openListener, runMpg123, startIcecast, startSource,
  type Fixtures, type Icecast, type OpenListener, type Source
} from '../../helpers/icecast.js'

const RELAY_PASSWORD = 'network-relay-secret'
const MOUNT = '/net.mp3'
const ADMIN = { username: 'admin', password: 'network-admin-secret' }

interface Node { app: FastifyInstance, base: string }

async function nodeApp (host: string, options: RelayPluginOptions): Promise<Node> {
  const app = Fastify()
  await app.register(fastifyIcecastRelay, options)
  await app.listen({ port: 0, host })
  return { app, base: `http://${host}:${(app.server.address() as AddressInfo).port}` }
}

let fixtures: Fixtures
let top: Icecast
let source: Source
let master: Node
let slaves: Node[] = []
const listeners: OpenListener[] = []

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123')
  fixtures = await makeFixtures()
  top = await startIcecast()
  source = await startSource({ icecast: top, mount: MOUNT, files: fixtures.mp3.tracks, format: 'mp3', name: 'Network' })
  master = await nodeApp('127.0.0.1', {
    master: { server: top.host, port: top.port, password: top.relayPassword, updateInterval: 1 },
    relayAuth: { password: RELAY_PASSWORD },
    redirect: { policy: 'always' },
    admin: ADMIN
  })
  await waitForState(master.app, MOUNT, 'live', 10_000)
  const masterPort = Number(new URL(master.base).port)
  slaves = await Promise.all(['127.0.0.2', '127.0.0.3'].map(async (host) => await nodeApp(host, {
    master: { server: '127.0.0.1', port: masterPort, password: RELAY_PASSWORD, updateInterval: 1, redirect: true }
  })))
  await Promise.all(slaves.map(async (slave) => await waitForState(slave.app, MOUNT, 'live', 15_000)))
})

after(async () => {
  await Promise.all(listeners.map(async (listener) => await listener.close()))
  await Promise.all(slaves.map(async (slave) => await slave.app.close()))
  await master?.app.close()
  await source?.stop()
  await top?.stop()
})

const slaveKeys = (): string[] => slaves.map((slave) => new URL(slave.base).host)

test('both slaves register with the master, with their address, capacity and the listeners of each mount', async () => {
  // a slave reports a mount from the poll after the one that brought it
  await waitUntil(() => master.app.relay.slaves().filter((slave) => MOUNT in slave.mounts).length === 2, 10_000, 'two registered slaves')
  const registered = master.app.relay.slaves()
  assert.deepEqual(registered.map((slave) => slave.key).sort(), slaveKeys().sort())
  for (const slave of registered) {
    assert.equal(slave.address, '127.0.0.1', 'their polls come from the default source address')
    assert.equal(slave.capacity, 100)
    assert.deepEqual(Object.keys(slave.mounts), [MOUNT])
    assert.ok(Date.parse(slave.expiresAt) > Date.now())
  }
})

test("the slaves' own relay connections are not redirected: they stay live, fed by the master", async () => {
  for (const slave of slaves) assert.equal(slave.app.relay.get(MOUNT)!.state, 'live')
  assert.equal(slave0Upstream(), master.base + MOUNT)
})

function slave0Upstream (): string {
  return slaves[0]!.app.relay.get(MOUNT)!.upstream
}

test("policy 'always': new listeners get 302s spread by load over the slaves and the master, path and query kept", async () => {
  const served = new Map<string, number>()
  for (let i = 0; i < 9; i++) {
    const asked = openListener(`${master.base}${MOUNT}?client=${i}`)
    const answer = await asked.head
    if (answer.status === 200) {
      listeners.push(asked)
      served.set('self', (served.get('self') ?? 0) + 1)
      continue
    }
    await asked.close()
    assert.equal(answer.status, 302)
    const location = new URL(answer.headers.location!)
    assert.equal(location.pathname + location.search, `${MOUNT}?client=${i}`)
    assert.equal(location.protocol, 'http:')
    served.set(location.host, (served.get(location.host) ?? 0) + 1)
    const followed = openListener(location.href)
    listeners.push(followed)
    assert.equal((await followed.head).status, 200, `the slave at ${location.host} serves the listener it was sent`)
  }
  for (const key of slaveKeys()) assert.ok((served.get(key) ?? 0) >= 2, `listeners sent to ${key}: ${JSON.stringify([...served])}`)
})

test("the master's totals: its own listeners, each slave's reported ones and the sum; the slaves' relay connections are no listeners", async () => {
  const own = (): number => master.app.relay.get(MOUNT)!.listeners
  const onSlaves = (): number => slaves.reduce((sum, slave) => sum + slave.app.relay.get(MOUNT)!.listeners, 0)
  assert.equal(own() + onSlaves(), listeners.length, 'every listener is counted once, on the node serving it')
  assert.equal(master.app.relay.get(MOUNT)!.relays, 2, 'one relay connection per slave')
  // the slaves report at their next poll
  await waitUntil(() => master.app.relay.slaves().reduce((sum, slave) => sum + (slave.mounts[MOUNT] ?? 0), 0) === onSlaves(), 10_000, 'reports')
  const json = JSON.parse((await httpGet(`${master.base}/status-json.xsl`)).body.toString('utf8'))
  const [stats] = json.icestats.source
  assert.equal(stats.listeners, own())
  assert.equal(stats.slave_listeners, onSlaves())
  assert.equal(stats.cluster_listeners, listeners.length)
  assert.equal(stats.relay_connections, 2)
  const auth = { user: ADMIN.username, password: ADMIN.password }
  const xml = (await httpGet(`${master.base}/admin/stats`, { auth })).body.toString('utf8')
  assert.match(xml, new RegExp(`<cluster_listeners>${listeners.length}</cluster_listeners>`))
  assert.match(xml, /<slaves>2<\/slaves>/)
  const metrics = (await httpGet(`${master.base}/admin/metrics`, { auth })).body.toString('utf8')
  assert.match(metrics, new RegExp(`icecast_relay_slave_listeners\\{mount="${MOUNT}"\\} ${onSlaves()}`))
  assert.match(metrics, new RegExp(`icecast_relay_listeners\\{mount="${MOUNT}"\\} ${own()}\\b`))
  assert.match(metrics, new RegExp(`icecast_relay_relay_connections\\{mount="${MOUNT}"\\} 2`))
  const page = (await httpGet(`${master.base}/status.xsl`)).body.toString('utf8')
  assert.match(page, new RegExp(`<dt>On slaves</dt><dd>${onSlaves()} \\(${listeners.length} in all\\)</dd>`))
})

test("the master's playlist lists the slaves after itself, and `mpg123 -@` plays it", async () => {
  const answer = await httpGet(`${master.base}${MOUNT}.m3u`)
  assert.equal(answer.status, 200)
  const lines = answer.body.toString('utf8').split('\r\n').filter((line) => line !== '')
  assert.equal(lines[0], master.base + MOUNT)
  assert.deepEqual(lines.slice(1).sort(), slaves.map((slave) => slave.base + MOUNT).sort())
  const decoded = await runMpg123(`${master.base}${MOUNT}.m3u`, { ms: 5000, args: ['-@'] })
  assert.ok(decoded.ok, decoded.problems.join('\n') + decoded.stderr)
  assert.ok(decoded.seconds > 2, `decoded ${decoded.seconds} s`)
})
