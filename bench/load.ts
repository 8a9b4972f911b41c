// The load: a flash crowd of raw-socket listeners, plain (http:) or TLS (https:), spawned by a bench and
// driven over IPC. This process (the coordinator) holds only the reference listener of the master and the
// sampled listeners whose audio it keeps with arrival times, for the latency (see latenciesBySample() in
// bench/stats.ts); the crowd itself is spread over `processes` crowd processes (this script with
// --crowd), so that reading thousands of sockets (and decrypting them, for TLS) never delays a sample's
// read, and no single load process saturates a core unseen: the bench reads each one's CPU.
// The samples join as the crowd comes in, one each time another share of it is admitted, so that they
// keep their places spread over the relay's order of writes.
// Plain sockets read into one shared buffer (net's `onread`), so the load allocates almost nothing per
// read; a TLS socket has no `onread` and reads by 'data' events.
import { fork, type ChildProcess } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { setPriority } from 'node:os'
import { performance } from 'node:perf_hooks'
import { connect as tlsConnect, TLSSocket } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { countBySecond, latenciesBySample, shares, summarize, type Recording } from './stats.js'
import { LOAD_AGENT, type GroupResult, type GroupSpec, type LoadCommand, type LoadReply, type OpenCommand, type WindowResult } from './protocol.js'

const SHARED = Buffer.alloc(256 * 1024)
const HEAD_END = Buffer.from('\r\n\r\n')
const MAX_HEAD = 16384
/** an attempt with no audio byte by then is given up and made again: a server that took the connection and
 * never answered would otherwise keep the fill waiting for ever (Icecast 2.4.4 at 10,000 did) */
const ATTEMPT_TIMEOUT_MS = 15_000

/** ms since the epoch, comparable between the load's processes (performance.now() is per process) */
const epochNow = (): number => performance.timeOrigin + performance.now()

function record (): Recording {
  return { times: [], ends: [], chunks: [] }
}

/**
 * One listener connection: parses the response head, then counts audio bytes, ICY blocks removed when
 * the response has `icy-metaint`. Each attempt to connect settles once: at its first audio byte (the
 * listener is admitted), or when it closes before.
 */
class Conn {
  socket: Socket | undefined
  firstByteAt: number | undefined
  audioBytes = 0
  /** connection attempts after the first */
  retries = 0
  /** the last attempt was answered with another status than 200 */
  refused = false
  dropped = false
  /** audio bytes when the window started */
  #windowStart = 0
  /** called once per attempt: true at its first audio byte, false when it closed before */
  settled: ((admitted: boolean) => void) | undefined
  #head: Buffer | undefined
  #metaint = 0
  #untilBlock = 0
  /** metadata bytes still to skip; -1 while the length byte is awaited */
  #metaLeft = 0
  readonly url: URL
  readonly icy: boolean
  readonly recording: Recording | undefined

  constructor (url: URL, icy: boolean, recorded: boolean) {
    this.url = url
    this.icy = icy
    this.recording = recorded ? record() : undefined
  }

  startWindow (): void {
    this.#windowStart = this.audioBytes
  }

  /** Audio bytes per second since the window started, `seconds` ago. */
  windowRate (seconds: number): number {
    return (this.audioBytes - this.#windowStart) / seconds
  }

  open (): void {
    if (this.socket !== undefined) this.retries++
    this.#head = Buffer.alloc(0)
    this.refused = false
    const socket = this.#connect()
    this.socket = socket
    socket.on('error', () => {})
    socket.setTimeout(ATTEMPT_TIMEOUT_MS, () => {
      if (this.firstByteAt === undefined) socket.destroy()
      else socket.setTimeout(0)
    })
    socket.on('close', () => {
      if (socket !== this.socket) return // an attempt given up for another
      if (this.firstByteAt !== undefined) this.dropped = true
      else this.settled?.(false)
    })
  }

  #request (): string {
    return `GET ${this.url.pathname} HTTP/1.0\r\nHost: ${this.url.host}\r\nUser-Agent: ${LOAD_AGENT}\r\n` +
      (this.icy ? 'Icy-MetaData: 1\r\n' : '') + '\r\n'
  }

  #connect (): Socket {
    const host = this.url.hostname
    const port = Number(this.url.port)
    if (this.url.protocol === 'https:') {
      // the bench's certificate is self-signed and made for the run: what counts is the server's cost
      const socket = tlsConnect({ host, port, rejectUnauthorized: false })
      socket.on('secureConnect', () => socket.write(this.#request()))
      socket.on('data', (data: Buffer) => this.#read(data, data.length))
      return socket
    }
    const socket = connect({
      host,
      port,
      // every socket reads into SHARED; the callback runs before the next read can overwrite it
      onread: { buffer: SHARED, callback: (n) => this.#read(SHARED, n) }
    })
    socket.on('connect', () => socket.write(this.#request()))
    return socket
  }

  /** true: keep reading (onread's contract) */
  #read (buf: Buffer, n: number): boolean {
    const now = performance.now()
    if (this.#head !== undefined) {
      this.#readHead(buf.subarray(0, n), now)
    } else {
      this.#readBody(buf, 0, n, now)
    }
    return true
  }

  #readHead (bytes: Buffer, now: number): void {
    const head = Buffer.concat([this.#head!, bytes])
    const end = head.indexOf(HEAD_END)
    if (end === -1) {
      this.#head = head
      if (head.length > MAX_HEAD) this.socket!.destroy()
      return
    }
    const text = head.subarray(0, end).toString('latin1')
    this.#head = undefined
    if (!/^\S+ 200 /.test(text)) {
      this.refused = true
      this.socket!.destroy()
      return
    }
    this.#metaint = Number(/^icy-metaint:\s*(\d+)/im.exec(text)?.[1] ?? 0)
    this.#untilBlock = this.#metaint
    const body = head.subarray(end + HEAD_END.length)
    this.#readBody(body, 0, body.length, now)
  }

  #readBody (buf: Buffer, from: number, to: number, now: number): void {
    if (this.#metaint === 0) {
      this.#audio(buf, from, to, now)
      return
    }
    let pos = from
    while (pos < to) {
      if (this.#metaLeft === -1) {
        this.#metaLeft = buf[pos++]! * 16
      } else if (this.#metaLeft > 0) {
        const skip = Math.min(this.#metaLeft, to - pos)
        this.#metaLeft -= skip
        pos += skip
      } else {
        const end = Math.min(to, pos + this.#untilBlock)
        this.#audio(buf, pos, end, now)
        this.#untilBlock -= end - pos
        pos = end
        if (this.#untilBlock === 0) {
          this.#untilBlock = this.#metaint
          this.#metaLeft = -1
        }
      }
    }
  }

  #audio (buf: Buffer, from: number, to: number, now: number): void {
    if (to <= from) return
    if (this.firstByteAt === undefined) {
      this.firstByteAt = now
      this.settled?.(true)
    }
    this.audioBytes += to - from
    const rec = this.recording
    if (rec === undefined) return
    rec.chunks.push(Buffer.from(buf.subarray(from, to)))
    rec.times.push(now)
    rec.ends.push(this.audioBytes)
  }
}

/**
 * Connections opened per turn of the event loop: each sends its request once connected, as a player does,
 * while the rest are still being opened. Opened all in one turn, the first request of 5,000 went out only once
 * the process had made every socket (0.2–0.8 s into the crowd, while the relay had nothing to answer).
 */
const CONNECTS_PER_TURN = 200

function openInTurns (conns: Conn[], from = 0): void {
  for (const conn of conns.slice(from, from + CONNECTS_PER_TURN)) conn.open()
  if (from + CONNECTS_PER_TURN < conns.length) setImmediate(openInTurns, conns, from + CONNECTS_PER_TURN)
}

/**
 * Connects `conns` at once (CONNECTS_PER_TURN at a time) and resolves when all have their first audio byte or at `deadline`. An attempt
 * that fails is made again at once (a second later when refused), as a player would, until `deadline`.
 */
async function crowd (conns: Conn[], deadline: number): Promise<void> {
  if (conns.length === 0) return
  await new Promise<void>((resolve) => {
    let waiting = conns.length
    const timer = setTimeout(resolve, deadline - performance.now())
    for (const conn of conns) {
      const settled = (admitted: boolean): void => {
        if (!admitted) {
          // unless fill() took this listener over in the meantime
          const retry = (): void => { if (conn.settled === settled) conn.open() }
          if (performance.now() < deadline) setTimeout(retry, conn.refused ? 1000 : 0)
          return
        }
        if (--waiting > 0) return
        clearTimeout(timer)
        resolve()
      }
      conn.settled = settled
    }
    openInTurns(conns)
  })
}

/**
 * Gets in the listeners the crowd left out, politely: one new connection every FILL_PACE_MS, each
 * failed one again at the end of the line, so that a small accept backlog does not drop them.
 */
const FILL_PACE_MS = 5

async function fill (conns: Conn[]): Promise<void> {
  const queue = conns.filter((c) => c.firstByteAt === undefined)
  if (queue.length === 0) return
  let waiting = queue.length
  await new Promise<void>((resolve) => {
    const next = (): void => {
      const conn = queue.shift()
      if (conn === undefined) return
      conn.settled = (admitted) => {
        if (!admitted) queue.push(conn)
        else if (--waiting === 0) resolve()
      }
      conn.socket?.destroy() // still trying since the crowd: start afresh
      conn.open()
    }
    const pacer = setInterval(() => {
      if (waiting === 0) clearInterval(pacer)
      else next()
    }, FILL_PACE_MS)
  })
}

const admittedOf = (conns: Conn[]): number => conns.filter((c) => c.firstByteAt !== undefined).length

/** The crowd's admission of one group in one process: first bytes in ms since the load's start (epoch). */
interface CrowdAdmission {
  label: string
  firstBytes: number[]
  retries: number
  refused: number
}

const admissionOf = (label: string, conns: Conn[], startEpoch: number): CrowdAdmission => ({
  label,
  firstBytes: conns.flatMap((c) => (c.firstByteAt === undefined ? [] : [performance.timeOrigin + c.firstByteAt - startEpoch])),
  retries: conns.reduce((sum, c) => sum + c.retries, 0),
  refused: conns.filter((c) => c.refused).length
})

interface CrowdWindow {
  label: string
  rates: number[]
  dropped: number
}

const windowOf = (label: string, conns: Conn[], seconds: number): CrowdWindow => ({
  label,
  rates: conns.map((c) => c.windowRate(seconds)),
  dropped: conns.filter((c) => c.dropped).length
})

/** Between the coordinator and a crowd process. */
type CrowdMessage =
  | { type: 'ready' }
  | { type: 'open', groups: GroupSpec[], startEpoch: number, deadlineEpoch: number }
  /** admitted listeners per group, while the crowd comes in */
  | { type: 'count', admitted: number[] }
  /** the crowd is in, or its deadline passed: the rest are got in one at a time */
  | { type: 'crowd-done' }
  | { type: 'admitted', groups: CrowdAdmission[], fillMs: number }
  | { type: 'window-start' }
  | { type: 'window-started' }
  | { type: 'window-end' }
  | { type: 'window', groups: CrowdWindow[] }
  | { type: 'close' }

const COUNT_INTERVAL_MS = 50

/** A crowd process: its share of each group's listeners, opened at once, counted, then read as they come. */
function runCrowd (): void {
  let groups: Array<{ label: string, conns: Conn[] }> = []
  let windowStartedAt = 0
  const answer = (message: CrowdMessage): void => { process.send!(message) }
  // its sockets would keep it alive after the coordinator is gone
  process.once('disconnect', () => process.exit(0))
  process.on('message', (message: CrowdMessage) => {
    if (message.type === 'open') {
      groups = message.groups.map((g) => ({ label: g.label, conns: Array.from({ length: g.n }, () => new Conn(new URL(g.url), g.icy, false)) }))
      const all = groups.flatMap((g) => g.conns)
      const counting = setInterval(() => answer({ type: 'count', admitted: groups.map((g) => admittedOf(g.conns)) }), COUNT_INTERVAL_MS)
      const deadline = performance.now() + message.deadlineEpoch - epochNow()
      crowd(all, deadline).then(async () => {
        clearInterval(counting)
        answer({ type: 'count', admitted: groups.map((g) => admittedOf(g.conns)) })
        answer({ type: 'crowd-done' })
        const admitted = groups.map((g) => admissionOf(g.label, g.conns, message.startEpoch))
        const fillStart = performance.now()
        await fill(all)
        answer({ type: 'admitted', groups: admitted, fillMs: performance.now() - fillStart })
      }, (error: unknown) => { throw error })
    } else if (message.type === 'window-start') {
      windowStartedAt = performance.now()
      for (const group of groups) for (const conn of group.conns) conn.startWindow()
      answer({ type: 'window-started' })
    } else if (message.type === 'window-end') {
      const seconds = (performance.now() - windowStartedAt) / 1000
      answer({ type: 'window', groups: groups.map((g) => windowOf(g.label, g.conns, seconds)) })
    } else if (message.type === 'close') {
      for (const group of groups) for (const conn of group.conns) closeWithReset(conn.socket)
      process.disconnect()
    }
  })
  answer({ type: 'ready' })
}

interface Sampled {
  label: string
  conns: Conn[]
}

let crowds: ChildProcess[] = []
let sampled: Sampled[] = []
let reference: Conn | undefined
let windowStartedAt = 0

function send (reply: LoadReply): void {
  process.send!(reply)
}

/** The next message of `type` from each crowd process, after `message` (if any) is sent to each. */
async function fromEachCrowd<T extends CrowdMessage> (type: T['type'], message?: CrowdMessage): Promise<T[]> {
  return await Promise.all(crowds.map(async (child) => await new Promise<T>((resolve, reject) => {
    const onMessage = (answer: CrowdMessage): void => {
      if (answer.type !== type) return
      child.off('message', onMessage)
      resolve(answer as T)
    }
    child.on('message', onMessage)
    child.once('exit', (code) => reject(new Error(`a crowd process exited (${code}) before '${type}'`)))
    if (message !== undefined) child.send(message)
  })))
}

/**
 * The crowd processes' niceness: on a machine whose cores the server under test shares with its load, the
 * server goes first, as on its own host; the load reads what it is sent when a core is free (its CPU is shown).
 * Without it, two crowd processes and the server were three busy threads on two cores, and the server got
 * 0.8 of one through a crowd of 10,000. The coordinator keeps its priority: its samples time the latency.
 */
const CROWD_NICENESS = 10

async function startCrowds (count: number): Promise<void> {
  crowds = Array.from({ length: count }, () => fork(fileURLToPath(import.meta.url), ['--crowd'], { execArgv: process.execArgv }))
  for (const child of crowds) if (child.pid !== undefined) setPriority(child.pid, CROWD_NICENESS)
  await fromEachCrowd('ready')
}

/**
 * Opens the samples of each group as its crowd comes in: sample k once k shares of the crowd are
 * admitted (the first at once), the rest when the crowd processes are done. Resolves when every sample
 * is in or the deadline passed.
 */
async function joinSamples (groups: GroupSpec[], crowdSizes: number[], deadline: number, crowdDone: Promise<unknown>): Promise<void> {
  const joined: Array<Promise<void>> = []
  const next = sampled.map(() => 0)
  const admitted = groups.map(() => crowds.map(() => 0))
  const joinUpTo = (g: number, count: number): void => {
    const conns = sampled[g]!.conns
    for (; next[g]! < Math.min(count, conns.length); next[g]!++) joined.push(crowd([conns[next[g]!]!], deadline))
  }
  const onCount = (i: number) => (message: CrowdMessage): void => {
    if (message.type !== 'count') return
    for (const [g, count] of message.admitted.entries()) admitted[g]![i] = count
    for (const g of groups.keys()) {
      const total = admitted[g]!.reduce((a, b) => a + b, 0)
      const samples = sampled[g]!.conns.length
      joinUpTo(g, 1 + Math.floor(total * samples / Math.max(1, crowdSizes[g]!)))
    }
  }
  const listeners = crowds.map((child, i) => { const listener = onCount(i); child.on('message', listener); return listener })
  for (const g of groups.keys()) joinUpTo(g, 1)
  await crowdDone
  for (const [i, child] of crowds.entries()) child.off('message', listeners[i]!)
  for (const g of groups.keys()) joinUpTo(g, sampled[g]!.conns.length)
  await Promise.all(joined)
}

/** Tells the parent how many are in, every few seconds, while `until` is pending. */
async function reporting<T> (phase: string, count: () => { admitted: number, n: number }, until: Promise<T>): Promise<T> {
  const timer = setInterval(() => send({ type: 'progress', phase, ...count() }), 5000)
  try {
    return await until
  } finally {
    clearInterval(timer)
  }
}

async function open (command: OpenCommand): Promise<void> {
  const processes = Math.max(1, command.processes ?? 1)
  await startCrowds(processes)
  const start = performance.now()
  const startEpoch = epochNow()
  const deadline = start + command.admissionTimeoutMs
  reference = new Conn(new URL(command.reference), false, true)
  reference.open()
  sampled = command.groups.map((g) => ({
    label: g.label,
    conns: Array.from({ length: Math.min(g.n, command.samples) }, () => new Conn(new URL(g.url), g.icy, true))
  }))
  const crowdSizes = command.groups.map((g, i) => g.n - sampled[i]!.conns.length)
  const split = command.groups.map((g, i) => shares(crowdSizes[i]!, processes))
  let counts = crowds.map(() => 0)
  for (const [i, child] of crowds.entries()) {
    child.on('message', (m: CrowdMessage) => { if (m.type === 'count') counts[i] = m.admitted.reduce((a, b) => a + b, 0) })
  }
  const crowdAdmitted = fromEachCrowd<CrowdMessage & { type: 'admitted' }>('admitted')
  crowdAdmitted.catch(() => {})
  const crowdDone = fromEachCrowd('crowd-done')
  for (const [i, child] of crowds.entries()) {
    const groups = command.groups.map((g, k) => ({ ...g, n: split[k]![i]! }))
    child.send({ type: 'open', groups, startEpoch, deadlineEpoch: startEpoch + command.admissionTimeoutMs } satisfies CrowdMessage)
  }
  const total = command.groups.reduce((sum, g) => sum + g.n, 0)
  const progress = (): { admitted: number, n: number } =>
    ({ admitted: counts.reduce((a, b) => a + b, 0) + admittedOf(sampled.flatMap((s) => s.conns)), n: total })
  await reporting('crowd', progress, joinSamples(command.groups, crowdSizes, deadline, crowdDone))
  const samplesAdmitted = sampled.map((s) => admissionOf(s.label, s.conns, startEpoch))
  const fillStart = performance.now()
  await reporting('fill', progress, fill(sampled.flatMap((s) => s.conns)))
  const samplesFillMs = performance.now() - fillStart
  const fromCrowds = await crowdAdmitted
  counts = crowds.map(() => 0)
  const results: GroupResult[] = command.groups.map((g, k) => {
    const parts = [samplesAdmitted[k]!, ...fromCrowds.map((c) => c.groups[k]!)]
    const firstBytes = parts.flatMap((p) => p.firstBytes)
    return {
      label: g.label,
      n: g.n,
      admitted: firstBytes.length,
      timeoutMs: command.admissionTimeoutMs,
      firstByteMs: summarize(firstBytes),
      inBySecond: countBySecond(firstBytes),
      retries: parts.reduce((sum, p) => sum + p.retries, 0),
      refused: parts.reduce((sum, p) => sum + p.refused, 0),
      fillMs: Math.max(samplesFillMs, ...fromCrowds.map((c) => c.fillMs))
    }
  })
  send({ type: 'admitted', groups: results })
}

async function windowStart (): Promise<void> {
  await fromEachCrowd('window-started', { type: 'window-start' })
  windowStartedAt = performance.now()
  for (const s of sampled) for (const conn of s.conns) conn.startWindow()
  send({ type: 'window-started' })
}

async function windowEnd (bytesPerSecond: number): Promise<void> {
  const end = performance.now()
  const seconds = (end - windowStartedAt) / 1000
  const fromCrowds = await fromEachCrowd<CrowdMessage & { type: 'window' }>('window', { type: 'window-end' })
  const results: WindowResult[] = sampled.map((s, k) => {
    const parts = [windowOf(s.label, s.conns, seconds), ...fromCrowds.map((c) => c.groups[k]!)]
    const rates = parts.flatMap((p) => p.rates)
    const recordings = s.conns.map((c) => c.recording!)
    const bySample = recordings.length === 0 ? [] : latenciesBySample(reference!.recording!, recordings, windowStartedAt, end)
    return {
      label: s.label,
      seconds,
      starved: rates.filter((r) => r < 0.9 * bytesPerSecond).length,
      dropped: parts.reduce((sum, p) => sum + p.dropped, 0),
      rate: summarize(rates),
      latencyMs: summarize(bySample.flat()),
      latencyBySampleP50Ms: bySample.map((latencies) => summarize(latencies).p50)
    }
  })
  send({ type: 'window', groups: results })
}

/**
 * Ends a listener at the end of a run with a reset instead of a FIN: a load that closes first keeps each local
 * port in TIME_WAIT for a minute, and the 10,000 of one server's run would hold a third of Linux's default
 * ephemeral range (32768–60999) while the next server's crowd connects. A TLS socket ends as it is.
 */
function closeWithReset (socket: Socket | undefined): void {
  if (socket === undefined || socket.destroyed) return
  if (socket instanceof TLSSocket) socket.destroy()
  else socket.resetAndDestroy()
}

function closeAll (): void {
  for (const conn of [reference, ...sampled.flatMap((s) => s.conns)]) closeWithReset(conn?.socket)
  for (const child of crowds) child.send({ type: 'close' } satisfies CrowdMessage)
  send({ type: 'closed' })
  process.disconnect()
}

function runLoad (): void {
  process.on('message', (command: LoadCommand) => {
    const failed = (error: unknown): void => {
      console.error(error)
      process.exit(1)
    }
    if (command.type === 'open') {
      open(command).catch(failed)
    } else if (command.type === 'window-start') {
      windowStart().catch(failed)
    } else if (command.type === 'window-end') {
      windowEnd(command.bytesPerSecond).catch(failed)
    } else {
      closeAll()
    }
  })
}

if (process.argv.includes('--crowd')) runCrowd()
else if (process.send !== undefined) runLoad()
