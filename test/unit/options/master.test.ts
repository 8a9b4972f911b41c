import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { hasBasicCredentials } from '../../../lib/auth.js'
import { resolveOptions } from '../../../lib/options.js'

const basic = (text: string): string => 'Basic ' + Buffer.from(text, 'utf8').toString('base64')

test('master: Icecast\'s defaults (interval 120, user relay, not on demand, http); one object or a list', () => {
  const [one] = resolveOptions({ master: { server: '192.168.1.11', port: 8001, password: 'hackme' } }).masters
  assert.deepEqual({ ...one, url: one!.url.href }, {
    name: '192.168.1.11:8001',
    url: 'http://192.168.1.11:8001/',
    updateInterval: 120,
    username: 'relay',
    password: 'hackme',
    onDemand: false,
    maxRelays: 1000,
    origin: 'master:192.168.1.11:8001',
    redirects: 'same-server'
  })
  const list = resolveOptions({
    master: [
      { server: '::1', port: 8443, tls: true, password: 'a', username: 'slave', updateInterval: 5, onDemand: true, maxRelays: 20 },
      { server: 'm2', port: 80, password: 'b' }
    ]
  }).masters
  assert.deepEqual(list.map((m) => [m.url.href, m.origin, m.username, m.updateInterval, m.onDemand, m.maxRelays]), [
    ['https://[::1]:8443/', 'master:[::1]:8443', 'slave', 5, true, 20],
    ['http://m2/', 'master:m2:80', 'relay', 120, false, 1000]
  ])
  assert.deepEqual(resolveOptions({}).masters, [])
  assert.equal(resolveOptions({}).relayAuth, undefined)
  assert.deepEqual(resolveOptions({ relayAuth: { password: 'x' } }).relayAuth, { username: 'relay', password: 'x' })
})

test('master and relayAuth errors name the field; there is no default password', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ master: { server: 'm', port: 8000 } }, /^.*master\.password: required \(there is no default relay password\)$/],
    [{ master: [{ server: 'm', port: 1, password: 'p' }, { server: 'm', port: 2 }] }, /master\[1\]\.password: required/],
    [{ master: { server: 'm', password: 'p' } }, /master\.port/],
    [{ master: { server: 'm', port: 8000, password: 'p', updateInterval: 0 } }, /master\.updateInterval/],
    [{ master: { server: 'm', port: 8000, password: 'p', maxRelays: 0 } }, /master\.maxRelays: Expected integer to be greater or equal to 1/],
    [{ master: { server: 'm', port: 8000, password: 'p', username: 'a:b' } }, /master\.username/],
    [{ master: { server: 'm', port: 8000, password: '' } }, /master\.password/],
    [{ master: { server: 'm', port: 8000, password: 'p', bogus: 1 } }, /master/],
    [{ master: [{ server: 'm', port: 8000, password: 'p' }, { server: 'm', port: 8000, password: 'q' }] }, /master\[1\]: m:8000 is already listed/],
    [{ master: 'm:8000' }, /master/],
    [{ master: { server: "'92.168.1.11", port: 8000, password: 'p' } }, /^.*master\.server: "'92\.168\.1\.11" is not a host name or address$/],
    [{ relayAuth: {} }, /relayAuth\.password: required \(there is no default relay password\)/],
    [{ relayAuth: { password: 'p', username: 'x:y' } }, /relayAuth\.username/],
    [{ relayAuth: { password: 'line\r\nbreak' } }, /relayAuth\.password/]
  ]
  for (const [input, message] of cases) {
    assert.throws(() => resolveOptions(input),
      (err: Error) => message.test(err.message) && (err as Error & { code: string }).code === 'FST_ICECAST_RELAY_INVALID_OPTION',
      JSON.stringify(input))
  }
})

test('relays from the options and from app.relay.add are told apart by origin', () => {
  assert.equal(resolveOptions({ relays: [{ server: 'h', port: 1 }] }).relays[0]!.origin, 'options')
})

test('Basic credentials: exactly the pair, any case of the scheme; anything else refused', () => {
  const expected = { username: 'relay', password: 'pä:ss' }
  assert.ok(hasBasicCredentials(basic('relay:pä:ss'), expected))
  assert.ok(hasBasicCredentials('basic  ' + basic('relay:pä:ss').slice(6), expected))
  for (const header of [undefined, '', 'Basic', basic('relay:pä:s'), basic('relay:pä:ss '), basic('relay2:pä:ss'),
    basic(':relay:pä:ss'), 'Bearer ' + basic('relay:pä:ss').slice(6), basic('relay:pä:ss') + ' x']) {
    assert.equal(hasBasicCredentials(header, expected), false, String(header))
  }
})

test('property: only the encoded pair itself is accepted', () => {
  fc.assert(fc.property(fc.string({ maxLength: 20 }).filter((s) => !s.includes(':')), fc.string({ minLength: 1, maxLength: 20 }),
    fc.string({ maxLength: 45 }), (username, password, other) => {
      assert.ok(hasBasicCredentials(basic(`${username}:${password}`), { username, password }))
      assert.equal(hasBasicCredentials(basic(other), { username, password }), other === `${username}:${password}`)
    }))
})
