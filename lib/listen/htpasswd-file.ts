import { open, stat } from 'node:fs/promises'
import type { FastifyBaseLogger } from 'fastify'
import { HtpasswdUnusableError } from '../errors.js'
import { READ_WITHOUT_BLOCKING } from '../files.js'
import { parseHtpasswd } from './htpasswd.js'

/** Far more than any user list: a path that names a huge file by mistake is refused, not read into memory. */
export const MAX_HTPASSWD_BYTES = 16 * 1024 * 1024

/** The file as last read: what says whether it changed since, and its users (none when it was unreadable). */
interface Snapshot {
  /** `mtime size inode`, or the error code when the file could not be read */
  version: string
  users: ReadonlyMap<string, string>
}

const NONE: ReadonlyMap<string, string> = new Map()

function versionOf (stats: { mtimeMs: number, size: number, ino: number }): string {
  return `${stats.mtimeMs} ${stats.size} ${stats.ino}`
}

/** What tells one failure from another, so that the same one is logged once. */
function failureOf (error: unknown): string {
  const { code, message } = error as { code?: unknown, message?: unknown }
  return `${String(code)} ${String(message)}`
}

const TOO_LARGE = `over ${MAX_HTPASSWD_BYTES} bytes`
const READ_SIZE = 65536

/**
 * An htpasswd file, read again when it changes (as Icecast does: it looks at the file on every login). A file
 * that is missing, unreadable or too large has no users: every listener is refused, and the log says why,
 * once per change of state. Logins at the same moment share one look at the file.
 */
export class HtpasswdFile {
  readonly path: string
  readonly #log: FastifyBaseLogger
  #snapshot: Snapshot = { version: '', users: NONE }
  #pending: Promise<ReadonlyMap<string, string>> | undefined

  constructor (path: string, log: FastifyBaseLogger) {
    this.path = path
    this.#log = log
  }

  /** The users of the file as it is now. Never rejects. */
  async users (): Promise<ReadonlyMap<string, string>> {
    this.#pending ??= this.#refresh().finally(() => { this.#pending = undefined })
    return await this.#pending
  }

  async #refresh (): Promise<ReadonlyMap<string, string>> {
    try {
      const stats = await stat(this.path)
      if (versionOf(stats) === this.#snapshot.version) return this.#snapshot.users
      // a FIFO or device would block or never end
      if (!stats.isFile()) throw new HtpasswdUnusableError(this.path, 'not a regular file')
      if (stats.size > MAX_HTPASSWD_BYTES) throw new HtpasswdUnusableError(this.path, TOO_LARGE)
      const text = await readCapped(this.path)
      const { users, problems } = parseHtpasswd(text)
      for (const problem of problems) this.#log.warn({ htpasswd: this.path }, `htpasswd file: ${problem}`)
      this.#log.info({ htpasswd: this.path, users: users.size }, 'htpasswd file read')
      this.#snapshot = { version: versionOf(stats), users }
    } catch (error) {
      const version = failureOf(error)
      if (version !== this.#snapshot.version) {
        this.#log.error({ htpasswd: this.path, err: error }, 'htpasswd file cannot be read: listeners of its mounts are refused')
      }
      this.#snapshot = { version, users: NONE }
    }
    return this.#snapshot.users
  }
}

/** The file's text, refused past MAX_HTPASSWD_BYTES even when it grew since it was looked at. */
async function readCapped (path: string): Promise<string> {
  const file = await open(path, READ_WITHOUT_BLOCKING)
  try {
    const chunks: Buffer[] = []
    let length = 0
    for (;;) {
      const { bytesRead, buffer } = await file.read(Buffer.alloc(READ_SIZE), 0, READ_SIZE, null)
      if (bytesRead === 0) break
      chunks.push(buffer.subarray(0, bytesRead))
      length += bytesRead
      if (length > MAX_HTPASSWD_BYTES) throw new HtpasswdUnusableError(path, TOO_LARGE)
    }
    return Buffer.concat(chunks, length).toString('utf8')
  } finally {
    await file.close()
  }
}
