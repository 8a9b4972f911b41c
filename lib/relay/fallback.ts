import { InvalidOptionError } from '../errors.js'
import type { EndReason, Listener } from '../mount/listener.js'
import type { MoveReason, Relay } from './relay.js'

/** A mount's fallback mount, or undefined when it names none (or there is no such mount). */
export type FallbackOf = (mount: string) => string | undefined

/**
 * The mounts down the fallback chain of `mount`, in order, `mount` excluded: its fallback, that one's
 * fallback... up to a mount that names none, or to the first mount seen before (a loop).
 */
export function fallbackChain (mount: string, fallbackOf: FallbackOf): string[] {
  const chain: string[] = []
  const seen = new Set([mount])
  for (let next = fallbackOf(mount); next !== undefined && !seen.has(next); next = fallbackOf(next)) {
    chain.push(next)
    seen.add(next)
  }
  return chain
}

/** The loop the fallback chain of `mount` runs into, its first mount again at its end (`/a → /b → /a`), if any. */
export function fallbackLoop (mount: string, fallbackOf: FallbackOf): string[] | undefined {
  const chain = [mount, ...fallbackChain(mount, fallbackOf)]
  const last = fallbackOf(chain.at(-1)!)
  if (last === undefined) return undefined
  return [...chain.slice(chain.indexOf(last)), last]
}

/** Refuses a mount whose fallbacks lead back to a mount of theirs; `field` names its `fallbackMount`. */
export function assertNoFallbackLoop (mount: string, fallbackOf: FallbackOf, field: string): void {
  const loop = fallbackLoop(mount, fallbackOf)
  if (loop !== undefined) throw new InvalidOptionError(field, `the fallbacks make a loop: ${loop.join(' → ')}`)
}

/** What fallbacks need of the registry: its relays, and moving listeners between them. */
export interface FallbackHost {
  find (mount: string): Relay | undefined
  /** where a listener is now */
  relayOf (listener: Listener): Relay | undefined
  /**
   * Moves listeners of `source` to `dest` once it can take them: those `which` names then (by default
   * all); throws MoveRefusedError when it cannot.
   */
  move (source: Relay, dest: Relay, reason: MoveReason, which?: () => Iterable<Listener>): Promise<number>
  isClosing (): boolean
  /** how long to wait for a fallback that is connecting */
  readonly waitMs: number
}

/**
 * Icecast's `<fallback-mount>` and `<fallback-override>`: the listeners of a relay that went down (no live
 * upstream after the grace period) or was removed are moved down its fallback chain, to the first mount
 * there that is live or can connect, instead of being ended; newcomers to its mount are served from there
 * too, under its URL. Each such listener keeps its home, the mount it asked for: with `fallbackOverride`
 * it is moved back there once that mount's relay is live again, wherever down the chain it is by then.
 */
export class Fallbacks {
  readonly #host: FallbackHost
  /** a listener served by a fallback → the relay of the mount it asked for */
  readonly #homes = new WeakMap<Listener, Relay>()
  /** relays removed while their listeners wait for a fallback to connect */
  readonly #retiring = new Set<Relay>()

  constructor (host: FallbackHost) {
    this.#host = host
  }

  /** The relay's listeners have lost their stream: to its fallback, else ended with `reason`. */
  orphaned (relay: Relay, reason: EndReason): void {
    const fallsBack = (reason === 'gap' || reason === 'removed') && !this.#host.isClosing()
    if (!fallsBack || relay.mount.listeners.size === 0 || relay.def.fallbackMount === undefined) {
      relay.mount.endAll(reason)
      return
    }
    if (reason === 'removed') this.#retiring.add(relay)
    this.#fallBack(relay).catch((error: unknown) => {
      relay.log.warn({ err: (error as Error).message }, 'listeners could not be moved to the fallback: they are ended')
    }).finally(() => {
      this.#retiring.delete(relay)
      if (relay.admission() !== 'join') relay.mount.endAll(reason)
    })
  }

  async #fallBack (relay: Relay): Promise<void> {
    const target = await this.readyFallback(relay)
    if (target === undefined) return
    // the relay may be live again by the time the fallback is: then its listeners stay
    const stillDown = (): Iterable<Listener> => relay.admission() === 'join' ? [] : relay.mount.listeners
    await this.#host.move(relay, target, 'fallback', stillDown)
  }

  /**
   * The first relay down `relay`'s fallback chain that is live, or connects within the connect timeout:
   * where its listeners go, and its newcomers are served from, while it is down. Undefined when none is,
   * or when the chain reaches a mount no relay serves.
   */
  async readyFallback (relay: Relay): Promise<Relay | undefined> {
    const fallbackOf = (mount: string): string | undefined =>
      (mount === relay.localMount ? relay : this.#host.find(mount))?.def.fallbackMount
    for (const mount of fallbackChain(relay.localMount, fallbackOf)) {
      const candidate = this.#host.find(mount)
      if (candidate === undefined) {
        relay.log.warn({ fallbackMount: mount }, 'the fallback mount is served by no relay')
        return undefined
      }
      const admission = candidate.admission()
      if (admission === 'join' || (admission === 'wait' && await candidate.waitLive(this.#host.waitMs))) return candidate
    }
    return undefined
  }

  /** Notes where a listener who moved (or came) to `to` belongs: with its home unless it is home. */
  settled (listener: Listener, to: Relay, home: Relay | undefined): void {
    this.left(listener)
    if (home === undefined || home === to) return
    this.#homes.set(listener, home)
    home.away.add(listener)
  }

  /** The home of a listener moved by a fallback (or `source`, the mount it is moved from, for one moved first). */
  homeOf (listener: Listener, source: Relay): Relay {
    return this.#homes.get(listener) ?? source
  }

  /** The listener is ended, or moved by hand: it has no home to go back to. */
  left (listener: Listener): void {
    const home = this.#homes.get(listener)
    home?.away.delete(listener)
    this.#homes.delete(listener)
    // an on-demand home kept its upstream for this listener: it may let it go now
    home?.demandChanged()
  }

  /** A relay live again takes back its listeners served by fallbacks, when it overrides them. */
  streaming (relay: Relay): void {
    if (!relay.def.fallbackOverride || relay.away.size === 0) return
    const byRelay = new Map<Relay, Listener[]>()
    for (const listener of relay.away) {
      const at = this.#host.relayOf(listener)
      if (at === undefined) continue
      byRelay.set(at, [...byRelay.get(at) ?? [], listener])
    }
    for (const [at, listeners] of byRelay) {
      const stillThere = (): Iterable<Listener> => listeners.filter((listener) => this.#host.relayOf(listener) === at)
      this.#host.move(at, relay, 'override', stillThere).catch((error: unknown) => {
        relay.log.warn({ err: (error as Error).message }, 'listeners on the fallback could not be moved back')
      })
    }
  }

  /** A removed relay's listeners away on fallbacks stay there, with no home to go back to. */
  forget (relay: Relay): void {
    for (const listener of relay.away) this.#homes.delete(listener)
    relay.away.clear()
  }

  /** The app closes: listeners of removed relays still waiting for a fallback are ended. */
  close (): void {
    for (const relay of this.#retiring) relay.mount.endAll('closing')
  }
}
