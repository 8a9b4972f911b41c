import assert from 'node:assert/strict'
import { test } from 'node:test'
import { relayApp, waitUntil } from '../../helpers/app.js'
import { freePort } from '../../helpers/procs.js'
import type { RelayEvents } from '../../../lib/index.js'

const PUBLIC = ['add', 'remove', 'get', 'list', 'setMetadata', 'masters', 'listenersOf', 'kick', 'moveListeners', 'restart', 'on', 'once', 'off', 'slaves']
/** What the registry keeps for the listener route and the sub-plugins, and what an EventEmitter would add. */
const INTERNAL = [
  'extend', 'listenerFraming', 'find', 'admitListener', 'endListener', 'nextListenerId', 'totalListeners', 'closing',
  'startAll', 'stopAll', 'reportMasters', 'limits', 'ending', 'emit', 'removeAllListeners', 'listeners', 'addListener'
]

/** Every name reachable on an object: its own and its prototypes' (Object.prototype's aside). */
function reachableNames (object: object): string[] {
  const names: string[] = []
  for (let at: object | null = object; at !== null && at !== Object.prototype; at = Object.getPrototypeOf(at)) {
    names.push(...Object.getOwnPropertyNames(at), ...Object.getOwnPropertySymbols(at).map(String))
  }
  return names
}

test('app.relay holds the public methods and nothing else: no internal name is in it, listed or reachable', async (t) => {
  const { app } = await relayApp({ relays: [{ server: '127.0.0.1', port: await freePort(), localMount: '/a', onDemand: true }] })
  t.after(() => app.close())
  const relay = app.relay
  const enumerated: string[] = []
  for (const key in relay) enumerated.push(key)
  for (const key of [...Object.keys(relay), ...enumerated]) assert.ok(PUBLIC.includes(key), `${key} is listed`)
  for (const name of INTERNAL) assert.equal(name in relay, false, `${name} is in app.relay`)
  assert.deepEqual(reachableNames(relay).filter((name) => name !== 'constructor').sort(), [...PUBLIC].sort())
  for (const name of PUBLIC) assert.equal(typeof (relay as unknown as Record<string, unknown>)[name], 'function', name)
})

test('app.relay: on, once and off give the relays\' events with their payloads, and chain', async (t) => {
  const { app } = await relayApp({ relays: [{ server: '127.0.0.1', port: await freePort(), localMount: '/a', onDemand: true }] })
  t.after(() => app.close())
  const seen: string[] = []
  const onMetadata = (event: RelayEvents['metadata']): void => { seen.push(`on ${event.localMount} ${event.metadata.title}`) }
  const chained = app.relay
    .on('metadata', onMetadata)
    .once('metadata', (event) => { seen.push(`once ${event.metadata.title} ${JSON.stringify(event.metadata.fields)}`) })
  assert.equal(chained, app.relay)
  app.relay.setMetadata('/a', { title: 'One' })
  assert.equal(app.relay.off('metadata', onMetadata), app.relay)
  app.relay.setMetadata('/a', { title: 'Two', url: 'https://example.org/' })
  assert.deepEqual(seen, ['on /a One', 'once One {"StreamTitle":"One"}'])
  assert.deepEqual(app.relay.get('/a')!.metadata!.fields, { StreamTitle: 'Two', StreamUrl: 'https://example.org/' })

  const states: Array<RelayEvents['state']> = []
  app.relay.on('state', (event) => states.push(event))
  app.relay.remove('/a')
  await waitUntil(() => states.length === 1)
  assert.deepEqual(states, [{ localMount: '/a', state: 'stopped', previous: 'idle' }])
})
