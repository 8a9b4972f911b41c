// Listener heads kept per mount, variant and second (lib/listen/heads.ts): always the head listenerHead builds.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { ListenerHeads } from '../../../lib/listen/heads.js'
import { listenerHead, type ListenerHeadInit } from '../../../lib/mount/headers.js'

const STREAMS: Array<Record<string, string>> = [{}, { 'icy-name': 'Radio', 'icy-br': '128' }, { 'icy-name': 'Radio' }]
const EXTRAS: Array<Record<string, string>> = [{}, { 'icy-metaint': '16000' }, { 'icy-metaint': '8192' }]

test('a kept head is the head listenerHead builds for the same mount, variant, stream headers and second', () => {
  const call = fc.record({
    mount: fc.nat(2),
    stream: fc.nat(STREAMS.length - 1),
    fresh: fc.boolean(),
    extra: fc.nat(EXTRAS.length - 1),
    contentType: fc.constantFrom('audio/mpeg', 'application/ogg'),
    server: fc.constantFrom('Icecast 2.4.4', 'relay'),
    advanceMs: fc.oneof(fc.constant(0), fc.nat(1500))
  })
  fc.assert(fc.property(fc.array(call, { maxLength: 60 }), fc.nat(1e12), (calls, start) => {
    const heads = new ListenerHeads()
    const mounts = [{}, {}, {}]
    let now = start
    for (const c of calls) {
      now += c.advanceMs
      // a stream's headers anew (another upstream head) are another object with the same entries
      const stream = c.fresh ? { ...STREAMS[c.stream] } : STREAMS[c.stream]!
      const init: ListenerHeadInit = { server: c.server, contentType: c.contentType, stream, extra: EXTRAS[c.extra]! }
      assert.deepEqual(heads.of(mounts[c.mount]!, init, now), listenerHead({ ...init, date: new Date(now) }))
    }
  }))
})

test('within a second, a mount\'s listeners of one variant get the same Buffer; a new second, stream or variant, another', () => {
  const heads = new ListenerHeads()
  const mount = {}
  const init: ListenerHeadInit = { server: 's', contentType: 'audio/mpeg', stream: STREAMS[1]!, extra: {} }
  const first = heads.of(mount, init, 5000)
  assert.equal(heads.of(mount, init, 5999), first)
  assert.equal(heads.of(mount, { ...init }, 5999), first, 'the same stream headers in another init')
  assert.notEqual(heads.of(mount, init, 6000), first, 'the Date changed')
  assert.notEqual(heads.of(mount, { ...init, stream: { ...STREAMS[1] } }, 6000), heads.of(mount, init, 6000), 'other stream headers')
  const icy = heads.of(mount, { ...init, extra: EXTRAS[1]! }, 6000)
  assert.match(icy.toString('latin1'), /\r\nicy-metaint: 16000\r\n\r\n$/)
  assert.equal(heads.of(mount, { ...init, extra: { 'icy-metaint': '16000' } }, 6000), icy, 'the same variant')
  assert.notEqual(heads.of({}, init, 6000), heads.of(mount, init, 6000), 'another mount builds its own')
})
