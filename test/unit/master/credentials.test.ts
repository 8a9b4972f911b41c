// A master's per-mount credentials: validated as options, sent to the master itself for their mount only,
// and a master's relay refused (401/403) asks again at the master's poll interval.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { credentialsFor, masterUpstream } from '../../../lib/master/reconcile.js'
import { resolveOptions, type NetworkUpstreamDefinition, type ResolvedMaster } from '../../../lib/options.js'
import Fastify from 'fastify'
import { RegistryCore } from '../../../lib/relay/registry.js'
import { waitUntil } from '../../helpers/app.js'
import { scriptedUpstream, type ScriptedUpstream } from '../../helpers/scripted.js'

const MASTER = { server: 'm', port: 8000, password: 'relay-pw' }
const master = (credentials: unknown): ResolvedMaster => resolveOptions({ master: { ...MASTER, credentials } }).masters[0]!

test('a map by mount or a function; anything else is refused at register, naming the field', () => {
  assert.doesNotThrow(() => master({ '/a': { username: 'u', password: 'p' } }))
  assert.doesNotThrow(() => master(() => undefined))
  const cases: Array<[unknown, RegExp]> = [
    [{ a: { username: 'u', password: 'p' } }, /invalid option master\.credentials/],
    [{ '/a': { username: 'u' } }, /invalid option master\.credentials/],
    [{ '/a': { username: 'u:v', password: 'p' } }, /invalid option master\.credentials/],
    [{ '/a': { username: 'u', password: '' } }, /invalid option master\.credentials/],
    ['u:p', /invalid option master\.credentials/]
  ]
  for (const [credentials, field] of cases) {
    assert.throws(() => master(credentials), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FST_ICECAST_RELAY_INVALID_OPTION')
      assert.match(error.message, field)
      return true
    }, JSON.stringify(credentials))
  }
})

test('a mount\'s own credentials replace the master\'s, for the master itself only; other mounts keep the master\'s', () => {
  const withMap = master({ '/a': { username: 'listener', password: 'secret' } })
  assert.deepEqual(credentialsFor(withMap, '/a'), { username: 'listener', password: 'secret' })
  assert.deepEqual(credentialsFor(withMap, '/b'), { username: 'relay', password: 'relay-pw' })
  assert.deepEqual(credentialsFor(withMap, '/constructor'), { username: 'relay', password: 'relay-pw' }, 'only the map\'s own keys')
  const own = masterUpstream(withMap, new URL('http://m:8000/a'), '/a') as NetworkUpstreamDefinition
  assert.deepEqual([own.username, own.password], ['listener', 'secret'])
  const elsewhere = masterUpstream(withMap, new URL('http://other:8000/a'), '/a') as NetworkUpstreamDefinition
  assert.deepEqual([elsewhere.username, elsewhere.password], [undefined, undefined], 'never to another server a listed URL names')
})

test('a function\'s answer is checked: credentials or nothing; anything else is an error naming the call', () => {
  const printable = fc.string({ minLength: 1, maxLength: 20, unit: fc.constantFrom(...'abcXYZ019_-./ é') })
  fc.assert(fc.property(printable.map((s) => `/${s}`), printable, (mount, clean) => {
    const fn = master((asked: string) => (asked === mount ? { username: 'u', password: clean } : undefined))
    assert.deepEqual(credentialsFor(fn, mount), { username: 'u', password: clean })
    assert.deepEqual(credentialsFor(fn, `${mount}/other`), { username: 'relay', password: 'relay-pw' })
  }))
  for (const answer of ['u:p', { username: 'u' }, { username: 'u', password: 'p', extra: 1 }, null]) {
    assert.throws(() => credentialsFor(master(() => answer), '/a'), { code: 'FST_ICECAST_RELAY_INVALID_OPTION', message: /invalid option master\.credentials\("\/a"\)[.:]/ })
  }
})

test('a master\'s relay refused (401 or 403) waits its master\'s poll interval, whatever the backoff; the refusal ends once it plays', async (t) => {
  const { limits } = resolveOptions({ limits: { maxBackoff: 0.5 } })
  const registry = new RegistryCore({ relays: [], limits, userAgent: 'test', log: Fastify().log })
  t.after(() => { registry.stopAll() })
  registry.startAll()
  const refusing: ScriptedUpstream[] = []
  for (const status of [401, 403] as const) {
    const upstream = await scriptedUpstream({ head: `HTTP/1.0 ${status} Refused\r\nContent-Type: text/plain\r\n\r\n` })
    t.after(async () => { await upstream.close() })
    refusing.push(upstream)
    registry.add({ url: upstream.url('/s'), localMount: `/master-${status}` }, { origin: 'master:m:8000', refusedRetry: 2 })
    registry.add({ url: upstream.url('/s'), localMount: `/api-${status}` })
  }
  await waitUntil(() => registry.find('/master-401')?.refusal !== undefined && registry.find('/master-403')?.refusal !== undefined, 5000, 'the refusals')
  assert.equal(registry.find('/master-401')!.refusal!.status, 401)
  assert.equal(registry.find('/master-403')!.refusal!.status, 403)
  assert.equal(registry.find('/api-401')!.refusal, undefined, 'a relay without refusedRetry keeps its backoff')
  const since = Date.now()
  await new Promise((resolve) => setTimeout(resolve, 1500))
  for (const upstream of refusing) assert.ok(upstream.requests.length >= 3, 'each upstream was asked, and asked again by the relay of the API')
  const retryAt = Date.parse(registry.find('/master-401')!.refusal!.retryAt)
  assert.ok(retryAt - since <= 2000 && retryAt > since - 2000, 'asks again within its 2 s')
  assert.ok(registry.get('/api-401')!.reconnects >= 2, 'the backoff of 0.5 s asks again and again')
  assert.ok(registry.get('/master-401')!.reconnects <= 1, `asked again ${registry.get('/master-401')!.reconnects} times in 1.5 s`)

  const open = await scriptedUpstream()
  t.after(async () => { await open.close() })
  const feed = setInterval(() => open.push(Buffer.alloc(1000, 0x20)), 50)
  t.after(() => { clearInterval(feed) })
  registry.setUpstreams({ localMount: '/master-401', upstreams: [{ url: open.url('/s') }] }, 'master:m:8000')
  await waitUntil(() => registry.get('/master-401')?.state === 'live', 8000, 'the relay to play')
  assert.equal(registry.find('/master-401')!.refusal, undefined)
})
