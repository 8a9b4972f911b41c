// The schema is the whole contract: a key it does not know fails `register` and is named, at any depth;
// Fastify's own register options are no unknown keys.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify from 'fastify'
import fastifyIcecastRelay from '../../../lib/index.js'
import { InvalidOptionError } from '../../../lib/errors.js'
import { resolveOptions } from '../../../lib/options.js'
import { relayApp, waitForState } from '../../helpers/app.js'
import { openListener } from '../../helpers/listen.js'
import { noise, scriptedUpstream } from '../../helpers/scripted.js'

const relay = { server: '127.0.0.1', port: 8000 }
const master = { server: '127.0.0.1', port: 8000, password: 'p' }

/** The error `register` fails with, once the app boots. */
async function registerError (options: object): Promise<InvalidOptionError> {
  const app = Fastify()
  try {
    const error = await app.register(fastifyIcecastRelay, options as never).then(() => undefined, (e: unknown) => e)
    assert.ok(error instanceof InvalidOptionError, `${JSON.stringify(options)}: ${String(error)}`)
    return error
  } finally {
    await app.close()
  }
}

test('a typo of an option fails register, naming the key as written, at the top and below', async () => {
  const cases: Array<[object, string]> = [
    [{ relys: [relay] }, 'relys'],
    [{ limit: { clients: 5 } }, 'limit'],
    [{ admn: { username: 'admin', password: 'x' } }, 'admn'],
    [{ relays: [relay, { ...relay, localMount: '/b', mont: '/b' }] }, 'relays[1].mont'],
    [{ limits: { client: 5 } }, 'limits.client'],
    [{ master: { ...master, updateIntervall: 5 } }, 'master.updateIntervall'],
    [{ master: [master, { ...master, port: 8001, tsl: true }] }, 'master[1].tsl'],
    [{ relayAuth: { password: 'p', user: 'relay' } }, 'relayAuth.user'],
    [{ admin: { username: 'admin', password: 'x', realm: 'r' } }, 'admin.realm']
  ]
  for (const [options, field] of cases) {
    const error = await registerError(options)
    assert.equal(error.code, 'FST_ICECAST_RELAY_INVALID_OPTION')
    assert.equal(error.field, field)
    assert.equal(error.reason, 'Unexpected property')
    assert.equal(error.message, `fastify-icecast-relay: invalid option ${field}: Unexpected property`)
  }
})

test('an invalid option carries its field and the reason apart; the message reads as before', () => {
  assert.throws(() => resolveOptions({ relays: [relay, { ...relay, localMount: '/b' }, { server: 'h', localMount: '/c' }] }), (error) => {
    assert.ok(error instanceof InvalidOptionError)
    assert.equal(error.field, 'relays[2].port')
    assert.equal(error.reason, 'required (Icecast has no default port for a relay either)')
    assert.equal(error.message, 'fastify-icecast-relay: invalid option relays[2].port: required (Icecast has no default port for a relay either)')
    return true
  })
  assert.throws(() => resolveOptions({ limits: { queueSize: 'big' } }), { field: 'limits.queueSize', reason: 'Expected integer' })
  assert.throws(() => resolveOptions('relays'), { field: '(root)', reason: 'Expected object' })
})

test('Fastify\'s own register options are taken and left to Fastify; prefix stays the mount prefix', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, url } = await relayApp({
    relays: [{ url: upstream.url('/live'), localMount: '/live' }],
    prefix: '/radio',
    limits: { burstSize: 0 },
    // not options of the plugin: what Fastify's `register` takes for any plugin
    ...{ logLevel: 'warn', logSerializers: { relay: (value: unknown) => String(value) } }
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/live', 'live')
  const listener = openListener(url('/radio/live'))
  assert.equal((await listener.head).status, 200)
  upstream.push(noise(100))
  await listener.waitForBytes(100)
  await listener.close()
  assert.throws(() => resolveOptions({ logLevel: 5 }), { field: 'logLevel' })
})
