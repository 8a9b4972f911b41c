import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { test } from 'node:test'
import { parseMetadata } from '../../../lib/shoutcast/metadata.js'
import { chunkAt, chunkBy, CONFORMANCE_DIR, conformancePresent, demux, prng, randomBytes, stripIcy } from '../../helpers/icy.js'

/** A block as the conformance `expected.json` files describe it. */
interface ExpectedBlock {
  length_byte_offset: number
  length_byte: number
  block_len: number
  audio_bytes_before: number
  text: string
  nul_padding: number
}

/** One ICY body to check, from a real capture or from a synthetic one of ours. */
interface Capture {
  name: string
  body: Buffer
  metaint: number
  charset: string
  blocks: ExpectedBlock[]
  boundaries?: number
  audio?: Buffer
  audioSize?: number
  audioSha256?: string
  /** titles (and URLs) in block order, from the upstream project's own expectations */
  titles?: Array<{ title: string, url?: string }>
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/** Chunkings that hit every path: whole, one byte at a time, fixed, random, and cuts at every block edge. */
function chunkings (capture: Capture): Array<[string, Buffer[]]> {
  const { body, blocks } = capture
  const next = prng(body.length)
  const random = Array.from({ length: 64 }, () => 1 + Math.floor(next() * 9000))
  const edges = blocks.flatMap(b => [b.length_byte_offset, b.length_byte_offset + 1,
    b.length_byte_offset + 1 + (b.block_len >> 1), b.length_byte_offset + 1 + b.block_len])
  return [
    ['whole', [body]],
    ['1 byte', chunkBy(body, [1])],
    ['1460 bytes', chunkBy(body, [1460])],
    ['random sizes', chunkBy(body, random)],
    ['cut at block edges', chunkAt(body, edges)]
  ]
}

function checkCapture (capture: Capture): void {
  const { name, body, metaint, charset } = capture
  const stripped = stripIcy(body, metaint)
  if (capture.audio !== undefined) assert.ok(stripped.audio.equals(capture.audio), `${name}: audio differs`)
  if (capture.audioSize !== undefined) assert.equal(stripped.audio.length, capture.audioSize, name)
  if (capture.audioSha256 !== undefined) assert.equal(sha256(stripped.audio), capture.audioSha256, name)
  if (capture.boundaries !== undefined) assert.equal(stripped.boundaries, capture.boundaries, name)

  assert.equal(stripped.blocks.length, capture.blocks.length, `${name}: titled blocks`)
  capture.blocks.forEach((want, i) => {
    const got = stripped.blocks[i]
    const label = `${name}: block ${i}`
    assert.equal(got.lengthByteOffset, want.length_byte_offset, label)
    assert.equal(body[got.lengthByteOffset], want.length_byte, label)
    assert.equal(got.block.length, want.block_len, label)
    assert.equal(got.audioBefore, want.audio_bytes_before, label)
    const textBytes = want.block_len - want.nul_padding
    assert.equal(new TextDecoder(charset).decode(got.block.subarray(0, textBytes)), want.text, label)
    assert.ok(got.block.subarray(textBytes).every(b => b === 0), `${label}: padding`)
  })

  const parsed = stripped.blocks.map(b => parseMetadata(b.block, charset))
  if (capture.titles !== undefined) {
    assert.deepEqual(parsed.map(p => p.title), capture.titles.map(t => t.title), `${name}: titles`)
    capture.titles.forEach((t, i) => { if (t.url !== undefined) assert.equal(parsed[i].url, t.url, name) })
  }

  for (const [how, chunks] of chunkings(capture)) {
    const out = demux(metaint, chunks)
    assert.ok(out.audio.equals(stripped.audio), `${name} (${how}): audio differs`)
    assert.deepEqual(out.events.map(e => e.kind), stripped.blocks.map(() => 'metadata'), `${name} (${how})`)
    out.events.forEach((e, i) => assert.ok(e.block.equals(stripped.blocks[i].block), `${name} (${how}): block ${i}`))
  }
}

// ---------------------------------------------------------------------------------------------------
// Real captures: every folder of the shared conformance material that holds an expected.json.

/** Titles the upstream projects assert themselves (their notes in expected.json, and .cue files). */
const UPSTREAM_TITLES: Record<string, Array<{ title: string, url?: string }>> = {
  'node-icy/icy-server-response-metaint': [{ title: 'Johanna - Alive (Greg B Remix)', url: '' }],
  'icecast-metadata-js/stats-testdata/icy': [{ title: 'Afterlife - Deeper - Into Places' }],
  'icecast-metadata-js/mp3-320k-iso-8859-2-metaint4096-truncated': [
    { title: 'Katona Klári - Vigyél el' }, { title: 'Auth Csilla - El Kell, Hogy Engedj' }
  ]
}

/** The track titles of a .cue file, without the date some recorders put in front. */
function cueTitles (cue: string): Array<{ title: string, url?: string }> {
  const tracks = cue.split(/^\s*TRACK /m).slice(1)
  return tracks.map(track => {
    const title = /^\s*TITLE "(.*)"$/m.exec(track)?.[1] ?? ''
    const url = /^\s*REM STREAMURL "(.*)"$/m.exec(track)?.[1]
    const titled = { title: title.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, '') }
    return url === undefined ? titled : { ...titled, url }
  })
}

interface FolderExpected {
  metaint: number
  metadata_charset: string
  raw_size: number
  raw_sha256: string
  expected_audio_size: number
  expected_audio_sha256: string
  metadata_blocks_total: number
  metadata: ExpectedBlock[]
}

interface FileExpected {
  kind: string
  size: number
  sha256: string
  metaint?: number
  header_bytes?: number
  header_text?: string
  metadata_blocks_total?: number
  audio_bytes_after_strip?: number
  metadata?: ExpectedBlock[]
}

/** A folder whose expected.json describes one `.raw` body and the audio file beside it. */
function folderCapture (folder: URL, name: string, expected: FolderExpected): Capture {
  const files = readdirSync(folder)
  const size = (file: string): number => statSync(new URL(file, folder)).size
  const raw = files.find(f => f.includes('.raw') && size(f) === expected.raw_size)
  const audio = files.find(f => !f.includes('.raw') && size(f) === expected.expected_audio_size)
  assert.ok(raw !== undefined && audio !== undefined, `${name}: .raw body or expected audio not found`)
  const body = readFileSync(new URL(raw, folder))
  assert.equal(sha256(body), expected.raw_sha256, `${name}: the capture changed`)
  const cue = files.find(f => f.endsWith('.cue'))
  return {
    name,
    body,
    metaint: expected.metaint,
    charset: expected.metadata_charset,
    blocks: expected.metadata,
    boundaries: expected.metadata_blocks_total,
    audio: readFileSync(new URL(audio, folder)),
    audioSha256: expected.expected_audio_sha256,
    titles: UPSTREAM_TITLES[name] ?? (cue === undefined ? undefined : cueTitles(readFileSync(new URL(cue, folder), 'utf8')))
  }
}

/** Splits a response head (status line and headers) from the body it announces the metaint of. */
function splitResponse (file: Buffer, headBytes: number): { head: string, body: Buffer, metaint: number } {
  const head = file.toString('latin1', 0, headBytes)
  const metaint = Number(/^icy-metaint:\s*(\d+)\r$/mi.exec(head)?.[1])
  return { head, body: file.subarray(headBytes), metaint }
}

/** One file of a folder whose expected.json describes each file; undefined for files without ICY. */
function fileCapture (folder: URL, name: string, expected: FileExpected): Capture | undefined {
  if (expected.metadata === undefined) return undefined
  const file = readFileSync(new URL(name.split('/').at(-1) ?? '', folder))
  assert.equal(sha256(file), expected.sha256, `${name}: the capture changed`)
  let body: Buffer = file
  const metaint = expected.metaint ?? Number(/metaint (\d+)/.exec(expected.kind)?.[1])
  if (expected.header_bytes !== undefined) {
    const response = splitResponse(file, expected.header_bytes)
    assert.equal(response.head, expected.header_text, name)
    assert.equal(response.metaint, metaint, name)
    body = response.body
  }
  return {
    name,
    body,
    metaint,
    charset: 'utf-8',
    blocks: expected.metadata,
    boundaries: expected.metadata_blocks_total,
    audioSize: expected.audio_bytes_after_strip,
    titles: UPSTREAM_TITLES[name]
  }
}

function findExpected (dir: URL, under = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    if (entry.isDirectory()) return findExpected(new URL(`${entry.name}/`, dir), `${under}${entry.name}/`)
    return entry.name === 'expected.json' ? [under] : []
  })
}

test('real captures: stripping gives the expected audio, blocks and titles for any chunking', (t) => {
  if (!conformancePresent(t)) return
  const folders = findExpected(CONFORMANCE_DIR)
  assert.ok(folders.length > 0, 'no expected.json under the conformance folder')
  let checked = 0
  for (const folder of folders) {
    const dir = new URL(folder, CONFORMANCE_DIR)
    const expected = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8'))
    const captures: Capture[] = []
    if (typeof expected.metaint === 'number') {
      captures.push(folderCapture(dir, folder.slice(0, -1), expected))
    } else {
      for (const [file, entry] of Object.entries<FileExpected>(expected)) {
        if (file.startsWith('_')) continue
        const capture = fileCapture(dir, `${folder}${file}`, entry)
        if (capture === undefined) t.diagnostic(`${folder}${file}: not an ICY body (${entry.kind.slice(0, 40)}...), not stripped`)
        else captures.push(capture)
      }
    }
    assert.ok(captures.length > 0, `${folder}expected.json: no ICY capture recognised in it`)
    for (const capture of captures) {
      checkCapture(capture)
      t.diagnostic(`${capture.name}: metaint ${capture.metaint}, ${capture.blocks.length} titled blocks, ok`)
      checked++
    }
  }
  assert.ok(checked >= 9, `only ${checked} captures found`)
})

test('real captures: node-icy reader expectation, one metadata event under 4096 bytes', (t) => {
  if (!conformancePresent(t)) return
  for (const file of ['4EverFloyd-1-8192.mp3', '4EverFloyd-2-8192.mp3']) {
    const out = demux(8192, [readFileSync(new URL(`node-icy/${file}`, CONFORMANCE_DIR))])
    assert.equal(out.events.length, 1, file)
    assert.ok(out.events[0].block.length < 4096)
  }
})

test('real captures: the ISO-8859-2 titles', (t) => {
  if (!conformancePresent(t)) return
  const folder = new URL('icecast-metadata-js/mp3-320k-iso-8859-2-metaint4096-truncated/', CONFORMANCE_DIR)
  const body = readFileSync(new URL('music-320k_iso-8859-2.raw.prefix-1175951', folder))
  const [first] = stripIcy(body, 4096).blocks
  assert.equal(parseMetadata(first.block, 'iso-8859-2').title, 'Katona Klári - Vigyél el')
  // 'á' and 'é' have the same byte in Latin-1, so the fallback reads these two titles right too
  assert.equal(parseMetadata(first.block).title, 'Katona Klári - Vigyél el')
})

// ---------------------------------------------------------------------------------------------------
// Synthetic captures of our own, checked the same way, so every path runs even without the folder.

/** Bytes of `s` in a single-byte charset, from a table of its non-ASCII characters. */
function singleByte (s: string, table: Record<string, number>): Buffer {
  return Buffer.from([...s].map(c => table[c] ?? c.charCodeAt(0)))
}

const LATIN2: Record<string, number> = { ż: 0xbf, ó: 0xf3, ł: 0xb3, ć: 0xe6, ę: 0xea, ś: 0xb6, ą: 0xb1, ź: 0xbc, ń: 0xf1 }

/** An ICY body with `titles[k]` (text bytes, or none) at boundary k, and its expected description. */
function synthesize (name: string, metaint: number, audioLength: number, charset: string,
  titles: ReadonlyMap<number, { text: string, bytes: Buffer, title: string, url?: string }>): Capture {
  const audio = randomBytes(audioLength, audioLength)
  const parts: Buffer[] = []
  const blocks: ExpectedBlock[] = []
  let offset = 0
  let k = 0
  for (let pos = 0; pos < audioLength; pos += metaint) {
    const piece = audio.subarray(pos, pos + metaint)
    parts.push(piece)
    offset += piece.length
    if (pos + metaint > audioLength) break
    const titled = titles.get(k++)
    const units = titled === undefined ? 0 : Math.ceil(titled.bytes.length / 16)
    const block = Buffer.alloc(1 + units * 16)
    block[0] = units
    titled?.bytes.copy(block, 1)
    if (titled !== undefined) {
      blocks.push({
        length_byte_offset: offset,
        length_byte: units,
        block_len: units * 16,
        audio_bytes_before: pos + metaint,
        text: titled.text,
        nul_padding: units * 16 - titled.bytes.length
      })
    }
    parts.push(block)
    offset += block.length
  }
  return {
    name,
    body: Buffer.concat(parts),
    metaint,
    charset,
    blocks,
    boundaries: k,
    audio,
    titles: [...titles.values()].map(({ title, url }) => url === undefined ? { title } : { title, url })
  }
}

const utf8Title = (title: string, url?: string) => {
  const text = `StreamTitle='${title}';${url === undefined ? '' : `StreamUrl='${url}';`}`
  return { text, bytes: Buffer.from(text), title, ...(url === undefined ? {} : { url }) }
}

test('synthetic captures: the same checks on bodies of our own', () => {
  const latin2Title = 'Zażółć gęślą jaźń'
  const latin2Text = `StreamTitle='${latin2Title}';`
  const captures = [
    // like mp3-vbr-isics-metaint64: tiny metaint, mostly zero blocks
    synthesize('synthetic metaint 64', 64, 50_000, 'utf-8', new Map([
      [0, utf8Title('Scanning...')], [100, utf8Title("TO:49021 it's ; = FROM:7750002")], [700, utf8Title('Scanning...')]
    ])),
    // like the SomaFM AAC: StreamUrl beside the title, metaint 16000
    synthesize('synthetic metaint 16000 with StreamUrl', 16000, 200_000, 'utf-8', new Map([
      [0, utf8Title('Tlon - ひらがな €', 'http://example.com/logo.png')], [9, utf8Title('SinQ - Rain', 'http://example.com/logo.png')]
    ])),
    // like the ISO-8859-2 capture: titles in a legacy charset
    synthesize('synthetic ISO-8859-2', 4096, 100_000, 'iso-8859-2', new Map([
      [0, { text: latin2Text, bytes: singleByte(latin2Text, LATIN2), title: latin2Title }]
    ])),
    // metaint 1: a length byte after every audio byte
    synthesize('synthetic metaint 1', 1, 300, 'utf-8', new Map([
      [5, utf8Title('one')], [6, utf8Title('two')]
    ]))
  ]
  for (const capture of captures) checkCapture(capture)
})

test('synthetic capture: a full ICY response head before the body, as SHOUTcast v1 sends it', () => {
  const head = 'ICY 200 OK\r\nicy-name:Synthetic\r\ncontent-type:audio/mpeg\r\nicy-metaint:8192\r\nicy-br:128\r\n\r\n'
  const inner = synthesize('synthetic ICY response', 8192, 40_000, 'utf-8', new Map([[0, utf8Title('Johanna', '')]]))
  const file = Buffer.concat([Buffer.from(head, 'latin1'), inner.body])
  const response = splitResponse(file, file.indexOf('\r\n\r\n') + 4)
  assert.equal(response.head, head)
  assert.equal(response.metaint, 8192)
  checkCapture({ ...inner, body: response.body })
})
