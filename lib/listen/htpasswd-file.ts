import type { FastifyBaseLogger } from 'fastify'
import { HtpasswdUnusableError } from '../errors.js'
import { lookAtFile } from '../local-file.js'
import { parseHtpasswd } from './htpasswd.js'

/** Far more than any user list: a path that names a huge file by mistake is refused, not read into memory. */
export const MAX_HTPASSWD_BYTES = 16 * 1024 * 1024

/** The file as last read: what says whether it changed since, and its users (none when it was unreadable). */
interface Snapshot {
  /** lookAtFile's version of the file, or the failure when it could not be used */
  version: string
  users: ReadonlyMap<string, string>
}

const NONE: ReadonlyMap<string, string> = new Map()

/** What tells one failure from another, so that the same one is logged once. */
function failureOf (error: unknown): string {
  const { code, message } = error as { code?: unknown, message?: unknown }
  return `${String(code)} ${String(message)}`
}

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
      const look = await lookAtFile(this.path, MAX_HTPASSWD_BYTES, this.#snapshot.version)
      if (look === undefined) return this.#snapshot.users
      if ('problem' in look) {
        throw new HtpasswdUnusableError(this.path, look.problem === 'too large' ? `over ${MAX_HTPASSWD_BYTES} bytes` : look.problem)
      }
      const { users, problems } = parseHtpasswd(look.bytes.toString('utf8'))
      for (const problem of problems) this.#log.warn({ htpasswd: this.path }, `htpasswd file: ${problem}`)
      this.#log.info({ htpasswd: this.path, users: users.size }, 'htpasswd file read')
      this.#snapshot = { version: look.version, users }
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
