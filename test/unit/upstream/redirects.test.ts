// Pure checks of the redirect policy: addresses are only classified here, never connected to.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isPublicAddress, isSameServer } from '../../../lib/upstream/redirects.js'

const same = (from: string, to: string): boolean => isSameServer(new URL(from), new URL(to))

test('the same server: same host and port, a new path, http to https there or from 80 to 443', () => {
  assert.ok(same('http://radio.test:8000/a', 'http://radio.test:8000/b?x=1'))
  assert.ok(same('http://radio.test/a', 'http://RADIO.test:80/b'))
  assert.ok(same('http://radio.test:8000/a', 'https://radio.test:8000/a'))
  assert.ok(same('http://radio.test/a', 'https://radio.test/a'))
  assert.ok(same('https://radio.test/a', 'https://radio.test:443/b'))
  assert.ok(same('http://[::1]:8000/a', 'http://[0:0::1]:8000/b'))
  assert.ok(!same('http://radio.test:8000/a', 'http://radio.test:8001/a'), 'another port')
  assert.ok(!same('http://radio.test/a', 'http://other.test/a'), 'another host')
  assert.ok(!same('http://radio.test/a', 'http://sub.radio.test/a'), 'a subdomain is another host')
  assert.ok(!same('https://radio.test:8000/a', 'http://radio.test:8000/a'), 'https never becomes http')
  assert.ok(!same('http://127.0.0.1:8000/a', 'http://localhost:8000/a'), 'names are compared, not what they resolve to')
  assert.ok(!same('http://radio.test:8080/a', 'https://radio.test/a'), 'only 80 upgrades to 443')
})

test('non-public addresses: loopback, private, link-local, CGNAT, unique-local, multicast, reserved, and their IPv6 forms', () => {
  const notPublic = [
    '127.0.0.1', '127.255.255.254', '0.0.0.0', '0.1.2.3', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1',
    '169.254.169.254', '100.64.0.1', '100.127.255.255', '224.0.0.1', '239.255.255.250', '255.255.255.255', '240.0.0.1',
    '192.0.2.1', '198.18.0.1', '198.51.100.1', '203.0.113.1',
    '::', '::1', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.1.2.3',
    '::ffff:169.254.169.254', '64:ff9b::7f00:1', '2002:7f00:1::1', '2001:db8::1', '2001::1', '::7f00:1', '100::1',
    'fec0::1', '4000::1', 'localhost', '', 'not an address', '1.2.3'
  ]
  for (const address of notPublic) assert.equal(isPublicAddress(address), false, address)
})

test('public addresses, IPv4-mapped ones judged as the IPv4 address they map', () => {
  for (const address of ['8.8.8.8', '1.1.1.1', '100.63.255.255', '100.128.0.0', '172.32.0.1', '192.169.0.1', '2606:4700::1111', '2a00:1450::1', '::ffff:8.8.8.8']) {
    assert.equal(isPublicAddress(address), true, address)
  }
})

const octet = fc.integer({ min: 0, max: 255 })

/** IPv4 addresses inside `a.b.c.d/prefix`. */
function inRange (base: string, prefix: number): fc.Arbitrary<string> {
  const start = base.split('.').reduce((n, part) => n * 256 + Number(part), 0)
  return fc.integer({ min: 0, max: 2 ** (32 - prefix) - 1 }).map((offset) => {
    const n = start + offset
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.')
  })
}

test('property: every address of a non-public IPv4 range is refused, as are its IPv4-mapped forms', () => {
  const ranges: Array<[string, number]> = [
    ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
    ['192.168.0.0', 16], ['224.0.0.0', 4], ['240.0.0.0', 4]
  ]
  fc.assert(fc.property(fc.oneof(...ranges.map(([base, prefix]) => inRange(base, prefix))), (address) => {
    assert.equal(isPublicAddress(address), false)
    assert.equal(isPublicAddress(`::ffff:${address}`), false)
  }))
})

test('property: an IPv4-mapped IPv6 address is judged exactly as its IPv4 address', () => {
  fc.assert(fc.property(octet, octet, octet, octet, (a, b, c, d) => {
    const v4 = `${a}.${b}.${c}.${d}`
    const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
    assert.equal(isPublicAddress(`::ffff:${v4}`), isPublicAddress(v4))
    assert.equal(isPublicAddress(`::ffff:${hex}`), isPublicAddress(v4))
    assert.equal(isPublicAddress(`0:0:0:0:0:ffff:${hex}`), isPublicAddress(v4))
  }))
})

test('property: no address in fc00::/7, fe80::/10 or ff00::/8 is public', () => {
  const group = fc.integer({ min: 0, max: 0xffff })
  const prefixed = (min: number, max: number): fc.Arbitrary<string> =>
    fc.tuple(fc.integer({ min, max }), fc.array(group, { minLength: 7, maxLength: 7 }))
      .map(([first, rest]) => [first, ...rest].map((n) => n.toString(16)).join(':'))
  fc.assert(fc.property(fc.oneof(prefixed(0xfc00, 0xfdff), prefixed(0xfe80, 0xfebf), prefixed(0xff00, 0xffff)), (address) => {
    assert.equal(isPublicAddress(address), false)
  }))
})
