import { isSameServer } from '../upstream/redirects.js'
import type { RelayDefinition, ResolvedMaster } from '../options.js'
import type { StreamlistEntry } from './streamlist.js'

/** A relay the registry runs, as far as reconciling goes. */
export interface RunningRelay {
  localMount: string
  origin: string
  /** its upstreams in priority order, URLs without credentials (the first is the one the master listed) */
  upstreams: ReadonlyArray<{ url: string }>
}

/** The last stream list of one master; `entries` is undefined until it first answers. */
export interface MasterList {
  origin: string
  entries: readonly StreamlistEntry[] | undefined
}

export interface DesiredRelay extends StreamlistEntry {
  origin: string
}

export interface ReconcilePlan {
  /** local mounts of master-derived relays to stop: vanished, or now another master's or another URL */
  stop: string[]
  /** relays to start, in the masters' order */
  start: DesiredRelay[]
  /** per master origin: mounts it lists that another relay serves (a static one, or an earlier master's) */
  shadowed: Map<string, string[]>
}

/**
 * Which master-derived relays to start and stop so that the app serves every mount its masters list.
 * A relay that no master added (from the options or `app.relay.add`) wins its mount and is never touched;
 * among masters the first one listing a mount wins; a relay already serving what is wanted stays as it is.
 */
export function planReconcile (running: readonly RunningRelay[], masters: readonly MasterList[]): ReconcilePlan {
  const masterOrigins = new Set(masters.map((master) => master.origin))
  const byMount = new Map(running.map((relay) => [relay.localMount, relay]))
  const wanted = new Map<string, DesiredRelay>()
  const shadowed = new Map<string, string[]>()
  for (const { origin, entries } of masters) {
    const hidden: string[] = []
    for (const entry of entries ?? keptAsTheyAre(running, origin)) {
      const holder = byMount.get(entry.localMount)
      const ownedElsewhere = holder !== undefined && !masterOrigins.has(holder.origin)
      if (wanted.has(entry.localMount) || ownedElsewhere) hidden.push(entry.localMount)
      else wanted.set(entry.localMount, { ...entry, origin })
    }
    shadowed.set(origin, hidden)
  }
  const stop = running
    .filter((relay) => masterOrigins.has(relay.origin) && !isServing(relay, wanted.get(relay.localMount)))
    .map((relay) => relay.localMount)
  const stopping = new Set(stop)
  const start = [...wanted.values()].filter((want) => !byMount.has(want.localMount) || stopping.has(want.localMount))
  return { stop, start, shadowed }
}

/** What a master that has not answered yet stands for: the relays it already has, unchanged. */
function keptAsTheyAre (running: readonly RunningRelay[], origin: string): StreamlistEntry[] {
  return running
    .filter((relay) => relay.origin === origin)
    .map((relay) => ({ localMount: relay.localMount, upstream: new URL(relay.upstreams[0]!.url) }))
}

function isServing (relay: RunningRelay, want: DesiredRelay | undefined): boolean {
  return want !== undefined && want.origin === relay.origin && want.upstream.href === relay.upstreams[0]?.url
}

/**
 * Whether a listed URL may be relayed: a URL on another server than the master is the master sending the
 * slave elsewhere, as a redirect does, so the master's `redirects` option judges it. Under `same-server`
 * only the master's own mounts are relayed; under `public` another server must be on public addresses
 * (checked as the relay connects, `publicOnly`); under `any`, anywhere.
 */
export function isListedServerAllowed (master: ResolvedMaster, entry: StreamlistEntry): boolean {
  return master.redirects !== 'same-server' || isSameServer(master.url, entry.upstream)
}

/**
 * The relay a master's list entry becomes: ICY metadata relayed, on demand as the master says, the
 * master's redirect policy and CA, and the master's credentials sent with the stream request (Icecast
 * 2.4.4 sends none) — but those, like the master's TLS name and checks, only to the master itself,
 * never to another server a listed URL points at, whose addresses must be public unless `redirects` is `any`.
 */
export function masterRelayDefinition (master: ResolvedMaster, entry: StreamlistEntry): RelayDefinition {
  const sameServer = isSameServer(master.url, entry.upstream)
  const { ca, servername, rejectUnauthorized } = master.tlsOptions ?? {}
  return {
    url: entry.upstream.href,
    localMount: entry.localMount,
    relayShoutcastMetadata: true,
    onDemand: master.onDemand,
    redirects: master.redirects,
    ...(ca !== undefined && { ca }),
    ...(sameServer && { username: master.username, password: master.password }),
    ...(sameServer && servername !== undefined && { servername }),
    ...(sameServer && rejectUnauthorized !== undefined && { rejectUnauthorized }),
    ...(!sameServer && master.redirects === 'public' && { publicOnly: true })
  }
}
