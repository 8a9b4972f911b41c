// Messages between bench/run.ts and the load process (bench/load.ts), over the child's IPC channel.
import type { Summary } from './stats.js'

/** The User-Agent of the load's listeners: what tells them from relays in a master's list of clients. */
export const LOAD_AGENT = 'bench-load'

/** Listeners of one server: `n` connections to `url` (http: or https:), with `Icy-MetaData: 1` when `icy`. */
export interface GroupSpec {
  label: string
  url: string
  n: number
  icy: boolean
}

export interface OpenCommand {
  type: 'open'
  groups: GroupSpec[]
  /** a plain listener of the master: when the master sent each byte, for the latency */
  reference: string
  /** listeners per group whose audio is kept, for the latency */
  samples: number
  admissionTimeoutMs: number
  /** processes the crowd is spread over (default 1); the samples and the reference are in a process of their own */
  processes?: number
}

export type LoadCommand =
  | OpenCommand
  | { type: 'window-start' }
  | { type: 'window-end', bytesPerSecond: number }
  | { type: 'close' }

export interface GroupResult {
  label: string
  n: number
  /** listeners that got their first audio byte before the admission timeout */
  admitted: number
  timeoutMs: number
  /** ms from the first connect of the crowd to each listener's first audio byte */
  firstByteMs: Summary
  /** listeners with their first audio byte by the end of each second of the crowd: [by 1 s, by 2 s, …] */
  inBySecond: number[]
  /** connections tried again after a failure before their first byte */
  retries: number
  /** listeners whose last attempt of the crowd was answered with another status than 200 */
  refused: number
  /**
   * ms it took to get the listeners the crowd left out in, one at a time, so that the steady window
   * has all N (0 when the crowd got them all)
   */
  fillMs: number
}

export interface WindowResult {
  label: string
  seconds: number
  /** listeners whose audio rate over the window was below 90 % of the stream's */
  starved: number
  /** listeners the server closed after their first byte */
  dropped: number
  /** audio bytes per second per listener over the window */
  rate: Summary
  /** ms each sampled listener got a byte after the reference listener of the master got it */
  latencyMs: Summary
  /** each sample's median of `latencyMs`, in the order the samples joined (see roundSpread in stats.ts) */
  latencyBySampleP50Ms?: number[]
}

export type LoadReply =
  | { type: 'progress', phase: string, admitted: number, n: number }
  | { type: 'admitted', groups: GroupResult[] }
  | { type: 'window-started' }
  | { type: 'window', groups: WindowResult[] }
  | { type: 'closed' }

/** To bench/relay-app.ts: each is answered with a RelayReply of the same type. */
export type RelayCommand =
  | { type: 'memory' }
  | { type: 'profile-start' }
  | { type: 'profile-stop', file: string }

export type RelayReply =
  /** once its relay is live */
  | { type: 'ready', port: number }
  /**
   * its memory as it is, with the size and use of each V8 heap space (young generation, old space…),
   * and after a full garbage collection (what the heap really holds)
   */
  | { type: 'memory', before: NodeJS.MemoryUsage, spaces: Record<string, { size: number, used: number }>, after: NodeJS.MemoryUsage }
  | { type: 'profile-start' }
  /** the CPU profile since profile-start is written to the file */
  | { type: 'profile-stop' }
