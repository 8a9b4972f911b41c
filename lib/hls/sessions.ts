import { createHash, createHmac, randomBytes } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { sameSecret } from '../auth.js'

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

/** the longest user name an id carries: an id with the most escaped one stays within ID_PATTERN */
export const MAX_SESSION_USER = 128
/** the longest session id: what the machine's processes tell each other of */
export const MAX_SESSION_ID = 16 + 1 + 1300 + 1 + 22
/** the length of an address's tag in an id's claims */
const ADDRESS_TAG = 16

/**
 * What the multivariant playlist decided of a player, carried in its session id until its first poll takes
 * its place: nothing of it is kept on the server.
 */
export const SessionClaimsSchema = Type.Object({
  /** ms since the epoch when the id was given (the gate decided) */
  issued: Type.Integer({ minimum: 0 }),
  /** the window's epoch (its stream's first sequence): an id of an earlier stream of the mount is no session of this one */
  epoch: Type.Integer({ minimum: 0 }),
  /** ms since the epoch when the session must end (an auth server's time limit, maxListenerDuration) */
  endsAt: Type.Optional(Type.Integer({ minimum: 0 })),
  /** on a mount with listener auth, the tag of the address the gate let in: the id is no bearer token for others */
  from: Type.Optional(Type.String({ pattern: `^[A-Za-z0-9_-]{${ADDRESS_TAG}}$` })),
  /** the user name counted as a login of the mount, where a user may listen once only */
  user: Type.Optional(Type.String({ maxLength: MAX_SESSION_USER }))
}, { additionalProperties: false })
export type SessionClaims = Static<typeof SessionClaimsSchema>

/** a random part, its claims, then their MAC with its mount: `<16>.<claims>.<22>` */
const ID_PATTERN = /^([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{1,1300})\.([A-Za-z0-9_-]{22})$/
/**
 * ms after its index.m3u8 an id of a guarded mount may bring its lapsed session back (from its address), and an
 * ended id is refused for as long: a kill stays a kill for the id's whole life, without asking the auth again
 */
export const READMIT_WITHIN = 24 * 3_600_000
/** the most ended ids kept (an admin's kills and time limits: the oldest go first past it) */
const MAX_KILLED = 65_536

/** What an id carries of a client address: a hash (the claims are readable, the MAC keeps them unaltered). */
export function addressTag (ip: string): string {
  return createHash('sha256').update(ip).digest('base64url').slice(0, ADDRESS_TAG)
}

/** The time an id's session must end, `seconds` after `now`, in whole ms (a time limit may have a fraction). */
export function endOf (now: number, seconds: number): number {
  return now + Math.ceil(seconds * 1000)
}

function claimsOf (encoded: string): SessionClaims | undefined {
  try {
    const claims: unknown = JSON.parse(Buffer.from(encoded, 'base64url').toString())
    return Value.Check(SessionClaimsSchema, claims) ? claims : undefined
  } catch {
    return undefined
  }
}

/**
 * Session ids that name their mount and carry what the gate decided under a MAC with a key every process of
 * the machine holds (the link secret), so that any of them knows an id one of them gave, and no player makes
 * one up (or moves one to another mount, or alters its claims) to skip the gate.
 */
export class SessionIds {
  readonly #key: string

  /** `key` left out: a random one, this process's own */
  constructor (key?: string) {
    this.#key = key ?? randomBytes(32).toString('base64url')
  }

  issue (localMount: string, claims: SessionClaims): string {
    const random = randomBytes(12).toString('base64url')
    const encoded = Buffer.from(JSON.stringify(claims)).toString('base64url')
    return `${random}.${encoded}.${this.#mac(random, encoded, localMount)}`
  }

  /** The claims of `text` when it is an id this machine gave for `localMount`, else undefined. */
  read (text: string, localMount: string): SessionClaims | undefined {
    const match = ID_PATTERN.exec(text)
    if (match === null || !sameSecret(match[3]!, this.#mac(match[1]!, match[2]!, localMount))) return undefined
    return claimsOf(match[2]!)
  }

  #mac (random: string, claims: string, localMount: string): string {
    return createHmac('sha256', this.#key).update(`${random}\n${claims}\n${localMount}`).digest().subarray(0, 16).toString('base64url')
  }
}

/** What a process says of the sessions another polled: those it holds (and so counts), those it ended. */
export const PolledAnswerSchema = Type.Object({
  held: Type.Array(Type.String()),
  killed: Type.Array(Type.String())
})
export type PolledAnswer = Static<typeof PolledAnswerSchema>

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

  /** Refuses the polls of session `id`, which another process of the machine ended. */
  refuse (id: string, now: number): void {
    this.#keepKilled(id, now)
  }

  list (localMount: string): Session[] {
    return [...this.#byId.values()].filter((session) => session.localMount === localMount)
  }

  /** Keeps `session`; one of the same id (two polls of an expired session at once) ends. */
  add (session: Session): void {
    const previous = this.#byId.get(session.id)
    if (previous !== undefined) this.#remove(previous)
    this.#byId.set(session.id, session)
    this.#byListener.set(session.listenerId, session)
    this.#perMount.set(session.localMount, this.on(session.localMount) + 1)
  }

  /** Marks the sessions of `ids` this process holds as polled now (a poll reached another process): which it holds, which it ended. */
  polled (ids: readonly string[], now: number): PolledAnswer {
    const held: string[] = []
    for (const id of ids) {
      const session = this.#byId.get(id)
      if (session === undefined) continue
      session.lastSeen = now
      held.push(id)
    }
    return { held, killed: ids.filter((id) => this.#killed.has(id)) }
  }

  /** Ends the session of listener `listenerId`; its next poll is refused. False if there is none. */
  kill (listenerId: number, now: number): boolean {
    const session = this.#byListener.get(listenerId)
    if (session === undefined) return false
    this.#remove(session)
    this.#keepKilled(session.id, now)
    return true
  }

  #keepKilled (id: string, now: number): void {
    this.#killed.delete(id)
    this.#killed.set(id, now + READMIT_WITHIN)
    if (this.#killed.size > MAX_KILLED) this.#killed.delete(this.#killed.keys().next().value!)
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
