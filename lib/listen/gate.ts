import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import pLimit, { type LimitFunction } from 'p-limit'
import { AuthBusyError } from '../errors.js'
import { basicCredentialsOf, loginAs, type BasicCredentials, type FailureLimiter } from '../auth.js'
import type { Authenticate, ResolvedListenerAuth, ResolvedRelay, ResolvedUrlAuth } from '../options.js'
import type { Relay, RelayEvents } from '../relay/relay.js'
import type { RegistryCore } from '../relay/registry.js'
import { htpasswdAllows } from './htpasswd.js'
import { HtpasswdFile } from './htpasswd-file.js'
import { listenerAddBody, listenerRemoveBody, postToAuthServer, readAuthAnswer, type ListenerFields } from './url-auth.js'

export interface GateInit {
  registry: Pick<RegistryCore, 'on'>
  /** the app's own, for relays that set none */
  authenticate: Authenticate | undefined
  listenerAuth: ResolvedListenerAuth | undefined
  log: FastifyBaseLogger
  userAgent: string
  /** the `server` URL authentication names (Icecast's `<hostname>`); default: the host the listener asked */
  hostname: string | undefined
  /** the mounts' prefix: the auth server is told mounts without it */
  prefix: string
  /** counts the htpasswd logins of an address, as the admin routes' */
  failures: FailureLimiter
  /** the relay credentials (`relayAuth`): a slave's relay connection that gives them asks no listener auth */
  relayAuth: BasicCredentials | undefined
}

/** What an admitted listener is given. */
export interface Admission {
  /** seconds it may stay, when an auth server set a time limit */
  maxDuration?: number
  /** the user name counted as a login of the mount, where a user may listen once only */
  username?: string
}

const OPEN: Admission = {}

/** A listener let in by listener auth, with what must happen once it leaves. */
interface Grant {
  mount: string
  startedAt: number
  joined: boolean
  /** counted as a login of this user on `mount` (duplicate users not allowed) */
  username?: string
  /** listener_remove, for a listener admitted by an auth server */
  remove?: { auth: ResolvedUrlAuth, fields: ListenerFields }
}

/**
 * listener_add calls one auth server may have in flight (Icecast's limit of an authenticator): past them a
 * listener is refused at once, so that a flood of listeners while the auth server hangs is not a flood of calls.
 * listener_remove calls past as many wait their turn: none is dropped, and listeners leaving all at once
 * (a mount down, the app closing) are no flood either.
 */
export const MAX_PENDING_AUTH = 100

/** Listener events that move a listener to another mount: it stays, and so does its grant. */
const MOVES = new Set(['moved', 'fallback', 'override'])

/**
 * Decides whether a listener may listen: a slave that gives the relay credentials may; others are asked the
 * relay's `authenticate` (or the app's), then its `listenerAuth` (or the app's): an htpasswd file or an auth
 * server. Each replaces the app's own for that relay. Moves (moveclients, fallbacks) are not checked again.
 * Remembers the listeners an auth server admitted, to tell it when they leave, and the user names on each
 * mount, to refuse a second login of one.
 */
export class ListenerGate {
  readonly #init: GateInit
  readonly #grants = new Map<number, Grant>()
  /** mount → user name → logins, for mounts that refuse duplicate users */
  readonly #logins = new Map<string, Map<string, number>>()
  /** one per path, shared by every relay naming it */
  readonly #files = new Map<string, HtpasswdFile>()
  /** listener_add URL → calls in flight */
  readonly #pending = new Map<string, number>()
  /** listener_remove URL → its calls, MAX_PENDING_AUTH at a time */
  readonly #removals = new Map<string, LimitFunction>()

  constructor (init: GateInit) {
    this.#init = init
    init.registry.on('listener', (event) => { this.#onListener(event) })
  }

  /**
   * Whether the listener of request `id` may listen to `relay`: its admission, or undefined when it is refused
   * (Icecast answers 401). Throws AuthRateLimitedError for an address past its wrong htpasswd or relay logins, and
   * AuthBusyError when its auth server has MAX_PENDING_AUTH listeners to decide on already. `mount` is what an
   * auth server is told of the mount (an HLS playlist's); left out, the request's URL, as Icecast tells it.
   */
  async admit (request: FastifyRequest, reply: FastifyReply, relay: Relay, id: number, mount?: string): Promise<Admission | undefined> {
    const relayLogin = await this.relayLogin(request, reply)
    if (relayLogin !== undefined) return this.#admitSlave(request, relay, relayLogin)
    const authenticate = relay.def.authenticate ?? this.#init.authenticate
    const listenerAuth = relay.def.listenerAuth ?? this.#init.listenerAuth
    if (authenticate !== undefined && !await this.#asks(authenticate, request, relay)) return undefined
    if (listenerAuth === undefined) return OPEN
    const credentials = basicCredentialsOf(request.headers.authorization)
    const grant: Grant = { mount: relay.localMount, startedAt: Date.now(), joined: false }
    let admission: Admission | undefined
    if (listenerAuth.htpasswd !== undefined) {
      const users = await this.#file(listenerAuth.htpasswd).users()
      const granted = credentials !== undefined && htpasswdAllows(users, credentials.username, credentials.password)
      await this.#init.failures(request, reply, granted)
      admission = granted ? OPEN : undefined
    } else {
      admission = await this.#askServer(listenerAuth.url!, request, relay, id, credentials, grant, mount)
    }
    if (admission === undefined) return undefined
    if (credentials !== undefined && !listenerAuth.allowDuplicateUsers) grant.username = credentials.username
    this.#hold(id, grant)
    if (grant.username !== undefined && this.#logins.get(grant.mount)!.get(grant.username)! > 1) {
      relay.log.info({ user: grant.username }, 'listener refused: this user listens to this mount already')
      this.#end(id)
      return undefined
    }
    return grant.username === undefined ? admission : { ...admission, username: grant.username }
  }

  /**
   * Counts the login of `username` on `localMount` for listener `id`, admitted earlier without one held (an HLS
   * session: decided at its multivariant playlist, let in at its first poll); false, and nothing held, when the
   * user listens to that mount already.
   */
  holdLogin (id: number, localMount: string, username: string): boolean {
    this.#hold(id, { mount: localMount, startedAt: Date.now(), joined: true, username })
    if (this.#logins.get(localMount)!.get(username)! === 1) return true
    this.#end(id)
    return false
  }

  /**
   * Tells, once, of each relay whose upstream needs credentials and whose listeners need none: whoever
   * reaches the app gets for free what the upstream gives only to the relay.
   */
  warnOpenCredentials (relays: readonly ResolvedRelay[]): void {
    for (const relay of relays) {
      const guarded = (relay.authenticate ?? this.#init.authenticate ?? relay.listenerAuth ?? this.#init.listenerAuth) !== undefined
      const needsCredentials = relay.upstreams.some((upstream) => upstream.kind === 'http' && (upstream.username !== undefined || upstream.password !== undefined))
      if (needsCredentials && !guarded) {
        this.#init.log.warn({ relay: relay.localMount }, 'the upstream needs credentials but listeners need none: this mount makes the stream public (set authenticate or listenerAuth)')
      }
    }
  }

  /** Whether listeners of `relay` are checked at all (its or the app's authenticate or listenerAuth). */
  guards (relay: Relay): boolean {
    return (relay.def.authenticate ?? this.#init.authenticate ?? relay.def.listenerAuth ?? this.#init.listenerAuth) !== undefined
  }

  /** A listener admitted without the listener route (an HLS session) has left. */
  left (id: number): void {
    this.#end(id)
  }

  /** After the listener route: a listener admitted but not attached (a HEAD, a full mount) leaves at once. */
  settle (id: number): void {
    if (this.#grants.get(id)?.joined === false) this.#end(id)
  }

  /**
   * Whether a request logs in as the relay user (a slave, the machine's other processes): undefined when it gives
   * no relay login. A wrong password is counted as a failed login, so that no URL is a way to guess the relay
   * password faster than the stream list; past the limit, throws AuthRateLimitedError, right password or not.
   */
  async relayLogin (request: FastifyRequest, reply: FastifyReply): Promise<boolean | undefined> {
    const right = this.#init.relayAuth === undefined ? undefined : loginAs(request.headers.authorization, this.#init.relayAuth)
    if (right !== undefined) await this.#init.failures(request, reply, right)
    return right
  }

  /**
   * A login as the relay user: a slave's relay connection, which no listener auth judges (Icecast 2.4 asks the
   * mount's; kh skips it on its own `/admin/streams?mount=`). The user name is the slaves', whatever the mount: with
   * another password it is refused (counted by relayLogin), and a near miss of it never reaches an auth server.
   */
  #admitSlave (request: FastifyRequest, relay: Relay, right: boolean): Admission | undefined {
    if (right) return OPEN
    relay.log.info({ ip: request.ip }, 'relay connection refused: wrong relay password')
    return undefined
  }

  async #asks (authenticate: Authenticate, request: FastifyRequest, relay: Relay): Promise<boolean> {
    try {
      return await authenticate(request, relay.localMount) === true
    } catch (error) {
      relay.log.error({ err: error }, 'authenticate failed: listener refused')
      return false
    }
  }

  #file (path: string): HtpasswdFile {
    let file = this.#files.get(path)
    if (file === undefined) {
      file = new HtpasswdFile(path, this.#init.log)
      this.#files.set(path, file)
    }
    return file
  }

  async #askServer (
    auth: ResolvedUrlAuth, request: FastifyRequest, relay: Relay, id: number, credentials: BasicCredentials | undefined, grant: Grant,
    mount: string | undefined
  ): Promise<Admission | undefined> {
    const fields = this.#fieldsOf(request, id, credentials, mount)
    const passed = auth.headers.flatMap((name): Array<[string, string]> => {
      const value = request.headers[name]
      return value === undefined ? [] : [[auth.headerPrefix + name, Array.isArray(value) ? value.join(', ') : value]]
    })
    const server = auth.listenerAdd.url.href
    const pending = this.#pending.get(server) ?? 0
    if (pending >= MAX_PENDING_AUTH) throw new AuthBusyError()
    this.#pending.set(server, pending + 1)
    let headers: Headers
    try {
      headers = await postToAuthServer(auth.listenerAdd, listenerAddBody(fields, passed), { timeout: auth.timeout, userAgent: this.#init.userAgent })
    } catch (error) {
      const admitted = auth.onError === 'admit'
      relay.log.warn({ err: error, authServer: server }, `auth server not reached: listener ${admitted ? 'admitted' : 'refused'} (onError)`)
      return admitted ? OPEN : undefined
    } finally {
      this.#called(server)
    }
    const answer = readAuthAnswer(headers, auth)
    if (!answer.admitted) {
      relay.log.info({ authServer: server, message: answer.message }, 'listener refused by the auth server')
      return undefined
    }
    if (answer.badTimeLimit !== undefined) {
      relay.log.warn({ authServer: server, value: answer.badTimeLimit }, 'the auth server\'s time limit is no number: not applied')
    }
    if (auth.listenerRemove !== undefined) grant.remove = { auth, fields }
    return answer.timeLimit === undefined ? OPEN : { maxDuration: answer.timeLimit }
  }

  /** A listener_add call to `server` is over. */
  #called (server: string): void {
    const left = this.#pending.get(server)! - 1
    if (left > 0) this.#pending.set(server, left)
    else this.#pending.delete(server)
  }

  #fieldsOf (request: FastifyRequest, id: number, credentials: BasicCredentials | undefined, mount: string | undefined): ListenerFields {
    return {
      server: this.#init.hostname ?? request.hostname,
      port: request.socket.localPort ?? 0,
      client: id,
      mount: (mount ?? request.raw.url ?? '/').slice(this.#init.prefix.length),
      user: credentials?.username ?? '',
      pass: credentials?.password ?? '',
      ip: request.ip,
      agent: request.headers['user-agent'] ?? '-'
    }
  }

  /** Keeps a grant that has something to do when its listener leaves. */
  #hold (id: number, grant: Grant): void {
    if (grant.username === undefined && grant.remove === undefined) return
    this.#grants.set(id, grant)
    if (grant.username === undefined) return
    let users = this.#logins.get(grant.mount)
    if (users === undefined) {
      users = new Map()
      this.#logins.set(grant.mount, users)
    }
    users.set(grant.username, (users.get(grant.username) ?? 0) + 1)
  }

  #onListener (event: RelayEvents['listener']): void {
    const grant = this.#grants.get(event.id)
    if (grant === undefined) return
    if (event.action === 'join') grant.joined = true
    else if (event.reason === undefined || !MOVES.has(event.reason)) this.#end(event.id)
  }

  /** The listener of a grant is gone: its login no longer counts, and the auth server is told (never awaited). */
  #end (id: number): void {
    const grant = this.#grants.get(id)
    if (grant === undefined) return
    this.#grants.delete(id)
    if (grant.username !== undefined) {
      const users = this.#logins.get(grant.mount)!
      const left = users.get(grant.username)! - 1
      if (left > 0) users.set(grant.username, left)
      else users.delete(grant.username)
      if (users.size === 0) this.#logins.delete(grant.mount)
    }
    if (grant.remove !== undefined) this.#tellRemoved(grant.remove.auth, grant.remove.fields, Math.floor((Date.now() - grant.startedAt) / 1000))
  }

  #tellRemoved (auth: ResolvedUrlAuth, fields: ListenerFields, duration: number): void {
    const endpoint = auth.listenerRemove!
    const server = endpoint.url.href
    let removals = this.#removals.get(server)
    if (removals === undefined) {
      removals = pLimit(MAX_PENDING_AUTH)
      this.#removals.set(server, removals)
    }
    const body = listenerRemoveBody(fields, duration)
    removals(async () => await postToAuthServer(endpoint, body, { timeout: auth.timeout, userAgent: this.#init.userAgent }))
      .catch((error: unknown) => { this.#init.log.warn({ err: error, authServer: server }, 'listener_remove not delivered') })
  }
}
