import type { ListenerInfo } from '../relay/decorator.js'
import type { StatusView } from '../stats/view.js'
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
 * The stats and admin view with the HLS sessions in: counted per mount beside the listeners (`hlsListeners`),
 * listed with them (type `hls`), and ended by killclient as they are.
 */
export function hlsView (view: StatusView, sessions: Sessions, served: (localMount: string) => boolean): StatusView {
  return {
    ...view,
    list: async () => (await view.list()).map((status) => served(status.localMount)
      ? { ...status, hlsListeners: sessions.on(status.localMount) }
      : status),
    listenersOf: async (localMount) => {
      const listeners = await view.listenersOf(localMount)
      if (listeners === undefined) return undefined
      const now = Date.now()
      return [...listeners, ...sessions.list(localMount).map((session) => sessionInfo(session, now))]
    },
    kick: async (localMount, id) => {
      const session = sessions.list(localMount).find((candidate) => candidate.listenerId === id)
      return session === undefined ? await view.kick(localMount, id) : sessions.kill(id, Date.now())
    }
  }
}
