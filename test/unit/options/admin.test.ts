import assert from 'node:assert/strict'
import { test } from 'node:test'
import { resolveOptions } from '../../../lib/options.js'

test('server info and stats default to Icecast\'s; admin routes are off without credentials', () => {
  const options = resolveOptions({})
  assert.equal(options.admin, undefined)
  assert.equal(options.stats, true)
  assert.deepEqual(options.server, {
    hostname: undefined, location: 'Earth', adminEmail: 'icemaster@localhost', serverId: 'fastify-icecast-relay'
  })
  const set = resolveOptions({
    admin: { username: 'admin', password: 'hackme' }, stats: false, hostname: 'radio.example', location: 'Here', adminEmail: 'ops@radio.example', serverId: 'Icecast 2.4.4'
  })
  assert.deepEqual(set.admin, { username: 'admin', password: 'hackme' })
  assert.equal(set.stats, false)
  assert.deepEqual(set.server, { hostname: 'radio.example', location: 'Here', adminEmail: 'ops@radio.example', serverId: 'Icecast 2.4.4' })
})

test('admin credentials: both required, no default, errors name the field', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ admin: { username: 'admin' } }, /admin\.password: Expected required property/],
    [{ admin: { password: 'x' } }, /admin\.username: Expected required property/],
    [{ admin: { username: 'admin', password: '' } }, /admin\.password/],
    [{ admin: { username: 'ad:min', password: 'x' } }, /admin\.username/],
    [{ admin: { username: 'admin', password: 'x', realm: 'r' } }, /admin/],
    [{ admin: true }, /admin/],
    [{ stats: 'no' }, /stats/],
    [{ hostname: 'a b' }, /hostname/],
    [{ location: 'two\nlines' }, /location/],
    [{ serverId: '' }, /serverId/],
    [{ master: { server: 'h', password: 'p' } }, /master\.port/],
    [{ relayAuth: { username: 'relay' } }, /relayAuth\.password/]
  ]
  for (const [options, pattern] of cases) {
    assert.throws(() => resolveOptions(options), pattern, JSON.stringify(options))
  }
})
