import { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import { DuplicateMountError, MoveRefusedError, UnknownMountError } from '../errors.js'
import type { EndReason, Listener } from '../mount/listener.js'
import { resolveRelay, withMountSettings, type Limits, type RelayDefinition, type ResolvedMountSettings, type ResolvedRelay } from '../options.js'
import type { IncomingHttpHeaders } from 'node:http'
import { UNCHECKED_TLS_WARNING } from '../upstream/client.js'
import type {
  AddOptions, ListenerInfo, ManualMetadata, MasterStatus, RelayEventListener, SlaveStatus, RelayRegistry
} from './decorator.js'
import type { ListenerFraming, ListenerPlace, RelayExtension } from './extension.js'
import { Relay, type MoveReason, type RelayEvents, type RelayStatus } from './relay.js'
import { Fallbacks, assertNoFallbackLoop } from './fallback.js'

/** What the library adds relays with; the decorator's `add` takes `AddOptions` only. */
export interface CoreAddOptions extends AddOptions {
  /** a master's relays: see `ResolvedRelay.refusedRetry` */
  refusedRetry?: number
}

export interface RegistryInit {
  relays: readonly ResolvedRelay[]
  limits: Limits
  userAgent: string
  log: FastifyBaseLogger
  /** the `mounts` and `mountDefaults` options, for every relay added (default none) */
  mountSettings?: ResolvedMountSettings
  /** where this process's listener ids start, so that the processes of one machine never give the same (default 0) */
  firstListenerId?: number
}

const NO_MOUNT_SETTINGS: ResolvedMountSettings = { byMount: new Map(), defaults: {} }

/**
 * Every relay of the app: what the `relay` decorator offers (`RelayRegistry`), and what only the library
 * uses, handed by the main plugin to the listener route and the sub-plugins: extensions, listener
 * admission and places, the limits, the master status source, start and stop.
 */
export class RegistryCore implements RelayRegistry {
  readonly limits: Limits
  readonly #events = new EventEmitter<{ [E in keyof RelayEvents]: [RelayEvents[E]] }>()
  readonly #relays = new Map<string, Relay>()
  readonly #extensions: RelayExtension[] = []
  readonly #userAgent: string
  readonly #log: FastifyBaseLogger
  readonly #mountSettings: ResolvedMountSettings
  #masterStatus: () => MasterStatus[] = () => []
  // Many machines
  #slaveStatus: () => SlaveStatus[] = () => []
  #started = false
  #closing = false
  #listenerCount = 0
  #lastListenerId = 0
  readonly #places = new WeakMap<Listener, ListenerPlace<Relay>>()
  /** Ended listeners still being flushed, whichever relay they were on (it may be gone). */
  readonly ending = new Set<Listener>()
  readonly #fallbacks: Fallbacks

  constructor (init: RegistryInit) {
    this.limits = init.limits
    this.#userAgent = init.userAgent
    this.#log = init.log
    this.#mountSettings = init.mountSettings ?? NO_MOUNT_SETTINGS
    this.#lastListenerId = init.firstListenerId ?? 0
    this.#fallbacks = new Fallbacks({
      find: (mount) => this.#relays.get(mount),
      relayOf: (listener) => this.#places.get(listener)?.relay,
      move: (source, dest, reason, which) => this.#move(source, dest, reason, which),
      isClosing: () => this.#closing,
      waitMs: init.limits.connectTimeout * 1000
    })
    for (const [i, def] of init.relays.entries()) this.#insert(def, `relays[${i}].fallbackMount`)
    for (const relay of this.#relays.values()) this.#checkFallback(relay)
  }

  add (definition: RelayDefinition, options: CoreAddOptions = {}): RelayStatus {
    const def = resolveRelay(definition, 'relay', options.origin ?? 'api')
    const relay = this.#insert(options.refusedRetry === undefined ? def : { ...def, refusedRetry: options.refusedRetry }, 'relay.fallbackMount')
    this.#checkFallback(relay)
    return relay.status()
  }

  /** A fallback mount may be added later: one that names no relay yet is only told. */
  #checkFallback (relay: Relay): void {
    const mount = relay.def.fallbackMount
    if (mount !== undefined && !this.#relays.has(mount)) {
      relay.log.warn({ fallbackMount: mount }, 'the fallback mount is served by no relay (yet)')
    }
  }

  /** `fallbackField`: how the definition's `fallbackMount` is named in a loop's error. */
  #insert (own: ResolvedRelay, fallbackField: string): Relay {
    const def = withMountSettings(own, this.#mountSettings)
    if (this.#relays.has(def.localMount)) throw new DuplicateMountError(def.localMount)
    assertNoFallbackLoop(def.localMount, (mount) => (mount === def.localMount ? def : this.#relays.get(mount)?.def)?.fallbackMount, fallbackField)
    const log = this.#log.child({ relay: def.localMount })
    // a master's relays share its setting, told once when the master is registered
    if (!def.origin.startsWith('master:')) {
      for (const upstream of def.upstreams) {
        if (upstream.kind === 'http' && upstream.tlsOptions?.rejectUnauthorized === false) log.warn({ upstream: upstream.url.href }, UNCHECKED_TLS_WARNING)
      }
    }
    const relay = new Relay(def, {
      limits: this.limits,
      userAgent: this.#userAgent,
      extensions: this.#extensions,
      log,
      emit: (event, payload) => { this.#events.emit(event, ...[payload] as never) },
      onListenerLeave: (listener) => {
        if (!listener.relay) this.#listenerCount--
        this.#fallbacks.left(listener)
      },
      orphaned: (relay, reason) => this.#fallbacks.orphaned(relay, reason),
      streaming: (relay) => this.#fallbacks.streaming(relay)
    })
    this.#relays.set(def.localMount, relay)
    if (this.#started) relay.start()
    return relay
  }

  remove (localMount: string): boolean {
    const relay = this.#relays.get(localMount)
    if (relay === undefined) return false
    this.#relays.delete(localMount)
    this.#fallbacks.forget(relay)
    relay.stop('removed')
    return true
  }

  /**
   * For the master sub-plugin: the upstreams and origin of a relay become a definition's (its other fields are
   * not read); the relay keeps its listeners, and its connection when its upstream is still the one to play.
   */
  setUpstreams (definition: RelayDefinition, origin: string): void {
    const def = resolveRelay(definition, 'relay', origin)
    const relay = this.#relays.get(def.localMount)
    if (relay === undefined) throw new UnknownMountError(def.localMount)
    relay.setUpstreams(def.upstreams, origin)
  }

  get (localMount: string): RelayStatus | undefined {
    return this.#relays.get(localMount)?.status()
  }

  list (): RelayStatus[] {
    return [...this.#relays.values()].map((relay) => relay.status())
  }

  /** A title set by hand carries the fields its extensions name (ICY: `StreamTitle`, `StreamUrl`). */
  setMetadata (localMount: string, metadata: ManualMetadata): void {
    const relay = this.#relays.get(localMount)
    if (relay === undefined) throw new UnknownMountError(localMount)
    const fields = Object.assign({}, ...this.#extensions.map((ext) => ext.manualFields?.(metadata)))
    relay.setMetadata({ ...metadata, fields, source: 'manual', updatedAt: new Date().toISOString() })
  }

  masters (): MasterStatus[] {
    return this.#masterStatus()
  }

  slaves (): SlaveStatus[] {
    return this.#slaveStatus()
  }

  /** For the network (the `redirect` option): where `slaves()` reads from. */
  reportSlaves (source: () => SlaveStatus[]): void {
    this.#slaveStatus = source
  }

  /** For the master sub-plugin: where `masters()` reads from. */
  reportMasters (source: () => MasterStatus[]): void {
    this.#masterStatus = source
  }

  /** Adds request headers, an upstream stage, listener framing or title fields to every relay (shoutcast's ICY). */
  extend (extension: RelayExtension): void {
    this.#extensions.push(extension)
  }

  /** How a listener with these request headers is framed (e.g. ICY metadata), if any extension frames it. */
  listenerFraming (place: ListenerPlace<Relay>, headers: IncomingHttpHeaders): ListenerFraming | undefined {
    for (const extension of this.#extensions) {
      const framing = extension.listenerFraming?.(place, headers)
      if (framing !== undefined) return framing
    }
    return undefined
  }

  /** What a new listener of `relay` gets first (its intro), if an extension gives it anything. */
  async listenerPrelude (relay: Relay): Promise<Buffer | undefined> {
    for (const extension of this.#extensions) {
      const prelude = await extension.listenerPrelude?.(relay)
      if (prelude !== undefined) return prelude
    }
    return undefined
  }

  /** The live relay object behind a mount, for the listener route and the master's stream list. */
  find (localMount: string): Relay | undefined {
    return this.#relays.get(localMount)
  }

  get totalListeners (): number {
    return this.#listenerCount
  }

  get closing (): boolean {
    return this.#closing
  }

  /** Listener ids are unique across the app's mounts (and its machine's), so `killclient`/`moveclients` can name one. */
  nextListenerId (): number {
    return ++this.#lastListenerId
  }

  /** Every listener's `onEnd`, one function for all: the listener leaves the mount of its place. */
  readonly endListener = (listener: Listener, reason: EndReason): void => {
    this.#places.get(listener)?.relay.mount.detach(listener, reason)
  }

  /**
   * Counts a listener against `limits.clients` before it is attached to the relay of its place. `home`:
   * the relay of the mount it asked for, when its place is that one's fallback.
   */
  admitListener (place: ListenerPlace<Relay>, listener: Listener, home?: Relay): void {
    // a slave's relay connection is no listener: it takes no place of `limits.clients`
    if (!listener.relay) this.#listenerCount++
    this.#places.set(listener, place)
    this.#fallbacks.settled(listener, place.relay, home)
    place.relay.attach(listener, home === undefined ? undefined : 'fallback')
  }

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

  kick (localMount: string, id: number): boolean {
    const relay = this.#relays.get(localMount)
    const listener = relay === undefined ? undefined : [...relay.mount.listeners].find((l) => l.id === id)
    listener?.end('kicked')
    return listener !== undefined
  }

  async moveListeners (from: string, to: string): Promise<number> {
    const source = this.#relays.get(from)
    if (source === undefined) throw new UnknownMountError(from)
    const dest = this.#relays.get(to)
    if (dest === undefined) throw new UnknownMountError(to)
    if (source === dest) throw new MoveRefusedError(from, to, 'they are the same mount')
    return await this.#move(source, dest, 'moved')
  }

  /**
   * Moves the listeners `which` names (once `dest` can take them) from `source` to `dest`, each keeping
   * its connection and framing. Both must carry the same container (checked again once an on-demand
   * `dest` has connected and shown its own), as Icecast requires.
   */
  async #move (source: Relay, dest: Relay, reason: MoveReason, which = (): Iterable<Listener> => source.mount.listeners): Promise<number> {
    assertSameContainer(source, dest)
    const admission = dest.admission()
    const ready = admission === 'join' || (admission === 'wait' && await dest.waitLive(this.limits.connectTimeout * 1000))
    if (!ready) throw new MoveRefusedError(source.localMount, dest.localMount, `${dest.localMount} is not available`)
    assertSameContainer(source, dest)
    let moved = 0
    for (const listener of [...which()]) {
      const home = reason === 'moved' ? undefined : this.#fallbacks.homeOf(listener, source)
      // one that the flush of an earlier release ended (slow) is gone: it is moved nowhere
      if (!source.release(listener, reason)) continue
      this.#places.get(listener)!.relay = dest
      this.#fallbacks.settled(listener, dest, home)
      dest.attach(listener, reason)
      moved++
    }
    return moved
  }

  /**
   * The fallback a newcomer to `relay`'s mount, which is down, is served from (under `relay`'s URL), once
   * that one can take it; undefined when there is none.
   */
  async fallbackFor (relay: Relay): Promise<Relay | undefined> {
    return await this.#fallbacks.readyFallback(relay)
  }

  restart (localMount: string): boolean {
    const relay = this.#relays.get(localMount)
    relay?.restart()
    return relay !== undefined
  }

  on<E extends keyof RelayEvents> (event: E, listener: RelayEventListener<E>): this {
    this.#events.on(event, listener as never)
    return this
  }

  once<E extends keyof RelayEvents> (event: E, listener: RelayEventListener<E>): this {
    this.#events.once(event, listener as never)
    return this
  }

  off<E extends keyof RelayEvents> (event: E, listener: RelayEventListener<E>): this {
    this.#events.off(event, listener as never)
    return this
  }

  startAll (): void {
    this.#started = true
    for (const relay of this.#relays.values()) relay.start()
  }

  stopAll (): void {
    this.#closing = true
    for (const relay of this.#relays.values()) relay.stop('closing')
    this.#fallbacks.close()
    for (const listener of this.ending) listener.destroy()
  }
}

function assertSameContainer (source: Relay, dest: Relay): void {
  const [a, b] = [source.container, dest.container]
  if (a !== undefined && b !== undefined && a !== b) throw new MoveRefusedError(source.localMount, dest.localMount, `${a} and ${b} differ`)
}
