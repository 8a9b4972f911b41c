// A master's redirects as icecast-kh makes them (policy 'when-full'), and what a hostile client can do with
// the registration: a scripted upstream, a master app and a slave app on 127.0.0.2.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyIcecastRelay, { type RelayPluginOptions } from '../../../lib/index.js'
import { waitForState, waitUntil } from '../../helpers/app.js'
import { httpGet, openListener, type OpenListener } from '../../helpers/icecast.js'
import { scriptedUpstream, type ScriptedUpstream } from '../../helpers/scripted.js'

const RELAY = { user: 'relay', password: 'policy-relay-secret' }
const MOUNT = '/s.mp3'

async function nodeApp (host: string, options: RelayPluginOptions): Promise<{ app: FastifyInstance, base: string }> {
  const app = Fastify()
  await app.register(fastifyIcecastRelay, options)
  await app.listen({ port: 0, host })
  return { app, base: `http://${host}:${(app.server.address() as AddressInfo).port}` }
}

let upstream: ScriptedUpstream
let master: Awaited<ReturnType<typeof nodeApp>>
let slave: Awaited<ReturnType<typeof nodeApp>>
const listeners: OpenListener[] = []

before(async () => {
  upstream = await scriptedUpstream()
  master = await nodeApp('127.0.0.1', {
    relays: [{ url: upstream.url('/s'), localMount: MOUNT, maxListeners: 1 }],
    relayAuth: { password: RELAY.password },
    redirect: { maxSlaves: 1 }
  })
  await waitForState(master.app, MOUNT, 'live')
  slave = await nodeApp('127.0.0.2', {
    master: { server: '127.0.0.1', port: Number(new URL(master.base).port), password: RELAY.password, updateInterval: 1, redirect: true }
  })
  await waitForState(slave.app, MOUNT, 'live', 10_000)
  await waitUntil(() => master.app.relay.slaves().some((s) => MOUNT in s.mounts), 10_000, 'the slave registered')
})

after(async () => {
  await Promise.all(listeners.map(async (listener) => await listener.close()))
  await slave?.app.close()
  await master?.app.close()
  await upstream?.close()
})

const list = (query: string, auth?: { user: string, password: string }): ReturnType<typeof httpGet> =>
  httpGet(`${master.base}/admin/streamlist.txt${query}`, auth === undefined ? {} : { auth })

test("'when-full': the master serves while it has room, then sends the listener it would refuse to the slave", async () => {
  assert.equal(master.app.relay.get(MOUNT)!.listeners, 0, "the slave's relay connection takes no place of maxListeners")
  const first = openListener(master.base + MOUNT)
  listeners.push(first)
  assert.equal((await first.head).status, 200)
  const second = openListener(`${master.base}${MOUNT}?x=1`)
  const head = await second.head
  await second.close()
  assert.equal(head.status, 302)
  assert.equal(head.headers.location, `${slave.base}${MOUNT}?x=1`)
  const followed = openListener(head.headers.location!)
  listeners.push(followed)
  assert.equal((await followed.head).status, 200)
})

test('a registration without the relay credentials, or with wrong ones, is refused and registers nothing', async () => {
  assert.equal((await list('?rserver=127.0.0.9&rport=8000&interval=5')).status, 401)
  assert.equal((await list('?rserver=127.0.0.9&rport=8000&interval=5', { ...RELAY, password: 'guess' })).status, 401)
  assert.deepEqual(master.app.relay.slaves().map((s) => s.host), ['127.0.0.2'])
})

test('a bad registration with the credentials still gets its list; past maxSlaves a new slave waits', async () => {
  for (const query of ['?rserver=127.0.0.9&rport=8000&interval=1', '?rserver=a/b&rport=8000&interval=5', `?rserver=${'x'.repeat(5000)}&rport=1&interval=5`, '?rserver=127.0.0.9&rport=8000&interval=5']) {
    const answer = await list(query, RELAY)
    assert.equal(answer.status, 200, query.slice(0, 60))
    assert.equal(answer.body.toString('utf8'), `${MOUNT}\r\n`)
  }
  assert.deepEqual(master.app.relay.slaves().map((s) => s.host), ['127.0.0.2'], 'maxSlaves 1: the slave already there stays alone')
})

test('selectNode chooses among the candidates: this server, or a slave registered by hand as a kh slave would', async (t) => {
  const seen: string[][] = []
  const chooser = await nodeApp('127.0.0.1', {
    relays: [{ url: upstream.url('/s'), localMount: MOUNT }],
    relayAuth: { password: RELAY.password },
    redirect: {
      policy: 'always',
      selectNode: (request, candidates) => {
        seen.push(candidates.map((node) => node.key))
        return candidates.find((node) => node.key === (request.headers['x-node'] ?? 'self'))
      }
    }
  })
  t.after(async () => await chooser.app.close())
  await waitForState(chooser.app, MOUNT, 'live')
  const registered = await httpGet(`${chooser.base}/admin/streamlist.txt?rserver=127.0.0.5&rport=9000&interval=60`, { auth: RELAY })
  assert.equal(registered.status, 200)
  const toSlave = openListener(`${chooser.base}${MOUNT}`, { headers: { 'X-Node': '127.0.0.5:9000' } })
  const head = await toSlave.head
  await toSlave.close()
  assert.equal(head.status, 302)
  assert.equal(head.headers.location, `http://127.0.0.5:9000${MOUNT}`)
  const here = openListener(`${chooser.base}${MOUNT}`, { headers: { 'X-Node': 'self' } })
  listeners.push(here)
  assert.equal((await here.head).status, 200)
  assert.deepEqual(seen, [['self', '127.0.0.5:9000'], ['self', '127.0.0.5:9000']])
})
