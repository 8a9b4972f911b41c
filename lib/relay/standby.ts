import { toRelayError, type RelayError } from '../errors.js'
import { pageLength } from '../formats/ogg.js'
import type { UpstreamConnection, UpstreamSink } from '../upstream/client.js'
import { backoffDelay } from './backoff.js'

/** The most bytes a standby keeps of the start of an Ogg stream for its header pages. */
const OGG_HEADER_BYTES = 256 * 1024

export interface StandbyOptions {
  /** the upstream's index in the relay's list */
  index: number
  open: (signal: AbortSignal) => Promise<UpstreamConnection>
  /** the ring's bound: bytes kept of the latest audio */
  ringBytes: number
  maxBackoffMs: number
  /** connected and read (`standby`), or failed and waiting for a retry */
  state: (state: 'standby' | 'failed', error?: RelayError) => void
}

/** The standby connection handed to the relay at a switch, with the bytes it must replay first. */
export interface Handover {
  connection: UpstreamConnection
  /** replays what the relay must send of the standby, then passes the rest of its bytes on to `sink` */
  attach: (sink: UpstreamSink | undefined) => void
}

interface Kept { offset: number, chunk: Buffer }

/**
 * Where a stream may be taken up from the middle: an Ogg stream needs its header pages first (granule 0
 * pages at its start); an ICY stream must be cut where an audio run starts, so that the demuxer counts
 * `icy-metaint` from there.
 */
class Resume {
  /** the Ogg stream's header pages, once the first page with audio showed; undefined while unknown or not Ogg */
  oggHeaders: Buffer | undefined
  #prefix: Buffer | undefined = Buffer.alloc(0)
  readonly #metaint: number | undefined
  /** audio bytes left in the current run, or -1 when a length byte comes, or < -1 when metadata bytes come */
  #left: number
  /** offsets where ICY audio runs start, oldest first */
  readonly runs: number[] = [0]

  constructor (metaint: number | undefined) {
    this.#metaint = metaint
    this.#left = metaint ?? 0
  }

  read (chunk: Buffer, offset: number): void {
    if (this.#prefix !== undefined) this.#readPrefix(chunk)
    if (this.#metaint !== undefined) this.#readIcy(chunk, offset)
  }

  /**
   * Where a reader can take the stream up at `from` or near it, the ring holding bytes from `first`: an Ogg
   * stream still in its header pages from its start; an ICY stream where the next audio run begins (its
   * demuxer counts `icy-metaint` from there), or the last one held when the next has not come yet.
   */
  start (from: number, first: number): number {
    if (this.#prefix !== undefined) return first
    if (this.#metaint === undefined) return from
    return this.runs.find((run) => run >= from) ?? this.runs.filter((run) => run >= first).at(-1) ?? from
  }

  /** Forgets ICY run starts the ring no longer holds, keeping the last one before `from`. */
  forget (from: number): void {
    while (this.runs.length > 1 && this.runs[1]! <= from) this.runs.shift()
  }

  #readPrefix (chunk: Buffer): void {
    const prefix = Buffer.concat([this.#prefix!, chunk])
    this.#prefix = prefix
    if (prefix.length >= 4 && prefix.toString('latin1', 0, 4) !== 'OggS') {
      this.#prefix = undefined
      return
    }
    for (let at = 0; at < prefix.length;) {
      const length = pageLength(prefix, at)
      if (length === undefined) break
      if (length === false || prefix.readBigInt64LE(at + 6) !== 0n) {
        this.oggHeaders = at > 0 ? prefix.subarray(0, at) : undefined
        this.#prefix = undefined
        return
      }
      at += length
    }
    if (prefix.length > OGG_HEADER_BYTES) this.#prefix = undefined
  }

  #readIcy (chunk: Buffer, offset: number): void {
    const metaint = this.#metaint!
    for (let at = 0; at < chunk.length;) {
      if (this.#left > 0) {
        const n = Math.min(this.#left, chunk.length - at)
        this.#left -= n
        at += n
        if (this.#left === 0) this.#left = -1
      } else if (this.#left === -1) {
        const meta = chunk[at++]! * 16
        this.#left = meta === 0 ? metaint : -1 - meta
        if (meta === 0) this.runs.push(offset + at)
      } else {
        const n = Math.min(-1 - this.#left, chunk.length - at)
        this.#left += n
        at += n
        if (this.#left === -1) {
          this.#left = metaint
          this.runs.push(offset + at)
        }
      }
    }
  }
}

/**
 * Hot standby: the upstream after the active one, kept connected and read while the active one plays, its
 * latest bytes in a bounded ring (one per relay), none sent. A failure is retried with the backoff, and
 * touches nothing else. At a switch it hands over its connection and the bytes that came after the active
 * upstream's last byte (`mark`), so that listeners hear neither a gap nor audio twice.
 */
export class Standby {
  readonly index: number
  readonly #options: StandbyOptions
  readonly #abort = new AbortController()
  #connection: UpstreamConnection | undefined
  #retry: NodeJS.Timeout | undefined
  #attempt = 0
  #ring: Kept[] = []
  #ringBytes = 0
  /** bytes of this connection so far */
  #total = 0
  /** where the active upstream's last byte came, in this connection's bytes */
  #mark = 0
  #resume = new Resume(undefined)
  /** once handed over: where its bytes go (until then they are kept) */
  #sink: UpstreamSink | undefined
  #handedOver = false

  constructor (options: StandbyOptions) {
    this.index = options.index
    this.#options = options
    this.#connect()
  }

  /** A byte of the active upstream came now: what the standby got so far is older than the active upstream's audio. */
  mark (): void {
    this.#mark = this.#total
  }

  /** Its connection, if it is connected, with the bytes listeners must get first; the standby is spent. */
  takeOver (): Handover | undefined {
    clearTimeout(this.#retry)
    const connection = this.#connection
    if (connection === undefined) {
      this.drop()
      return undefined
    }
    this.#handedOver = true
    const kept = this.#since()
    return {
      connection,
      attach: (sink) => {
        if (sink === undefined) return
        for (const chunk of kept) sink.data(chunk)
        this.#sink = sink
        this.#ring = []
      }
    }
  }

  drop (): void {
    clearTimeout(this.#retry)
    this.#abort.abort()
    this.#connection?.close()
    this.#connection = undefined
  }

  #connect (): void {
    this.#options.open(this.#abort.signal).then((connection) => {
      if (this.#abort.signal.aborted) {
        connection.close()
        return
      }
      this.#connection = connection
      this.#ring = []
      this.#ringBytes = 0
      this.#total = 0
      this.#mark = 0
      const metaint = Number.parseInt(connection.head.headers['icy-metaint'] ?? '', 10)
      this.#resume = new Resume(metaint > 0 ? metaint : undefined)
      this.#options.state('standby')
      connection.start({
        data: (chunk) => {
          if (this.#sink !== undefined) this.#sink.data(chunk)
          else if (!this.#handedOver) this.#keep(chunk)
        },
        end: (error) => {
          if (this.#sink !== undefined) this.#sink.end(error)
          else if (!this.#handedOver) this.#failed(error)
        }
      })
    }, (error: unknown) => { if (!this.#abort.signal.aborted) this.#failed(error) })
  }

  #failed (error: unknown): void {
    this.#connection = undefined
    this.#options.state('failed', toRelayError(error))
    const delay = backoffDelay(this.#attempt++, this.#options.maxBackoffMs)
    this.#retry = setTimeout(() => this.#connect(), delay).unref()
  }

  #keep (chunk: Buffer): void {
    this.#resume.read(chunk, this.#total)
    this.#ring.push({ offset: this.#total, chunk })
    this.#total += chunk.length
    this.#ringBytes += chunk.length
    while (this.#ringBytes - this.#ring[0]!.chunk.length >= this.#options.ringBytes) this.#ringBytes -= this.#ring.shift()!.chunk.length
    this.#resume.forget(this.#ring[0]!.offset)
  }

  /** The ring's bytes from where listeners take the stream up: after the mark, cut where a reader can start. */
  #since (): Buffer[] {
    const first = this.#ring[0]?.offset ?? this.#total
    const headers = this.#resume.oggHeaders
    let from = this.#resume.start(Math.max(this.#mark, first), first)
    // an Ogg stream taken up past its header pages gets them first, as a new listener would
    if (headers !== undefined) from = Math.max(from, headers.length)
    const bytes = this.#ring.flatMap(({ offset, chunk }) => {
      if (offset + chunk.length <= from) return []
      return [offset >= from ? chunk : chunk.subarray(from - offset)]
    })
    return headers === undefined ? bytes : [headers, ...bytes]
  }
}
