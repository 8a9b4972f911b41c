import type { NodeCandidate } from '../options.js'
import type { Slave } from './slaves.js'

export type { NodeCandidate }

/** What a node's load is compared by: the part of its capacity in use. */
export function loadOf (candidate: Pick<NodeCandidate, 'listeners' | 'capacity'>): number {
  return candidate.listeners / candidate.capacity
}

export function hasRoom (candidate: Pick<NodeCandidate, 'listeners' | 'capacity'>): boolean {
  return candidate.listeners < candidate.capacity
}

/**
 * The least-loaded candidate, ties broken at random (`random` in [0, 1)); undefined when there is none.
 * The load is a fraction of each node's own capacity, so a bigger slave gets more listeners.
 */
export function leastLoaded<T extends Pick<NodeCandidate, 'listeners' | 'capacity'>> (candidates: readonly T[], random: () => number): T | undefined {
  let least: T[] = []
  let min = Number.POSITIVE_INFINITY
  for (const candidate of candidates) {
    const load = loadOf(candidate)
    if (load < min) {
      min = load
      least = [candidate]
    } else if (load === min) least.push(candidate)
  }
  return least[Math.min(least.length - 1, Math.floor(random() * least.length))]
}

export interface SlaveCandidateContext {
  /** the path asked for, prefix included, as slaves report their mounts */
  path: string
  /** the listener's URL from the host on: path and query, as it asked */
  pathAndQuery: string
  /** the scheme the listener used, kept when the slave names none (icecast-kh #75) */
  scheme: string
  /** what a slave that reports no load (icecast-kh) is taken to hold: the master's own capacity */
  defaultCapacity: number
}

/**
 * A slave as a candidate for a mount, or undefined when it cannot take the listener: it reports its mounts
 * and this one is not among them, or it is full. A slave that reports nothing (icecast-kh) relays every
 * mount of its master, as kh assumes; its load is what it was sent since its last poll.
 */
export function slaveCandidate (slave: Slave, ctx: SlaveCandidateContext): NodeCandidate | undefined {
  const mountListeners = slave.load?.mounts.get(ctx.path)
  if (slave.load !== undefined && mountListeners === undefined) return undefined
  const candidate: NodeCandidate = {
    key: slave.key,
    kind: 'slave',
    location: `${slave.scheme ?? ctx.scheme}://${slave.host}:${slave.port}${ctx.pathAndQuery}`,
    listeners: (slave.load?.listeners ?? 0) + slave.sent,
    capacity: slave.load?.capacity ?? ctx.defaultCapacity,
    ...(mountListeners !== undefined && { mountListeners })
  }
  return hasRoom(candidate) ? candidate : undefined
}
