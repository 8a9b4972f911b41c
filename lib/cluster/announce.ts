import type { AddressInfo } from 'node:net'
import type { ResolvedMaster } from '../options.js'
import type { RelayStatus } from '../relay/relay.js'
import { announcedInterval, registrationQuery, type SlaveLoad } from './registration.js'

export interface AnnounceContext {
  /** the app's `hostname` option */
  hostname: string | undefined
  /** where the app listens; null before it does */
  address: AddressInfo | string | null
  /** the listener routes' prefix: the master compares the paths listeners ask for */
  mountPrefix: string
  statuses: readonly RelayStatus[]
  listeners: number
  capacity: number
}

/** This app's load as a slave reports it: its listeners, its capacity and the listeners of each mount by path. */
export function slaveLoad (ctx: Pick<AnnounceContext, 'mountPrefix' | 'statuses' | 'listeners' | 'capacity'>): SlaveLoad {
  return {
    listeners: ctx.listeners,
    capacity: ctx.capacity,
    mounts: new Map(ctx.statuses.map((status) => [ctx.mountPrefix + status.localMount, status.listeners]))
  }
}

/** An address that names no one host: a master cannot send listeners there. */
function isUnspecified (host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]'
}

/**
 * The query a slave's stream list request carries to register with this master, or a reason it cannot:
 * the master's `redirect` option is off (no registration, no reason), the app does not listen yet, or it
 * listens on every address and no host to advertise was given.
 */
export function announcement (master: ResolvedMaster, ctx: AnnounceContext): { query: string } | { reason: string } | undefined {
  const advertised = master.redirect
  if (advertised === undefined) return undefined
  const listening = typeof ctx.address === 'object' && ctx.address !== null ? ctx.address : undefined
  const host = advertised.host ?? ctx.hostname ?? listening?.address
  const port = advertised.port ?? listening?.port
  if (host === undefined || port === undefined) return { reason: 'the app does not listen yet' }
  if (isUnspecified(host)) return { reason: `it listens on ${host}: give master.redirect.host (or hostname) to advertise` }
  return {
    query: registrationQuery({
      host,
      port,
      interval: announcedInterval(master.updateInterval),
      ...(advertised.scheme !== undefined && { scheme: advertised.scheme }),
      load: slaveLoad(ctx)
    })
  }
}
