import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify from 'fastify'
import { resolveOptions, resolveRelay } from '../../../lib/options.js'
import type { RelayView } from '../../../lib/relay/extension.js'
import { Relay } from '../../../lib/relay/relay.js'

test('a relay\'s state, head and title are read-only from outside: an assignment throws and changes nothing', () => {
  const relay: RelayView = new Relay(resolveRelay({ server: '127.0.0.1', port: 9, localMount: '/v', onDemand: true }), {
    limits: resolveOptions({}).limits,
    userAgent: 'test',
    extensions: [],
    log: Fastify().log,
    emit: () => {},
    onListenerLeave: () => {},
    orphaned: () => {},
    streaming: () => {}
  })
  const writable = relay as unknown as Record<string, unknown>
  assert.throws(() => { writable['state'] = 'live' }, TypeError)
  assert.throws(() => { writable['head'] = { status: 200, headers: {} } }, TypeError)
  assert.throws(() => { writable['metadata'] = { fields: {}, source: 'manual', updatedAt: '' } }, TypeError)
  assert.equal(relay.state, 'idle')
  assert.equal(relay.head, undefined)
  assert.equal(relay.metadata, undefined)

  const metadata = { title: 'Set', fields: {}, source: 'manual' as const, updatedAt: new Date().toISOString() }
  relay.setMetadata(metadata)
  assert.equal(relay.metadata, metadata, 'kept as given, so that an extension may key what it derives by the object')
})
