// What the stats pages and the admin routes read, and the commands that reach listeners: the relays and their
// listeners of this process or (a worker of a cluster) of the whole machine. They never use the registry for
// these, so that one view can stand in for the other.
import type { RelayDefinition } from '../options.js'
import type { ListenerInfo, ManualMetadata, RelayRegistry } from '../relay/decorator.js'
import type { RelayStatus } from '../relay/relay.js'

export interface StatusView {
  list (): Promise<RelayStatus[]>
  /** The listeners of a mount, or undefined when no relay serves it. */
  listenersOf (localMount: string): Promise<ListenerInfo[] | undefined>
  /** Ends the listener `id` of a mount, wherever it is served; false when none has that id. */
  kick (localMount: string, id: number): Promise<boolean>
  /** Moves every listener of `from` to `to`, wherever they are served: how many moved (errors as the registry's). */
  moveListeners (from: string, to: string): Promise<number>
  /** Sets the title every listener of the mount gets (errors as the registry's). */
  setMetadata (localMount: string, metadata: ManualMetadata): Promise<void>
  /** Reconnects the mount's upstream (killsource); false when no relay serves it. */
  restart (localMount: string): Promise<boolean>
  /** Adds a relay (errors as the registry's). */
  add (definition: RelayDefinition): Promise<RelayStatus>
  /** Removes a relay; false when no relay serves it. */
  remove (localMount: string): Promise<boolean>
}

/** What a view reads of this process's registry. */
export type LocalRelays = Pick<RelayRegistry, 'list' | 'listenersOf' | 'kick' | 'moveListeners' | 'setMetadata' | 'restart' | 'add' | 'remove'>

/** This process's relays and listeners. */
export function localView (registry: LocalRelays): StatusView {
  return {
    list: async () => registry.list(),
    listenersOf: async (localMount) => registry.listenersOf(localMount),
    kick: async (localMount, id) => registry.kick(localMount, id),
    moveListeners: async (from, to) => await registry.moveListeners(from, to),
    setMetadata: async (localMount, metadata) => { registry.setMetadata(localMount, metadata) },
    restart: async (localMount) => registry.restart(localMount),
    add: async (definition) => registry.add(definition),
    remove: async (localMount) => registry.remove(localMount)
  }
}
