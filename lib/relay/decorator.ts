import type { RelayError } from '../errors.js'
import type { RelayDefinition } from '../options.js'
import type { Refusal, RelayEvents, RelayStatus } from './relay.js'

export interface ManualMetadata {
  title?: string
  url?: string
}

export interface AddOptions {
  /** who adds the relay, shown in its status (default `api`) */
  origin?: string
}

/** One master this app mirrors (the `master` option) and how its stream list polls go. */
export interface MasterStatus {
  /** `http(s)://server:port/`, no credentials */
  url: string
  /** the `origin` of the relays it brings */
  origin: string
  /** seconds between polls */
  updateInterval: number
  onDemand: boolean
  polls: number
  failures: number
  /** when the last poll ended, whether it succeeded or not */
  lastPollAt: string | null
  lastSuccessAt: string | null
  /** why the last poll failed; null when it succeeded */
  lastError: RelayError | null
  nextPollAt: string | null
  /** the mounts of the last stream list it answered, in its order, up to `maxRelays` */
  mounts: string[]
  /** how many mounts that list named, `maxRelays` or not (lines past `maxRelays` are counted, not read) */
  listed: number
  /** whether that list named more than `maxRelays` mounts, and the rest were left out */
  truncated: boolean
  /** lines of that list that named no mount, or a server its `redirects` option refuses */
  ignoredLines: number
  /**
   * local mounts whose relay has an upstream of this master: the one played, or a backup of an earlier
   * master's (the relay's `upstreams` and `activeUpstream` tell which)
   */
  relays: string[]
  /** mounts it lists that a relay no master brought serves (one of the options, or of the API) */
  shadowed: string[]
  // master per-mount credentials (credentials downstream)
  /**
   * its relays that every upstream refuses (401, 403: a mount with listener authentication, and no or wrong
   * `credentials` for it); each is asked again once per `updateInterval`
   */
  refused: Array<Refusal & { localMount: string }>
}

// Many machines: the slaves registered with this master
/** One registered slave as the status pages and the API show it. */
export interface SlaveStatus {
  /** `host:port` as it registered */
  key: string
  /** where listeners are sent: `scheme://host:port`, the scheme the listener's own when it names none */
  host: string
  port: number
  scheme: 'http' | 'https' | null
  /** the address its polls come from */
  address: string
  registeredAt: string
  lastPollAt: string
  /** when it is dropped unless it polls again */
  expiresAt: string
  /** what it reported at its last poll (null: an icecast-kh slave, which reports nothing) */
  listeners: number | null
  capacity: number | null
  /** listeners by mount path, as it reported them */
  mounts: Record<string, number>
  /** listeners sent to it since that poll */
  sent: number
}

/** One listener of a mount, as Icecast's `/admin/listclients` shows it. */
export interface ListenerInfo {
  id: number
  ip: string
  userAgent: string
  connectedSeconds: number
  /** `hls` for an HLS session; absent for a listener of the stream itself */
  type?: 'hls'
}

export type RelayEventListener<E extends keyof RelayEvents> = (payload: RelayEvents[E]) => void

/**
 * The `relay` decorator: add, remove, inspect and watch the app's relays at run time. Relays added before
 * the app is ready start when it is (so that every extension is in place).
 */
export interface RelayRegistry {
  /** Adds a relay; it starts at once when the app is ready. Throws on an invalid definition or a taken mount. */
  add (definition: RelayDefinition, options?: AddOptions): RelayStatus
  /** Stops a relay and ends its listeners; false when no relay serves that mount. */
  remove (localMount: string): boolean
  get (localMount: string): RelayStatus | undefined
  list (): RelayStatus[]
  /** Sets the title listeners get, as Icecast's `/admin/metadata?mode=updinfo` does. */
  setMetadata (localMount: string, metadata: ManualMetadata): void
  /** The masters whose mounts this app mirrors, with how their polls went; empty without `master`. */
  masters (): MasterStatus[]
  // Many machines
  /** the slaves registered with this app for redirects (the `redirect` option), live ones only */
  slaves (): SlaveStatus[]
  /** The listeners of a mount, or undefined when no relay serves it. */
  listenersOf (localMount: string): ListenerInfo[] | undefined
  /** Ends one listener of a mount (Icecast's killclient); false when the mount has no listener `id`. */
  kick (localMount: string, id: number): boolean
  /**
   * Moves every listener of `from` to `to` (Icecast's moveclients) and resolves with how many moved. Each
   * keeps its connection and framing (an ICY listener keeps its interval and gets `to`'s titles) and gets
   * `to`'s burst as a new listener would. An on-demand `to` is connected first. Both must carry the same
   * format, as Icecast requires; `to`'s listener limit is not applied (nor is it by Icecast).
   */
  moveListeners (from: string, to: string): Promise<number>
  /** Drops a relay's upstream connection and connects anew (Icecast's killsource); false if unknown. */
  restart (localMount: string): boolean
  on<E extends keyof RelayEvents> (event: E, listener: RelayEventListener<E>): this
  once<E extends keyof RelayEvents> (event: E, listener: RelayEventListener<E>): this
  off<E extends keyof RelayEvents> (event: E, listener: RelayEventListener<E>): this
}

/**
 * What `app.relay` is at run time: the public methods and nothing else, each handed to the registry. The
 * registry's internals (extensions, listener admission, limits) stay out of reach of `in`, `Object.keys`
 * or a call: the library hands them to the parts that need them, never through the decorator.
 */
export class RelayDecorator implements RelayRegistry {
  readonly #registry: RelayRegistry

  constructor (registry: RelayRegistry) {
    this.#registry = registry
  }

  add (definition: RelayDefinition, options?: AddOptions): RelayStatus {
    return this.#registry.add(definition, options?.origin === undefined ? {} : { origin: options.origin })
  }

  remove (localMount: string): boolean {
    return this.#registry.remove(localMount)
  }

  get (localMount: string): RelayStatus | undefined {
    return this.#registry.get(localMount)
  }

  list (): RelayStatus[] {
    return this.#registry.list()
  }

  setMetadata (localMount: string, metadata: ManualMetadata): void {
    this.#registry.setMetadata(localMount, metadata)
  }

  masters (): MasterStatus[] {
    return this.#registry.masters()
  }

  slaves (): SlaveStatus[] {
    return this.#registry.slaves()
  }

  listenersOf (localMount: string): ListenerInfo[] | undefined {
    return this.#registry.listenersOf(localMount)
  }

  kick (localMount: string, id: number): boolean {
    return this.#registry.kick(localMount, id)
  }

  moveListeners (from: string, to: string): Promise<number> {
    return this.#registry.moveListeners(from, to)
  }

  restart (localMount: string): boolean {
    return this.#registry.restart(localMount)
  }

  on<E extends keyof RelayEvents> (event: E, listener: RelayEventListener<E>): this {
    this.#registry.on(event, listener)
    return this
  }

  once<E extends keyof RelayEvents> (event: E, listener: RelayEventListener<E>): this {
    this.#registry.once(event, listener)
    return this
  }

  off<E extends keyof RelayEvents> (event: E, listener: RelayEventListener<E>): this {
    this.#registry.off(event, listener)
    return this
  }
}
