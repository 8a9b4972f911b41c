// The load process: a flash crowd of raw-socket listeners, spawned by bench/run.ts and driven over IPC.
// Sockets read as fast as the server sends (the server's pacing is the real-time rate); every read lands
// in one shared buffer (net's `onread`), so the load itself allocates almost nothing per read. A few
// sampled listeners and one reference listener of the master keep their audio with arrival times, for
// the latency (see latencies() in bench/stats.ts).
import { connect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
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
  windowStart = 0
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

interface Group {
  label: string
  conns: Conn[]
}

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
  send({ type: 'admitted', groups: results })
}

function windowStart (): void {
  windowStartedAt = performance.now()
  for (const group of groups) for (const conn of group.conns) conn.windowStart = conn.audioBytes
  send({ type: 'window-started' })
}

function windowEnd (bytesPerSecond: number): void {
  const end = performance.now()
  const seconds = (end - windowStartedAt) / 1000
  const results: WindowResult[] = groups.map((g) => {
    const rates = g.conns.map((c) => (c.audioBytes - c.windowStart) / seconds)
    const samples = g.conns.flatMap((c) => (c.recording === undefined ? [] : [c.recording]))
    return {
      label: g.label,
      seconds,
      starved: rates.filter((r) => r < 0.9 * bytesPerSecond).length,
      dropped: g.conns.filter((c) => c.dropped).length,
      rate: summarize(rates),
      latencyMs: summarize(latencies(reference!.recording!, samples, windowStartedAt, end))
    }
  })
  send({ type: 'window', groups: results })
}

function closeAll (): void {
  for (const conn of [reference, ...groups.flatMap((g) => g.conns)]) conn?.socket?.destroy()
  send({ type: 'closed' })
  process.disconnect()
}

process.on('message', (command: LoadCommand) => {
  if (command.type === 'open') {
    open(command).catch((error: unknown) => {
      console.error(error)
      process.exit(1)
    })
  } else if (command.type === 'window-start') {
    windowStart()
  } else if (command.type === 'window-end') {
    windowEnd(command.bytesPerSecond)
  } else {
    closeAll()
  }
})
