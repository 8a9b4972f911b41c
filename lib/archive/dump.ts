import fs from 'node:fs'
import type { FastifyBaseLogger } from 'fastify'
import { GIVE_UP_BYTES } from '../formats/detect.js'
import { SYNC_ANYWHERE } from '../formats/sink.js'
import type { ResolvedDumpFile } from '../options.js'
import { backoffDelay } from '../relay/backoff.js'
import type { StreamTap } from '../relay/extension.js'
import { expandName, withSequence } from './name.js'
import { rotationCut } from './rotation.js'

/**
 * The most bytes a dump may have waiting for its disk (about 4 minutes at 256 kbit/s): past it the file is
 * closed and the stream skipped until the disk has caught up, so that a slow disk costs bounded memory.
 */
export const MAX_BEHIND_BYTES = 8 * 1024 * 1024
/** How many names (`-1`, `-2`...) are tried after the one a pattern makes when those are taken. */
const MAX_SEQUENCE = 1000
/** The longest wait before a dump writes again after a disk error. */
const MAX_RETRY_MS = 60_000

/**
 * One file of a dump. Opened in the background (`wx`: a file that exists, or a link, is never written
 * into); what comes meanwhile is queued as the shared buffers it came in, then written in order.
 */
class DumpFile {
  readonly openedAt: number
  readonly pattern: string
  bytes = 0
  name: string
  stream: fs.WriteStream | undefined
  #pending: Buffer[] = []
  #pendingBytes = 0
  #ended = false
  readonly closed: Promise<void>
  #close!: () => void

  constructor (pattern: string, now: Date) {
    this.pattern = pattern
    this.name = expandName(pattern, now)
    this.openedAt = now.getTime()
    this.closed = new Promise((resolve) => { this.#close = resolve })
  }

  /** bytes given to it and not on disk yet */
  get behind (): number {
    return this.#pendingBytes + (this.stream?.writableLength ?? 0)
  }

  write (bytes: Buffer): void {
    this.bytes += bytes.length
    if (this.stream !== undefined) {
      this.stream.write(bytes)
      return
    }
    this.#pending.push(bytes)
    this.#pendingBytes += bytes.length
  }

  /** The file is open: what was queued goes first. */
  opened (stream: fs.WriteStream): void {
    this.stream = stream
    stream.once('close', this.#close)
    for (const bytes of this.#pending) stream.write(bytes)
    this.#pending = []
    this.#pendingBytes = 0
    if (this.#ended) stream.end()
  }

  /** Nothing more comes: the file is closed once what it was given is written. */
  end (): void {
    this.#ended = true
    this.stream?.end()
  }

  /** A disk error: what is queued is let go. */
  destroy (): void {
    this.#ended = true
    this.#pending = []
    this.#pendingBytes = 0
    if (this.stream === undefined) this.#close()
    else this.stream.destroy()
  }
}

/**
 * A relay's dump file (Icecast's `<dump-file>`): what its listeners get, without ICY framing, written to
 * files named by a pattern, a new file at each new stream and at each rotation, each starting on a place
 * to start (Ogg: after its codec headers), so that every file plays alone. Writes are queued (never awaited
 * on the relay's byte path); a disk that cannot keep up or fails costs the dump, never the listeners.
 */
export class Dump implements StreamTap {
  readonly #def: ResolvedDumpFile
  readonly #log: FastifyBaseLogger
  #file: DumpFile | undefined
  #headers: Buffer[] = []
  /** the stream showed its format (its codec headers, none for MPEG) since it began */
  #formatShown = false
  #seen = 0
  #retryAt = 0
  #failures = 0
  /** the file closed for falling behind, until it is on disk */
  #draining: DumpFile | undefined
  /** why the stream is being skipped (the disk fell behind, or failed), and how much of it so far */
  #trouble: string | undefined
  #skipped = 0
  #ended = false
  readonly #closing = new Set<Promise<void>>()

  readonly #onEnded: (dump: Dump) => void

  /** `onEnded`: called once the dump has ended and its files are closed. */
  constructor (def: ResolvedDumpFile, log: FastifyBaseLogger, onEnded: (dump: Dump) => void = () => {}) {
    this.#def = def
    this.#log = log
    this.#onEnded = onEnded
  }

  begin (): void {
    this.#closeFile()
    this.#headers = []
    this.#formatShown = false
    this.#seen = 0
  }

  headers (pages: Buffer[]): void {
    this.#headers = pages
    this.#formatShown = true
  }

  chunk (bytes: Buffer, sync: number): void {
    if (this.#ended || bytes.length === 0) return
    this.#seen += bytes.length
    let start = this.#placeToStart(sync)
    const file = this.#file
    if (file !== undefined) {
      const cut = rotationCut(this.#def, file, Date.now(), bytes.length, start)
      if (cut === undefined) {
        this.#write(file, bytes)
        return
      }
      this.#write(file, bytes.subarray(0, cut))
      this.#closeFile()
      start = cut
    }
    if (start === undefined || !this.#mayOpen()) {
      if (this.#trouble !== undefined) this.#skipped += bytes.length
      return
    }
    this.#open(bytes.subarray(start))
  }

  end (): void {
    if (this.#ended) return
    this.#ended = true
    this.#closeFile()
    this.settled().then(() => { this.#onEnded(this) }, () => {})
  }

  /** Resolves once every file of the dump is closed. */
  async settled (): Promise<void> {
    await Promise.all([...this.#closing])
  }

  /**
   * Where a new file may begin in a chunk: at its place to start; anywhere in a stream whose format never
   * showed (the reader passes it on as it comes), but never in the bytes a reader passes on before it finds
   * its first frame.
   */
  #placeToStart (sync: number): number | undefined {
    if (sync >= 0) return sync
    return sync === SYNC_ANYWHERE && !this.#formatShown && this.#seen > GIVE_UP_BYTES ? 0 : undefined
  }

  #mayOpen (): boolean {
    return this.#draining === undefined && Date.now() >= this.#retryAt
  }

  #open (first: Buffer): void {
    const file = new DumpFile(this.#def.pattern, new Date())
    this.#file = file
    for (const page of this.#headers) file.write(page)
    file.write(first)
    this.#create(file, 0)
    if (this.#trouble !== undefined) {
      this.#log.warn({ file: file.name, skipped: this.#skipped }, `dump-file: writing again after ${this.#trouble}; ${this.#skipped} bytes of the stream were not written`)
      this.#trouble = undefined
      this.#skipped = 0
    }
  }

  #create (file: DumpFile, sequence: number): void {
    const name = withSequence(file.name, sequence)
    fs.open(name, 'wx', 0o644, (error, fd) => {
      if (error?.code === 'EEXIST' && sequence < MAX_SEQUENCE) {
        this.#create(file, sequence + 1)
        return
      }
      if (error !== null) {
        file.name = name
        this.#failed(file, error)
        return
      }
      file.name = name
      const stream = fs.createWriteStream(name, { fd })
      stream.on('error', (streamError: NodeJS.ErrnoException) => { this.#failed(file, streamError) })
      file.opened(stream)
      this.#log.info({ file: name }, 'dump-file opened')
    })
  }

  #write (file: DumpFile, bytes: Buffer): void {
    if (bytes.length === 0) return
    if (file.behind + bytes.length <= MAX_BEHIND_BYTES) {
      file.write(bytes)
      return
    }
    this.#log.warn({ file: file.name, behind: file.behind },
      'dump-file: the disk does not keep up with the stream: the file is closed, and the stream is not written until it is on disk')
    this.#trouble = 'falling behind'
    this.#skipped += bytes.length
    this.#draining = file
    file.closed.then(() => { if (this.#draining === file) this.#draining = undefined }, () => {})
    this.#closeFile()
  }

  /** A disk error (no such directory, no permission, disk full): the file is let go, and the dump waits before it tries again. */
  #failed (file: DumpFile, error: NodeJS.ErrnoException): void {
    const delay = backoffDelay(this.#failures++, MAX_RETRY_MS)
    this.#retryAt = Date.now() + delay
    this.#trouble ??= 'a disk error'
    if (this.#file === file) this.#file = undefined
    file.destroy()
    this.#log.error({ file: file.name, code: error.code },
      `dump-file: ${error.message}; the stream is not written for ${Math.ceil(delay / 1000)} s, then a new file is tried`)
  }

  #closeFile (): void {
    const file = this.#file
    if (file === undefined) return
    this.#file = undefined
    file.end()
    const closed = file.closed.then(() => {
      this.#closing.delete(closed)
      if (!(file.stream?.errored ?? false)) this.#failures = 0
    })
    this.#closing.add(closed)
  }
}
