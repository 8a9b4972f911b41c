import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { buildRequest, type UpstreamTarget } from '../../../lib/upstream/request.js'

const target: UpstreamTarget = { tls: false, host: 'radio.example', port: 8000, path: '/live.mp3' }
const opts = { userAgent: 'relay/1.0' }
// Strings rich in the characters that matter here: line breaks, NUL, separators, U+010A (0x0A low byte).
const tricky = fc.string({
  unit: fc.oneof(fc.constantFrom('\r', '\n', '\0', ' ', '\t', ':', '\u010a'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }))
})

function lines (request: Buffer): string[] {
  return request.toString('utf8').split('\r\n')
}

test('request line, Host with port, User-Agent, extra headers, blank line', () => {
  const request = buildRequest(target, { ...opts, headers: { 'Icy-MetaData': '1' } })
  assert.equal(request.toString(),
    'GET /live.mp3 HTTP/1.0\r\nHost: radio.example:8000\r\nUser-Agent: relay/1.0\r\nIcy-MetaData: 1\r\n\r\n')
})

test('Host leaves out the scheme default port', () => {
  assert.equal(lines(buildRequest({ ...target, port: 80 }, opts))[1], 'Host: radio.example')
  assert.equal(lines(buildRequest({ ...target, tls: true, port: 443 }, opts))[1], 'Host: radio.example')
  assert.equal(lines(buildRequest({ ...target, tls: true, port: 80 }, opts))[1], 'Host: radio.example:80')
  assert.equal(lines(buildRequest({ ...target, port: 443 }, opts))[1], 'Host: radio.example:443')
})

test('IPv6 hosts are bracketed', () => {
  assert.equal(lines(buildRequest({ ...target, host: '::1' }, opts))[1], 'Host: [::1]:8000')
  assert.equal(lines(buildRequest({ ...target, host: '2001:db8::1', port: 80 }, opts))[1], 'Host: [2001:db8::1]')
})

test('the query string stays in the path', () => {
  assert.equal(lines(buildRequest({ ...target, path: '/;?type=http&x=1' }, opts))[0], 'GET /;?type=http&x=1 HTTP/1.0')
})

test('Basic authorization when a username or a password is set', () => {
  const withBoth = lines(buildRequest({ ...target, username: 'relay', password: 'hackme' }, opts))
  assert.ok(withBoth.includes('Authorization: Basic ' + Buffer.from('relay:hackme').toString('base64')))
  const passwordOnly = lines(buildRequest({ ...target, password: 'pw' }, opts))
  assert.ok(passwordOnly.includes('Authorization: Basic ' + Buffer.from(':pw').toString('base64')))
  const utf8 = lines(buildRequest({ ...target, username: 'zoë', password: 'ünï' }, opts))
  assert.ok(utf8.includes('Authorization: Basic ' + Buffer.from('zoë:ünï', 'utf8').toString('base64')))
  assert.ok(!lines(buildRequest(target, opts)).some((line) => line.startsWith('Authorization')))
})

test('an extra header replaces a built-in one of the same name, case-insensitively', () => {
  const request = lines(buildRequest({ ...target, username: 'u', password: 'p' },
    { ...opts, headers: { host: 'other', 'user-agent': 'x', authorization: 'Bearer t' } }))
  assert.deepEqual(request.slice(1, 4), ['host: other', 'user-agent: x', 'Authorization: Basic dTpw'])
  // Credentials given on the target win over a header: they are the configured ones.
  assert.equal(request.length, 6)
})

test('CR, LF or NUL in any value is a TypeError', () => {
  for (const bad of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\0b']) {
    assert.throws(() => buildRequest({ ...target, path: '/' + bad }, opts), TypeError)
    assert.throws(() => buildRequest({ ...target, host: bad }, opts), TypeError)
    assert.throws(() => buildRequest(target, { userAgent: bad }), TypeError)
    assert.throws(() => buildRequest(target, { ...opts, headers: { 'X-A': bad } }), TypeError)
    assert.throws(() => buildRequest(target, { ...opts, headers: { [bad]: '1' } }), TypeError)
    assert.throws(() => buildRequest({ ...target, username: bad }, opts), TypeError)
    assert.throws(() => buildRequest({ ...target, password: bad }, opts), TypeError)
  }
})

test('a path must start with / and hold no whitespace; a username no colon', () => {
  assert.throws(() => buildRequest({ ...target, path: 'live' }, opts), TypeError)
  assert.throws(() => buildRequest({ ...target, path: '' }, opts), TypeError)
  assert.throws(() => buildRequest({ ...target, path: '/a b' }, opts), TypeError)
  assert.throws(() => buildRequest({ ...target, path: '/a\tb' }, opts), TypeError)
  assert.throws(() => buildRequest({ ...target, username: 'a:b' }, opts), TypeError)
  assert.throws(() => buildRequest(target, { ...opts, headers: { 'Bad Name': '1' } }), TypeError)
})

test('each refusal is a TypeError with the code FST_ICECAST_RELAY_BAD_UPSTREAM_REQUEST', () => {
  const refused = { name: 'FastifyError', code: 'FST_ICECAST_RELAY_BAD_UPSTREAM_REQUEST' }
  for (const [build, message] of [
    [() => buildRequest({ ...target, path: 'live' }, opts), 'upstream path must start with / and hold no whitespace: "live"'],
    [() => buildRequest({ ...target, username: 'a:b' }, opts), 'upstream username must not contain ":"'],
    [() => buildRequest(target, { ...opts, headers: { 'Bad Name': '1' } }), 'invalid upstream request header name: "Bad Name"'],
    [() => buildRequest(target, { userAgent: 'a\nb' }), 'upstream request User-Agent must not contain CR, LF or NUL']
  ] as const) {
    assert.throws(build, (error) => error instanceof TypeError)
    assert.throws(build, { ...refused, message })
  }
})

test('property: whatever the values, the request is one line per field or a TypeError', () => {
  fc.assert(fc.property(tricky, tricky, tricky, tricky, (path, agent, value, password) => {
    let request: Buffer
    try {
      request = buildRequest({ ...target, path: '/' + path, password },
        { userAgent: agent, headers: { 'X-Value': value } })
    } catch (error) {
      assert.ok(error instanceof TypeError)
      return
    }
    const text = request.toString('utf8')
    assert.ok(text.endsWith('\r\n\r\n'))
    // Exactly request line + Host + User-Agent + X-Value + Authorization, then the blank line.
    assert.equal(text.split('\r\n').length, 7)
    assert.equal(text.split('\n').length, 7)
    assert.equal(text.split('\r').length, 7)
  }))
})

test('property: characters above U+00FF cannot smuggle line breaks', () => {
  fc.assert(fc.property(tricky, (value) => {
    try {
      const request = buildRequest(target, { userAgent: value })
      assert.equal(request.filter((byte) => byte === 0x0a).length, 4)
    } catch (error) {
      assert.ok(error instanceof TypeError)
    }
  }))
})
