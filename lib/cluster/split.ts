// `--workers N` as a tree inside the box: the primary process relays every upstream once, on a private
// loopback port, and each worker mirrors it as a slave and serves the listeners. These pure functions split
// one set of options into the primary's (the upstream side) and a worker's (the listener side).
import { MOUNT_SETTING_KEYS, resolveRelay, type Authenticate, type HlsOrigin, type MountSettings, type RelayDefinition, type RelayPluginOptions } from '../options.js'
import { hasBasicCredentials } from '../auth.js'

/** The primary's private socket and the secret a worker gives it, as a relay and as a slave. */
export interface ClusterLink {
  port: number
  secret: string
}

/** The user name of the link's Basic credentials. */
export const LINK_USER = 'cluster'

/** The primary's address: loopback only, never reachable from outside the box. */
export const LINK_HOST = '127.0.0.1'

/**
 * Seconds between a worker's polls of the primary's stream list: a mount the primary's masters bring reaches
 * the workers this soon (a loopback request, a few bytes).
 */
export const LINK_POLL_SECONDS = 1

/**
 * The listeners the primary admits: only workers' relays connect to it, one per mount each; the machine's
 * `limits.clients` is applied by the workers.
 */
const LINK_CLIENTS = 1_000_000

/** What the primary does once for the machine: reading the upstream (its charset) and writing the dump. */
const UPSTREAM_SIDE_SETTINGS = new Set<string>(['charset'])

/** Relay fields that are about listeners (served by the workers), beside the per-mount settings. */
const LISTENER_SIDE_FIELDS = new Set<string>(['fallbackMount', 'fallbackOverride', 'intro', 'authenticate', 'listenerAuth'])

const LISTENER_SIDE_SETTINGS = MOUNT_SETTING_KEYS.filter((key) => !UPSTREAM_SIDE_SETTINGS.has(key))

/** An object without the keys `drop` says to drop. */
function without<T extends object> (value: T, drop: (key: string) => boolean): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([key]) => !drop(key))) as Partial<T>
}

const isListenerSide = (key: string): boolean => LISTENER_SIDE_FIELDS.has(key) || (LISTENER_SIDE_SETTINGS as string[]).includes(key)

/** Settings the primary applies (the upstream's charset); undefined when none is left. */
function upstreamSettings (settings: MountSettings | undefined): MountSettings | undefined {
  const kept = settings === undefined ? {} : without(settings, (key) => !UPSTREAM_SIDE_SETTINGS.has(key))
  return Object.keys(kept).length === 0 ? undefined : kept
}

function listenerSettings (settings: MountSettings): MountSettings {
  return without(settings, (key) => UPSTREAM_SIDE_SETTINGS.has(key))
}

/** The largest burst any mount is given: the primary sends a worker's relay that much as it connects. */
function largestBurst (options: RelayPluginOptions): number | undefined {
  const sizes = [
    options.limits?.burstSize,
    options.mountDefaults?.burstSize,
    ...Object.values(options.mounts ?? {}).map((settings) => settings.burstSize),
    ...(options.relays ?? []).map((relay) => relay.burstSize)
  ].filter((size): size is number => size !== undefined)
  return sizes.length === 0 ? undefined : Math.max(...sizes)
}

/** The options a worker has a value of its own for. */
const WORKER_OWN_KEYS = new Set<string>(['relays', 'master', 'mounts', 'mountDefaults'])

function mapValues<T, U> (record: Record<string, T>, map: (value: T) => U | undefined): Record<string, U> {
  return Object.fromEntries(Object.entries(record).flatMap(([key, value]) => {
    const mapped = map(value)
    return mapped === undefined ? [] : [[key, mapped]]
  }))
}

type ListenerAuthOwner = Pick<RelayPluginOptions, 'authenticate' | 'listenerAuth'>

const hasListenerAuth = (owner: ListenerAuthOwner): boolean => owner.authenticate !== undefined || owner.listenerAuth !== undefined

/**
 * Whether the listeners of a relay must authenticate: then its mount on the primary asks for the link's
 * credentials too, since a local user could otherwise read it there. An open mount stays open there, so that
 * only an upstream's own credentials make the "stream made public" warning.
 */
function isGuarded (relay: RelayDefinition, options: RelayPluginOptions): boolean {
  return hasListenerAuth(relay) || hasListenerAuth(options)
}

/** The credentials the primary asks of the workers, and its check of them. */
function linkCredentials (secret: string): { expected: { username: string, password: string }, linkAuth: Authenticate } {
  const expected = { username: LINK_USER, password: secret }
  return { expected, linkAuth: (request) => hasBasicCredentials(request.headers.authorization, expected) }
}

/** A relay's upstream side, as the primary runs it: a mount guarded on the public port asks for the link's credentials. */
function primaryRelay (relay: RelayDefinition, linkAuth: Authenticate): RelayDefinition {
  return { ...without(relay, isListenerSide), ...(hasListenerAuth(relay) && { authenticate: linkAuth }) } as RelayDefinition
}

/**
 * The primary's options: every relay and master of the config with only their upstream side, on no public
 * route (no stats, no admin); the mounts guarded on the public port ask for the link's credentials, and the
 * stream list is for the workers only.
 */
export function primaryOptions (options: RelayPluginOptions, secret: string): RelayPluginOptions {
  const burstSize = largestBurst(options)
  const mountDefaults = upstreamSettings(options.mountDefaults)
  const { expected, linkAuth } = linkCredentials(secret)
  return {
    relays: (options.relays ?? []).map((relay) => primaryRelay(relay, linkAuth)),
    ...(options.master !== undefined && { master: options.master }),
    ...(options.userAgent !== undefined && { userAgent: options.userAgent }),
    // HLS (issue 19): the primary cuts each mount's segments once for the machine, read by the workers only
    ...(options.hls !== undefined && { hls: options.hls }),
    limits: { ...options.limits, clients: LINK_CLIENTS, ...(burstSize !== undefined && { burstSize }) },
    relayAuth: expected,
    ...(hasListenerAuth(options) && { authenticate: linkAuth }),
    stats: false,
    ...(options.mounts !== undefined && { mounts: mapValues(options.mounts, upstreamSettings) }),
    ...(mountDefaults !== undefined && { mountDefaults })
  }
}

/**
 * A relay added at run time (`POST /admin/relays` in a worker), as the primary runs it: its upstream side,
 * hidden from the stream list, so that the workers serve it only as they are told to (with its listener side),
 * never as a mount their master brings (without it).
 */
export function addedPrimaryRelay (secret: string): (relay: RelayDefinition) => RelayDefinition {
  const { linkAuth } = linkCredentials(secret)
  return (relay) => ({ ...primaryRelay(relay, linkAuth), hidden: true })
}

/** A relay's listener side, as a worker runs it: its upstream is the relay's own mount on the primary. */
function workerRelay (relay: RelayDefinition, options: RelayPluginOptions, link: ClusterLink): RelayDefinition {
  const { localMount } = resolveRelay(relay)
  return {
    ...without(relay, (key) => !isListenerSide(key)),
    server: LINK_HOST,
    port: link.port,
    mount: localMount,
    localMount,
    ...(isGuarded(relay, options) && { username: LINK_USER, password: link.secret }),
    ...(relay.onDemand !== undefined && { onDemand: relay.onDemand }),
    ...(relay.hls !== undefined && { hls: relay.hls })
  }
}

/**
 * Where a worker's HLS reads each mount's window and segments: the primary, which cuts them once for the
 * machine, so that a player gets the same sequence numbers from any worker.
 */
export function workerHlsOrigin (link: ClusterLink): HlsOrigin {
  return { url: `http://${LINK_HOST}:${link.port}`, username: LINK_USER, password: link.secret }
}

/** How a worker relays a relay added at run time: the `mirror` of its machine link. */
export function workerMirror (options: RelayPluginOptions, link: ClusterLink): (relay: RelayDefinition) => RelayDefinition {
  return (relay) => workerRelay(relay, options, link)
}

/**
 * A worker's options: the config's listener side. Each relay of the config reads its mount from the primary
 * (on demand if it is on demand); the mounts the primary's masters bring come through its stream list.
 */
export function workerOptions (options: RelayPluginOptions, link: ClusterLink): RelayPluginOptions {
  const { relays = [], mounts, mountDefaults } = options
  const rest = without(options, (key) => WORKER_OWN_KEYS.has(key))
  return {
    ...rest,
    relays: relays.map((relay) => workerRelay(relay, options, link)),
    master: { server: LINK_HOST, port: link.port, username: LINK_USER, password: link.secret, updateInterval: LINK_POLL_SECONDS, onDemand: true },
    ...(mounts !== undefined && { mounts: mapValues(mounts, listenerSettings) }),
    ...(mountDefaults !== undefined && { mountDefaults: listenerSettings(mountDefaults) })
  }
}
