import { BadChunkError } from '../errors.js'

const LF = 0x0a
const CR = 0x0d
// Size lines and trailer lines are short; a longer one means the body is not chunked at all.
const MAX_LINE = 4096
const SIZE_LINE = /^([0-9a-fA-F]+)[ \t]*(?:;.*)?$/
// 13 hex digits stay below 2 ** 53, so the size is an exact JavaScript number.
const MAX_SIZE_DIGITS = 13

type State = 'size' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'done'

/**
 * Incremental decoder of `Transfer-Encoding: chunked`. Pure: any chunking of the same bytes gives
 * the same body. The body comes out as subarrays of the pushed buffers, never copied. Bare LF is
 * accepted wherever CRLF is due, as most HTTP clients do.
 */
export class ChunkedDecoder {
  readonly #label: string
  #state: State = 'size'
  /** The unfinished size or trailer line. */
  #line = ''
  /** Bytes left in the current chunk's data. */
  #remaining = 0

  /** `label` names the upstream in error messages. */
  constructor (label: string) {
    this.#label = label
  }

  /** True once the last (zero-size) chunk and its trailers have been read. */
  get done (): boolean {
    return this.#state === 'done'
  }

  /**
   * Returns the body bytes found in `chunk`. Bytes after the end are ignored: the connection is not
   * reused. A BadChunkError drops the body of the failing push: the stream is over anyway.
   */
  push (chunk: Buffer): Buffer[] {
    const body: Buffer[] = []
    let at = 0
    while (at < chunk.length && this.#state !== 'done') {
      switch (this.#state) {
        case 'size':
        case 'trailer':
          at = this.#readLine(chunk, at)
          break
        case 'data': {
          const end = Math.min(chunk.length, at + this.#remaining)
          body.push(chunk.subarray(at, end))
          this.#remaining -= end - at
          at = end
          if (this.#remaining === 0) this.#state = 'data-cr'
          break
        }
        case 'data-cr':
          this.#state = this.#afterData(chunk[at++]!, 'data-cr')
          break
        case 'data-lf':
          this.#state = this.#afterData(chunk[at++]!, 'data-lf')
          break
      }
    }
    return body
  }

  /** The line end after a chunk's data: CRLF or a bare LF. */
  #afterData (byte: number, state: 'data-cr' | 'data-lf'): State {
    if (byte === LF) return 'size'
    if (byte === CR && state === 'data-cr') return 'data-lf'
    throw new BadChunkError(this.#label, `expected CRLF after chunk data, got byte ${byte}`)
  }

  /** Reads up to the end of the current line; returns where reading stopped. */
  #readLine (chunk: Buffer, at: number): number {
    // Look no further than one byte past the longest line allowed.
    const window = chunk.subarray(at, at + MAX_LINE + 1 - this.#line.length)
    const found = window.indexOf(LF)
    const newline = found === -1 ? -1 : at + found
    const end = newline === -1 ? at + window.length : newline
    this.#line += chunk.toString('latin1', at, end)
    if (this.#line.length > MAX_LINE) throw new BadChunkError(this.#label, `line longer than ${MAX_LINE} bytes`)
    if (newline === -1) return end
    const line = this.#line.endsWith('\r') ? this.#line.slice(0, -1) : this.#line
    this.#line = ''
    if (this.#state === 'size') this.#startChunk(line)
    else if (line === '') this.#state = 'done'
    return newline + 1
  }

  #startChunk (line: string): void {
    const match = SIZE_LINE.exec(line)
    if (match === null) throw new BadChunkError(this.#label, `bad chunk size line ${JSON.stringify(line.slice(0, 80))}`)
    const digits = match[1]!.replace(/^0+(?=.)/, '')
    if (digits.length > MAX_SIZE_DIGITS) throw new BadChunkError(this.#label, `chunk size ${digits} is too large`)
    this.#remaining = parseInt(digits, 16)
    this.#state = this.#remaining === 0 ? 'trailer' : 'data'
  }
}
