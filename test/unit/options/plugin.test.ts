import assert from 'node:assert/strict'
import { test } from 'node:test'
import { resolveOptions, resolveRelay, type ResolvedHttpUpstream } from '../../../lib/options.js'
import { privateCa } from '../../helpers/servers.js'

/** The one network upstream of a relay given in the single-upstream form. */
function onlyUpstream (def: unknown): ResolvedHttpUpstream {
  const { upstreams } = resolveRelay(def)
  assert.equal(upstreams.length, 1)
  assert.equal(upstreams[0]!.kind, 'http')
  return upstreams[0] as ResolvedHttpUpstream
}

test('applies Icecast defaults to a relay definition', () => {
  const relay = resolveRelay({ server: '192.168.1.11', port: 8001 })
  const upstream = onlyUpstream({ server: '192.168.1.11', port: 8001 })
  assert.equal(upstream.url.href, 'http://192.168.1.11:8001/')
  assert.equal(relay.localMount, '/')
  assert.equal(upstream.relayShoutcastMetadata, true)
  assert.equal(relay.onDemand, false)
})

test('the seed snippet: mount, local mount and metadata off', () => {
  const def = { server: '192.168.1.11', port: 8001, mount: '/example.ogg', localMount: '/different.ogg', relayShoutcastMetadata: false }
  assert.equal(onlyUpstream(def).url.href, 'http://192.168.1.11:8001/example.ogg')
  assert.equal(resolveRelay(def).localMount, '/different.ogg')
  assert.equal(onlyUpstream(def).relayShoutcastMetadata, false)
})

test('a mount with a query string keeps it upstream; the local mount is its path', () => {
  const def = { server: 'h', port: 80, mount: '/stream?type=http' }
  const { url } = onlyUpstream(def)
  assert.equal(url.pathname + url.search, '/stream?type=http')
  assert.equal(resolveRelay(def).localMount, '/stream')
  assert.equal(resolveRelay({ server: 'h', port: 8000, mount: '/;' }).localMount, '/;')
})

test('the url form, with credentials taken out of the URL', () => {
  const relay = onlyUpstream({ url: 'https://u%40x:p%3Aw@radio.example:8443/live?x=1', localMount: '/live' })
  assert.equal(relay.url.href, 'https://radio.example:8443/live?x=1')
  assert.equal(relay.username, 'u@x')
  assert.equal(relay.password, 'p:w')
})

test('tls uses https; IPv6 servers are bracketed', () => {
  assert.equal(onlyUpstream({ server: '::1', port: 8443, tls: true, mount: '/a' }).url.href, 'https://[::1]:8443/a')
})

test('a missing port says that Icecast has no default either', () => {
  assert.throws(() => resolveOptions({ relays: [{ server: 'h' }] }),
    (err: Error) => /relays\[0\]\.port: required \(Icecast has no default port/.test(err.message) &&
      (err as Error & { code: string }).code === 'FST_ICECAST_RELAY_INVALID_OPTION')
})

test('invalid values fail with a message naming the field', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ relays: [{ server: 'h', port: 70000 }] }, /relays\[0\]\.port/],
    [{ relays: [{ server: 'h', port: 8000, localMount: 'nolead' }] }, /relays\[0\]\.localMount/],
    [{ relays: [{ server: 'h', port: 8000, localMount: '/a/../b' }] }, /relays\[0\]\.localMount: must not contain/],
    [{ relays: [{ port: 8000 }] }, /relays\[0\]\.server: required/],
    // the schema lets these through, the URL parser does not (found by `npm run fuzz`)
    [{ relays: [{ server: "'1.2", port: 8000 }] }, /^.*relays\[0\]\.server: "'1\.2" is not a host name or address$/],
    [{ relays: [{ server: 'a^b', port: 8000 }] }, /relays\[0\]\.server: "a\^b" is not a host/],
    [{ relays: [{ server: 'h', port: 1 }, { server: 'h', port: 2, localMount: '/x', bogus: 1 }] }, /relays\[1\]/],
    [{ relays: [{ url: 'ftp://h/x' }] }, /relays\[0\]\.url/],
    [{ relays: [{ url: 'http://h:1/x', server: 'h' }] }, /relays\[0\]\.url: give either/],
    [{ relays: [{ url: 'http://h:1/%zz' }] }, /relays\[0\]\.url: bad percent-encoding$/],
    [{ relays: [{ url: 'http://u:%zz@h:1/x' }] }, /relays\[0\]\.url: bad percent-encoding$/],
    [{ relays: [{ server: 'h', port: 1, mount: '/%E0%A4' }] }, /relays\[0\]\.mount: bad percent-encoding$/],
    [{ limits: { clients: -1 } }, /limits\.clients/],
    [{ limits: { queueSize: 'big' } }, /limits\.queueSize/],
    [{ prefix: 'radio' }, /prefix/],
    [{ prefix: '/radio/' }, /prefix/],
    [{ relays: [{ server: 'h', port: 1, mount: '/a' }, { server: 'h', port: 2, mount: '/a' }] }, /relays\[1\]\.localMount: \/a is already used/]
  ]
  for (const [options, pattern] of cases) {
    assert.throws(() => resolveOptions(options),
      (err: Error) => pattern.test(err.message) && (err as Error & { code: string }).code === 'FST_ICECAST_RELAY_INVALID_OPTION',
      JSON.stringify(options))
  }
})

test('limits default to Icecast\'s', () => {
  const options = resolveOptions({})
  assert.deepEqual(options.relays, [])
  assert.equal(options.prefix, '')
  assert.equal(options.limits.clients, 100)
  assert.equal(options.limits.burstSize, 65535)
  assert.equal(options.limits.queueSize, 524288)
  assert.equal(options.limits.sourceTimeout, 10)
  assert.equal(resolveOptions({ limits: { clients: 5 } }).limits.burstSize, 65535)
})

test('redirects default to the same server; ca, servername and rejectUnauthorized pass on, for relays and masters', () => {
  const ca = privateCa().cert
  const relay = onlyUpstream({ server: '127.0.0.1', port: 8443, tls: true })
  assert.equal(relay.redirects, 'same-server')
  assert.equal(relay.tlsOptions, undefined)
  const trusting = onlyUpstream({ server: '127.0.0.1', port: 8443, tls: true, redirects: 'any', ca: [ca, ca + ca], servername: 'radio.test', rejectUnauthorized: true })
  assert.equal(trusting.redirects, 'any')
  assert.deepEqual(trusting.tlsOptions, { ca: [ca, ca + ca], servername: 'radio.test', rejectUnauthorized: true })
  const [master] = resolveOptions({ master: { server: 'm', port: 8443, tls: true, password: 'p', redirects: 'public', ca } }).masters
  assert.equal(master!.redirects, 'public')
  assert.deepEqual(master!.tlsOptions, { ca })
})

test('redirect and TLS option errors name the field', () => {
  const ca = privateCa().cert
  const relay = { server: 'h', port: 8000 }
  const master = { server: 'm', port: 8000, password: 'p' }
  const cases: Array<[unknown, RegExp]> = [
    [{ relays: [{ ...relay, redirects: 'nowhere' }] }, /^.*relays\[0\]\.redirects: Expected string to match '\^\(same-server\|public\|any\)\$'$/],
    [{ relays: [{ ...relay, redirects: true }] }, /relays\[0\]\.redirects: Expected string/],
    [{ relays: [{ ...relay, ca: 'not a certificate' }] }, /relays\[0\]\.ca: no PEM certificate \(-----BEGIN CERTIFICATE-----\) in it$/],
    [{ relays: [{ ...relay, ca: [ca, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'] }] }, /relays\[0\]\.ca\[1\]: a PEM certificate in it does not parse$/],
    [{ relays: [{ ...relay, ca: [] }] }, /relays\[0\]\.ca: /],
    [{ relays: [{ ...relay, ca: 42 }] }, /relays\[0\]\.ca: /],
    [{ relays: [{ ...relay, servername: '127.0.0.1' }] }, /relays\[0\]\.servername: must be a DNS name, not an IP address/],
    [{ relays: [{ ...relay, servername: 'radio test' }] }, /relays\[0\]\.servername: Expected string to match/],
    [{ relays: [{ ...relay, rejectUnauthorized: 'no' }] }, /relays\[0\]\.rejectUnauthorized: Expected boolean$/],
    [{ master: { ...master, redirects: 'everywhere' } }, /^.*master\.redirects: Expected string to match/],
    [{ master: [master, { ...master, port: 1, ca: 'x' }] }, /master\[1\]\.ca: no PEM certificate/],
    [{ master: { ...master, servername: '127.0.0.2' } }, /master\.servername: must be a DNS name/],
    [{ master: { ...master, servername: '::1' } }, /master\.servername: Expected string to match/],
    [{ master: { ...master, rejectUnauthorized: 0 } }, /master\.rejectUnauthorized: Expected boolean/]
  ]
  for (const [options, pattern] of cases) {
    assert.throws(() => resolveOptions(options),
      (err: Error) => pattern.test(err.message) && (err as Error & { code: string }).code === 'FST_ICECAST_RELAY_INVALID_OPTION',
      JSON.stringify(options))
  }
})

test('machine: the link is kept as given, the same object; anything else names the field', () => {
  const link = { index: 3, ask: async (): Promise<unknown[]> => [], answer: (): void => {}, reserve: async () => 'ok' as const, release: (): void => {} }
  assert.equal(resolveOptions({ machine: link }).machine, link)
  assert.equal(resolveOptions({}).machine, undefined)
  const methods = { ask: async () => [], answer: () => {}, reserve: async () => 'ok', release: () => {} }
  for (const machine of ['cluster', { index: 1, ask: async () => [] }, { ...methods, index: 1, ask: 1 }, { ...methods, index: 1, reserve: 'ok' }, methods, { ...methods, index: -1 }, { ...methods, index: 2 ** 21 }, { ...methods, index: 0.5 }]) {
    assert.throws(() => resolveOptions({ machine }), (error: Error) => /machine/.test(error.message))
  }
})
