import { open, type FileHandle } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { READ_WITHOUT_BLOCKING } from '../files.js'
import { AlreadyStartedError, FileEmptyError, FileNotAudioError, FileUnreadableError } from '../errors.js'
import { identifyCodec } from '../formats/comments.js'
import { detectFormat } from '../formats/detect.js'
import { frameHeader } from '../formats/mpeg.js'
import { TimelineScanner, type Timed, type TimedFormat } from '../formats/timeline.js'
import type { UpstreamConnection, UpstreamSink } from './client.js'
import type { ResponseHead } from './head.js'
import { Pacer } from './pacing.js'

export interface FileUpstreamOptions {
  /** a local MP3, AAC (ADTS) or Ogg file */
  path: string
  /** seconds of audio sent at once when the stream starts, as a live server's burst (default LEAD_SECONDS) */
  lead?: number
  /** files up to this many bytes are read into memory, larger ones streamed (default IN_MEMORY_BYTES) */
  inMemoryBytes?: number
  /** aborts the opening */
  signal?: AbortSignal
}

/** What a file source sends at once on start: enough for a first listener's player to begin. */
export const LEAD_SECONDS = 1
/**
 * Audio a stalled process sends at once beyond the lead when it runs again: listeners' players drained for
 * the stall and take this much back; a longer stall is skipped, not sent as a flood (see Pacer).
 */
const MAX_LATE_SECONDS = 2
/**
 * Files up to this size are read once and looped from memory (a fallback jingle or loop is a few MiB);
 * larger ones are streamed from disk in BLOCK_BYTES reads, each a buffer of its own that listeners' bursts
 * may keep, read one block ahead of the one playing.
 */
export const IN_MEMORY_BYTES = 32 * 1024 * 1024
const BLOCK_BYTES = 256 * 1024
/** The first bytes of a streamed file must hold audio: a file's tags (cover art) come before it. */
const PROBE_BYTES = 4 * 1024 * 1024
/** Sends are batched at least this far apart: with the lead, no listener hears the difference. */
const MIN_WAIT_MS = 50
/**
 * More than any audio a relay carries plays in a second (hi-res Ogg FLAC is about 600 KB/s): a file whose
 * timing claims more is lying (an Ogg granule that advances by a sample a page) and would be sent, looped,
 * many times a second at once to every listener.
 */
export const MAX_BYTES_PER_SECOND = 1024 * 1024

/** Where a file's timed audio comes from, segment after segment, the file looping. */
interface SegmentSource {
  readonly first: Timed
  next (): Timed | Promise<Timed>
  close (): void
}

/**
 * Opens a local MP3, AAC or Ogg file as an upstream: a head whose Content-Type is the file's format, then
 * the file's audio in a loop at the rate it plays (its frames' and pages' own durations), after a lead of
 * LEAD_SECONDS, as a live server would send it. Only whole frames or pages are sent: tags and junk between
 * them are left out. Rejects with FileUnreadableError, FileEmptyError or FileNotAudioError.
 */
export async function openFileUpstream (options: FileUpstreamOptions): Promise<UpstreamConnection> {
  const { path } = options
  let handle: FileHandle
  try {
    handle = await open(path, READ_WITHOUT_BLOCKING)
  } catch (error) {
    throw new FileUnreadableError(path, (error as Error).message, { cause: error })
  }
  let source: SegmentSource
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw new FileUnreadableError(path, 'not a regular file')
    if (stat.size === 0) throw new FileEmptyError(path)
    source = stat.size <= (options.inMemoryBytes ?? IN_MEMORY_BYTES) ? await memorySource(handle, path) : await StreamedFile.open(handle, path)
  } catch (error) {
    await handle.close().catch(() => {})
    throw error
  }
  if (options.signal?.aborted === true) {
    source.close()
    throw options.signal.reason
  }
  return new FileConnection(path, source, contentTypeOf(source.first), options.lead ?? LEAD_SECONDS)
}

async function readFailing<T> (path: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (error) {
    throw new FileUnreadableError(path, (error as Error).message, { cause: error })
  }
}

/** The whole file, read once: every loop plays the same bytes and timeline. */
async function memorySource (handle: FileHandle, path: string): Promise<SegmentSource> {
  const bytes = await readFailing(path, () => handle.readFile())
  await handle.close()
  const timed = new TimelineScanner(formatOf(bytes, path)).push(bytes, true)
  if (timed.timeline.duration === 0) throw new FileNotAudioError(path, 'holds no MPEG, AAC or Ogg audio that plays')
  assertPlayableRate(timed, path)
  return { first: timed, next: () => timed, close: () => {} }
}

/** A large file read block by block, one block ahead, from its start again after its end. */
class StreamedFile implements SegmentSource {
  readonly first: Timed
  readonly #handle: FileHandle
  readonly #path: string
  readonly #scanner: TimelineScanner
  #position: number
  #ahead: Promise<Timed>
  /** blocks in a row without audio: a whole pass of them means the file holds none any more */
  #silentBlocks = 0
  readonly #maxSilentBlocks: number

  static async open (handle: FileHandle, path: string): Promise<StreamedFile> {
    const probe = Buffer.allocUnsafe(PROBE_BYTES)
    const { bytesRead } = await readFailing(path, () => handle.read(probe, 0, PROBE_BYTES, 0))
    const bytes = probe.subarray(0, bytesRead)
    const scanner = new TimelineScanner(formatOf(bytes, path))
    const first = scanner.push(bytes)
    if (first.timeline.duration === 0) throw new FileNotAudioError(path, `holds no audio that plays in its first ${PROBE_BYTES} bytes`)
    assertPlayableRate(first, path)
    const { size } = await readFailing(path, () => handle.stat())
    return new StreamedFile(handle, path, scanner, first, bytesRead, size)
  }

  private constructor (handle: FileHandle, path: string, scanner: TimelineScanner, first: Timed, position: number, size: number) {
    this.#handle = handle
    this.#path = path
    this.#scanner = scanner
    this.first = first
    this.#position = position
    this.#maxSilentBlocks = Math.ceil(size / BLOCK_BYTES) + 1
    this.#ahead = this.#read()
    this.#ahead.catch(() => {})
  }

  next (): Promise<Timed> {
    const current = this.#ahead
    this.#ahead = current.then(() => this.#read())
    this.#ahead.catch(() => {})
    return current
  }

  close (): void {
    this.#handle.close().catch(() => {})
  }

  async #read (): Promise<Timed> {
    // a buffer per block: the relay's burst ring keeps subarrays of what was sent
    const block = Buffer.allocUnsafe(BLOCK_BYTES)
    const { bytesRead } = await readFailing(this.#path, () => this.#handle.read(block, 0, BLOCK_BYTES, this.#position))
    const final = bytesRead < BLOCK_BYTES
    this.#position = final ? 0 : this.#position + bytesRead
    const timed = this.#scanner.push(block.subarray(0, bytesRead), final)
    this.#silentBlocks = timed.timeline.duration > 0 ? 0 : this.#silentBlocks + 1
    if (this.#silentBlocks > this.#maxSilentBlocks) throw new FileNotAudioError(this.#path, 'holds no audio that plays any more')
    // the probe saw the file's start only: a later block's timing may be broken too
    if (timed.timeline.duration > 0) assertPlayableRate(timed, this.#path)
    return timed
  }
}

/** Refuses audio whose units' bytes would play faster than MAX_BYTES_PER_SECOND. */
function assertPlayableRate ({ timeline }: Timed, path: string): void {
  const bytes = timeline.ends.reduce((sum, end, i) => sum + end - timeline.starts[i]!, 0)
  const rate = bytes / timeline.duration
  if (rate > MAX_BYTES_PER_SECOND) throw new FileNotAudioError(path, `would play ${Math.round(rate)} bytes a second, more than ${MAX_BYTES_PER_SECOND} (its timing is broken or its tags outweigh its audio)`)
}

function formatOf (bytes: Buffer, path: string): TimedFormat {
  const detected = detectFormat(bytes)
  if ('format' in detected) return detected.format
  throw new FileNotAudioError(path, 'is not an MPEG, AAC or Ogg audio file')
}

/** The media type listeners are told, from the file's first unit. */
function contentTypeOf ({ bytes, timeline }: Timed): string {
  const start = timeline.starts[0]!
  const frame = frameHeader(bytes, start)
  if (frame !== undefined) return frame.codec === 'aac' ? 'audio/aac' : 'audio/mpeg'
  const body = bytes.subarray(start + 27 + bytes[start + 26]!, timeline.ends[0])
  const { codec } = identifyCodec(body)
  return codec === 'theora' || codec === 'unknown' ? 'application/ogg' : 'audio/ogg'
}

/** The file's audio sent at its real rate: `start` begins the clock, `close` stops it. */
class FileConnection implements UpstreamConnection {
  readonly head: ResponseHead
  readonly url: URL
  readonly #source: SegmentSource
  readonly #pacer: Pacer
  #sink: UpstreamSink | undefined
  #startedAt = 0
  #timer: NodeJS.Timeout | undefined
  #over = false

  constructor (path: string, source: SegmentSource, contentType: string, lead: number) {
    const headers: Record<string, string> = Object.create(null)
    headers['content-type'] = contentType
    this.head = { protocol: 'HTTP/1.0', status: 200, reason: 'OK', headers }
    this.url = pathToFileURL(path)
    this.#source = source
    this.#pacer = new Pacer(lead, MAX_LATE_SECONDS)
    this.#pacer.load(source.first)
  }

  start (sink: UpstreamSink): void {
    if (this.#sink !== undefined) throw new AlreadyStartedError()
    this.#sink = sink
    this.#startedAt = performance.now()
    this.#tick()
  }

  close (): void {
    this.#over = true
    clearTimeout(this.#timer)
    this.#source.close()
  }

  #tick (): void {
    const elapsed = (performance.now() - this.#startedAt) / 1000
    const send = (bytes: Buffer): void => { if (!this.#over) this.#sink!.data(bytes) }
    while (!this.#over) {
      const wait = this.#pacer.take(elapsed, send)
      if (this.#over) return
      if (wait !== undefined) {
        this.#timer = setTimeout(() => this.#tick(), Math.max(wait * 1000, MIN_WAIT_MS)).unref()
        return
      }
      const next = this.#source.next()
      if (next instanceof Promise) {
        next.then((segment) => {
          if (this.#over) return
          this.#pacer.load(segment)
          this.#tick()
        }, (error: Error) => this.#fail(error))
        return
      }
      this.#pacer.load(next)
    }
  }

  #fail (error: Error): void {
    if (this.#over) return
    this.close()
    this.#sink!.end(error)
  }
}
