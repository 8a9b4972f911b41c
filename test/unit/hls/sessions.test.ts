import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { SessionIds, Sessions, type Session } from '../../../lib/hls/sessions.js'

const T0 = 1_000_000

function session (id: string, listenerId: number, localMount = '/a', endsAt?: number): Session {
  return { id, listenerId, localMount, ip: '127.0.0.1', userAgent: '', startedAt: T0, timeout: 3000, endsAt, lastSeen: T0 }
}

test('sessions: counted per mount, ended once each when they stop polling, by a kill or past their time', () => {
  const ended: number[] = []
  const sessions = new Sessions((s) => ended.push(s.listenerId))
  const issuer = new SessionIds()
  const ids = [issuer.issue('/a'), issuer.issue('/b'), issuer.issue('/a')]
  sessions.add(session(ids[0]!, 1))
  sessions.add(session(ids[1]!, 2, '/b', T0 + 1000))
  sessions.add(session(ids[2]!, 3))
  assert.deepEqual([sessions.size, sessions.on('/a'), sessions.on('/b')], [3, 2, 1])
  sessions.get(ids[0]!)!.lastSeen = T0 + 2500
  sessions.sweep(T0 + 1000)
  assert.deepEqual(ended, [2], 'past its time limit')
  assert.ok(sessions.killed(ids[1]!))
  sessions.sweep(T0 + 3500)
  assert.deepEqual(ended, [2, 3], 'no poll for its timeout')
  assert.equal(sessions.kill(1, T0 + 4000), true)
  assert.equal(sessions.kill(1, T0 + 4000), false)
  assert.deepEqual([sessions.size, sessions.on('/a'), ended], [0, 0, [2, 3, 1]])
  sessions.sweep(T0 + 4000 + 60_000)
  assert.ok(!sessions.killed(ids[0]!), 'a kill is forgotten after a minute')
})

test('sessions: two sessions of one id (two polls of an expired one at once) leave one, counted once', () => {
  const ended: number[] = []
  const sessions = new Sessions((s) => ended.push(s.listenerId))
  const id = new SessionIds().issue('/a')
  sessions.add(session(id, 1))
  sessions.add(session(id, 2))
  assert.deepEqual([sessions.size, sessions.on('/a'), ended], [1, 1, [1]])
  sessions.clear()
  assert.deepEqual([sessions.size, sessions.on('/a'), ended], [0, 0, [1, 2]])
})

test('session ids: valid on every process that holds the key, for their own mount only; made up or altered, never', () => {
  const a = new SessionIds('the link secret')
  const b = new SessionIds('the link secret')
  const id = a.issue('/live.aac')
  assert.ok(b.valid(id, '/live.aac'), 'another worker of the machine knows it')
  assert.ok(!b.valid(id, '/other.aac'), 'not a session of another mount')
  assert.ok(!new SessionIds('another secret').valid(id, '/live.aac'), 'not under another key')
  assert.ok(!new SessionIds().valid(id, '/live.aac'), 'not under a process\'s own random key')
  const altered = (id[0] === 'A' ? 'B' : 'A') + id.slice(1)
  assert.ok(!b.valid(altered, '/live.aac'), 'its random part altered')
  assert.ok(!b.valid('../etc', '/live.aac') && !b.valid('', '/live.aac'))
  fc.assert(fc.property(fc.string({ maxLength: 64 }), (text) => !b.valid(text, '/live.aac')))
  fc.assert(fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}$/), (text) => !b.valid(text, '/live.aac')))
})
