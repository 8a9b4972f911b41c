import { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import { DuplicateMountError, MoveRefusedError, UnknownMountError } from '../errors.js'
import type { EndReason, Listener } from '../mount/listener.js'
import { resolveRelay, type Limits, type RelayDefinition, type ResolvedRelay } from '../options.js'
import type { IncomingHttpHeaders } from 'node:http'
import { UNCHECKED_TLS_WARNING } from '../upstream/client.js'
import type { ListenerFraming, RelayExtension } from './extension.js'
import type { RelayError } from '../errors.js'
import { Relay, type RelayEvents, type RelayMetadata, type RelayStatus } from './relay.js'

export interface RegistryInit {
  relays: readonly ResolvedRelay[]
  limits: Limits
  userAgent: string
  log: FastifyBaseLogger
}

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
  /** local mounts served from this master now */
  relays: string[]
  /** mounts it lists that another relay serves: one of the options, or an earlier master */
  shadowed: string[]
}

/** Where a listener is now: its relay changes when an admin moves it (moveclients). */
export interface ListenerPlace {
  relay: Relay
}

/** One listener of a mount, as Icecast's `/admin/listclients` shows it. */
export interface ListenerInfo {
  id: number
  ip: string
  userAgent: string
  connectedSeconds: number
}

/**
 * Every relay of the app, behind the `relay` decorator: add, remove, inspect and watch them at run time.
 * Relays added before the app is ready start when it is (so that every sub-plugin's extension is in place).
 */
export class RelayRegistry extends EventEmitter<{ [E in keyof RelayEvents]: [RelayEvents[E]] }> {
  /** @internal */
  readonly limits: Limits
  readonly #relays = new Map<string, Relay>()
  readonly #extensions: RelayExtension[] = []
  readonly #userAgent: string
  readonly #log: FastifyBaseLogger
  #masterStatus: () => MasterStatus[] = () => []
  #started = false
  #closing = false
  #listenerCount = 0
  #lastListenerId = 0
  readonly #places = new WeakMap<Listener, ListenerPlace>()
  /** @internal Ended listeners still being flushed, whichever relay they were on (it may be gone). */
  readonly ending = new Set<Listener>()

  constructor (init: RegistryInit) {
    super()
    this.limits = init.limits
    this.#userAgent = init.userAgent
    this.#log = init.log
    for (const def of init.relays) this.#insert(def)
  }

  /** Adds a relay; it starts at once when the app is ready. Throws on an invalid definition or a taken mount. */
  add (definition: RelayDefinition, options: AddOptions = {}): RelayStatus {
    return this.#insert(resolveRelay(definition, 'relay', options.origin ?? 'api')).status()
  }

  #insert (def: ResolvedRelay): Relay {
    if (this.#relays.has(def.localMount)) throw new DuplicateMountError(def.localMount)
    const log = this.#log.child({ relay: def.localMount })
    // a master's relays share its setting, told once when the master is registered
    if (def.tlsOptions?.rejectUnauthorized === false && !def.origin.startsWith('master:')) {
      log.warn({ upstream: def.url.href }, UNCHECKED_TLS_WARNING)
    }
    const relay = new Relay(def, {
      limits: this.limits,
      userAgent: this.#userAgent,
      extensions: this.#extensions,
      log,
      emit: (event, payload) => { this.emit(event, ...[payload] as never) },
      onListenerLeave: () => { this.#listenerCount-- }
    })
    this.#relays.set(def.localMount, relay)
    if (this.#started) relay.start()
    return relay
  }

  /** Stops a relay and ends its listeners; false when no relay serves that mount. */
  remove (localMount: string): boolean {
    const relay = this.#relays.get(localMount)
    if (relay === undefined) return false
    this.#relays.delete(localMount)
    relay.stop('removed')
    return true
  }

  get (localMount: string): RelayStatus | undefined {
    return this.#relays.get(localMount)?.status()
  }

  list (): RelayStatus[] {
    return [...this.#relays.values()].map((relay) => relay.status())
  }

  /** Sets the title listeners get, as Icecast's `/admin/metadata?mode=updinfo` does. */
  setMetadata (localMount: string, metadata: ManualMetadata): void {
    const relay = this.#relays.get(localMount)
    if (relay === undefined) throw new UnknownMountError(localMount)
    const fields: Record<string, string> = {}
    if (metadata.title !== undefined) fields['StreamTitle'] = metadata.title
    if (metadata.url !== undefined) fields['StreamUrl'] = metadata.url
    relay.setMetadata({ ...metadata, fields, source: 'manual' } satisfies Omit<RelayMetadata, 'updatedAt'>)
  }

  /** The masters whose mounts this app mirrors, with how their polls went; empty without `master`. */
  masters (): MasterStatus[] {
    return this.#masterStatus()
  }

  /** @internal For the master sub-plugin: where `masters()` reads from. */
  reportMasters (source: () => MasterStatus[]): void {
    this.#masterStatus = source
  }

  /** @internal For sub-plugins: adds request headers, an upstream stage or listener framing to every relay. */
  extend (extension: RelayExtension): void {
    this.#extensions.push(extension)
  }

  /** @internal How a listener with these request headers is framed (e.g. ICY metadata), if any extension frames it. */
  listenerFraming (place: ListenerPlace, headers: IncomingHttpHeaders): ListenerFraming | undefined {
    for (const extension of this.#extensions) {
      const framing = extension.listenerFraming?.(place, headers)
      if (framing !== undefined) return framing
    }
    return undefined
  }

  /** @internal The live relay object behind a mount, for the listener route and sub-plugins. */
  find (localMount: string): Relay | undefined {
    return this.#relays.get(localMount)
  }

  /** @internal */
  get totalListeners (): number {
    return this.#listenerCount
  }

  /** @internal */
  get closing (): boolean {
    return this.#closing
  }

  /** @internal Listener ids are unique across the app's mounts, so `killclient`/`moveclients` can name one. */
  nextListenerId (): number {
    return ++this.#lastListenerId
  }

  /** @internal Every listener's `onEnd`, one function for all: the listener leaves the mount of its place. */
  readonly endListener = (listener: Listener, reason: EndReason): void => {
    this.#places.get(listener)?.relay.mount.detach(listener, reason)
  }

  /** @internal Counts a listener against `limits.clients` before it is attached to the relay of its place. */
  admitListener (place: ListenerPlace, listener: Listener): void {
    this.#listenerCount++
    this.#places.set(listener, place)
    place.relay.attach(listener)
  }

  /** The listeners of a mount, or undefined when no relay serves it. */
  listenersOf (localMount: string): ListenerInfo[] | undefined {
    const relay = this.#relays.get(localMount)
    if (relay === undefined) return undefined
    const now = Date.now()
    return [...relay.mount.listeners].map((listener) => ({
      id: listener.id,
      ip: listener.ip,
      userAgent: listener.userAgent,
      connectedSeconds: Math.floor((now - listener.connectedAt) / 1000)
    }))
  }

  /** Ends one listener of a mount (Icecast's killclient); false when the mount has no listener `id`. */
  kick (localMount: string, id: number): boolean {
    const relay = this.#relays.get(localMount)
    const listener = relay === undefined ? undefined : [...relay.mount.listeners].find((l) => l.id === id)
    listener?.end('kicked')
    return listener !== undefined
  }

  /**
   * Moves every listener of `from` to `to` (Icecast's moveclients) and resolves with how many moved. Each
   * keeps its connection and framing (an ICY listener keeps its interval and gets `to`'s titles) and gets
   * `to`'s burst as a new listener would. An on-demand `to` is connected first. Both must carry the same
   * format, as Icecast requires; `to`'s listener limit is not applied (nor is it by Icecast).
   */
  async moveListeners (from: string, to: string): Promise<number> {
    const source = this.#relays.get(from)
    if (source === undefined) throw new UnknownMountError(from)
    const dest = this.#relays.get(to)
    if (dest === undefined) throw new UnknownMountError(to)
    if (source === dest) throw new MoveRefusedError(from, to, 'they are the same mount')
    const [a, b] = [source.container, dest.container]
    if (a !== undefined && b !== undefined && a !== b) throw new MoveRefusedError(from, to, `${a} and ${b} differ`)
    const admission = dest.admission()
    const ready = admission === 'join' || (admission === 'wait' && await dest.waitLive(this.limits.connectTimeout * 1000))
    if (!ready) throw new MoveRefusedError(from, to, `${to} is not available`)
    const moving = [...source.mount.listeners]
    for (const listener of moving) {
      source.release(listener)
      this.#places.get(listener)!.relay = dest
      dest.attach(listener)
    }
    return moving.length
  }

  /** Drops a relay's upstream connection and connects anew (Icecast's killsource); false if unknown. */
  restart (localMount: string): boolean {
    const relay = this.#relays.get(localMount)
    relay?.restart()
    return relay !== undefined
  }

  /** @internal */
  startAll (): void {
    this.#started = true
    for (const relay of this.#relays.values()) relay.start()
  }

  /** @internal */
  stopAll (): void {
    this.#closing = true
    for (const relay of this.#relays.values()) relay.stop('closing')
    for (const listener of this.ending) listener.destroy()
  }
}
