// The kernel's TCP counters that say whether a flash crowd overflowed the accept queue: read from
// /proc/net/netstat (what `nstat` reads) before and after the crowd. They count the whole network namespace,
// so they are the crowd's only on a machine that runs nothing else meanwhile (or in a namespace of its own).
import { readFileSync } from 'node:fs'

/** The counters of a crowd: connections the full accept queue refused, and the SYNs clients sent again. */
export const CROWD_COUNTERS = ['ListenOverflows', 'ListenDrops', 'TCPSynRetrans', 'TCPReqQFullDoCookies'] as const
export type CrowdCounter = typeof CROWD_COUNTERS[number]
export type CrowdCounters = Record<CrowdCounter, number>

/**
 * The `TcpExt` counters of /proc/net/netstat's text: a line of names and a line of values, each starting with
 * `TcpExt:`. Names with no value, or a value that is not a count, are left out.
 */
export function tcpExtCounters (text: string): Map<string, number> {
  const lines = text.split('\n').filter((line) => line.startsWith('TcpExt:')).map((line) => line.split(/\s+/).slice(1))
  const counters = new Map<string, number>()
  const [names, values] = lines
  if (names === undefined || values === undefined) return counters
  for (const [i, name] of names.entries()) {
    const value = values[i]
    if (name !== '' && value !== undefined && /^\d+$/.test(value)) counters.set(name, Number(value))
  }
  return counters
}

/** The crowd's counters between two readings of tcpExtCounters (a counter missing from either counts 0). */
export function crowdCounters (before: Map<string, number>, after: Map<string, number>): CrowdCounters {
  const delta = (name: CrowdCounter): number => Math.max(0, (after.get(name) ?? 0) - (before.get(name) ?? 0))
  return Object.fromEntries(CROWD_COUNTERS.map((name) => [name, delta(name)])) as CrowdCounters
}

/** This machine's counters now (none where /proc/net/netstat cannot be read). */
export function readTcpExt (): Map<string, number> {
  try {
    return tcpExtCounters(readFileSync('/proc/net/netstat', 'utf8'))
  } catch {
    return new Map()
  }
}
