import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import fc from 'fast-check'
import { HeadParser, type ParsedHead } from '../../../lib/upstream/head.js'
import { codeOf, cut, offsets } from '../../helpers/chunking.js'

const LABEL = 'http://radio.example:8000/live'

/** Feeds the pieces in order; returns the head and every body byte (rest plus later pieces). */
function parse (pieces: Buffer[], limit?: number): { head: ParsedHead['head'], body: Buffer } | undefined {
  const parser = new HeadParser(LABEL, limit)
  for (let i = 0; i < pieces.length; i++) {
    const parsed = parser.push(pieces[i]!)
    if (parsed !== undefined) {
      return { head: { ...parsed.head, headers: { ...parsed.head.headers } }, body: Buffer.concat([parsed.rest, ...pieces.slice(i + 1)]) }
    }
  }
  return undefined
}

function parseText (text: string, limit?: number) {
  return parse([Buffer.from(text, 'latin1')], limit)
}

function outcome (pieces: Buffer[]): unknown {
  try {
    return parse(pieces) ?? 'incomplete'
  } catch (error) {
    return codeOf(error)
  }
}

test('HTTP/1.0 head: headers lowercased, trimmed, body bytes returned as rest', () => {
  const parsed = parseText('HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-name:  My Radio \t\r\n\r\nBODY')
  assert.deepEqual(parsed, {
    head: { protocol: 'HTTP/1.0', status: 200, reason: 'OK', headers: { 'content-type': 'audio/mpeg', 'icy-name': 'My Radio' } },
    body: Buffer.from('BODY')
  })
})

test('ICY 200 OK with lowercase headers and no space after the colon', () => {
  const parsed = parseText('ICY 200 OK\r\nicy-metaint:32768\r\ncontent-type:audio/mpeg\r\nicy-br:128\r\n\r\n')
  assert.equal(parsed?.head.protocol, 'ICY')
  assert.equal(parsed?.head.status, 200)
  assert.deepEqual(parsed?.head.headers, { 'icy-metaint': '32768', 'content-type': 'audio/mpeg', 'icy-br': '128' })
  assert.equal(parsed?.body.length, 0)
})

const capture = new URL('../../../../shared/conformance/node-icy/icy-server-response-metaint', import.meta.url)
test('a real SHOUTcast DNAS 1.9.8 head (conformance capture)', {
  skip: !existsSync(capture) && 'the conformance folder ../shared/conformance is absent; the synthetic ICY test covers this path'
}, () => {
  const bytes = readFileSync(capture)
  const parsed = parse(cut(bytes, [1, 7, 100, 333, 334, 4000]))
  assert.equal(parsed?.head.protocol, 'ICY')
  assert.equal(parsed?.head.headers['icy-metaint'], '32768')
  assert.equal(parsed?.head.headers['content-type'], 'audio/mpeg')
  assert.equal(parsed?.head.headers['icy-notice1'], '<BR>This stream requires <a href="http://www.winamp.com/">Winamp</a><BR>')
  const headLength = bytes.indexOf('\r\n\r\n') + 4
  assert.deepEqual(parsed?.body, bytes.subarray(headLength))
})

test('HTTP/1.1, no reason phrase, bare LF line ends, repeated headers joined', () => {
  const parsed = parseText('HTTP/1.1 404\nVia: a\nvia: b\nVIA:c\n\nx')
  assert.deepEqual(parsed, {
    head: { protocol: 'HTTP/1.1', status: 404, reason: '', headers: { via: 'a, b, c' } },
    body: Buffer.from('x')
  })
})

test('header values keep their bytes (Latin-1 round trip) and __proto__ is just a header', () => {
  const name = Buffer.from([0x52, 0xc3, 0xa9, 0xff]) // UTF-8 "Ré" then a lone 0xFF
  const bytes = Buffer.concat([Buffer.from('ICY 200 OK\r\n__proto__: x\r\nicy-name:'), name, Buffer.from('\r\n\r\n')])
  const parsed = parse([bytes])!
  assert.deepEqual(Buffer.from(parsed.head.headers['icy-name']!, 'latin1'), name)
  assert.equal(Object.getOwnPropertyDescriptor(parsed.head.headers, '__proto__')?.value, 'x')
})

test('returns undefined until the blank line, whatever the pieces', () => {
  const parser = new HeadParser(LABEL)
  for (const piece of ['HTTP/1.0 200 OK\r', '\n', 'a: b\r\n', '\r']) assert.equal(parser.push(Buffer.from(piece)), undefined)
  const parsed = parser.push(Buffer.from('\nrest'))
  assert.equal(parsed?.rest.toString(), 'rest')
  assert.throws(() => parser.push(Buffer.from('more')), { code: 'FST_ICECAST_RELAY_HEAD_COMPLETE', message: /already complete/ })
})

test('rest is a subarray of the last chunk, not a copy', () => {
  const chunk = Buffer.from('ICY 200 OK\r\n\r\naudio')
  const parsed = new HeadParser(LABEL).push(chunk)!
  assert.equal(parsed.rest.buffer, chunk.buffer)
  assert.equal(parsed.rest.byteOffset, chunk.byteOffset + 14)
})

test('HeadTooLargeError past the limit, counted with line ends, without reading a huge chunk through', () => {
  const head = 'HTTP/1.0 200 OK\r\nx: 1\r\n\r\n'
  assert.ok(parseText(head, head.length))
  assert.throws(() => parseText(head, head.length - 1), { code: 'FST_ICECAST_RELAY_HEAD_TOO_LARGE' })
  const huge = Buffer.concat([Buffer.from('HTTP/1.0 200 OK\r\nx-big: '), Buffer.alloc(1024 * 1024, 'a'), Buffer.from('\r\n\r\n')])
  const started = performance.now()
  assert.throws(() => parse([huge]), { code: 'FST_ICECAST_RELAY_HEAD_TOO_LARGE', message: /exceeds 16384 bytes/ })
  assert.ok(performance.now() - started < 50)
  assert.throws(() => parse(cut(huge, [10, 100, 20000])), { code: 'FST_ICECAST_RELAY_HEAD_TOO_LARGE' })
})

test('BadStatusLineError as soon as the first bytes cannot begin HTTP/ or ICY', () => {
  for (const garbage of ['S', 'SSH-2.0-OpenSSH_9.6\r\n', 'GET / HTTP/1.0', 'HTTP ', 'ICY2', 'ic', '<html>', '\r\n']) {
    const parser = new HeadParser(LABEL)
    assert.throws(() => parser.push(Buffer.from(garbage)), { code: 'FST_ICECAST_RELAY_BAD_STATUS_LINE' }, garbage)
  }
  for (const prefix of ['H', 'HTTP/', 'HTTP/1.1 2', 'I', 'ICY ']) {
    assert.equal(new HeadParser(LABEL).push(Buffer.from(prefix)), undefined, prefix)
  }
})

test('BadStatusLineError once the first line is complete and wrong', () => {
  for (const line of ['HTTP/2 200 OK', 'HTTP/1.0 20 OK', 'HTTP/1.0 200OK', 'ICY OK', 'HTTP/1.0 200 O\u0001K', 'HTTP/1.0']) {
    assert.throws(() => parseText(line + '\r\n'), {
      code: 'FST_ICECAST_RELAY_BAD_STATUS_LINE',
      message: new RegExp(`^upstream ${LABEL}: not an HTTP or ICY status line`)
    }, line)
  }
})

test('BadHeaderError for a line without a colon, an empty or invalid name, a control character', () => {
  for (const line of ['no colon here', ': value', 'bad name: x', 'x-ok: a\rb', 'x-ok: a\u0000b', ' folded continuation']) {
    assert.throws(() => parseText(`HTTP/1.0 200 OK\r\n${line}\r\n\r\n`), {
      code: 'FST_ICECAST_RELAY_BAD_HEADER',
      message: new RegExp(`^upstream ${LABEL}: malformed header line`)
    }, line)
  }
})

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/)
const headerValue = fc.stringMatching(/^[\x20-\x7e\x80-\xff\t]{0,30}$/)
const lineEnd = fc.constantFrom('\r\n', '\n')

test('property: any chunking of a valid head gives the same head and body', () => {
  fc.assert(fc.property(
    fc.constantFrom('HTTP/1.0', 'HTTP/1.1', 'ICY'),
    fc.integer({ min: 100, max: 599 }),
    fc.stringMatching(/^[A-Za-z][A-Za-z ]{0,15}$/),
    fc.array(fc.tuple(token, fc.constantFrom(':', ': ', ' : ', ':\t'), headerValue, lineEnd), { maxLength: 10 }),
    lineEnd,
    fc.uint8Array({ maxLength: 100 }),
    offsets,
    (protocol, status, reason, headers, end, body, at) => {
      let text = `${protocol} ${status} ${reason}${end}`
      const expected = new Map<string, string>()
      for (const [name, separator, value, eol] of headers) {
        text += `${name}${separator}${value}${eol}`
        const key = name.toLowerCase()
        const trimmed = value.replace(/^[ \t]+|[ \t]+$/g, '')
        expected.set(key, expected.has(key) ? `${expected.get(key)}, ${trimmed}` : trimmed)
      }
      const bytes = Buffer.concat([Buffer.from(text + end, 'latin1'), body])
      const whole = parse([bytes])
      assert.deepEqual(whole, {
        head: { protocol, status, reason: reason.trim(), headers: Object.fromEntries(expected) },
        body: Buffer.from(body)
      })
      assert.deepEqual(parse(cut(bytes, at)), whole)
    }
  ))
})

/** Bytes that look like a head often enough to reach every branch. */
const headish = fc.array(fc.oneof(
  fc.constantFrom('HTTP/1.0 200 OK', 'ICY 200 OK', 'HTTP/1.1 302 Found', 'x: y', 'a:b', ':', ' ', '\r\n', '\n', '\r', 'HTTP/', 'ICY'),
  fc.uint8Array({ maxLength: 6 }).map((bytes) => Buffer.from(bytes).toString('latin1'))
), { maxLength: 12 }).map((parts) => Buffer.from(parts.join(''), 'latin1'))

test('property: garbage throws only the project\'s errors, the same ones however it is chunked', () => {
  fc.assert(fc.property(fc.oneof(headish, fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b))), offsets, fc.integer({ min: 5, max: 64 }),
    (bytes, at, small) => {
      const result = outcome([bytes])
      assert.ok(typeof result !== 'string' || !result.startsWith('foreign'), String(result))
      assert.deepEqual(outcome(cut(bytes, at)), result)
      // A small limit as well, to reach HeadTooLargeError from every state. Below 5 bytes the limit
      // could strike before the first bytes tell whether they can begin `HTTP/`: no head is that small.
      const limited = (pieces: Buffer[]): unknown => {
        try {
          return parse(pieces, small) ?? 'incomplete'
        } catch (error) {
          return codeOf(error)
        }
      }
      assert.deepEqual(limited(cut(bytes, at)), limited([bytes]))
    }))
})
