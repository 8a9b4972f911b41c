// `--split-cores`: the relay under test gets core 0 to itself, and the kernel's receive path of its
// listeners runs on the other cores, as it would on the listeners' own hosts. On loopback the receiving
// socket's TCP processing and the reader's wake-up run inside the sender's `write`; Receive Packet
// Steering on `lo` moves them to the cores its mask names, and CPU affinity keeps everything else
// (master, source, load, probe, this script) off the relay's core.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { processTree } from './proc.js'

const LOOPBACK_RPS = '/sys/class/net/lo/queues/rx-0/rps_cpus'
const RELAY_CORE = 0

/**
 * Pins every thread of `pid` and of its descendants to the cores of `list` (taskset's syntax: `0`, `1-3`).
 * A descendant that exited meanwhile is no longer there to pin.
 */
function pin (pid: number, list: string): void {
  for (const p of processTree(pid)) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', list, String(p)], { stdio: 'ignore' })
    } catch (error) {
      if (existsSync(`/proc/${p}`)) throw error
    }
  }
}

/** A CPU mask as sysfs reads it: hexadecimal, in groups of 32 bits separated by commas. */
function sysfsMask (mask: bigint): string {
  const hex = mask.toString(16)
  const groups: string[] = []
  for (let end = hex.length; end > 0; end -= 8) groups.unshift(hex.slice(Math.max(0, end - 8), end))
  return groups.join(',')
}

/** The cores other than the relay's, as a taskset list and as the hexadecimal mask sysfs takes. */
function otherCores (): { list: string, mask: string } {
  const count = cpus().length
  if (count < 2) throw new Error('--split-cores needs at least 2 cores')
  const mask = ((1n << BigInt(count)) - 1n) & ~(1n << BigInt(RELAY_CORE))
  return { list: `${RELAY_CORE + 1}-${count - 1}`, mask: sysfsMask(mask) }
}

/**
 * Moves this process (and so every child it starts from now on) and loopback's receive processing off
 * the relay's core; undone when this process exits. Needs root, for sysfs.
 */
export function splitCores (): void {
  const others = otherCores()
  const before = readFileSync(LOOPBACK_RPS, 'utf8').trim()
  writeFileSync(LOOPBACK_RPS, others.mask)
  process.once('exit', () => { writeFileSync(LOOPBACK_RPS, before) })
  process.once('SIGTERM', () => process.exit(143))
  pin(process.pid, others.list)
}

/** Gives a relay under test (with its workers) the relay's core. */
export function pinRelay (pid: number): void {
  pin(pid, String(RELAY_CORE))
}
