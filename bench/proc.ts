// What the kernel says about a process under test: CPU time, resident memory, listen backlog.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/** USER_HZ: /proc reports CPU times in these ticks (100 on every Linux the bench targets). */
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim())

/**
 * User + system CPU seconds of a process, all its threads included (Icecast's are many; Node's GC and
 * libuv threads count too). Fields 14 and 15 of /proc/PID/stat, counted after the `)` that ends the
 * command name, which may itself hold spaces.
 */
export function cpuSeconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state): utime is field 14, stime field 15
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
}

/**
 * The machine's busy and total CPU seconds since boot, all cores together: the first line of /proc/stat
 * (user nice system idle iowait irq softirq steal …, in ticks); idle and iowait are not busy.
 */
export function machineCpuSeconds (stat = readFileSync('/proc/stat', 'utf8')): { busy: number, total: number } {
  const ticks = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/).slice(1, 9).map(Number)
  const total = ticks.reduce((a, b) => a + b, 0)
  return { busy: (total - ticks[3]! - ticks[4]!) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND }
}

/** Resident set size in bytes (VmRSS of /proc/PID/status). */
export function rssBytes (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]
  if (kib === undefined) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(kib) * 1024
}

/** `pid` and its descendants: a relay's worker processes count as the relay. */
export function processTree (pid: number): number[] {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((task) =>
    readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter((c) => c !== '').map(Number))
  return [pid, ...children.flatMap(processTree)]
}

/** CPU seconds of `pid` and its descendants. */
export function treeCpuSeconds (pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + cpuSeconds(p), 0)
}

/** CPU seconds of `pid` and of each of its descendants, by process id. */
export function cpuByProcess (pid: number): Map<number, number> {
  return new Map(processTree(pid).map((p) => [p, cpuSeconds(p)]))
}

/** Resident memory of `pid` and its descendants. */
export function treeRssBytes (pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + rssBytes(p), 0)
}

/** The accept backlog of the socket listening on `port` (`ss` shows it as Send-Q of a LISTEN socket). */
export function listenBacklog (port: number): number | undefined {
  const out = execFileSync('ss', ['-Hltn', `sport = :${port}`]).toString().trim()
  const sendQ = out.split(/\s+/)[2]
  return sendQ === undefined ? undefined : Number(sendQ)
}

/**
 * Raises this process's open-file limit to its hard limit, so that every child started after it
 * inherits it; throws when even that is below `need` (raising the hard limit takes CAP_SYS_RESOURCE).
 */
export function ensureFileLimit (need: number): void {
  const pid = String(process.pid)
  const [soft, hard] = execFileSync('prlimit', ['--pid', pid, '--nofile', '--output', 'SOFT,HARD', '--noheadings'])
    .toString().trim().split(/\s+/).map((v) => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v)))
  if (hard! < need) throw new Error(`open files: the hard limit ${hard} is below ${need}: raise it (ulimit -Hn) and run again`)
  if (soft! < need) execFileSync('prlimit', ['--pid', pid, `--nofile=${hard}:${hard}`])
}
