// Listener places counted across the machine (the `machine` option): each process checks its own counts
// first, then reserves the listener's place with the machine's count before letting it in, and gives it back
// when the listener ends. Without a machine the process's own counts decide alone.
import type { MachineLink, MachineReservation } from '../options.js'
import type { EndReason, Listener } from '../mount/listener.js'
import type { Relay } from '../relay/relay.js'

export interface SlotRefusal {
  code: 403 | 503
  message: string
}

type OnEnd = (listener: Listener, reason: EndReason) => void

/** Icecast's answers to a full server or mount, and ours to a machine count that does not answer. */
function refusalOf (reservation: MachineReservation | undefined, localMount: string): SlotRefusal | undefined {
  switch (reservation) {
    case 'ok': return undefined
    case 'clients': return { code: 403, message: 'Too many listeners on this server' }
    case 'mount': return { code: 403, message: `Too many listeners on ${localMount}` }
    case undefined: return { code: 503, message: 'The server\'s count of listeners did not answer' }
  }
}

export class MachineSlots {
  readonly #link: MachineLink | undefined
  readonly #clients: number

  constructor (link: MachineLink | undefined, clients: number) {
    this.#link = link
    this.#clients = clients
  }

  /** Reserves a place for a listener of `relay` on the machine: why not, or undefined once reserved. */
  async reserve (relay: Relay): Promise<SlotRefusal | undefined> {
    if (this.#link === undefined) return undefined
    const reservation = await this.#link.reserve(relay.localMount, { clients: this.#clients, maxListeners: relay.def.maxListeners ?? null })
    return refusalOf(reservation, relay.localMount)
  }

  /** Gives back a place reserved for a listener that did not join (its socket went meanwhile), or for an HLS session that ended. */
  release (relay: Pick<Relay, 'localMount'>): void {
    this.#link?.release(relay.localMount)
  }

  /** A listener's `onEnd` that gives its place back (reserved on `relay`'s mount) after the registry's own. */
  onEnd (relay: Relay, registryEnd: OnEnd): OnEnd {
    const link = this.#link
    if (link === undefined) return registryEnd
    return (listener, reason) => {
      registryEnd(listener, reason)
      link.release(relay.localMount)
    }
  }
}
