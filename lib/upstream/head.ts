import { BadHeaderError, BadStatusLineError, HeadCompleteError, HeadTooLargeError } from '../errors.js'

export type ResponseProtocol = 'HTTP/1.0' | 'HTTP/1.1' | 'ICY'

/**
 * A parsed response head. Header names are lowercased, values trimmed of spaces and tabs, repeated
 * headers joined with ', '. Text is decoded as Latin-1 so that every byte survives unchanged
 * (`Buffer.from(value, 'latin1')` gives the bytes back) and can be passed on to listeners as is.
 */
export interface ResponseHead {
  protocol: ResponseProtocol
  status: number
  reason: string
  /** A null-prototype object, so that a header named `__proto__` is just a header. */
  headers: Record<string, string>
}

export interface ParsedHead {
  head: ResponseHead
  /** Body bytes that arrived with the end of the head: a subarray of the last chunk pushed. */
  rest: Buffer
}

export const DEFAULT_HEAD_LIMIT = 16384

const LF = 0x0a
const STATUS_LINE = /^(HTTP\/1\.[01]|ICY) +(\d{3})(?:[ \t]+(.*))?$/
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/
// Control characters other than HTAB: Node's http refuses them in outgoing headers, and a CR in
// a value passed on to listeners could split their header lines.
const CONTROL = /[\0-\x08\x0a-\x1f\x7f]/ // eslint-disable-line no-control-regex
const SPACES_AROUND = /^[ \t]+|[ \t]+$/g

/**
 * Incremental parser of an HTTP/1.x or ICY response head. Pure: the same bytes give the same
 * result (or the same error) however they are chunked. One parser reads one head.
 */
export class HeadParser {
  readonly #label: string
  readonly #limit: number
  /** Bytes of the head taken so far, the unfinished line included. */
  #size = 0
  /** The unfinished line, as copies so that no large socket chunk stays referenced. */
  #partial: Buffer[] = []
  #partialLength = 0
  #status: Omit<ResponseHead, 'headers'> | undefined
  #headers: Record<string, string> = Object.create(null)
  #complete = false

  /**
   * `label` names the upstream in error messages; `limit` caps the head's bytes, line ends included
   * (no real head is under 12 bytes; below 5 the chunking could decide which error comes first).
   */
  constructor (label: string, limit = DEFAULT_HEAD_LIMIT) {
    this.#label = label
    this.#limit = limit
  }

  /** Returns undefined until the blank line that ends the head has arrived. */
  push (chunk: Buffer): ParsedHead | undefined {
    if (this.#complete) throw new HeadCompleteError()
    let start = 0
    while (start < chunk.length) {
      // Search only as far as the head may still grow, so a huge chunk is refused without a full scan.
      const room = this.#limit - this.#size
      const newline = chunk.subarray(start, start + room).indexOf(LF)
      if (newline === -1) {
        this.#keepPartial(chunk.subarray(start))
        return undefined
      }
      const line = this.#takeLine(chunk.subarray(start, start + newline))
      this.#size += newline + 1
      start += newline + 1
      if (this.#readLine(line)) {
        this.#complete = true
        return { head: { ...this.#status!, headers: this.#headers }, rest: chunk.subarray(start) }
      }
    }
    return undefined
  }

  #keepPartial (tail: Buffer): void {
    // Check the start of the status line before the size: garbage fails the same way, at once,
    // whether it comes in one large chunk or byte by byte.
    if (this.#status === undefined) this.#checkStatusStart(tail)
    if (this.#size + tail.length > this.#limit) throw new HeadTooLargeError(this.#label, this.#limit)
    this.#partial.push(Buffer.from(tail))
    this.#partialLength += tail.length
    this.#size += tail.length
  }

  #checkStatusStart (tail: Buffer): void {
    const first = Buffer.concat([...this.#partial, tail], Math.min(this.#partialLength + tail.length, 5))
      .toString('latin1')
    if (!'HTTP/'.startsWith(first) && !'ICY '.startsWith(first.slice(0, 4))) {
      throw new BadStatusLineError(this.#label, JSON.stringify(first))
    }
  }

  /** The line ending at `tail`, without its line end (LF, or CRLF). */
  #takeLine (tail: Buffer): string {
    const bytes = this.#partialLength === 0 ? tail : Buffer.concat([...this.#partial, tail])
    this.#partial = []
    this.#partialLength = 0
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length
    return bytes.toString('latin1', 0, end)
  }

  /** True when `line` is the blank line that ends the head. */
  #readLine (line: string): boolean {
    if (this.#status === undefined) {
      this.#status = parseStatusLine(line, this.#label)
      return false
    }
    if (line === '') return true
    const [name, value] = parseHeaderLine(line, this.#label)
    const previous = this.#headers[name]
    this.#headers[name] = previous === undefined ? value : `${previous}, ${value}`
    return false
  }
}

function parseStatusLine (line: string, label: string): Omit<ResponseHead, 'headers'> {
  const match = STATUS_LINE.exec(line)
  const reason = match?.[3]?.replace(SPACES_AROUND, '') ?? ''
  if (match === null || CONTROL.test(reason)) throw new BadStatusLineError(label, quote(line))
  return { protocol: match[1] as ResponseProtocol, status: Number(match[2]), reason }
}

function parseHeaderLine (line: string, label: string): [string, string] {
  const colon = line.indexOf(':')
  if (colon === -1) throw new BadHeaderError(label, quote(line))
  const name = line.slice(0, colon).replace(SPACES_AROUND, '').toLowerCase()
  const value = line.slice(colon + 1).replace(SPACES_AROUND, '')
  if (!TOKEN.test(name) || CONTROL.test(value)) throw new BadHeaderError(label, quote(line))
  return [name, value]
}

/** A line for an error message: quoted, control characters escaped, at most 80 characters. */
function quote (line: string): string {
  return JSON.stringify(line.length > 80 ? line.slice(0, 80) + '…' : line)
}
