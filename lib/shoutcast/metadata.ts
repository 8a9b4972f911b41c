/**
 * ICY metadata text: parse, validate and build the blocks that follow every `icy-metaint` audio bytes
 * (a length byte L, then L*16 bytes such as `StreamTitle='Artist - Song';StreamUrl='http://x';`,
 * padded with NULs, by some servers with spaces).
 *
 * Parsing rule. Servers do not escape quotes (`StreamTitle='it's';` is real) and the test vectors of
 * icecast-metadata-js, MPD, node-icy and avpack each cover different edge cases, so:
 * 1. Trailing NULs and spaces are padding and are removed first.
 * 2. A key starts with an ASCII letter and holds letters, digits, space, `_`, `-`, `.`; `=` ends it.
 *    Parsing stops at the first spot that does not hold a key (`StreamTitl` alone gives no fields).
 * 3. A quoted value (`Key='...`) ends at the first `'` that is followed by `;` and a key with its `=`,
 *    by `;` and the start of a key cut by the end of the text (`';StreamU`), by `;` and the end of
 *    the text, or by the end of the text. So `'it's'`, `'a;b'`, `'x=y'` and `'fo'o'b'ar'` are plain values.
 * 4. A quoted value with no end is kept when the text fills the whole block (the server cut it at the
 *    size limit) and dropped when padding follows it (the block is malformed).
 * 5. An unquoted value (`a=b;`) ends at the next `;`.
 * 6. When a key repeats, its first value wins.
 * The delimiters are ASCII, so the text is scanned as bytes and the rule holds in every
 * ASCII-compatible charset. Values are then decoded: with the relay's `charset` when one is set, else as
 * UTF-8 when the whole text is valid UTF-8, else as Latin-1. The block's bytes are never altered.
 *
 * Building rule, chosen so that parsing a built block gives the values back: the text is UTF-8;
 * from a title and URL, `StreamTitle` is written first (Icecast 2.4.4 ends a source whose block
 * starts with anything else); control characters (U+0000-U+001F, U+007F) are removed, as no reader
 * accepts them; a `'` inside a value that is followed by `;` and a key with its `=` (which rule 3
 * would take as the end) is written as `’` (U+2019), which looks the same. The text is capped at 4080
 * bytes: values are cut on a UTF-8 character boundary and a field that no longer fits is left out.
 */
import { textDecoder } from '../charset.js'
import { BadMetadataKeyError } from '../errors.js'

/** The most text a block can carry: the length byte counts 16-byte units, up to 255. */
export const MAX_TEXT_BYTES = 255 * 16

export interface ParsedMetadata {
  /** every field found, in block order, decoded for display */
  fields: Record<string, string>
  /** `StreamTitle` */
  title?: string
  /** `StreamUrl` */
  url?: string
}

export interface TitleAndUrl {
  title?: string
  url?: string
}

/** Fields with any keys, written in this order. */
export type MetadataPairs = ReadonlyArray<readonly [key: string, value: string]>

const QUOTE = 0x27
const SEMICOLON = 0x3b
const EQUALS = 0x3d
const SPACE = 0x20
const DEL = 0x7f

function isLetter (c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
}

function isKeyChar (c: number): boolean {
  return isLetter(c) || (c >= 0x30 && c <= 0x39) || c === SPACE || c === 0x5f || c === 0x2d || c === 0x2e
}

/** Where the run of key characters starting at `from` ends, or -1 when no key starts there. */
function keyRun (text: string, from: number): number {
  if (!isLetter(text.charCodeAt(from))) return -1
  let end = from + 1
  while (end < text.length && isKeyChar(text.charCodeAt(end))) end++
  return end
}

/** Where the value of a key starting at `from` begins (just past its `=`), or -1 when no key is there. */
function keyEnd (text: string, from: number): number {
  const run = keyRun(text, from)
  return run >= 0 && text.charCodeAt(run) === EQUALS ? run + 1 : -1
}

/** True when a key, or the start of one cut by the end of the text, is at `from` (or nothing is). */
function keyOrEndAt (text: string, from: number): boolean {
  const run = from === text.length ? from : keyRun(text, from)
  return run === text.length || (run >= 0 && text.charCodeAt(run) === EQUALS)
}

/** True when a `'` at `quote` ends a value (rule 3). */
function endsValue (text: string, quote: number): boolean {
  const after = quote + 1
  if (after === text.length) return true
  return text.charCodeAt(after) === SEMICOLON && keyOrEndAt(text, after + 1)
}

/** The index of the quote that closes a value starting at `from`, or -1. */
function closingQuote (text: string, from: number): number {
  for (let i = text.indexOf("'", from); i >= 0; i = text.indexOf("'", i + 1)) {
    if (endsValue(text, i)) return i
  }
  return -1
}

/** The length of the text once trailing padding (NULs, spaces) is removed. */
function textLength (block: Buffer): number {
  let end = block.length
  while (end > 0 && (block[end - 1] === 0 || block[end - 1] === SPACE)) end--
  return end
}

interface FieldSpan {
  key: string
  start: number
  end: number
}

/** Finds the fields of `text` (one char per byte) as byte spans, by rules 2 to 5. */
function scanFields (text: string, padded: boolean): FieldSpan[] {
  const spans: FieldSpan[] = []
  let pos = 0
  while (pos < text.length) {
    const valueStart = keyEnd(text, pos)
    if (valueStart < 0) break
    const key = text.slice(pos, valueStart - 1)
    if (text.charCodeAt(valueStart) !== QUOTE) {
      const semicolon = text.indexOf(';', valueStart)
      const end = semicolon < 0 ? text.length : semicolon
      spans.push({ key, start: valueStart, end })
      pos = end + 1
      continue
    }
    const close = closingQuote(text, valueStart + 1)
    if (close < 0) {
      if (!padded) spans.push({ key, start: valueStart + 1, end: text.length })
      break
    }
    spans.push({ key, start: valueStart + 1, end: close })
    pos = close + 2
  }
  return spans
}

/**
 * Reads the fields of a metadata block (the L*16 bytes after the length byte), by the rule at the top
 * of this file. Throws when `charset` is not supported (see `isSupportedCharset` in lib/charset.ts).
 */
export function parseMetadata (block: Buffer, charset?: string): ParsedMetadata {
  const length = textLength(block)
  const decode = textDecoder(block.subarray(0, length), charset)
  const fields: Record<string, string> = {}
  // Keys start with a letter, so `__proto__` can never be one: a plain object is safe.
  for (const { key, start, end } of scanFields(block.toString('latin1', 0, length), length < block.length)) {
    if (!Object.hasOwn(fields, key)) fields[key] = decode(block.subarray(start, end))
  }
  const parsed: ParsedMetadata = { fields }
  if (Object.hasOwn(fields, 'StreamTitle')) parsed.title = fields.StreamTitle
  if (Object.hasOwn(fields, 'StreamUrl')) parsed.url = fields.StreamUrl
  return parsed
}

function firstControlByte (block: Buffer, length: number): number {
  for (let i = 0; i < length; i++) {
    if (block[i] < SPACE || block[i] === DEL) return i
  }
  return -1
}

/**
 * Why a metadata block (the L*16 bytes after the length byte) is malformed, or undefined when it is
 * fine. Icecast 2.4.4 ends the source on a bad block; the relay logs the reason and drops the block.
 * Any well-formed `Key='value';` start passes, not only `StreamTitle=`.
 */
export function validateBlock (block: Buffer): string | undefined {
  const length = textLength(block)
  if (length === 0) return 'the block holds only padding'
  const control = firstControlByte(block, length)
  if (control >= 0) {
    return `control byte 0x${block[control].toString(16).padStart(2, '0')} at offset ${control} before the padding`
  }
  const text = block.toString('latin1', 0, length)
  if (keyEnd(text, 0) < 0) return "the text does not start with Key='value'"
  if (scanFields(text, length < block.length).length === 0) return 'the first value has no closing quote'
  return undefined
}

function removeControls (value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is matched
  return value.replace(/[\u0000-\u001f\u007f]/g, '')
}

/** The building rule's one change: a `'` that rule 3 would take as the end of the value. */
function keepInsideValue (value: string): string {
  return value.replace(/'(?=;[A-Za-z][A-Za-z0-9 _.-]*=)/g, '\u2019')
}

function assertKey (key: string): void {
  if (keyEnd(`${key}=`, 0) !== key.length + 1) throw new BadMetadataKeyError(JSON.stringify(key))
}

/** The longest start of `bytes` that fits `room` and does not cut a UTF-8 character. */
function cutUtf8 (bytes: Buffer, room: number): Buffer {
  if (bytes.length <= room) return bytes
  let end = room
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--
  return bytes.subarray(0, end)
}

/** The ICY fields of a title and URL, those given: `StreamTitle` and `StreamUrl`. */
export function titleFields (fields: TitleAndUrl): Record<string, string> {
  return {
    ...(fields.title !== undefined && { StreamTitle: fields.title }),
    ...(fields.url !== undefined && { StreamUrl: fields.url })
  }
}

function toPairs (fields: TitleAndUrl): MetadataPairs {
  const pairs: Array<[string, string]> = [['StreamTitle', fields.title ?? '']]
  if (fields.url !== undefined) pairs.push(['StreamUrl', fields.url])
  return pairs
}

/** The length byte, then the `parts` (`textBytes` in all) padded with NULs to a multiple of 16 bytes. */
function frame (parts: Buffer[], textBytes: number): Buffer {
  const units = Math.ceil(textBytes / 16)
  const block = Buffer.alloc(1 + units * 16)
  block[0] = units
  let at = 1
  for (const part of parts) at += part.copy(block, at)
  return block
}

/**
 * A block ready for the wire (length byte first), from a title and URL (`StreamTitle` is always
 * written, empty when no title is given) or from key/value pairs written in their order.
 * Throws when a key could not be parsed back (see the rule at the top of this file).
 */
export function buildMetadataBlock (fields: TitleAndUrl | MetadataPairs): Buffer {
  const pairs = Array.isArray(fields) ? fields as MetadataPairs : toPairs(fields as TitleAndUrl)
  const parts: Buffer[] = []
  let used = 0
  for (const [key, value] of pairs) {
    assertKey(key)
    const overhead = key.length + 4 // `Key='` and `';`
    if (used + overhead > MAX_TEXT_BYTES) continue
    const bytes = cutUtf8(Buffer.from(keepInsideValue(removeControls(value))), MAX_TEXT_BYTES - used - overhead)
    parts.push(Buffer.from(`${key}='`, 'latin1'), bytes, Buffer.from("';", 'latin1'))
    used += overhead + bytes.length
  }
  return frame(parts, used)
}

/**
 * The bytes to send listeners for a block received from the upstream (the L*16 bytes after the length
 * byte): the same bytes behind a length byte when the text starts with `StreamTitle=`, else a block
 * rebuilt with `StreamTitle` first, since an Icecast relaying from us would end its source on it.
 */
export function toListenerBlock (block: Buffer, charset?: string): Buffer {
  if (block.length <= MAX_TEXT_BYTES && block.toString('latin1', 0, 12) === 'StreamTitle=') {
    return frame([block], block.length)
  }
  const { fields, title } = parseMetadata(block, charset)
  const others = Object.entries(fields).filter(([key]) => key !== 'StreamTitle')
  return buildMetadataBlock([['StreamTitle', title ?? ''], ...others])
}

/** What listeners get at their first boundary before any title is known: `StreamTitle='';`. */
export const EMPTY_TITLE_BLOCK: Buffer = buildMetadataBlock({ title: '' })

/** A zero length byte: "metadata unchanged". Shared by every listener: never write into it. */
export const ZERO_BLOCK: Buffer = Buffer.from([0])
