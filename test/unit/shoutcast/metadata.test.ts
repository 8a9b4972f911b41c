import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  buildMetadataBlock, EMPTY_TITLE_BLOCK, MAX_TEXT_BYTES, parseMetadata, toListenerBlock,
  validateBlock, ZERO_BLOCK
} from '../../../lib/shoutcast/metadata.js'
import { isSupportedCharset } from '../../../lib/charset.js'
import { chunkBy, CONFORMANCE_DIR, conformancePresent, demux, stripIcy } from '../../helpers/icy.js'

/*
 * Where the readers' expectations in parse-vectors.json part ways, and what our rule (top of
 * lib/shoutcast/metadata.ts) follows. Every vector passes.
 *
 * | case                                          | icecast-metadata-js | MPD       | avpack    | ours      |
 * |-----------------------------------------------|---------------------|-----------|-----------|-----------|
 * | no closing quote, text fills the block        | keeps the value     | -         | -         | keep      |
 * | no closing quote, padding follows             | drops the value     | -         | -         | drop      |
 * | unquoted values `a=b;`, `a=;`, `c=d`          | -                   | parses    | -         | MPD       |
 * | `'` inside a value (`fo'o'b'ar`, `with ' and`) | ends at `';`+key    | same      | same      | all agree |
 * | `;` / `=` inside a quoted value               | kept                | kept      | kept      | all agree |
 * | key with a space (`Stream Title`)             | accepted            | -         | -         | accepted  |
 * | no final `;` / no NUL padding                 | accepted            | accepted  | -         | accepted  |
 * | `foo=bar;` without StreamTitle                | -                   | no title  | -         | no title  |
 * "-": the library's vectors do not cover the case. node-icy's vectors hold no edge case.
 */

const text = (s: string): Buffer => Buffer.from(s, 'utf8')
const fieldsOf = (s: string): Record<string, string> => parseMetadata(text(s)).fields

/** Our own vectors for every path of the rule, so the rule is tested even without the shared folder. */
const OWN_VECTORS: Array<[input: string, fields: Record<string, string>]> = [
  ["StreamTitle='A - B';StreamUrl='http://x';\0\0\0", { StreamTitle: 'A - B', StreamUrl: 'http://x' }],
  ["StreamTitle='A - B';   ", { StreamTitle: 'A - B' }], // space padding
  ["StreamTitle='it's';StreamUrl='u';", { StreamTitle: "it's", StreamUrl: 'u' }],
  ["StreamTitle='a;b=c';", { StreamTitle: 'a;b=c' }],
  ["StreamTitle='Guns N' Roses';", { StreamTitle: "Guns N' Roses" }],
  ["StreamTitle='x'';", { StreamTitle: "x'" }],
  ["StreamTitle='x';';", { StreamTitle: "x';" }],
  ["StreamTitle='no end", { StreamTitle: 'no end' }], // cut at the size limit: kept
  ["StreamTitle='no end\0\0", {}], // padding after an open quote: dropped
  ["StreamTitle='t';StreamUrl='\0", { StreamTitle: 't' }],
  ["StreamTitle='first';StreamTitle='second';", { StreamTitle: 'first' }],
  ['a=b;StreamTitle=\'t\';c=', { a: 'b', StreamTitle: 't', c: '' }],
  ["StreamTitle='t';StreamU", { StreamTitle: 't' }], // a key cut by the end of the text
  ["StreamTitle='t';Stream Url", { StreamTitle: 't' }],
  ["StreamTitle='t';9=x", { StreamTitle: "t';9=x" }], // `9` cannot start a key: the value goes on
  ["Stream Title='t';x.y-z_1='v';", { 'Stream Title': 't', 'x.y-z_1': 'v' }],
  ["_bad='x';", {}],
  ['', {}]
]

test('own vectors: every path of the parsing rule', () => {
  for (const [input, fields] of OWN_VECTORS) assert.deepEqual(fieldsOf(input), fields, JSON.stringify(input))
})

test('title and url come from StreamTitle and StreamUrl, and are absent when those are', () => {
  assert.deepEqual(parseMetadata(text("StreamTitle='t';StreamUrl='u';")), {
    fields: { StreamTitle: 't', StreamUrl: 'u' }, title: 't', url: 'u'
  })
  assert.deepEqual(parseMetadata(text('foo=bar;')), { fields: { foo: 'bar' } })
})

/** Decodes the C string literals of the avpack vectors: `\xNN` and `\0` (a NUL, as its note says). */
function cLiteral (literal: string): Buffer {
  const bytes: number[] = []
  for (let i = 0; i < literal.length; i++) {
    if (literal[i] !== '\\') bytes.push(literal.charCodeAt(i))
    else if (literal[i + 1] === '0') { bytes.push(0); i++ } else { bytes.push(parseInt(literal.slice(i + 2, i + 4), 16)); i += 3 }
  }
  return Buffer.from(bytes)
}

interface Vector {
  name?: string
  input?: string
  input_bytes_utf8?: string
  expected?: Record<string, string> | string
  expected_StreamTitle?: string
  expected_pairs?: Array<[string, string]>
  expected_first_pair?: [string, string]
  writer_input?: Array<[string, string]>
  expected_block_bytes_c_literal?: string
  stream_input_c_literal?: string
  metaint?: number
  expected_audio?: string
  expected_metadata_blocks?: number
}

/** Checks one vector; false when its shape is not one this test knows (that fails the test). */
function checkVector (library: string, v: Vector): boolean {
  const label = `${library}: ${v.name ?? v.input ?? v.input_bytes_utf8 ?? v.stream_input_c_literal ?? ''}`
  const input = v.input ?? v.input_bytes_utf8
  if (input !== undefined && typeof v.expected === 'object') {
    assert.deepEqual(fieldsOf(input), v.expected, label)
  } else if (input !== undefined && typeof v.expected === 'string') {
    assert.equal(parseMetadata(text(input)).title, undefined, label) // MPD: "no StreamTitle"
  } else if (input !== undefined && v.expected_StreamTitle !== undefined) {
    assert.equal(parseMetadata(text(input)).title, v.expected_StreamTitle, label)
  } else if (input !== undefined && v.expected_pairs !== undefined) {
    assert.deepEqual(Object.entries(fieldsOf(input)), v.expected_pairs, label)
  } else if (input !== undefined && v.expected_first_pair !== undefined) {
    assert.deepEqual(Object.entries(fieldsOf(input))[0], v.expected_first_pair, label)
  } else if (v.writer_input !== undefined && v.expected_block_bytes_c_literal !== undefined) {
    assert.deepEqual(buildMetadataBlock(v.writer_input), cLiteral(v.expected_block_bytes_c_literal), label)
  } else if (v.stream_input_c_literal !== undefined && v.metaint !== undefined) {
    const stream = cLiteral(v.stream_input_c_literal)
    for (const sizes of [[stream.length], [3], [1]]) {
      const out = demux(v.metaint, chunkBy(stream, sizes))
      assert.equal(out.audio.toString('latin1'), v.expected_audio, label)
      assert.equal(out.events.filter(e => e.kind === 'metadata').length, v.expected_metadata_blocks, label)
    }
  } else {
    return false
  }
  return true
}

test('parse-vectors.json: every vector of every library', (t) => {
  if (!conformancePresent(t)) return
  const vectors = JSON.parse(readFileSync(new URL('parse-vectors.json', CONFORMANCE_DIR), 'utf8'))
  let checked = 0
  for (const [library, list] of Object.entries(vectors)) {
    if (!Array.isArray(list)) continue // "_about"
    for (const vector of list as Vector[]) {
      assert.ok(checkVector(library.split(' ')[0], vector), `unknown vector shape in ${library}: ${JSON.stringify(vector)}`)
      checked++
    }
  }
  t.diagnostic(`${checked} parser vectors checked`)
  assert.ok(checked >= 40)
})

test('decoding: UTF-8 when valid, else Latin-1, or the charset given', () => {
  assert.equal(parseMetadata(text("StreamTitle='Café ひらがな';")).title, 'Café ひらがな')
  const latin1 = Buffer.concat([text("StreamTitle='Caf"), Buffer.of(0xe9), text("';")])
  assert.equal(parseMetadata(latin1).title, 'Café')
  // ISO-8859-2: "Zażółć" is Z a 0xBF 0xF3 0xB3 0xE6
  const latin2 = Buffer.concat([text("StreamTitle='Za"), Buffer.of(0xbf, 0xf3, 0xb3, 0xe6), text("';\0")])
  assert.equal(parseMetadata(latin2, 'iso-8859-2').title, 'Zażółć')
  // windows-1251: "Кино" is 0xCA 0xE8 0xED 0xEE
  const cp1251 = Buffer.concat([text("StreamTitle='"), Buffer.of(0xca, 0xe8, 0xed, 0xee), text("';")])
  assert.equal(parseMetadata(cp1251, 'windows-1251').title, 'Кино')
  // the block's bytes are left as they were
  assert.deepEqual(latin2.subarray(15, 19), Buffer.of(0xbf, 0xf3, 0xb3, 0xe6))
})

test('charsets: ASCII-compatible TextDecoder labels only; parse throws on others', () => {
  for (const name of ['utf-8', 'iso-8859-2', 'windows-1251', 'latin1', 'koi8-r', 'shift_jis', 'gb18030']) {
    assert.equal(isSupportedCharset(name), true, name)
  }
  for (const name of ['utf-16le', 'utf-16', 'iso-2022-jp', 'x-user-defined', 'bogus', '']) {
    assert.equal(isSupportedCharset(name), false, name)
  }
  assert.throws(() => parseMetadata(text("StreamTitle='x';"), 'bogus'), {
    code: 'FST_ICECAST_RELAY_UNSUPPORTED_CHARSET', message: /bogus/
  })
})

test('validateBlock: well-formed blocks pass, others get a reason', () => {
  const pad = (s: string): Buffer => {
    const block = Buffer.alloc(Math.ceil(Buffer.byteLength(s) / 16) * 16 || 16)
    block.write(s)
    return block
  }
  for (const ok of ["StreamTitle='x';", "StreamUrl='http://x';", "StreamTitle='it's';", 'a=b;',
    "StreamTitle='cut at the size lim", "StreamTitle='pad with spaces';      "]) {
    assert.equal(validateBlock(pad(ok)), undefined, ok)
  }
  const bad: Array<[Buffer, RegExp]> = [
    [Buffer.alloc(16), /only padding/],
    [Buffer.alloc(16, ' '), /only padding/],
    [pad("StreamTitle='a\0b';"), /control byte 0x00 at offset 14/],
    [pad("StreamTitle='a\nb';"), /control byte 0x0a/],
    [pad("'StreamTitle='x';"), /does not start with Key=/],
    [pad('<html><body>'), /does not start with Key=/],
    [pad("StreamTitle='never closed"), /no closing quote/]
  ]
  for (const [block, reason] of bad) assert.match(validateBlock(block) ?? '', reason, JSON.stringify(block.toString()))
})

test('EMPTY_TITLE_BLOCK and ZERO_BLOCK', () => {
  assert.deepEqual(EMPTY_TITLE_BLOCK, Buffer.concat([Buffer.of(1), text("StreamTitle='';"), Buffer.of(0)]))
  assert.deepEqual(ZERO_BLOCK, Buffer.of(0))
})

test('buildMetadataBlock: length byte, NUL padding to 16, StreamTitle first', () => {
  const block = buildMetadataBlock({ url: 'http://x', title: 'A - B' })
  const body = "StreamTitle='A - B';StreamUrl='http://x';"
  assert.equal(block[0], 3)
  assert.equal(block.length, 49)
  assert.equal(block.toString('latin1', 1, 1 + body.length), body)
  assert.ok(block.subarray(1 + body.length).every(b => b === 0))
  assert.deepEqual(buildMetadataBlock({}), EMPTY_TITLE_BLOCK)
  // exactly 16 bytes of text: no padding unit added
  assert.deepEqual(buildMetadataBlock({ title: 'x' }), Buffer.concat([Buffer.of(1), text("StreamTitle='x';")]))
})

test('buildMetadataBlock: a value cannot break out; control characters are removed', () => {
  const title = "a';StreamUrl='evil';b"
  const block = buildMetadataBlock({ title, url: 'good' })
  const parsed = parseMetadata(block.subarray(1))
  assert.equal(parsed.title, "a\u2019;StreamUrl='evil';b")
  assert.equal(parsed.url, 'good')
  assert.equal(parseMetadata(buildMetadataBlock({ title: 'a\0b\nc\u007f' }).subarray(1)).title, 'abc')
  assert.throws(() => buildMetadataBlock([['Bad=Key', 'x']]), { code: 'FST_ICECAST_RELAY_BAD_METADATA_KEY' })
  assert.throws(() => buildMetadataBlock([['', 'x']]), { code: 'FST_ICECAST_RELAY_BAD_METADATA_KEY' })
})

test('buildMetadataBlock: capped at 4080 bytes of text, cut on a UTF-8 character boundary', () => {
  const block = buildMetadataBlock({ title: '€'.repeat(2000), url: 'dropped' })
  assert.equal(block[0], 255)
  assert.equal(block.length, 1 + MAX_TEXT_BYTES)
  const { title, url } = parseMetadata(block.subarray(1))
  assert.equal(url, undefined)
  // 4080 - "StreamTitle='" - "';" = 4065 bytes of room, 1355 whole euros (3 bytes each)
  assert.equal(title, '€'.repeat(1355))
  assert.equal(validateBlock(block.subarray(1)), undefined)
})

test('toListenerBlock: StreamTitle-first blocks pass byte-exact, others are rebuilt title first', () => {
  const latin1 = Buffer.alloc(32)
  Buffer.concat([text("StreamTitle='Caf"), Buffer.of(0xe9), text("';")]).copy(latin1)
  assert.deepEqual(toListenerBlock(latin1), Buffer.concat([Buffer.of(2), latin1]))
  const urlOnly = Buffer.alloc(32)
  urlOnly.write("StreamUrl='http://x';")
  assert.deepEqual(toListenerBlock(urlOnly), buildMetadataBlock({ title: '', url: 'http://x' }))
})

// Titles that stress the rule: quotes, semicolons, equals signs and key-like letters, packed together.
const trickyArb = fc.string({ unit: fc.constantFrom("'", ';', '=', 'a', 'Z', ' ', '_', 'é', '€', '😀', '\0', '\n'), maxLength: 40 })
const titleArb = fc.oneof(trickyArb, fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'binary', minLength: 1000, maxLength: 2500 }))

/** What the building rule promises to give back (the rule at the top of lib/shoutcast/metadata.ts). */
function promised (value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is matched
  return value.replace(/[\u0000-\u001f\u007f]/g, '').replace(/'(?=;[A-Za-z][A-Za-z0-9 _.-]*=)/g, '\u2019')
}

test('property: parse(build(x)) gives back the title and URL, cut only past 4080 bytes', () => {
  fc.assert(fc.property(titleArb, fc.option(titleArb, { nil: undefined }), (title, url) => {
    const block = buildMetadataBlock({ title, url })
    assert.equal((block.length - 1) % 16, 0)
    assert.equal(block[0] * 16, block.length - 1)
    assert.ok(block.length - 1 <= MAX_TEXT_BYTES)
    assert.equal(validateBlock(block.subarray(1)), undefined)
    const parsed = parseMetadata(block.subarray(1))
    const room = MAX_TEXT_BYTES - 'StreamTitle=\'\';'.length
    const want = promised(title)
    if (Buffer.byteLength(want) <= room) {
      assert.equal(parsed.title, want)
    } else {
      assert.ok(want.startsWith(parsed.title ?? '\0'))
      assert.ok(Buffer.byteLength(parsed.title ?? '') > room - 4)
    }
    const used = 'StreamTitle=\'\';'.length + Buffer.byteLength(parsed.title ?? '')
    if (url !== undefined && used + Buffer.byteLength(`StreamUrl='${promised(url)}';`) <= MAX_TEXT_BYTES) {
      assert.equal(parsed.url, promised(url))
    } else if (parsed.url !== undefined) {
      assert.ok(promised(url ?? '').startsWith(parsed.url))
    }
    // and it frames right: stripped from a body, the block comes back whole
    assert.deepEqual(stripIcy(Buffer.concat([Buffer.from('ab'), block]), 2).blocks[0].block, block.subarray(1))
  }))
})
