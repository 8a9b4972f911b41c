// Password guessing on the routes behind Basic auth: failed attempts are rate-limited per client address.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { AddressInfo } from 'node:net'
import rateLimit from '@fastify/rate-limit'
import Fastify from 'fastify'
import fastifyIcecastRelay from '../../../lib/index.js'
import { relayApp } from '../../helpers/app.js'
import { httpGet, sleep } from '../../helpers/procs.js'

const ADMIN = { user: 'admin', password: 'right admin' }
const RELAY = { user: 'relay', password: 'right relay' }
const ANOTHER_HOST = '127.0.0.2'

async function guardedApp (limits: { authFailures?: number, authWindow?: number }): Promise<Awaited<ReturnType<typeof relayApp>>> {
  return await relayApp({
    admin: { username: ADMIN.user, password: ADMIN.password },
    relayAuth: { password: RELAY.password },
    limits
  }, (app) => { app.get('/hello', async () => 'hello') })
}

for (const [path, right] of [['/admin/stats', ADMIN], ['/admin/streamlist.txt', RELAY], ['/admin/streams', RELAY]] as const) {
  test(`${path}: past limits.authFailures wrong passwords an address gets 429, the right one too; other addresses and host routes do not`, async (t) => {
    const { app, url } = await guardedApp({ authFailures: 5 })
    t.after(() => app.close())
    const wrong = { user: right.user, password: 'guess' }
    for (let i = 1; i <= 5; i++) assert.equal((await httpGet(url(path), { auth: wrong })).status, 401, `failure ${i}`)
    const limited = await httpGet(url(path), { auth: wrong })
    assert.equal(limited.status, 429)
    const retryAfter = Number(limited.headers['retry-after'])
    assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After: ${limited.headers['retry-after']}`)
    assert.equal(JSON.parse(limited.body.toString()).code, 'FST_ICECAST_RELAY_AUTH_RATE_LIMITED')
    assert.equal((await httpGet(url(path), { auth: right })).status, 429, 'no 200 among the 429s to tell a guess right')
    assert.equal((await httpGet(url(path))).status, 429)

    assert.equal((await httpGet(url(path), { auth: right, localAddress: ANOTHER_HOST })).status, 200)
    assert.equal((await httpGet(url(path), { auth: wrong, localAddress: ANOTHER_HOST })).status, 401)
    for (let i = 0; i < 20; i++) assert.equal((await httpGet(url('/hello'))).status, 200, 'the host app\'s route')
  })
}

test('by default 10 failures a minute; the right credentials never count; the admin and stream list counts are apart', async (t) => {
  const { app, url } = await guardedApp({})
  t.after(() => app.close())
  for (let i = 0; i < 30; i++) assert.equal((await httpGet(url('/admin/stats'), { auth: ADMIN })).status, 200)
  for (let i = 1; i <= 10; i++) {
    assert.equal((await httpGet(url('/admin/stats'), { auth: { ...ADMIN, password: `guess ${i}` } })).status, 401, `failure ${i}`)
  }
  assert.equal((await httpGet(url('/admin/stats'), { auth: ADMIN })).status, 200, 'ten failures are allowed')
  assert.equal((await httpGet(url('/admin/stats'))).status, 429)
  assert.ok(Number((await httpGet(url('/admin/stats'))).headers['retry-after']) > 55)
  assert.equal((await httpGet(url('/admin/streamlist.txt'), { auth: RELAY })).status, 200)
})

test('an address may try again once its window has passed', async (t) => {
  const { app, url } = await guardedApp({ authFailures: 2, authWindow: 1 })
  t.after(() => app.close())
  const wrong = { ...ADMIN, password: 'guess' }
  for (let i = 0; i < 3; i++) await httpGet(url('/admin/stats'), { auth: wrong })
  assert.equal((await httpGet(url('/admin/stats'), { auth: ADMIN })).status, 429)
  await sleep(1100)
  assert.equal((await httpGet(url('/admin/stats'), { auth: ADMIN })).status, 200)
  assert.equal((await httpGet(url('/admin/stats'), { auth: wrong })).status, 401)
})

test('limits.authFailures and limits.authWindow are validated', async () => {
  await assert.rejects(relayApp({ limits: { authFailures: 0 } }), /limits\.authFailures: Expected integer to be greater or equal to 1/)
  // under a second the library's window would round to 0 ms, which turns the limit off
  await assert.rejects(relayApp({ limits: { authWindow: 0.5 } }), /limits\.authWindow: Expected number to be greater or equal to 1/)
})

test('a host app\'s own @fastify/rate-limit settings do not change how failures are counted: per client address', async (t) => {
  const app = Fastify()
  // registered before the plugin, keyed on a header the client chooses: the plugin must not count by it
  await app.register(rateLimit, { global: false, keyGenerator: (request) => String(request.headers['x-api-key']) })
  await app.register(fastifyIcecastRelay, { admin: { username: ADMIN.user, password: ADMIN.password } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(() => app.close())
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/admin/stats`
  const statuses: number[] = []
  for (let i = 0; i < 15; i++) {
    statuses.push((await httpGet(url, { auth: { ...ADMIN, password: 'guess' }, headers: { 'x-api-key': `key ${i}` } })).status)
  }
  assert.deepEqual(statuses, [...Array(10).fill(401), ...Array(5).fill(429)])
})
