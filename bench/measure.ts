// One measured run: a flash crowd on one or more relays under test, then a steady window in which the
// relays' CPU, the listeners' rates and their latency behind the master are taken.
import { setTimeout as sleep } from 'node:timers/promises'
import { crowdCounters, readTcpExt, type CrowdCounters } from './netstat.js'
import { cpuByProcess, machineCpuSeconds, treeCpuSeconds, treeRssBytes } from './proc.js'
import type { GroupResult, GroupSpec, RelayReply, WindowResult } from './protocol.js'
import { startLoad, type RelayUnderTest } from './servers.js'
import { summarize, type Summary } from './stats.js'

/** 128 kbit/s: the rate every listener should get, in audio bytes per second. */
const STREAM_BYTES_PER_SECOND = 16000

/** How long the listeners a crowd left out may take to get in, one at a time, before the window. */
const FILL_TIMEOUT_MS = 600_000

export interface MeasureOptions {
  /** a plain listener of the master, the reference for the latency */
  reference: string
  samples: number
  admissionTimeoutMs: number
  /** after the crowd is in, before the window: bursts and catch-up are over */
  warmupMs: number
  windowMs: number
  /** before the crowd: the relays' idle baseline settles */
  settleMs: number
  /** processes the load's crowd is spread over (default 1) */
  loadProcesses?: number | undefined
  /** called after the window, while every listener is still connected */
  beforeClose?: (() => Promise<void>) | undefined
  /** a CPU profile of each plugin relay over the window, written to `${profile}-${i}.cpuprofile` */
  profile?: string | undefined
}

type MemoryReply = RelayReply & { type: 'memory' }
export type Memory = Omit<MemoryReply, 'type'>

async function memoryOf (relay: RelayUnderTest): Promise<Memory | undefined> {
  const reply = await relay.ask?.<MemoryReply>({ type: 'memory' })
  return reply === undefined ? undefined : { before: reply.before, spaces: reply.spaces, after: reply.after }
}

/**
 * RSS of each process (with its workers), read every second while `ms` pass. One reading is noise: V8's young generation
 * grows and shrinks with the allocation rate, by megabytes, so the figures are the medians.
 */
async function rssDuring (pids: number[], ms: number): Promise<Summary[]> {
  const readings = pids.map((): number[] => [])
  const end = performance.now() + ms
  for (let left = ms; left > 0; left = end - performance.now()) {
    for (const [i, pid] of pids.entries()) readings[i]!.push(treeRssBytes(pid))
    await sleep(Math.min(1000, left))
  }
  return readings.map(summarize)
}

/** The idle RSS is read over the last seconds of the settling, at most this long. */
const IDLE_READING_MS = 5000

export interface ProcessFigures {
  server: RelayUnderTest['server']
  backlog: number | undefined
  /** CPU seconds per second over the window */
  cpu: number
  /** CPU seconds per second while idle, over the idle RSS reading: what the relay costs with no listener */
  idleCpu?: number
  /** median RSS while idle (before the crowd) and over the window */
  idleRssBytes: number
  rssBytes: number
  rss: Summary
  /** the plugin only: its memory before and after a full GC, idle and with the listeners */
  idleMemory?: Memory | undefined
  memory?: Memory | undefined
}

export interface Measured {
  relays: ProcessFigures[]
  admission: GroupResult[]
  window: WindowResult[]
  /** the load's CPU seconds per second, all its processes */
  loadCpu: number
  /** the busiest load process's CPU seconds per second: near 1.0 would mean the load, not the relay, limits */
  loadCpuMax?: number
  /** from the crowd's first connect to its last admission */
  crowd?: Crowd
}

/** Where a crowd's admission went: the relays' CPU over it (near 1.0: one busy core) and the kernel's counters. */
export interface Crowd {
  seconds: number
  /** CPU seconds per second of each relay (with its workers) */
  relayCpu: number[]
  /** the whole machine's (see bench/netstat.ts) */
  counters: CrowdCounters
  /** the load's processes' CPU seconds per second (the load shares the relays' cores) */
  loadCpu?: number
  /** the machine's busy CPU seconds per second, all cores together, and its cores: busy = cores means no core was idle */
  machineCpu?: { busy: number, cores: number }
  /** the crowd's listeners in by the end of each second (all groups) */
  inBySecond?: number[]
}

/**
 * The machine's and the load's CPU per second over the `seconds` since the readings before a crowd, read as
 * it ends (the load's crowd processes live through it). The machine's CPU time over the wall time gives its cores.
 */
function overTheCrowd (machineBefore: { busy: number, total: number }, loadBefore: Map<number, number>, loadPid: number, seconds: number):
{ loadCpu: number, machineCpu: { busy: number, cores: number } } {
  const machine = machineCpuSeconds()
  const wall = machine.total - machineBefore.total
  const loadAfter = cpuByProcess(loadPid)
  const loadCpu = [...loadAfter].reduce((sum, [pid, cpu]) => sum + cpu - (loadBefore.get(pid) ?? 0), 0) / seconds
  return { loadCpu, machineCpu: { busy: (machine.busy - machineBefore.busy) / seconds, cores: Math.round(wall / seconds) } }
}

/** Per-second counts of several groups added up, the longest setting the length. */
function sumBySecond (counts: number[][]): number[] {
  const length = Math.max(0, ...counts.map((c) => c.length))
  return Array.from({ length }, (_, i) => counts.reduce((sum, c) => sum + (c[i] ?? c.at(-1) ?? 0), 0))
}

/** CPU seconds per second of each process that lived through the window. */
function busiest (before: Map<number, number>, after: Map<number, number>, seconds: number): number {
  return Math.max(0, ...[...after].map(([pid, cpu]) => before.has(pid) ? (cpu - before.get(pid)!) / seconds : 0))
}

/** The listeners of `groups` (each to its own URL) load the `relays`, whose CPU and memory are read. */
export async function measure (relays: RelayUnderTest[], groups: GroupSpec[], options: MeasureOptions): Promise<Measured> {
  const pids = relays.map((r) => r.pid)
  const idleReading = Math.min(IDLE_READING_MS, options.settleMs)
  await sleep(options.settleMs - idleReading)
  const idleCpuBefore = relays.map((r) => treeCpuSeconds(r.pid))
  const idleStart = performance.now()
  const idle = await rssDuring(pids, idleReading)
  const idleSeconds = (performance.now() - idleStart) / 1000
  const idleCpu = relays.map((r, i) => (treeCpuSeconds(r.pid) - idleCpuBefore[i]!) / idleSeconds)
  const idleMemory = await Promise.all(relays.map(memoryOf))
  const load = startLoad()
  try {
    const crowdCpuBefore = relays.map((r) => treeCpuSeconds(r.pid))
    const countersBefore = readTcpExt()
    const machineBefore = machineCpuSeconds()
    const loadCrowdBefore = cpuByProcess(load.pid)
    const crowdStart = performance.now()
    const admitted = await load.request<{ type: 'admitted', groups: GroupResult[] }>({
      type: 'open',
      groups,
      reference: options.reference,
      samples: options.samples,
      admissionTimeoutMs: options.admissionTimeoutMs,
      processes: options.loadProcesses
    }, 'admitted', options.admissionTimeoutMs + FILL_TIMEOUT_MS)
    // the CPU is read around the load's start too (its crowd processes start), when the relays are idle
    const lastFirstByteMs = Math.max(0, ...admitted.groups.map((g) => g.firstByteMs.max))
    const crowdSeconds = lastFirstByteMs > 0 ? lastFirstByteMs / 1000 : (performance.now() - crowdStart) / 1000
    const crowd: Crowd = {
      seconds: crowdSeconds,
      relayCpu: relays.map((r, i) => (treeCpuSeconds(r.pid) - crowdCpuBefore[i]!) / crowdSeconds),
      counters: crowdCounters(countersBefore, readTcpExt()),
      ...overTheCrowd(machineBefore, loadCrowdBefore, load.pid, (performance.now() - crowdStart) / 1000),
      inBySecond: sumBySecond(admitted.groups.map((g) => g.inBySecond))
    }
    await sleep(options.warmupMs)
    const profile = options.profile
    if (profile !== undefined) await Promise.all(relays.map(async (r) => await r.ask?.({ type: 'profile-start' })))
    const cpuBefore = relays.map((r) => treeCpuSeconds(r.pid))
    const loadBefore = cpuByProcess(load.pid)
    const start = performance.now()
    await load.request({ type: 'window-start' }, 'window-started', 10000)
    const rss = await rssDuring(pids, options.windowMs)
    // before the coordinator works out the latencies, which is not load
    const loadAfter = cpuByProcess(load.pid)
    const loadSeconds = (performance.now() - start) / 1000
    const window = await load.request<{ type: 'window', groups: WindowResult[] }>(
      { type: 'window-end', bytesPerSecond: STREAM_BYTES_PER_SECOND }, 'window', 60000)
    const seconds = (performance.now() - start) / 1000
    const figures = relays.map((r, i): ProcessFigures => ({
      server: r.server,
      backlog: r.backlog,
      cpu: (treeCpuSeconds(r.pid) - cpuBefore[i]!) / seconds,
      idleCpu: idleCpu[i],
      idleRssBytes: idle[i]!.p50,
      rssBytes: rss[i]!.p50,
      rss: rss[i]!,
      idleMemory: idleMemory[i]
    }))
    const sum = (cpu: Map<number, number>): number => [...cpu.values()].reduce((a, b) => a + b, 0)
    const loadCpu = (sum(loadAfter) - sum(loadBefore)) / loadSeconds
    const loadCpuMax = busiest(loadBefore, loadAfter, loadSeconds)
    if (profile !== undefined) {
      await Promise.all(relays.map(async (r, i) => await r.ask?.({ type: 'profile-stop', file: `${profile}-${i}.cpuprofile` })))
    }
    for (const [i, r] of relays.entries()) figures[i]!.memory = await memoryOf(r)
    await options.beforeClose?.()
    await load.request({ type: 'close' }, 'closed', 30000)
    return { relays: figures, admission: admitted.groups, window: window.groups, loadCpu, loadCpuMax, crowd }
  } finally {
    await load.stop()
  }
}
