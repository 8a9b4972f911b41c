import { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import { DuplicateMountError, MoveRefusedError, UnknownMountError } from '../errors.js'
import type { EndReason, Listener } from '../mount/listener.js'
import { resolveRelay, type Limits, type RelayDefinition, type ResolvedRelay } from '../options.js'
import type { IncomingHttpHeaders } from 'node:http'
import { UNCHECKED_TLS_WARNING } from '../upstream/client.js'
import type {
  AddOptions, ListenerInfo, ManualMetadata, MasterStatus, RelayEventListener, RelayRegistry
} from './decorator.js'
import type { ListenerFraming, ListenerPlace, RelayExtension } from './extension.js'
import { Relay, type RelayEvents, type RelayStatus } from './relay.js'

export interface RegistryInit {
  relays: readonly ResolvedRelay[]
  limits: Limits
  userAgent: string
  log: FastifyBaseLogger
}

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
  #masterStatus: () => MasterStatus[] = () => []
  #started = false
  #closing = false
  #listenerCount = 0
  #lastListenerId = 0
  readonly #places = new WeakMap<Listener, ListenerPlace<Relay>>()
  /** Ended listeners still being flushed, whichever relay they were on (it may be gone). */
  readonly ending = new Set<Listener>()

  constructor (init: RegistryInit) {
    this.limits = init.limits
    this.#userAgent = init.userAgent
    this.#log = init.log
    for (const def of init.relays) this.#insert(def)
  }

  add (definition: RelayDefinition, options: AddOptions = {}): RelayStatus {
    return this.#insert(resolveRelay(definition, 'relay', options.origin ?? 'api')).status()
  }

  #insert (def: ResolvedRelay): Relay {
    if (this.#relays.has(def.localMount)) throw new DuplicateMountError(def.localMount)
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
      onListenerLeave: () => { this.#listenerCount-- }
    })
    this.#relays.set(def.localMount, relay)
    if (this.#started) relay.start()
    return relay
  }

  remove (localMount: string): boolean {
    const relay = this.#relays.get(localMount)
    if (relay === undefined) return false
    this.#relays.delete(localMount)
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

  /** Listener ids are unique across the app's mounts, so `killclient`/`moveclients` can name one. */
  nextListenerId (): number {
    return ++this.#lastListenerId
  }

  /** Every listener's `onEnd`, one function for all: the listener leaves the mount of its place. */
  readonly endListener = (listener: Listener, reason: EndReason): void => {
    this.#places.get(listener)?.relay.mount.detach(listener, reason)
  }

  /** Counts a listener against `limits.clients` before it is attached to the relay of its place. */
  admitListener (place: ListenerPlace<Relay>, listener: Listener): void {
    this.#listenerCount++
    this.#places.set(listener, place)
    place.relay.attach(listener)
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
    for (const listener of this.ending) listener.destroy()
  }
}
