import { open } from 'node:fs/promises'
import type { FastifyBaseLogger } from 'fastify'
import { READ_WITHOUT_BLOCKING } from '../files.js'
import { clipOf, type Clip } from '../formats/clip.js'

/** How long an intro file is trusted before it is looked at again (a stat), so that a new one is taken up. */
export const INTRO_RECHECK_MS = 2000

/**
 * A relay's intro file (Icecast's `<intro>`), read once and cut to its whole frames or pages (`clipOf`), the
 * one buffer every new listener gets. Looked at again (a stat) at most every INTRO_RECHECK_MS as listeners
 * come, and read again when it changed. A file that is missing, unreadable, too large or no audio is logged
 * once (until it changes) and listeners get no intro; nothing is read on the way of a listener but the stat.
 */
export class IntroFile {
  readonly path: string
  readonly #maxBytes: number
  readonly #log: FastifyBaseLogger
  #clip: Clip | undefined
  /** what is known of the file read: its inode, size and change time */
  #version: string | undefined
  /** the last problem logged, so that it is logged once */
  #problem: string | undefined
  #mismatch: string | undefined
  #checkedAt = Number.NEGATIVE_INFINITY
  #checking: Promise<void> | undefined

  constructor (path: string, maxBytes: number, log: FastifyBaseLogger) {
    this.path = path
    this.#maxBytes = maxBytes
    this.#log = log
  }

  /** The clip to send the listener of a stream of `container` now, if any. */
  async clipFor (container: string | undefined): Promise<Buffer | undefined> {
    if (Date.now() - this.#checkedAt >= INTRO_RECHECK_MS) {
      this.#checking ??= this.#check().finally(() => { this.#checking = undefined })
    }
    if (this.#checking !== undefined) await this.#checking
    const clip = this.#clip
    if (clip === undefined) return undefined
    if (clip.container === container) return clip.bytes
    const mismatch = `${this.#version ?? ''} ${container ?? ''}`
    if (this.#mismatch !== mismatch) {
      this.#mismatch = mismatch
      this.#log.warn({ intro: this.path, intro_format: clip.container, stream_format: container ?? null },
        `intro file is ${clip.container}, the stream ${container ?? 'of a format not known yet'}: listeners get no intro`)
    }
    return undefined
  }

  async #check (): Promise<void> {
    this.#checkedAt = Date.now()
    let handle
    try {
      handle = await open(this.path, READ_WITHOUT_BLOCKING)
      const stat = await handle.stat()
      const version = `${stat.ino}:${stat.size}:${stat.mtimeMs}`
      if (version === this.#version) return
      this.#version = version
      if (!stat.isFile()) {
        this.#refuse('is not a regular file')
        return
      }
      // read at most one byte past the limit: the file may have grown since its stat
      const bytes = Buffer.alloc(Math.min(stat.size, this.#maxBytes) + 1)
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, 0)
      this.#take(bytesRead > this.#maxBytes ? this.#tooLarge() : clipOf(bytes.subarray(0, bytesRead)))
    } catch (error) {
      this.#version = undefined
      this.#refuse(`cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
    } finally {
      await handle?.close()
    }
  }

  #tooLarge (): string {
    return `is over ${this.#maxBytes} bytes (half of limits.queueSize): a listener would be dropped as slow before it played`
  }

  #take (clip: Clip | string): void {
    if (typeof clip === 'string') {
      this.#refuse(clip)
      return
    }
    this.#clip = clip
    this.#problem = undefined
    this.#log.info({ intro: this.path, bytes: clip.bytes.length, format: clip.container }, 'intro file read')
  }

  #refuse (problem: string): void {
    this.#clip = undefined
    if (this.#problem === problem) return
    this.#problem = problem
    this.#log.warn({ intro: this.path }, `intro file ${problem}: listeners get no intro`)
  }
}
