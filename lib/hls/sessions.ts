import { randomBytes } from 'node:crypto'

/** An HLS listener: a player that polls its playlist under an id of its own. */
export interface Session {
  readonly id: string
  /** its listener id: the id of the stats, listclients and killclient */
  readonly listenerId: number
  readonly localMount: string
  readonly ip: string
  readonly userAgent: string
  readonly startedAt: number
  /** ms: it ends once it has not polled for this long */
  readonly timeout: number
  /** ms since the epoch when it must end (an auth server's time limit, maxListenerDuration), if ever */
  readonly endsAt: number | undefined
  lastSeen: number
}

const ID_PATTERN = /^[A-Za-z0-9_-]{16}$/
/** ms an ended session's id is answered 403 rather than let in anew: longer than any player polls without an answer */
const KILLED_FOR = 60_000

export function newSessionId (): string {
  return randomBytes(12).toString('base64url')
}

/** Whether `text` may be a session id (as newSessionId makes them). */
export function isSessionId (text: string): boolean {
  return ID_PATTERN.test(text)
}

/**
 * The live sessions of every mount, and the ids of those ended by an admin or a time limit, for a while.
 * Nothing here runs by itself: `sweep` is called now and then with the time.
 */
export class Sessions {
  readonly #byId = new Map<string, Session>()
  readonly #byListener = new Map<number, Session>()
  readonly #perMount = new Map<string, number>()
  /** ended id → until when its polls are refused */
  readonly #killed = new Map<string, number>()
  readonly #ended: (session: Session) => void

  /** `ended` is called once for each session that ends, however it ends. */
  constructor (ended: (session: Session) => void) {
    this.#ended = ended
  }

  get size (): number {
    return this.#byId.size
  }

  /** Sessions of a mount. */
  on (localMount: string): number {
    return this.#perMount.get(localMount) ?? 0
  }

  get (id: string): Session | undefined {
    return this.#byId.get(id)
  }

  killed (id: string): boolean {
    return this.#killed.has(id)
  }

  list (localMount: string): Session[] {
    return [...this.#byId.values()].filter((session) => session.localMount === localMount)
  }

  add (session: Session): void {
    this.#byId.set(session.id, session)
    this.#byListener.set(session.listenerId, session)
    this.#perMount.set(session.localMount, this.on(session.localMount) + 1)
  }

  /** Ends the session of listener `listenerId`; its next poll is refused. False if there is none. */
  kill (listenerId: number, now: number): boolean {
    const session = this.#byListener.get(listenerId)
    if (session === undefined) return false
    this.#remove(session)
    this.#killed.set(session.id, now + KILLED_FOR)
    return true
  }

  /** Ends the sessions that stopped polling, and those past their time limit; forgets old kills. */
  sweep (now: number): void {
    for (const session of this.#byId.values()) {
      if (session.endsAt !== undefined && now >= session.endsAt) this.kill(session.listenerId, now)
      else if (now - session.lastSeen > session.timeout) this.#remove(session)
    }
    for (const [id, until] of this.#killed) if (now >= until) this.#killed.delete(id)
  }

  /** Ends every session (the app closes). */
  clear (): void {
    for (const session of this.#byId.values()) this.#remove(session)
  }

  #remove (session: Session): void {
    this.#byId.delete(session.id)
    this.#byListener.delete(session.listenerId)
    const left = this.on(session.localMount) - 1
    if (left > 0) this.#perMount.set(session.localMount, left)
    else this.#perMount.delete(session.localMount)
    this.#ended(session)
  }
}
