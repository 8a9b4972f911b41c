import { isSameServer } from '../upstream/redirects.js'
import { checkMountCredentials, type MountCredentials, type RelayDefinition, type ResolvedMaster, type UpstreamDefinition } from '../options.js'
import type { StreamlistEntry } from './streamlist.js'

/** A relay the registry runs, as far as reconciling goes. */
export interface RunningRelay {
  localMount: string
  origin: string
  /** its upstreams in priority order, URLs without credentials */
  upstreams: ReadonlyArray<{ url: string }>
}

/** The last stream list of one master; `entries` is undefined until it first answers. */
export interface MasterList {
  origin: string
  entries: readonly StreamlistEntry[] | undefined
}

/** One master listing a mount, and where it says the stream is. */
export interface MountSource {
  origin: string
  upstream: URL
}

/** A mount the masters list: its relay has an upstream per master listing it, in the masters' order. */
export interface DesiredRelay {
  localMount: string
  /** the first master listing it: the relay's origin */
  origin: string
  /** each listed URL once, the first master listing it giving it */
  sources: MountSource[]
}

export interface ReconcilePlan {
  /** local mounts of master-derived relays to stop: no master lists them any more */
  stop: string[]
  /** relays to start, in the masters' order */
  start: DesiredRelay[]
  /** master-derived relays whose upstreams (or origin) change: a master started or stopped listing the mount, or moved it */
  update: DesiredRelay[]
  /** per master origin: mounts it lists that a relay no master brought serves (one of the options, or of the API; or of a master not answered yet) */
  shadowed: Map<string, string[]>
  /** per master origin: mounts whose relay has an upstream of it, once the plan is applied */
  sourceOf: Map<string, string[]>
}

/**
 * Which master-derived relays to start, update and stop so that the app serves every mount its masters list,
 * each from all the masters listing it, in their order (the first is played, the others are its backups).
 * A relay that no master added (from the options or `app.relay.add`) wins its mount and is never touched;
 * a relay already serving what is wanted stays as it is, and one whose masters changed keeps its listeners.
 */
export function planReconcile (running: readonly RunningRelay[], masters: readonly MasterList[]): ReconcilePlan {
  // a master that has not answered yet stands for the relays it brought: they are left as they are
  const masterOrigins = new Set(masters.filter((master) => master.entries !== undefined).map((master) => master.origin))
  const byMount = new Map(running.map((relay) => [relay.localMount, relay]))
  const wanted = new Map<string, DesiredRelay>()
  const shadowed = new Map<string, string[]>()
  for (const { origin, entries } of masters) {
    const hidden: string[] = []
    for (const entry of entries ?? []) {
      const holder = byMount.get(entry.localMount)
      if (holder !== undefined && !masterOrigins.has(holder.origin)) {
        hidden.push(entry.localMount)
        continue
      }
      const want = wanted.get(entry.localMount)
      if (want === undefined) wanted.set(entry.localMount, { localMount: entry.localMount, origin, sources: [{ origin, upstream: entry.upstream }] })
      else if (!want.sources.some((source) => source.upstream.href === entry.upstream.href)) want.sources.push({ origin, upstream: entry.upstream })
    }
    shadowed.set(origin, hidden)
  }
  const ours = running.filter((relay) => masterOrigins.has(relay.origin))
  const sourceOf = new Map(masters.map(({ origin }) => [origin, [...wanted.values()]
    .filter((want) => want.sources.some((source) => source.origin === origin)).map((want) => want.localMount)]))
  return {
    stop: ours.filter((relay) => !wanted.has(relay.localMount)).map((relay) => relay.localMount),
    start: [...wanted.values()].filter((want) => !byMount.has(want.localMount)),
    update: ours.flatMap((relay) => {
      const want = wanted.get(relay.localMount)
      return want === undefined || isServing(relay, want) ? [] : [want]
    }),
    shadowed,
    sourceOf
  }
}

function isServing (relay: RunningRelay, want: DesiredRelay): boolean {
  return want.origin === relay.origin && want.sources.length === relay.upstreams.length &&
    want.sources.every((source, i) => source.upstream.href === relay.upstreams[i]!.url)
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
 * The credentials a relay of `localMount` sends its master: the mount's own when the `credentials` option
 * has some (a mount with listener authentication), else the master's. Throws when a `credentials` function
 * gives something else than credentials or nothing.
 */
export function credentialsFor (master: ResolvedMaster, localMount: string): MountCredentials {
  const { credentials } = master
  const own = typeof credentials === 'function'
    ? checkMountCredentials(credentials(localMount), `master.credentials(${JSON.stringify(localMount)})`)
    : credentials !== undefined && Object.hasOwn(credentials, localMount) ? credentials[localMount] : undefined
  return own ?? { username: master.username, password: master.password }
}

/**
 * The upstream a master's list entry becomes: ICY metadata relayed, the master's redirect policy and CA, and
 * the mount's or master's credentials sent with the stream request (Icecast 2.4.4 sends none) — but those,
 * like the master's TLS name and checks, only to the master itself, never to another server a listed URL
 * points at, whose addresses must be public unless `redirects` is `any`.
 */
export function masterUpstream (master: ResolvedMaster, upstream: URL, localMount: string): UpstreamDefinition {
  const sameServer = isSameServer(master.url, upstream)
  const { ca, servername, rejectUnauthorized } = master.tlsOptions ?? {}
  return {
    url: upstream.href,
    relayShoutcastMetadata: true,
    redirects: master.redirects,
    ...(ca !== undefined && { ca }),
    ...(sameServer && credentialsFor(master, localMount)),
    ...(sameServer && servername !== undefined && { servername }),
    ...(sameServer && rejectUnauthorized !== undefined && { rejectUnauthorized }),
    ...(!sameServer && master.redirects === 'public' && { publicOnly: true })
  }
}

/** The relay of a mount the masters list: an upstream per master listing it, on demand as the first one says. */
export function masterRelayDefinition (mastersOf: (origin: string) => ResolvedMaster, want: DesiredRelay): RelayDefinition {
  return {
    localMount: want.localMount,
    onDemand: mastersOf(want.origin).onDemand,
    upstreams: want.sources.map((source) => masterUpstream(mastersOf(source.origin), source.upstream, want.localMount))
  }
}
