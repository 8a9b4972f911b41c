// The bench's tables (Markdown, so that the README can show them as printed) from its results.
import type { Measured } from './measure.js'

export type Mode = 'plain' | 'icy'

export interface FanoutRun {
  server: 'icecast' | 'plugin'
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
  admissionS: number
  cpu: number
  rssKiBPerListener: number
  starved: number
  latencyP50Ms: number
  latencyP99Ms: number
}

export function figuresOf (run: FanoutRun): Figures {
  const { measured, n } = run
  const admission = measured.admission[0]!
  const window = measured.window[0]!
  const relay = measured.relays[0]!
  return {
    admitted: admission.admitted,
    // not all in before the timeout: no admission time to show
    admissionS: (admission.admitted < n ? Number.POSITIVE_INFINITY : admission.firstByteMs.max) / 1000,
    cpu: relay.cpu,
    rssKiBPerListener: (relay.rssBytes - relay.idleRssBytes) / n / 1024,
    starved: window.starved,
    latencyP50Ms: window.latencyMs.p50,
    latencyP99Ms: window.latencyMs.p99
  }
}

const fixed = (digits: number) => (v: number): string => (Number.isFinite(v) ? v.toFixed(digits) : v > 0 ? '∞' : '–')

const COLUMNS: Array<{ title: string, key: keyof Figures, format: (v: number) => string }> = [
  { title: 'admitted', key: 'admitted', format: fixed(0) },
  { title: 'admission s (all N)', key: 'admissionS', format: fixed(2) },
  { title: 'CPU s/s', key: 'cpu', format: fixed(3) },
  { title: 'RSS KiB/listener', key: 'rssKiBPerListener', format: fixed(2) },
  { title: 'starved', key: 'starved', format: fixed(0) },
  { title: 'latency p50 ms', key: 'latencyP50Ms', format: fixed(1) },
  { title: 'latency p99 ms', key: 'latencyP99Ms', format: fixed(1) }
]

function row (cells: string[]): string {
  return `| ${cells.join(' | ')} |`
}

/** plugin / Icecast; a ratio of two zeros is 1 (as good), of a zero Icecast figure ∞. */
function ratio (plugin: number, icecast: number): number {
  if (plugin === icecast) return 1
  return plugin / icecast
}

/** Both servers side by side for every N and mode, with the ratios plugin/Icecast. */
export function fanoutTable (runs: FanoutRun[]): string {
  const lines = [
    row(['N', 'mode', 'server', ...COLUMNS.map((c) => c.title)]),
    row(['---:', '---', '---', ...COLUMNS.map(() => '---:')])
  ]
  const keys = [...new Set(runs.map((r) => `${r.n} ${r.mode}`))]
  for (const key of keys) {
    const pair = runs.filter((r) => `${r.n} ${r.mode}` === key)
    const [n, mode] = key.split(' ')
    const figures = new Map(pair.map((r) => [r.server, figuresOf(r)]))
    for (const [server, f] of figures) lines.push(row([n!, mode!, server, ...COLUMNS.map((c) => c.format(f[c.key]))]))
    const icecast = figures.get('icecast')
    const plugin = figures.get('plugin')
    if (icecast !== undefined && plugin !== undefined) {
      lines.push(row([n!, mode!, '**plugin/Icecast**', ...COLUMNS.map((c) => `**${fixed(2)(ratio(plugin[c.key], icecast[c.key]))}**`)]))
    }
  }
  return lines.join('\n')
}

/** Per relay process of a tree: its listeners, CPU, memory, starved listeners and latency behind the master. */
export function treeTable (runs: TreeRun[]): string {
  const lines = [
    row(['shape', 'relay', 'listeners', 'admission s', 'CPU s/s', 'RSS KiB/listener', 'starved', 'latency p50 ms', 'latency p99 ms']),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:'])
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
        fixed(2)(admission.firstByteMs.max / 1000),
        fixed(3)(relay.cpu),
        fixed(2)((relay.rssBytes - relay.idleRssBytes) / admission.n / 1024),
        String(window.starved),
        fixed(1)(window.latencyMs.p50),
        fixed(1)(window.latencyMs.p99)
      ]))
    }
  }
  return lines.join('\n')
}
