import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { addressTag, endOf, MAX_SESSION_ID, READMIT_WITHIN, SessionIds, Sessions, type Session, type SessionClaims } from '../../../lib/hls/sessions.js'

const T0 = 1_000_000
const CLAIMS: SessionClaims = { issued: T0, epoch: 0 }

function session (id: string, listenerId: number, localMount = '/a', endsAt?: number): Session {
  return { id, listenerId, localMount, ip: '127.0.0.1', userAgent: '', startedAt: T0, timeout: 3000, endsAt, lastSeen: T0 }
}

test('sessions: counted per mount, ended once each when they stop polling, by a kill or past their time', () => {
  const ended: number[] = []
  const sessions = new Sessions((s) => ended.push(s.listenerId))
  const issuer = new SessionIds()
  const ids = [issuer.issue('/a', CLAIMS), issuer.issue('/b', CLAIMS), issuer.issue('/a', CLAIMS)]
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
  assert.ok(sessions.killed(ids[0]!), 'a kill outlasts a minute')
  sessions.sweep(T0 + 4000 + READMIT_WITHIN)
  assert.ok(!sessions.killed(ids[0]!), 'a kill is forgotten once its id could not come back anyway')
})

test('sessions: the ended ids kept are bounded, the oldest forgotten first', () => {
  const sessions = new Sessions(() => {})
  for (let i = 0; i <= 65_536; i++) sessions.refuse(`id-${i}`, T0)
  assert.ok(!sessions.killed('id-0'), 'the oldest')
  assert.ok(sessions.killed('id-1') && sessions.killed('id-65536'))
})

test('sessions: two sessions of one id (two polls of an expired one at once) leave one, counted once', () => {
  const ended: number[] = []
  const sessions = new Sessions((s) => ended.push(s.listenerId))
  const id = new SessionIds().issue('/a', CLAIMS)
  sessions.add(session(id, 1))
  sessions.add(session(id, 2))
  assert.deepEqual([sessions.size, sessions.on('/a'), ended], [1, 1, [1]])
  sessions.clear()
  assert.deepEqual([sessions.size, sessions.on('/a'), ended], [0, 0, [1, 2]])
})

test('session ids: valid on every process that holds the key, for their own mount only; made up or altered, never', () => {
  const a = new SessionIds('the link secret')
  const b = new SessionIds('the link secret')
  const claims: SessionClaims = { issued: T0, epoch: 1_765_000_000_000, endsAt: T0 + 5000, user: 'ann' }
  const id = a.issue('/live.aac', claims)
  assert.deepEqual(b.read(id, '/live.aac'), claims, 'another worker of the machine knows it, and what it carries')
  assert.equal(b.read(id, '/other.aac'), undefined, 'not a session of another mount')
  assert.equal(new SessionIds('another secret').read(id, '/live.aac'), undefined, 'not under another key')
  assert.equal(new SessionIds().read(id, '/live.aac'), undefined, 'not under a process\'s own random key')
  const altered = (id[0] === 'A' ? 'B' : 'A') + id.slice(1)
  assert.equal(b.read(altered, '/live.aac'), undefined, 'its random part altered')
  const [random, , mac] = id.split('.')
  const forged = Buffer.from(JSON.stringify({ ...claims, endsAt: T0 + 1e9, user: 'bob' })).toString('base64url')
  assert.equal(b.read(`${random}.${forged}.${mac}`, '/live.aac'), undefined, 'its claims altered (a longer time, another user)')
  assert.equal(b.read('../etc', '/live.aac') ?? b.read('', '/live.aac'), undefined)
  fc.assert(fc.property(fc.string({ maxLength: 64 }), (text) => b.read(text, '/live.aac') === undefined))
  fc.assert(fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{1,80}\.[A-Za-z0-9_-]{22}$/), (text) => b.read(text, '/live.aac') === undefined))
})

test('session ids: any claims come back as given, any user name; ids stay within the URL-safe alphabet', () => {
  const ids = new SessionIds()
  fc.assert(fc.property(
    fc.record({
      issued: fc.maxSafeNat(),
      epoch: fc.maxSafeNat(),
      endsAt: fc.option(fc.maxSafeNat(), { nil: undefined }),
      user: fc.option(fc.string({ maxLength: 128, unit: 'binary' }), { nil: undefined }),
      from: fc.option(fc.ipV4().map(addressTag), { nil: undefined })
    }),
    (drawn) => {
      const claims = Object.fromEntries(Object.entries(drawn).filter(([, value]) => value !== undefined)) as SessionClaims
      const id = ids.issue('/a', claims)
      const read = ids.read(id, '/a')
      return /^[A-Za-z0-9_.-]+$/.test(id) && id.length <= MAX_SESSION_ID && JSON.stringify(read) === JSON.stringify(claims)
    }
  ))
})

test('session ids: the longest claims (every number at its most, a user of 128 escaped units, an address) stay within MAX_SESSION_ID', () => {
  const ids = new SessionIds()
  const most = Number.MAX_SAFE_INTEGER
  const claims: SessionClaims = { issued: most, epoch: most, endsAt: most, user: '\u0000'.repeat(128), from: addressTag('::ffff:127.0.0.1') }
  const id = ids.issue('/a', claims)
  assert.ok(id.length <= MAX_SESSION_ID, `${id.length}`)
  assert.deepEqual(ids.read(id, '/a'), claims)
})

test('endOf: a time limit of any seconds ends in whole ms, never before it, at most a ms after', () => {
  assert.equal(endOf(T0, 1.0005), T0 + 1001)
  assert.equal(endOf(T0, 2), T0 + 2000)
  fc.assert(fc.property(fc.nat(), fc.double({ min: 0, max: 1e9, noNaN: true }), (now, seconds) => {
    const end = endOf(now, seconds)
    return Number.isInteger(end) && end >= now + seconds * 1000 && end <= now + seconds * 1000 + 1
  }))
})

test('addressTag: one tag per address, of the claims\' alphabet; two addresses, two tags', () => {
  assert.match(addressTag('127.0.0.1'), /^[A-Za-z0-9_-]{16}$/)
  assert.equal(addressTag('127.0.0.1'), addressTag('127.0.0.1'))
  assert.notEqual(addressTag('127.0.0.1'), addressTag('127.0.0.2'))
})
