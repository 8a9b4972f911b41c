// What the stats pages and the admin routes read: the relays and their listeners, of this process or (a
// worker of a cluster) of the whole machine. They never read the registry itself, so that one view can stand
// in for the other.
import type { ListenerInfo, RelayRegistry } from '../relay/decorator.js'
import type { RelayStatus } from '../relay/relay.js'

export interface StatusView {
  list (): Promise<RelayStatus[]>
  /** The listeners of a mount, or undefined when no relay serves it. */
  listenersOf (localMount: string): Promise<ListenerInfo[] | undefined>
}

/** This process's relays and listeners. */
export function localView (registry: Pick<RelayRegistry, 'list' | 'listenersOf'>): StatusView {
  return {
    list: async () => registry.list(),
    listenersOf: async (localMount) => registry.listenersOf(localMount)
  }
}
