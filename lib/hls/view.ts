import type { ListenerInfo } from '../relay/decorator.js'
import type { LocalRelays } from '../stats/view.js'
import type { Session, Sessions } from './sessions.js'

function sessionInfo (session: Session, now: number): ListenerInfo {
  return {
    id: session.listenerId,
    ip: session.ip,
    userAgent: session.userAgent,
    connectedSeconds: Math.floor((now - session.startedAt) / 1000),
    type: 'hls'
  }
}

/**
 * This process's relays with its HLS sessions in: counted per mount beside the listeners (`hlsListeners`),
 * listed with them (type `hls`), and ended by killclient as they are. A machine's view sums and gathers these
 * over its processes as it does the listeners.
 */
export function hlsRelays (relays: LocalRelays, sessions: Sessions, served: (localMount: string) => boolean): LocalRelays {
  // named one by one: the registry is a class, whose methods a spread would leave behind
  return {
    add: (definition, options) => relays.add(definition, options),
    remove: (localMount) => relays.remove(localMount),
    setMetadata: (localMount, metadata) => { relays.setMetadata(localMount, metadata) },
    moveListeners: async (from, to) => await relays.moveListeners(from, to),
    restart: (localMount) => relays.restart(localMount),
    list: () => relays.list().map((status) => served(status.localMount)
      ? { ...status, hlsListeners: sessions.on(status.localMount) }
      : status),
    listenersOf: (localMount) => {
      const listeners = relays.listenersOf(localMount)
      if (listeners === undefined) return undefined
      const now = Date.now()
      return [...listeners, ...sessions.list(localMount).map((session) => sessionInfo(session, now))]
    },
    kick: (localMount, id) => {
      const session = sessions.list(localMount).find((candidate) => candidate.listenerId === id)
      return session === undefined ? relays.kick(localMount, id) : sessions.kill(id, Date.now())
    }
  }
}
