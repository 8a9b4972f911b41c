// The bench's tables (Markdown, so that docs/performance.md can show them as printed) from its results.
import type { Measured, ProcessFigures } from './measure.js'
import { roundSpread } from './stats.js'

export type Mode = 'plain' | 'icy'

export interface FanoutRun {
  server: 'icecast' | 'kh' | 'cli' | 'plugin' | 'floor'
  n: number
  mode: Mode
  measured: Measured
}

export interface TreeRun {
  shape: 'fan' | 'chain'
  /** one label per relay process, in the order of measured.relays */
  labels: string[]
  measured: Measured
}

/** The figures of one server in one fan-out run, as the table shows them. */
export interface Figures {
  admitted: number
  /** when not all were admitted: the admission timeout, a lower bound */
  admissionS: number
  admittedAll: boolean
  cpu: number
  rssKiBPerListener: number
  /** the plugin only (NaN for Icecast): what the listeners keep on the JS heap, after a full GC */
  heapKiBPerListener: number
  starved: number
  latencyP50Ms: number
  latencyP99Ms: number
}

function heapKiBPerListener (relay: ProcessFigures, n: number): number {
  const idle = relay.idleMemory?.after.heapUsed
  const loaded = relay.memory?.after.heapUsed
  return idle === undefined || loaded === undefined ? Number.NaN : (loaded - idle) / n / 1024
}

export function figuresOf (run: Pick<FanoutRun, 'n' | 'measured'>): Figures {
  const { measured, n } = run
  const admission = measured.admission[0]!
  const window = measured.window[0]!
  const relay = measured.relays[0]!
  const admittedAll = admission.admitted === n
  return {
    admitted: admission.admitted,
    admissionS: (admittedAll ? admission.firstByteMs.max : admission.timeoutMs) / 1000,
    admittedAll,
    cpu: relay.cpu,
    rssKiBPerListener: (relay.rssBytes - relay.idleRssBytes) / n / 1024,
    heapKiBPerListener: heapKiBPerListener(relay, n),
    starved: window.starved,
    latencyP50Ms: window.latencyMs.p50,
    latencyP99Ms: window.latencyMs.p99
  }
}

type Key = Exclude<keyof Figures, 'admittedAll'>

const COLUMNS: Array<{ title: string, key: Key, digits: number }> = [
  { title: 'admitted in the crowd', key: 'admitted', digits: 0 },
  { title: 'admission s (all N)', key: 'admissionS', digits: 2 },
  { title: 'CPU s/s', key: 'cpu', digits: 3 },
  { title: 'RSS KiB/listener', key: 'rssKiBPerListener', digits: 2 },
  { title: 'heap kept KiB/listener', key: 'heapKiBPerListener', digits: 2 },
  { title: 'starved', key: 'starved', digits: 0 },
  { title: 'latency p50 ms', key: 'latencyP50Ms', digits: 1 },
  { title: 'latency p99 ms', key: 'latencyP99Ms', digits: 1 }
]

/** An admission that did not end before the timeout is shown as more than the timeout. */
function cell (f: Figures, key: Key, digits: number): string {
  if (Number.isNaN(f[key])) return '–'
  const value = f[key].toFixed(digits)
  return key === 'admissionS' && !f.admittedAll ? `> ${value}` : value
}

/** plugin / Icecast, bold; two zeros are 1 (as good); against a lower bound of Icecast's, an upper bound. */
function ratioCell (plugin: Figures, icecast: Figures, key: Key): string {
  const ratio = plugin[key] === icecast[key] ? 1 : plugin[key] / icecast[key]
  const bound = key === 'admissionS' && !icecast.admittedAll ? '< ' : ''
  // two significant digits: an admission ratio can be 0.0025
  return `**${bound}${Number.isFinite(ratio) ? (ratio < 0.1 ? ratio.toPrecision(2) : ratio.toFixed(2)) : '∞'}**`
}

export function row (cells: string[]): string {
  return `| ${cells.join(' | ')} |`
}

/** Both servers side by side for every N and mode, with the ratios plugin/Icecast. */
export function fanoutTable (runs: FanoutRun[]): string {
  const lines = [
    row(['N', 'mode', 'server', ...COLUMNS.map((c) => c.title)]),
    row(['---:', '---', '---', ...COLUMNS.map(() => '---:')])
  ]
  const keys = [...new Set(runs.map((r) => `${r.n} ${r.mode}`))]
  for (const key of keys) {
    const [n, mode] = key.split(' ')
    const figures = new Map(runs.filter((r) => `${r.n} ${r.mode}` === key).map((r) => [r.server, figuresOf(r)]))
    for (const [server, f] of figures) lines.push(row([n!, mode!, server, ...COLUMNS.map((c) => cell(f, c.key, c.digits))]))
    const icecast = figures.get('icecast')
    const plugin = figures.get('plugin')
    if (icecast !== undefined && plugin !== undefined) {
      // more admitted is better; Icecast's heap is not measured
      const noRatio = new Set<Key>(['admitted', 'heapKiBPerListener'])
      lines.push(row([n!, mode!, '**plugin/Icecast**', ...COLUMNS.map((c) => (noRatio.has(c.key) ? '' : ratioCell(plugin, icecast, c.key)))]))
    }
  }
  return lines.join('\n')
}

/** Per relay process of a tree: its listeners, CPU, memory, starved listeners and latency behind the master. */
export function treeTable (runs: TreeRun[]): string {
  const lines = [
    row(['shape', 'relay', 'listeners', 'admission s', 'CPU s/s', 'RSS KiB/listener', 'heap kept KiB/listener', 'starved', 'latency p50 ms', 'latency p99 ms']),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:'])
  ]
  for (const run of runs) {
    for (const [i, label] of run.labels.entries()) {
      const relay = run.measured.relays[i]!
      const admission = run.measured.admission[i]!
      const window = run.measured.window[i]!
      lines.push(row([
        run.shape,
        label,
        String(admission.n),
        (admission.firstByteMs.max / 1000).toFixed(2),
        relay.cpu.toFixed(3),
        ((relay.rssBytes - relay.idleRssBytes) / admission.n / 1024).toFixed(2),
        heapKiBPerListener(relay, admission.n).toFixed(2),
        String(window.starved),
        window.latencyMs.p50.toFixed(1),
        window.latencyMs.p99.toFixed(1)
      ]))
    }
  }
  return lines.join('\n')
}

/**
 * The first and the last sample's median latency of each run (see roundSpread), as lines under the tables:
 * what comes before a round of writes and what the round itself adds. None for runs saved without them.
 */
export function spreadLines (runs: Array<{ server: string, n: number, mode: string, measured: Measured }>): string[] {
  return runs.flatMap((run) => {
    const spread = roundSpread(run.measured.window[0]?.latencyBySampleP50Ms ?? [])
    if (spread === undefined) return []
    return [`${run.server} at ${run.n} ${run.mode}: latency p50 of the first sample to join ${spread.first.toFixed(1)} ms, ` +
      `of the last ${spread.last.toFixed(1)} ms (the round of writes from one to the other: ${spread.round.toFixed(1)} ms)`]
  })
}

/** Every table of a bench run, as run.ts prints them and table.ts prints them again from the JSON. */
export function tables (runs: FanoutRun[], trees: TreeRun[]): string {
  return [runs.length > 0 ? fanoutTable(runs) : '', spreadLines(runs).join('\n'), trees.length > 0 ? treeTable(trees) : '']
    .filter((t) => t !== '').join('\n\n')
}
