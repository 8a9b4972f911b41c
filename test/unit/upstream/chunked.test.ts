import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ChunkedDecoder } from '../../../lib/upstream/chunked.js'
import { codeOf, cut, offsets } from '../../helpers/chunking.js'

const LABEL = 'http://radio.example/live'

/** Decodes the pieces in order: the body, whether the end was seen, and every slice returned. */
function decode (pieces: Buffer[]): { body: Buffer, done: boolean, slices: Buffer[] } {
  const decoder = new ChunkedDecoder(LABEL)
  const slices = pieces.flatMap((piece) => decoder.push(piece))
  return { body: Buffer.concat(slices), done: decoder.done, slices }
}

function outcome (pieces: Buffer[]): unknown {
  try {
    const { body, done } = decode(pieces)
    return { body, done }
  } catch (error) {
    return codeOf(error)
  }
}

test('decodes chunks, extensions, trailers and the last chunk', () => {
  const bytes = Buffer.from('5\r\nhello\r\n1;name=value;x="a;b"\r\n \r\nA  ; ext\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n')
  const { body, done } = decode([bytes])
  assert.equal(body.toString(), 'hello 0123456789')
  assert.equal(done, true)
})

test('hex sizes in either case, leading zeros, bare LF line ends', () => {
  const { body, done } = decode([Buffer.from('000a\nabcdefghij\nB\r\n0123456789A\n0\n\n')])
  assert.equal(body.toString(), 'abcdefghij0123456789A')
  assert.equal(done, true)
})

test('not done until the blank line after the last chunk; bytes after the end are ignored', () => {
  const decoder = new ChunkedDecoder(LABEL)
  assert.deepEqual(decoder.push(Buffer.from('3\r\nabc\r\n0\r\n')), [Buffer.from('abc')])
  assert.equal(decoder.done, false)
  assert.deepEqual(decoder.push(Buffer.from('\r\nHTTP/1.1 200 OK')), [])
  assert.equal(decoder.done, true)
  assert.deepEqual(decoder.push(Buffer.from('5\r\nhello\r\n')), [])
})

test('body slices are subarrays of the pushed chunk, not copies', () => {
  const chunk = Buffer.from('4\r\nabcd\r\n2\r\nef\r\n')
  const slices = new ChunkedDecoder(LABEL).push(chunk)
  assert.equal(slices.length, 2)
  for (const slice of slices) assert.equal(slice.buffer, chunk.buffer)
  assert.equal(slices[0]!.byteOffset, chunk.byteOffset + 3)
})

test('BadChunkError on garbage sizes, missing CRLF after data, overlong lines', () => {
  const cases = [
    'zz\r\n',
    '\r\n',
    '-1\r\n',
    '0x10\r\n',
    '5\r\nhelloX',
    '5\r\nhello\rX',
    '10000000000000\r\n', // 14 hex digits: beyond 2 ** 53
    '1'.repeat(5000),
    '0\r\n' + 'x'.repeat(5000)
  ]
  for (const text of cases) {
    assert.throws(() => decode([Buffer.from(text)]), {
      code: 'FST_ICECAST_RELAY_BAD_CHUNK',
      message: new RegExp(`^upstream ${LABEL}: malformed chunked encoding`)
    }, text)
  }
  // Leading zeros do not count towards the size limit.
  assert.doesNotThrow(() => decode([Buffer.from('0000000000000000001\r\n')]))
})

/** Chunked encoding of `pieces` with random extensions, line ends and trailers. */
const encoded = fc.tuple(
  fc.array(fc.tuple(
    fc.uint8Array({ minLength: 1, maxLength: 300 }),
    fc.constantFrom('', ';a', ';a=b', ' ;q="x;y"', '\t'),
    fc.constantFrom('\r\n', '\n'),
    fc.boolean()
  ), { maxLength: 8 }),
  fc.array(fc.constantFrom('X-A: 1', 'x-b:', 'Expires: never'), { maxLength: 3 }),
  fc.uint8Array({ maxLength: 20 })
).map(([chunks, trailers, after]) => {
  const parts: Buffer[] = []
  for (const [data, extension, eol, upper] of chunks) {
    const size = data.length.toString(16)
    parts.push(Buffer.from(`${upper ? size.toUpperCase() : size}${extension}${eol}`), Buffer.from(data), Buffer.from(eol))
  }
  parts.push(Buffer.from('0\r\n' + trailers.map((line) => line + '\r\n').join('') + '\r\n'), Buffer.from(after))
  return { bytes: Buffer.concat(parts), body: Buffer.concat(chunks.map(([data]) => data)) }
})

test('property: any chunking of the same bytes gives the same body, in slices of the input', () => {
  fc.assert(fc.property(encoded, offsets, ({ bytes, body }, at) => {
    const pieces = cut(bytes, at)
    const decoded = decode(pieces)
    assert.deepEqual(decoded.body, body)
    assert.equal(decoded.done, true)
    for (const slice of decoded.slices) assert.equal(slice.buffer, bytes.buffer)
  }))
})

/** Bytes that look chunked often enough to reach every state. */
const chunkish = fc.array(fc.oneof(
  fc.constantFrom('0', '1', 'a', 'F', '10', '\r\n', '\n', '\r', ';', ' ', 'x', 'zz', ':'),
  fc.uint8Array({ maxLength: 4 }).map((bytes) => Buffer.from(bytes).toString('latin1'))
), { maxLength: 30 }).map((parts) => Buffer.from(parts.join(''), 'latin1'))

test('property: garbage throws only BadChunkError, the same however it is chunked', () => {
  fc.assert(fc.property(fc.oneof(chunkish, fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b))), offsets, (bytes, at) => {
    const whole = outcome([bytes])
    assert.ok(typeof whole !== 'string' || whole === 'FST_ICECAST_RELAY_BAD_CHUNK', String(whole))
    const split = outcome(cut(bytes, at))
    // An error drops the slices of the push that failed, so only the error itself must agree.
    if (typeof whole === 'string') assert.equal(split, whole)
    else assert.deepEqual(split, whole)
  }))
})
