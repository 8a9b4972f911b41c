// The load process: a flash crowd of raw-socket listeners, spawned by bench/run.ts and driven over IPC.
// Sockets read as fast as the server sends (the server's pacing is the real-time rate); every read lands
// in one shared buffer (net's `onread`), so the load itself allocates almost nothing per read. A few
// sampled listeners and one reference listener of the master keep their audio with arrival times, for
// the latency (see latencies() in bench/stats.ts). Once the crowd is in, their sockets move to a probe
// process of their own (this script with --probe): reading thousands of sockets takes this process
// ~25 ms a round at 5000, and a sample read late in that round would charge the load's delay to the
// relay. They keep their place in the relay's order of writes, which is what the samples are for.
import { fork, type ChildProcess } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { latencies, summarize, type Recording } from './stats.js'
import type { GroupResult, LoadCommand, LoadReply, OpenCommand, WindowResult } from './protocol.js'

const SHARED = Buffer.alloc(256 * 1024)
const HEAD_END = Buffer.from('\r\n\r\n')
const MAX_HEAD = 16384

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
  /** its socket now belongs to the probe process */
  movedToProbe = false

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

  /** Where the reading of the body stands, for the probe to go on from. */
  bodyState (): BodyState {
    return { metaint: this.#metaint, untilBlock: this.#untilBlock, metaLeft: this.#metaLeft }
  }

  /** In the probe: reads a streaming listener's socket from where `state` says its body stands. */
  adopt (socket: Socket, state: BodyState): void {
    this.socket = socket
    this.firstByteAt = 0
    this.#head = undefined
    this.#metaint = state.metaint
    this.#untilBlock = state.untilBlock
    this.#metaLeft = state.metaLeft
    socket.on('data', (data: Buffer) => this.#readBody(data, 0, data.length, performance.now()))
    socket.on('error', () => {})
    socket.on('close', () => { this.dropped = true })
  }

  open (): void {
    if (this.socket !== undefined) this.retries++
    this.#head = Buffer.alloc(0)
    this.refused = false
    const socket = connect({
      host: this.url.hostname,
      port: Number(this.url.port),
      // every socket reads into SHARED; the callback runs before the next read can overwrite it
      onread: { buffer: SHARED, callback: (n) => this.#read(n) }
    })
    this.socket = socket
    socket.on('connect', () => {
      socket.write(`GET ${this.url.pathname} HTTP/1.0\r\nHost: ${this.url.host}\r\nUser-Agent: bench-load\r\n` +
        (this.icy ? 'Icy-MetaData: 1\r\n' : '') + '\r\n')
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      if (socket !== this.socket) return // an attempt given up for another
      if (this.firstByteAt !== undefined) this.dropped = true
      else this.settled?.(false)
    })
  }

  /** true: keep reading (onread's contract) */
  #read (n: number): boolean {
    const now = performance.now()
    if (this.#head !== undefined) {
      this.#readHead(SHARED.subarray(0, n), now)
    } else {
      this.#readBody(SHARED, 0, n, now)
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

interface BodyState {
  metaint: number
  untilBlock: number
  metaLeft: number
}

interface Group {
  label: string
  conns: Conn[]
}

/** Between the load process and its probe. */
type ProbeMessage =
  | { type: 'adopt', group: string, icy: boolean, url: string, state: BodyState, reference: boolean }
  | { type: 'adopted' }
  | { type: 'window-start' }
  | { type: 'window-started' }
  | { type: 'window-end' }
  | { type: 'window', groups: Array<{ label: string, rates: number[], dropped: number, latencies: number[] }> }

let groups: Group[] = []
let reference: Conn | undefined
let windowStartedAt = 0

function send (reply: LoadReply): void {
  process.send!(reply)
}

/** Indexes of `samples` connections spread evenly over the crowd, first and last included. */
function sampledIndexes (n: number, samples: number): Set<number> {
  const picked = new Set<number>()
  const count = Math.min(n, samples)
  for (let k = 0; k < count; k++) picked.add(count === 1 ? 0 : Math.round(k * (n - 1) / (count - 1)))
  return picked
}

/**
 * The flash crowd: every connect is issued before the first answer is read. An attempt that fails is
 * made again at once (a second later when refused), as a player would, until `deadline`.
 */
async function crowd (conns: Conn[], deadline: number): Promise<void> {
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
      conn.open()
    }
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

/** Tells the parent how many are in, every few seconds, while `until` is pending. */
async function reporting<T> (phase: string, conns: Conn[], until: Promise<T>): Promise<T> {
  const timer = setInterval(() => {
    send({ type: 'progress', phase, admitted: conns.filter((c) => c.firstByteAt !== undefined).length, n: conns.length })
  }, 5000)
  try {
    return await until
  } finally {
    clearInterval(timer)
  }
}

async function open (command: OpenCommand): Promise<void> {
  const start = performance.now()
  reference = new Conn(new URL(command.reference), false, true)
  reference.open()
  groups = command.groups.map((g) => {
    const picked = sampledIndexes(g.n, command.samples)
    const url = new URL(g.url)
    return { label: g.label, conns: Array.from({ length: g.n }, (_, i) => new Conn(url, g.icy, picked.has(i))) }
  })
  const all = groups.flatMap((g) => g.conns)
  await reporting('crowd', all, crowd(all, start + command.admissionTimeoutMs))
  const results: GroupResult[] = groups.map((g) => {
    const firstBytes = g.conns.flatMap((c) => (c.firstByteAt === undefined ? [] : [c.firstByteAt - start]))
    return {
      label: g.label,
      n: g.conns.length,
      admitted: firstBytes.length,
      timeoutMs: command.admissionTimeoutMs,
      firstByteMs: summarize(firstBytes),
      retries: g.conns.reduce((sum, c) => sum + c.retries, 0),
      refused: g.conns.filter((c) => c.refused).length,
      fillMs: 0
    }
  })
  const fillStart = performance.now()
  await reporting('fill', all, fill(all))
  for (const result of results) result.fillMs = performance.now() - fillStart
  await moveToProbe()
  send({ type: 'admitted', groups: results })
}

let probe: ChildProcess | undefined

async function probeAnswer<T extends ProbeMessage> (message: ProbeMessage, type: T['type'], socket?: Socket): Promise<T> {
  return await new Promise<T>((resolve) => {
    const onMessage = (answer: ProbeMessage): void => {
      if (answer.type !== type) return
      probe!.off('message', onMessage)
      resolve(answer as T)
    }
    probe!.on('message', onMessage)
    probe!.send(message, socket)
  })
}

/** The reference and the sampled listeners go on in the probe process, one socket at a time. */
async function moveToProbe (): Promise<void> {
  probe = fork(fileURLToPath(import.meta.url), ['--probe'], { execArgv: process.execArgv })
  const moves = [
    { conn: reference!, group: '', reference: true },
    ...groups.flatMap((g) => g.conns.filter((c) => c.recording !== undefined).map((conn) => ({ conn, group: g.label, reference: false })))
  ]
  for (const { conn, group, reference } of moves) {
    conn.socket!.pause()
    conn.movedToProbe = true
    await probeAnswer({ type: 'adopt', group, icy: conn.icy, url: conn.url.href, state: conn.bodyState(), reference }, 'adopted', conn.socket)
  }
}

async function windowStart (): Promise<void> {
  windowStartedAt = performance.now()
  for (const group of groups) for (const conn of group.conns) conn.startWindow()
  await probeAnswer({ type: 'window-start' }, 'window-started')
  send({ type: 'window-started' })
}

async function windowEnd (bytesPerSecond: number): Promise<void> {
  const seconds = (performance.now() - windowStartedAt) / 1000
  const probed = await probeAnswer<ProbeMessage & { type: 'window' }>({ type: 'window-end' }, 'window')
  const results: WindowResult[] = groups.map((g) => {
    const here = g.conns.filter((c) => !c.movedToProbe)
    const there = probed.groups.find((p) => p.label === g.label)
    const rates = [...here.map((c) => c.windowRate(seconds)), ...there?.rates ?? []]
    return {
      label: g.label,
      seconds,
      starved: rates.filter((r) => r < 0.9 * bytesPerSecond).length,
      dropped: here.filter((c) => c.dropped).length + (there?.dropped ?? 0),
      rate: summarize(rates),
      latencyMs: summarize(there?.latencies ?? [])
    }
  })
  send({ type: 'window', groups: results })
}

function closeAll (): void {
  for (const conn of [reference, ...groups.flatMap((g) => g.conns)]) if (conn?.movedToProbe === false) conn.socket?.destroy()
  probe?.kill()
  send({ type: 'closed' })
  process.disconnect()
}

/** The probe: the listeners it adopted, read as they come, and their figures over the window. */
function runProbe (): void {
  const adopted = new Map<string, Conn[]>()
  let probeReference: Conn | undefined
  let startedAt = 0
  const answer = (message: ProbeMessage): void => { process.send!(message) }
  // its sockets would keep it alive after the load is gone
  process.once('disconnect', () => process.exit(0))
  process.on('message', (message: ProbeMessage, socket?: Socket) => {
    if (message.type === 'adopt') {
      const conn = new Conn(new URL(message.url), message.icy, true)
      conn.adopt(socket!, message.state)
      if (message.reference) probeReference = conn
      else adopted.set(message.group, [...adopted.get(message.group) ?? [], conn])
      answer({ type: 'adopted' })
    } else if (message.type === 'window-start') {
      startedAt = performance.now()
      for (const conns of adopted.values()) for (const conn of conns) conn.startWindow()
      answer({ type: 'window-started' })
    } else if (message.type === 'window-end') {
      const end = performance.now()
      const seconds = (end - startedAt) / 1000
      answer({
        type: 'window',
        groups: [...adopted].map(([label, conns]) => ({
          label,
          rates: conns.map((c) => c.windowRate(seconds)),
          dropped: conns.filter((c) => c.dropped).length,
          latencies: latencies(probeReference!.recording!, conns.map((c) => c.recording!), startedAt, end)
        }))
      })
    }
  })
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

if (process.argv.includes('--probe')) runProbe()
else runLoad()
