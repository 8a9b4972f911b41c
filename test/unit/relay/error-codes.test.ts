// A relay's lastError names a code whatever ended its connection: no error of the library's comes out
// as ERR_UNKNOWN. (An upstream that ends cleanly: FST_ICECAST_RELAY_UPSTREAM_CLOSED, in relay.test.ts.)
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { relayApp, scriptedRelay, waitUntil } from '../../helpers/app.js'
import { scriptedUpstream } from '../../helpers/scripted.js'

test('a restart by request (app.relay.restart, /admin/killsource) shows as FST_ICECAST_RELAY_RESTARTED', async (t) => {
  const { app, upstream } = await scriptedRelay(t, '/r')
  assert.equal(app.relay.get('/r')!.lastError, null)
  assert.equal(app.relay.restart('/r'), true)
  await waitUntil(() => upstream.requests.length === 2 && app.relay.get('/r')!.state === 'live', 5000, 'a second upstream connection')
  assert.equal(app.relay.get('/r')!.lastError?.code, 'FST_ICECAST_RELAY_RESTARTED')
  assert.equal(app.relay.get('/r')!.lastError?.message, 'restarted by request')
})

test('a request the upstream cannot be sent (a user name with a colon) shows as FST_ICECAST_RELAY_BAD_UPSTREAM_REQUEST', async (t) => {
  const upstream = await scriptedUpstream()
  const { app } = await relayApp({ relays: [{ url: upstream.url('/a'), localMount: '/a', username: 'dj:one', password: 'x' }] })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitUntil(() => app.relay.get('/a')!.lastError !== null, 5000, 'the first attempt to fail')
  assert.equal(app.relay.get('/a')!.lastError?.code, 'FST_ICECAST_RELAY_BAD_UPSTREAM_REQUEST')
  assert.equal(app.relay.get('/a')!.lastError?.message, 'upstream username must not contain ":"')
  assert.equal(upstream.requests.length, 0, 'nothing sent')
})
