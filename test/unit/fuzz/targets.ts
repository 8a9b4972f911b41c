// Every parser the relay feeds with bytes from the network or a config file, as a fuzz target: an arbitrary of
// hostile inputs (random, token soups, mutated real inputs, in any chunking) and a property that the parser
// throws nothing but its documented errors and returns within TIME_BOUND_MS. `test/fuzz/fuzz.test.ts` runs each
// a little in `npm test`; `npm run fuzz` runs each for minutes.
import { existsSync, readFileSync } from 'node:fs'
import fc from 'fast-check'
import { readIcecastConfig } from '../../../lib/config/icecast.js'
import { FormatDetector } from '../../../lib/formats/detect.js'
import { MpegReader } from '../../../lib/formats/mpeg.js'
import { OggReader, pageLength } from '../../../lib/formats/ogg.js'
import { NO_SYNC, SYNC_ANYWHERE, type FormatReader, type FormatSink } from '../../../lib/formats/sink.js'
import { formatStreamlist, parseStreamlist } from '../../../lib/master/streamlist.js'
import { IcyDemuxer } from '../../../lib/shoutcast/demux.js'
import { buildMetadataBlock, MAX_TEXT_BYTES, parseMetadata, toListenerBlock, validateBlock } from '../../../lib/shoutcast/metadata.js'
import { IcyMuxer } from '../../../lib/shoutcast/mux.js'
import { ChunkedDecoder } from '../../../lib/upstream/chunked.js'
import { HeadParser } from '../../../lib/upstream/head.js'
import { MASTER_SNIPPET, RELAY_SNIPPET } from '../config/seed.js'
import { syntheticAdts } from '../../helpers/adts.js'
import { cut, offsets } from '../../helpers/chunking.js'
import { filler, mutated, OGG_STREAMS, oggPageSoup, reconnectingReaders, soup, windows, withPageCrcs } from './inputs.js'

/** Far above any run (a few ms) and far below a hang; generous because other work may share the machine. */
const TIME_BOUND_MS = 1000

export interface FuzzTarget {
  name: string
  /** the codes of the errors the parser documents; anything else thrown is a bug */
  allowed: readonly string[]
  input: fc.Arbitrary<unknown>
  /** Runs the parser on one input; throws when it broke the property. */
  check (input: unknown): void
}

/** The check every target shares: only `allowed` errors, and a result within TIME_BOUND_MS. */
function target<T> (name: string, allowed: readonly string[], input: fc.Arbitrary<T>, run: (input: T) => void): FuzzTarget {
  const check = (value: T): void => {
    const start = performance.now()
    try {
      run(value)
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code
      if (typeof code !== 'string' || !allowed.includes(code)) {
        throw new Error(`${name}: ${(error as Error)?.name ?? typeof error} escaped: ${(error as Error)?.message ?? String(error)}`, { cause: error })
      }
    }
    const took = performance.now() - start
    if (took > TIME_BOUND_MS) throw new Error(`${name}: took ${took.toFixed(0)} ms (bound ${TIME_BOUND_MS} ms)`)
  }
  return { name, allowed, input, check }
}

/** The target as a fast-check property; `onRun` is called before each run (the fuzz script counts them). */
export function propertyOf ({ input, check }: FuzzTarget, onRun: () => void = () => {}): fc.IPropertyWithHooks<[unknown]> {
  return fc.property(input, (value) => {
    onRun()
    check(value)
  })
}

/** Bytes with the cut points to push them at. */
function chunked (bytes: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer[]> {
  return fc.tuple(bytes, offsets).map(([whole, at]) => cut(whole, at))
}

const anyBytes = fc.uint8Array({ maxLength: 4096 }).map((bytes) => Buffer.from(bytes))
const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1')
const LABEL = 'http://fuzz.example:8000/live'

// --- upstream response heads -------------------------------------------------------------------------------

const REAL_HEADS = [
  'HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-br:128\r\nicy-metaint:16000\r\nicy-name:Radio\r\nServer: Icecast 2.4.4\r\nCache-Control: no-cache\r\n\r\n\xff\xfb\x90\x64',
  'ICY 200 OK\r\nicy-notice1:<BR>This stream requires <a href="http://www.winamp.com/">Winamp</a><BR>\r\nicy-name:SHOUTcast\r\ncontent-type:audio/mpeg\r\nicy-pub:1\r\nicy-metaint:8192\r\nicy-br:128\r\n\r\n',
  'HTTP/1.1 302 Found\r\nLocation: http://other.example/live\r\nTransfer-Encoding: chunked\r\nX-Audiocast-Name: old\r\n\r\n'
].map(latin1)
const HEAD_TOKENS = ['HTTP/1.0 ', 'HTTP/1.1 ', 'ICY ', '200', ' OK', '\r\n', '\n', '\r', ':', ': ', 'Content-Type', 'icy-metaint',
  '__proto__', '\t', ' ', '\0', '\xe9', '\x7f']

/** A status line, mostly a good one, then header soup: past the status line is where most of the parsing is. */
const headSoup = fc.tuple(fc.constantFrom('HTTP/1.0 200 OK\r\n', 'ICY 200 OK\n', 'HTTP/1.1 302 \r\n', 'HTTP/1.0 200'), soup(HEAD_TOKENS))
  .map(([status, rest]) => latin1(status + rest))

const headBytes = fc.oneof({ weight: 3, arbitrary: headSoup }, { weight: 1, arbitrary: soup(HEAD_TOKENS).map(latin1) },
  { weight: 1, arbitrary: anyBytes }, { weight: 3, arbitrary: mutated(fc.constantFrom(...REAL_HEADS), HEAD_TOKENS) })
/** and a head size limit, small ones included, to reach the size check from every state */
const headLimit = fc.option(fc.integer({ min: 5, max: 20000 }), { nil: undefined })

const head = target('head', ['FST_ICECAST_RELAY_BAD_STATUS_LINE', 'FST_ICECAST_RELAY_BAD_HEADER', 'FST_ICECAST_RELAY_HEAD_TOO_LARGE'],
  fc.tuple(chunked(headBytes), headLimit),
  ([pieces, limit]) => {
    const parser = new HeadParser(LABEL, limit)
    // pushing after the head is complete is the caller's mistake, not bad input: stop there as the client does
    for (const piece of pieces) if (parser.push(piece) !== undefined) return
  })

// --- chunked bodies ----------------------------------------------------------------------------------------

const REAL_CHUNKED = latin1('10;name=value\r\n0123456789abcdef\r\n5\r\nhello\r\nA\n0123456789\n0\r\nX-Trailer: 1\r\n\r\nafter the end')
const CHUNK_TOKENS = ['0', '1', 'a', 'F', 'ff', '10', '\r\n', '\n', '\r', ';', ';ext="a;b"', ' ', '\t', 'x', '0\r\n\r\n', 'FFFFFFFFFFFFFF', '00000000000000001']

/** Well-formed chunked bodies of random chunks (hex sizes in any case, CRLF or LF), to mutate. */
const encodedBodies = fc.array(fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.boolean(), fc.constantFrom('\r\n', '\n')), { maxLength: 6 })
  .map((chunks) => Buffer.concat([...chunks.map(([data, upper, eol]) => {
    const size = data.length.toString(16)
    return Buffer.concat([latin1((upper ? size.toUpperCase() : size) + eol), data, latin1(eol)])
  }), latin1('0\r\n\r\n')]))

const chunkedBody = target('chunked', ['FST_ICECAST_RELAY_BAD_CHUNK'],
  chunked(fc.oneof({ weight: 1, arbitrary: soup(CHUNK_TOKENS).map(latin1) }, { weight: 1, arbitrary: anyBytes },
    { weight: 4, arbitrary: mutated(fc.oneof(fc.constant(REAL_CHUNKED), encodedBodies), CHUNK_TOKENS) })),
  (pieces) => {
    const decoder = new ChunkedDecoder(LABEL)
    let body = 0
    for (const piece of pieces) for (const slice of decoder.push(piece)) body += slice.length
    const sent = pieces.reduce((sum, piece) => sum + piece.length, 0)
    if (body > sent) throw new Error(`decoded ${body} bytes from ${sent}`)
  })

// --- ICY: the demuxer on a stream, and the metadata text ---------------------------------------------------

const sample = readFileSync(new URL('../../demo/sample.mp3', import.meta.url))
const CHARSETS = [undefined, 'utf-8', 'iso-8859-2', 'windows-1251', 'shift_jis', 'utf-16le', 'iso-2022-jp', 'no-such-charset']
const ICY_TOKENS = ["StreamTitle='", "StreamUrl='", "';", "'", ';', '=', '\0', ' ', 'Artist - Song', "it's", '\xe9', '\xc3', '\xff',
  '\u2019', '\x01', '\x7f', 'StreamTitle=', 'a=b;', "__proto__='x';", 'StreamTitl', "';StreamUrl='"]

/** A real ICY body: audio from sample.mp3 with a metadata block (a new title every `metaint` bytes or so) interleaved. */
function icyBody (audio: Buffer, metaint: number, titles: string[]): Buffer {
  const muxer = new IcyMuxer(metaint)
  const out: Buffer[] = []
  const step = Math.max(1, Math.ceil(audio.length / Math.max(1, titles.length)))
  titles.forEach((title, i) => muxer.interleave(audio.subarray(i * step, (i + 1) * step), buildMetadataBlock({ title }), out))
  return Buffer.concat(out)
}

const icyStream = fc.integer({ min: 1, max: 2048 }).chain((metaint) => fc.record({
  metaint: fc.oneof({ weight: 8, arbitrary: fc.constant(metaint) }, { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double()) }),
  pieces: chunked(fc.oneof(
    mutated(fc.tuple(windows(sample, 8192), fc.array(soup(ICY_TOKENS, 8), { maxLength: 6 })).map(([audio, titles]) => icyBody(audio, metaint, titles)), ICY_TOKENS),
    anyBytes)),
  charset: fc.constantFrom(...CHARSETS)
}))

const icy = target('icy-stream', ['FST_ICECAST_RELAY_BAD_METAINT', 'FST_ICECAST_RELAY_UNSUPPORTED_CHARSET'], icyStream, ({ metaint, pieces, charset }) => {
  const demuxer = new IcyDemuxer(metaint, {
    audio: () => {},
    // what the shoutcast sub-plugin does with a block: the title for the status, the bytes for listeners
    metadata: (block) => { parseMetadata(block, charset); toListenerBlock(block, charset) },
    malformed: () => {}
  })
  for (const piece of pieces) demuxer.push(piece)
})

const metadataKey = fc.oneof(fc.constantFrom('StreamTitle', 'StreamUrl', 'Key 2', 'a.b-c_d', 'x'), fc.string({ unit: 'binary', maxLength: 8 }))
const metadataValue = fc.oneof(soup(ICY_TOKENS, 12), fc.string({ unit: 'binary', maxLength: 5000 }))

/** A block the relay builds must be framed right and pass its own check, or a downstream Icecast ends its source. */
function assertBuilt (block: Buffer): void {
  const text = block.subarray(1)
  if (block[0]! * 16 !== text.length || text.length > MAX_TEXT_BYTES) throw new Error(`built block framed wrong: ${block[0]} units, ${text.length} bytes`)
  const wrong = text.length === 0 ? undefined : validateBlock(text)
  if (wrong !== undefined) throw new Error(`built block fails validateBlock: ${wrong}`)
}

const icyText = target('icy-text', ['FST_ICECAST_RELAY_UNSUPPORTED_CHARSET', 'FST_ICECAST_RELAY_BAD_METADATA_KEY'],
  fc.record({
    block: fc.oneof(soup(ICY_TOKENS).map(latin1), anyBytes, fc.string({ maxLength: 300 }).map((text) => Buffer.from(text))),
    charset: fc.constantFrom(...CHARSETS),
    title: fc.option(metadataValue, { nil: undefined }),
    url: fc.option(metadataValue, { nil: undefined }),
    pairs: fc.array(fc.tuple(metadataKey, metadataValue), { maxLength: 4 })
  }),
  ({ block, charset, title, url, pairs }) => {
    assertBuilt(buildMetadataBlock({ ...(title !== undefined && { title }), ...(url !== undefined && { url }) }))
    // the demuxer hands on L*16 bytes, and only blocks that pass validateBlock
    const received = Buffer.concat([block, Buffer.alloc(-block.length & 15)]).subarray(0, MAX_TEXT_BYTES)
    if (validateBlock(received) === undefined) assertBuilt(toListenerBlock(received))
    assertBuilt(buildMetadataBlock(pairs))
    parseMetadata(block, charset)
  })

// --- the master's stream list ------------------------------------------------------------------------------

const REAL_STREAMLIST = '/live.mp3\r\n/jazz.ogg\r\n/caf%C3%A9\r\nhttp://other.example:8000/rock.mp3\r\n\r\n'
const STREAMLIST_TOKENS = ['/', '/live.mp3', 'http://', 'https://', 'HTTP://', 'host', ':8000', '@', 'user:pass@', '\r\n', '\n', '\r', '%',
  '%2e', '%2E%2e', '..', '.', '?', '#', '\\', ' ', '\t', '//', '\xe9', '%C3%A9', '%ZZ', '%00', '[::1]', '\uFFFD', ';', '\u2028']

const streamlist = target('streamlist', [],
  fc.record({
    text: fc.oneof(soup(STREAMLIST_TOKENS, 60), fc.string({ unit: 'binary', maxLength: 500 }),
      mutated(fc.constant(Buffer.from(REAL_STREAMLIST)), STREAMLIST_TOKENS).map((bytes) => bytes.toString('utf8'))),
    master: fc.constantFrom('http://127.0.0.1:8000', 'https://master.example:8443', 'http://[::1]:8000')
  }),
  ({ text, master }) => {
    const { entries } = parseStreamlist(text, new URL(master))
    // what this app lists as a master, a slave (this app too) must read back the same
    const mounts = entries.map((entry) => entry.localMount)
    const again = parseStreamlist(formatStreamlist(mounts), new URL(master)).entries.map((entry) => entry.localMount)
    if (JSON.stringify(again) !== JSON.stringify(mounts)) throw new Error(`listed ${JSON.stringify(mounts)}, read back ${JSON.stringify(again)}`)
  })

// --- format readers ----------------------------------------------------------------------------------------

/** A sink that checks what every reader promises: sync offsets inside their chunk; returns the bytes handed on. */
function readAll (make: (sink: FormatSink) => FormatReader, pieces: Buffer[]): Buffer {
  const out: Buffer[] = []
  const reader = make({
    chunk (bytes, sync) {
      if (sync !== NO_SYNC && sync !== SYNC_ANYWHERE && !(sync >= 0 && sync < bytes.length)) {
        throw new Error(`sync offset ${sync} outside a chunk of ${bytes.length} bytes`)
      }
      out.push(bytes)
    },
    headers () {},
    info () {},
    tags () {},
    corrupt () {}
  })
  for (const piece of pieces) reader.push(piece)
  return Buffer.concat(out)
}

const FRAME_TOKENS = ['\xff\xfb\x90\x64', '\xff\xf1\x50\x80', '\xff', 'ID3\x04\x00', 'TAG', 'OggS']
// windows long enough for the reader's periodic bitrate report (every 200 frames), junk long enough to be passed on unframed
const mpegBases = fc.oneof(windows(sample, 70000), windows(syntheticAdts(60, filler), 8192),
  fc.tuple(fc.nat(40000), windows(sample, 4096)).map(([junk, frames]) => Buffer.concat([filler(junk), frames])))
/** Made-up frame headers (sync word and random fields) with payloads of random length. */
const frameSoup = fc.array(fc.tuple(fc.integer({ min: 0xe0, max: 0xff }), fc.uint8Array({ minLength: 5, maxLength: 5 }), fc.nat(1500)), { maxLength: 20 })
  .map((frames) => Buffer.concat(frames.map(([b1, rest, length]) => Buffer.concat([Buffer.from([0xff, b1]), rest, filler(length)]))))
const mpegInput = fc.oneof(mutated(mpegBases, FRAME_TOKENS), frameSoup, anyBytes)

const mpeg = target('mpeg', [], chunked(mpegInput), (pieces) => {
  const input = Buffer.concat(pieces)
  const out = readAll((sink) => new MpegReader(sink), pieces)
  // junk between frames is passed on, never dropped or reordered: what comes out starts the input
  if (!input.subarray(0, out.length).equals(out)) throw new Error('handed on bytes that are not a prefix of the input')
})

const oggInput = fc.oneof(
  fc.tuple(mutated(fc.constantFrom(...OGG_STREAMS), ['OggS', '\x00', '\xff']), fc.boolean()).map(([bytes, fix]) => fix ? withPageCrcs(bytes) : bytes),
  oggPageSoup,
  anyBytes)

const ogg = target('ogg', [], chunked(oggInput), (pieces) => {
  const out = readAll((sink) => new OggReader(sink), pieces)
  const sent = pieces.reduce((sum, piece) => sum + piece.length, 0)
  if (out.length > sent) throw new Error(`handed on ${out.length} bytes of ${sent}`)
})

/** Two upstream connections, as the relay reads them: the second reader gets the chain the first left open. */
const oggReconnect = target('ogg-reconnect', [], fc.tuple(chunked(oggInput), chunked(oggInput)), ([first, second]) => {
  const readers = reconnectingReaders()
  const before = readAll(readers.first, first)
  const after = readAll(readers.second, second)
  // the second connection hands on its own pages, or fewer (pages sent already), and an EOS page per open stream
  const sent = second.reduce((sum, piece) => sum + piece.length, 0)
  if (after.length > sent + 27 * (readers.chain()?.streams.length ?? 0)) throw new Error(`handed on ${after.length} bytes of ${sent}`)
  const both = Buffer.concat([before, after])
  for (let at = 0; at < both.length;) {
    const length = pageLength(both, at)
    if (typeof length !== 'number') throw new Error(`no whole page at ${at}`)
    at += length
  }
})

const detect = target('detect', [],
  chunked(fc.oneof(oggInput, mpegInput, fc.tuple(anyBytes, oggInput, mpegInput).map((parts) => Buffer.concat(parts)))),
  (pieces) => {
    const out = readAll((sink) => new FormatDetector(sink), pieces)
    const sent = pieces.reduce((sum, piece) => sum + piece.length, 0)
    if (out.length > sent) throw new Error(`handed on ${out.length} bytes of ${sent}`)
  })

// --- Icecast XML configs -----------------------------------------------------------------------------------

const DEBIAN_CONFIG = '/etc/icecast2/icecast.xml'
if (!existsSync(DEBIAN_CONFIG)) throw new Error(`${DEBIAN_CONFIG} is missing (apt-get install icecast2): the config fuzz target mutates it`)
const REAL_CONFIGS = [MASTER_SNIPPET, RELAY_SNIPPET, readFileSync(DEBIAN_CONFIG, 'utf8')].map((text) => Buffer.from(text))

const ELEMENTS = ['icecast', 'relay', 'server', 'port', 'mount', 'local-mount', 'username', 'password', 'relay-shoutcast-metadata',
  'on-demand', 'relays-on-demand', 'master-server', 'master-server-port', 'master-update-interval', 'master-username',
  'master-password', 'limits', 'clients', 'queue-size', 'burst-size', 'burst-on-connect', 'source-timeout', 'authentication',
  'admin-user', 'admin-password', 'relay-user', 'relay-password', 'listen-socket', 'bind-address', 'hostname', 'location', 'admin',
  'server-id', 'paths', 'logging', 'ssl', 'constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'x:y', 'a']
const VALUES = ['8000', '0', '1', '-1', '65536', '2147483648', '99999999999', ' 8001 ', '/example.ogg', '/', '/a/../b', '127.0.0.1', '&amp;',
  '&lt;x&gt;', '&#233;', '&#0;', '<![CDATA[1]]>', '', 'http://x/', '\xe9', 'hackme']
const XML_TOKENS = ['<', '>', '</', '/>', '<!--', '-->', '&', ';', '"', "'", '<![CDATA[', ']]>', '<relay>', '</relay>', '<port>', '</port>',
  '<icecast>', '</icecast>', '<?xml version="1.0"?>', '<!DOCTYPE x [<!ENTITY a "b">]>', '&a;', '\uFEFF', '<constructor>', '<__proto__>', ' a="1"']

interface Element { name: string, attribute: boolean, content: string | Element[] }

const { element } = fc.letrec<{ element: Element }>((tie) => ({
  element: fc.record({
    name: fc.constantFrom(...ELEMENTS),
    attribute: fc.boolean(),
    content: fc.oneof({ depthSize: 'small' }, fc.constantFrom(...VALUES), fc.string({ maxLength: 8 }),
      fc.array(tie('element'), { maxLength: 4 }))
  })
}))

function render ({ name, attribute, content }: Element): string {
  const open = `<${name}${attribute ? ' a="1"' : ''}`
  if (content === '') return `${open}/>`
  return `${open}>${typeof content === 'string' ? content : content.map(render).join('\n')}</${name}>`
}

/** An element the reader knows, holding fields it knows with values that are mostly fine: what gets past validation. */
function section (name: string, fields: readonly string[]): fc.Arbitrary<string> {
  return fc.array(fc.tuple(fc.constantFrom(...fields), value), { maxLength: 6 })
    .map((pairs) => `<${name}>${pairs.map(([field, value]) => `<${field}>${value}</${field}>`).join('')}</${name}>`)
}

/** Mostly values some field takes, else any of VALUES: one bad value is enough to refuse a whole config. */
const value = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('8000', '1', '0', '127.0.0.1', '/example.ogg', '/live', 'hackme') },
  { weight: 1, arbitrary: fc.constantFrom(...VALUES) })

const plausible = fc.oneof(
  section('relay', ['server', 'port', 'port', 'mount', 'local-mount', 'username', 'password', 'relay-shoutcast-metadata', 'on-demand']),
  section('limits', ['clients', 'queue-size', 'burst-size', 'burst-on-connect', 'source-timeout']),
  section('authentication', ['admin-user', 'admin-password', 'relay-user', 'relay-password']),
  section('listen-socket', ['port', 'bind-address']),
  fc.tuple(fc.constantFrom('master-server', 'master-server-port', 'master-update-interval', 'master-password', 'relays-on-demand',
    'hostname', 'location', 'server-id'), value).map(([name, value]) => `<${name}>${value}</${name}>`))

/** Configs as whole files (`<icecast>` root, maybe a prolog) and as bare elements, as the docs show them. */
const xmlConfig = fc.tuple(fc.array(fc.oneof({ weight: 1, arbitrary: element.map(render) }, { weight: 3, arbitrary: plausible }), { maxLength: 8 }), fc.constantFrom('bare', 'root', 'prolog')).map(([elements, form]) => {
  const body = elements.join('\n')
  if (form === 'bare') return body
  return `${form === 'prolog' ? '<?xml version="1.0"?>\n' : ''}<icecast>\n${body}\n</icecast>`
})

const config = target('config', ['FST_ICECAST_RELAY_INVALID_CONFIG'],
  fc.oneof(xmlConfig, soup([...XML_TOKENS, ...ELEMENTS, ...VALUES]),
    mutated(fc.constantFrom(...REAL_CONFIGS), XML_TOKENS).map((bytes) => bytes.toString('utf8'))),
  (text) => { readIcecastConfig(text) })

/** Every target, one per parser. */
export const TARGETS: readonly FuzzTarget[] = [head, chunkedBody, icy, icyText, streamlist, mpeg, ogg, oggReconnect, detect, config]
