/**
 * icecast-kh's slave registration: a slave that wants listeners redirected to it adds
 * `?rserver=HOST&rport=PORT&interval=SECONDS` to its stream list request (kh's `<master-redirect>`); the
 * master keeps it as a redirect target until its polls stop. This relay adds its load in parameters of its
 * own, which kh ignores: `rscheme`, `rlisteners`, `rcapacity` and one `rmount=PATH:LISTENERS` per mount.
 */

/** kh ignores a registration whose interval is shorter (its `redirector_update`). */
export const MIN_REGISTRATION_INTERVAL = 5
/** A day: no real slave polls less often, and a registration cannot pin an entry for longer. */
export const MAX_REGISTRATION_INTERVAL = 86_400
/** Far more mounts than a slave relays; a longer load report is cut, so that no slave can fill the master's memory. */
export const MAX_REPORTED_MOUNTS = 1000
/** A listener count or capacity beyond any real server's. */
const MAX_COUNT = 1_000_000_000

/** What a slave says about its load: listeners per mount path (prefix included), all of them, and its capacity. */
export interface SlaveLoad {
  listeners: number
  capacity: number
  mounts: ReadonlyMap<string, number>
}

/** One registration, as a poll's query carries it. */
export interface Registration {
  host: string
  port: number
  /** seconds until the slave's next poll */
  interval: number
  /** the scheme listeners reach it by, when it says (kh's slaves do not: a redirect keeps the listener's) */
  scheme?: 'http' | 'https'
  /** absent from kh's slaves */
  load?: SlaveLoad
}

/** A host name, IPv4 or IPv6 address (brackets allowed), as a Location can hold it; nothing else. */
const HOST = /^(\[[0-9A-Fa-f:.]{2,45}\]|[0-9A-Fa-f:.]{2,45}|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$/

function count (text: string | null, max: number, min = 0): number | undefined {
  if (text === null || !/^\d{1,10}$/.test(text)) return undefined
  const value = Number(text)
  return value >= min && value <= max ? value : undefined
}

/** The host as it goes into a URL: an IPv6 address in brackets. */
function urlHost (host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

/** `PATH:LISTENERS` (the path may hold colons: the count is after the last). */
function mountLoad (value: string): [string, number] | undefined {
  const colon = value.lastIndexOf(':')
  const path = value.slice(0, colon)
  const listeners = count(value.slice(colon + 1), MAX_COUNT)
  if (colon <= 0 || !path.startsWith('/') || listeners === undefined || path.length > 1024) return undefined
  return [path, listeners]
}

function loadOf (query: URLSearchParams): SlaveLoad | undefined {
  const listeners = count(query.get('rlisteners'), MAX_COUNT)
  const capacity = count(query.get('rcapacity'), MAX_COUNT, 1)
  if (listeners === undefined || capacity === undefined) return undefined
  const mounts = new Map<string, number>()
  for (const value of query.getAll('rmount').slice(0, MAX_REPORTED_MOUNTS)) {
    const entry = mountLoad(value)
    if (entry !== undefined) mounts.set(...entry)
  }
  return { listeners, capacity, mounts }
}

/**
 * The registration a stream list request carries, or undefined when it carries none or a bad one: as kh,
 * a registration needs all three fields and an interval of at least 5 s; unlike kh's `atoi`, a field that
 * is not wholly a number, a port out of range or a host that is no host name or address is refused.
 */
export function parseRegistration (query: URLSearchParams): Registration | undefined {
  const host = query.get('rserver')
  const port = count(query.get('rport'), 65_535, 1)
  const interval = count(query.get('interval'), MAX_REGISTRATION_INTERVAL, MIN_REGISTRATION_INTERVAL)
  if (host === null || !HOST.test(host) || port === undefined || interval === undefined) return undefined
  const scheme = query.get('rscheme')
  const load = loadOf(query)
  return {
    host: urlHost(host),
    port,
    interval,
    ...((scheme === 'http' || scheme === 'https') && { scheme }),
    ...(load !== undefined && { load })
  }
}

/** The query a slave adds to its stream list request: kh's three fields first, then its load. */
export function registrationQuery (registration: Registration): string {
  const query = new URLSearchParams({
    rserver: registration.host.replace(/^\[(.*)\]$/, '$1'),
    rport: String(registration.port),
    interval: String(registration.interval)
  })
  if (registration.scheme !== undefined) query.append('rscheme', registration.scheme)
  const { load } = registration
  if (load !== undefined) {
    query.append('rlisteners', String(load.listeners))
    query.append('rcapacity', String(load.capacity))
    for (const [path, listeners] of load.mounts) query.append('rmount', `${path}:${listeners}`)
  }
  return `?${query.toString()}`
}

/** The interval a slave polling every `updateInterval` seconds announces: kh ignores one under 5 s, and polls sooner do no harm. */
export function announcedInterval (updateInterval: number): number {
  return Math.min(MAX_REGISTRATION_INTERVAL, Math.max(MIN_REGISTRATION_INTERVAL, Math.ceil(updateInterval)))
}
