// The tables of bench/compare.ts (Markdown, as docs/performance.md shows them): every server under each
// load, then each CLI run against each peer in the same load (Icecast, icecast-kh, the floor, and for
// --workers N the CLI in one process), and the upstream connections each relay made to the master.
import type { Crowd, Measured } from './measure.js'
import { figuresOf, row as line, spreadLines } from './report.js'

export type LoadMode = 'plain' | 'icy' | 'https'

const MODES = new Set<LoadMode>(['plain', 'icy', 'https'])

/** `5000:plain,2000:https` → the loads, in order. */
export function parseLoads (value: string): Array<{ n: number, mode: LoadMode }> {
  return value.split(',').filter((s) => s.trim() !== '').map((item) => {
    const parts = item.trim().split(':')
    const [n, mode] = parts
    if (parts.length !== 2 || !/^\d+$/.test(n!) || Number(n) < 1 || !MODES.has(mode as LoadMode)) {
      throw new Error(`--loads: '${item}' is not N:plain, N:icy or N:https`)
    }
    return { n: Number(n), mode: mode as LoadMode }
  })
}

export interface ComparisonRun {
  /** icecast, kh, floor, cli, cli-wN */
  server: string
  n: number
  mode: LoadMode
  measured: Measured
  /** the relay's connections to the master's mount while the crowd listened */
  upstream: number
  /** `--workers N`: the listeners each worker held while the crowd listened, most first */
  split?: number[]
}

interface Row {
  admitted: number
  admittedAll: boolean
  admissionS: number
  /** listeners admitted per second of the crowd (a lower bound of the admitted when not all were) */
  admittedPerS: number
  cpu: number
  /** CPU s/s of the relay with no listener: the part of `cpu` that does not grow with them */
  idleCpu: number
  /** CPU µs per second per listener */
  cpuPerListener: number
  /** the same above the idle CPU: what one more listener costs */
  addedCpuPerListener: number
  rssKiBPerListener: number
  starved: number
  latencyP50Ms: number
  latencyP99Ms: number
  upstream: number
  loadCpu: number
  loadCpuMax: number
}

function rowOf (run: ComparisonRun): Row {
  const f = figuresOf(run)
  return {
    admitted: f.admitted,
    admittedAll: f.admittedAll,
    admissionS: f.admissionS,
    admittedPerS: f.admitted / f.admissionS,
    cpu: f.cpu,
    idleCpu: run.measured.relays[0]!.idleCpu ?? Number.NaN,
    cpuPerListener: f.cpu / run.n * 1e6,
    addedCpuPerListener: (f.cpu - (run.measured.relays[0]!.idleCpu ?? Number.NaN)) / run.n * 1e6,
    rssKiBPerListener: f.rssKiBPerListener,
    starved: f.starved,
    latencyP50Ms: f.latencyP50Ms,
    latencyP99Ms: f.latencyP99Ms,
    upstream: run.upstream,
    loadCpu: run.measured.loadCpu,
    loadCpuMax: run.measured.loadCpuMax ?? Number.NaN
  }
}

type Key = 'admissionS' | 'admittedPerS' | 'cpuPerListener' | 'addedCpuPerListener' | 'rssKiBPerListener' | 'latencyP50Ms' | 'latencyP99Ms'

const COLUMNS: Array<{ title: string, cell: (r: Row) => string, ratio?: Key }> = [
  { title: 'admitted in the crowd', cell: (r) => String(r.admitted) },
  { title: 'admission s (all N)', cell: (r) => `${r.admittedAll ? '' : '> '}${r.admissionS.toFixed(2)}`, ratio: 'admissionS' },
  { title: 'admitted /s', cell: (r) => r.admittedPerS.toFixed(0), ratio: 'admittedPerS' },
  { title: 'CPU s/s', cell: (r) => r.cpu.toFixed(3) },
  { title: 'idle CPU s/s', cell: (r) => r.idleCpu.toFixed(3) },
  { title: 'CPU µs/s per listener', cell: (r) => r.cpuPerListener.toFixed(1), ratio: 'cpuPerListener' },
  { title: 'above idle µs/s per listener', cell: (r) => r.addedCpuPerListener.toFixed(1), ratio: 'addedCpuPerListener' },
  { title: 'RSS KiB/listener', cell: (r) => r.rssKiBPerListener.toFixed(2), ratio: 'rssKiBPerListener' },
  { title: 'starved', cell: (r) => String(r.starved) },
  { title: 'latency p50 ms', cell: (r) => r.latencyP50Ms.toFixed(1), ratio: 'latencyP50Ms' },
  { title: 'latency p99 ms', cell: (r) => r.latencyP99Ms.toFixed(1), ratio: 'latencyP99Ms' },
  { title: 'upstream connections', cell: (r) => String(r.upstream) },
  { title: 'load CPU s/s (busiest process)', cell: (r) => `${r.loadCpu.toFixed(2)} (${r.loadCpuMax.toFixed(2)})` }
]

/** subject / peer, two significant digits below 0.1; a bound when the peer did not admit all (its time is a lower bound). */
function ratio (subject: Row, peer: Row, key: Key): string {
  const value = subject[key] === peer[key] ? 1 : subject[key] / peer[key]
  const bounded = !peer.admittedAll && (key === 'admissionS' || key === 'admittedPerS')
  const bound = bounded ? (key === 'admissionS' ? '< ' : '> ') : ''
  if (!Number.isFinite(value)) return Number.isNaN(value) ? '–' : '∞'
  return `**${bound}${value < 0.1 ? value.toPrecision(2) : value.toFixed(2)}**`
}

/** The peers a CLI run is compared with: Icecast, kh and the floor, and for cli-wN the CLI in one process. */
function peersOf (server: string, present: string[]): string[] {
  return present.filter((other) => other === 'icecast' || other === 'kh' || other === 'floor' || (other === 'cli' && server !== 'cli'))
}

/** One table: every run, and under each load the ratios of each CLI run against each of its peers. */
export function comparisonTable (runs: ComparisonRun[]): string {
  const lines = [
    line(['N', 'load', 'server', ...COLUMNS.map((c) => c.title)]),
    line(['---:', '---', '---', ...COLUMNS.map(() => '---:')])
  ]
  const loads = [...new Set(runs.map((r) => `${r.n} ${r.mode}`))]
  for (const load of loads) {
    const [n, mode] = load.split(' ') as [string, string]
    const rows = new Map(runs.filter((r) => `${r.n} ${r.mode}` === load).map((r) => [r.server, rowOf(r)]))
    for (const [server, row] of rows) lines.push(line([n, mode, server, ...COLUMNS.map((c) => c.cell(row))]))
    for (const [server, row] of rows) {
      if (!server.startsWith('cli')) continue
      for (const peer of peersOf(server, [...rows.keys()])) {
        const other = rows.get(peer)!
        lines.push(line([n, mode, `**${server}/${peer}**`, ...COLUMNS.map((c) => (c.ratio === undefined ? '' : ratio(row, other, c.ratio)))]))
      }
    }
  }
  return lines.join('\n')
}

/** What --workers N gives against one process, in words, for each load that has both. */
export function speedUps (runs: ComparisonRun[]): string[] {
  const one = new Map(runs.filter((r) => r.server === 'cli').map((r) => [`${r.n} ${r.mode}`, rowOf(r)]))
  return runs.filter((r) => /^cli-w\d+$/.test(r.server) && one.has(`${r.n} ${r.mode}`)).map((r) => {
    const single = one.get(`${r.n} ${r.mode}`)!
    const many = rowOf(r)
    const bound = single.admittedAll ? '' : ' (one process did not admit all: a lower bound)'
    return `--workers ${r.server.slice(5)} against one process, ${r.n} ${r.mode}: admission ×${(many.admittedPerS / single.admittedPerS).toFixed(2)} ` +
      `listeners per second${bound}, CPU per listener ×${(many.cpuPerListener / single.cpuPerListener).toFixed(2)} ` +
      `(×${(many.addedCpuPerListener / single.addedCpuPerListener).toFixed(2)} above the idle CPU)`
  })
}

/** Runs whose relay did not hold exactly one connection to the master's mount. */
export function upstreamWarnings (runs: ComparisonRun[]): string[] {
  return runs.filter((r) => r.upstream !== 1).map((r) =>
    `${r.server} at ${r.n} ${r.mode}: ${r.upstream} connections to the master's mount, where one per mount per machine is the mark`)
}

/** How each `--workers N` run split its listeners between the workers. */
export function splits (runs: ComparisonRun[]): string[] {
  return runs.filter((r) => r.split !== undefined).map((r) =>
    `${r.server} at ${r.n} ${r.mode}: listeners by worker ${r.split!.join(' + ')} (the busiest ${(r.split![0]! / r.n * 100).toFixed(1)} %)`)
}

export function comparisonTables (runs: ComparisonRun[]): string {
  return [comparisonTable(runs), ...speedUps(runs), ...splits(runs), ...spreadLines(runs), ...upstreamWarnings(runs)].join('\n\n')
}

/** Where a crowd's admission went, for the log of a run: the relay's CPU over it and the kernel's accept queue. */
export function crowdLine (crowd: Crowd): string {
  const c = crowd.counters
  const shares = [
    `relay CPU ${crowd.relayCpu.map((cpu) => cpu.toFixed(2)).join(' + ')} s/s`,
    ...(crowd.loadCpu === undefined ? [] : [`load ${crowd.loadCpu.toFixed(2)}`]),
    ...(crowd.machineCpu === undefined ? [] : [`machine ${crowd.machineCpu.busy.toFixed(2)} of ${crowd.machineCpu.cores} cores`])
  ]
  const inBy = crowd.inBySecond === undefined || crowd.inBySecond.length === 0
    ? ''
    : `; in by ${crowd.inBySecond.map((n, i) => `${i + 1} s: ${n}`).join(', ')}`
  return `crowd of ${crowd.seconds.toFixed(2)} s: ${shares.join(', ')}; ` +
    `machine: ${c.ListenOverflows} accept-queue overflows, ${c.TCPSynRetrans} SYNs sent again, ${c.TCPReqQFullDoCookies} SYN cookies${inBy}`
}
