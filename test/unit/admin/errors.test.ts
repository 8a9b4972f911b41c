// The admin routes answer an error with the status its code maps to, in Fastify's JSON error shape; an error
// of no known code is a 500 that tells the client nothing of it.
import assert from 'node:assert/strict'
import { STATUS_CODES } from 'node:http'
import { Writable } from 'node:stream'
import { test, type TestContext } from 'node:test'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import fastifyIcecastRelay, { type RelayDefinition, type RelayPluginOptions } from '../../../lib/index.js'
import { ADMIN } from '../../helpers/admin.js'

const authorization = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`
const idle = (localMount: string): RelayDefinition => ({ server: '127.0.0.1', port: 9, localMount, onDemand: true })

/** An app with the admin routes and two idle relays; its log lines are kept in `logs`. */
async function adminApp (t: TestContext, options: RelayPluginOptions = {}): Promise<{ app: FastifyInstance, logs: string[] }> {
  const logs: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _encoding, done) { logs.push(chunk.toString()); done() } })
  const app = Fastify({ logger: { level: 'info', stream } })
  // a host app's hook that fails, as one may: its error reaches the admin routes' error handler
  app.addHook('onRequest', async (request) => {
    if (request.headers['x-fail'] !== undefined) throw new Error('db password is hunter2')
  })
  await app.register(fastifyIcecastRelay, { admin: ADMIN, relays: [idle('/a'), idle('/b')], ...options })
  await app.ready()
  t.after(() => app.close())
  return { app, logs }
}

async function get (app: FastifyInstance, url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'GET', url, headers: { authorization, ...headers } })
}

function assertAnswer (res: LightMyRequestResponse, statusCode: number, code: string, message: string | RegExp): void {
  assert.equal(res.statusCode, statusCode, res.body)
  assert.match(String(res.headers['content-type']), /^application\/json/)
  const { message: said, ...rest } = res.json()
  assert.deepEqual(rest, { statusCode, code, error: STATUS_CODES[statusCode] })
  if (typeof message === 'string') assert.equal(said, message)
  else assert.match(said, message)
}

test('400 INVALID_OPTION: a relay definition that fails the schema or the plugin\'s checks, told by field', async (t) => {
  const { app } = await adminApp(t)
  const post = async (payload: object): Promise<LightMyRequestResponse> =>
    await app.inject({ method: 'POST', url: '/admin/relays', headers: { authorization }, payload })
  assertAnswer(await post({ server: 'h', port: '8000' }), 400, 'FST_ICECAST_RELAY_INVALID_OPTION', 'relay.port: Expected integer')
  assertAnswer(await post({ server: 'h' }), 400, 'FST_ICECAST_RELAY_INVALID_OPTION',
    'relay.port: required (Icecast has no default port for a relay either)')
  assert.deepEqual(app.relay.list().map((status) => status.localMount), ['/a', '/b'])
})

test('400 BAD_REQUEST: a command the library cannot carry out as asked', async (t) => {
  const { app } = await adminApp(t)
  assertAnswer(await get(app, '/admin/metadata?mount=/a&mode=updinfo'), 400, 'FST_ICECAST_RELAY_BAD_REQUEST',
    'fastify-icecast-relay: metadata needs song, or title (and artist)')
})

test('400 validation: a query string the route\'s schema refuses; Fastify\'s own refusals keep their status', async (t) => {
  const { app } = await adminApp(t)
  assertAnswer(await get(app, '/admin/moveclients?mount=/a'), 400, 'FST_ERR_VALIDATION', /destination/)
  const notJson = await app.inject({ method: 'POST', url: '/admin/relays', headers: { authorization, 'content-type': 'application/json' }, payload: '{' })
  assertAnswer(notJson, 400, 'FST_ERR_CTP_INVALID_JSON_BODY', /not valid JSON/)
})

test('404 UNKNOWN_MOUNT: a mount no relay serves', async (t) => {
  const { app } = await adminApp(t)
  for (const url of ['/admin/stats?mount=/nope', '/admin/listclients?mount=/nope', '/admin/killsource?mount=/nope']) {
    assertAnswer(await get(app, url), 404, 'FST_ICECAST_RELAY_UNKNOWN_MOUNT', 'fastify-icecast-relay: no relay serves /nope')
  }
})

test('409 DUPLICATE_MOUNT and MOVE_REFUSED: what the state of the relays does not allow', async (t) => {
  const { app } = await adminApp(t)
  const duplicate = await app.inject({ method: 'POST', url: '/admin/relays', headers: { authorization }, payload: idle('/a') })
  assertAnswer(duplicate, 409, 'FST_ICECAST_RELAY_DUPLICATE_MOUNT', 'fastify-icecast-relay: a relay already serves /a')
  assertAnswer(await get(app, '/admin/moveclients?mount=/a&destination=/a'), 409, 'FST_ICECAST_RELAY_MOVE_REFUSED',
    'fastify-icecast-relay: cannot move listeners from /a to /a: they are the same mount')
})

test('429 AUTH_RATE_LIMITED: an address past its failed logins, with Retry-After', async (t) => {
  const { app } = await adminApp(t, { limits: { authFailures: 1 } })
  const wrong = { authorization: `Basic ${Buffer.from('admin:guess').toString('base64')}` }
  assert.equal((await app.inject({ method: 'GET', url: '/admin/stats', headers: wrong })).statusCode, 401)
  const limited = await app.inject({ method: 'GET', url: '/admin/stats', headers: wrong })
  assertAnswer(limited, 429, 'FST_ICECAST_RELAY_AUTH_RATE_LIMITED', /too many failed logins from this address, retry in \d+ s/)
  assert.ok(Number(limited.headers['retry-after']) > 0)
})

test('500: an error of no known code is logged, and the client learns nothing of it', async (t) => {
  const { app, logs } = await adminApp(t)
  const res = await get(app, '/admin/stats', { 'x-fail': '1' })
  assert.equal(res.statusCode, 500)
  assert.deepEqual(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' })
  assert.doesNotMatch(res.body, /hunter2/)
  const logged = logs.map((line) => JSON.parse(line)).find((entry) => entry.err?.message === 'db password is hunter2')
  assert.equal(logged?.level, 50, 'logged as an error')
})
