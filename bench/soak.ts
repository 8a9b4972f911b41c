// `npm run soak [-- --minutes 10 --listeners 500 --churn 20]`: a busy radio with a flaky upstream, for ten minutes. The
// upstream plays test/demo/sample.mp3 in real time with ICY titles and goes away every 30 s (for a few seconds,
// within the relay's grace period, and once for longer than it); the relay runs in a child process
// (bench/soak-app.ts) that reports its memory, fds and event-loop delay every 10 s; this process holds the
// long listeners (half of them asking for ICY metadata) and a churn of short ones. It prints a row a minute and
// a verdict, and exits 1 when something grew past the thresholds below or the long listeners stopped receiving.
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { loadavg, cpus } from 'node:os'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startDemoUpstream, type DemoUpstream } from '../test/demo/upstream.js'
import type { SoakMessage, SoakSample } from './soak-app.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SAMPLE_FILE = fileURLToPath(new URL('../test/demo/sample.mp3', import.meta.url))
const MOUNT = '/soak.mp3'
const UPSTREAM_MOUNT = '/live.mp3'
/** sample.mp3 is 96 kbit/s */
const BYTE_RATE = 96000 / 8
const MiB = 1024 * 1024
/** Samples of the first minute are left out of the comparison: listeners ramp up, code warms up. */
const WARM_UP_MS = 60_000
/** A long listener counts as receiving when it got bytes this recently. */
const RECEIVING_MS = 5_000
/** After the run, how long the long listeners get to be all back and receiving (the last flap may be recent). */
const SETTLE_MS = 30_000

/**
 * Growth allowed from the first third of the run to the last (medians of the 10-s samples in each, warm-up
 * left out): the larger of a share of the first value and an absolute floor. A leak of about 5 KB of heap per
 * short listener, or of a socket per hundred, goes past these in ten minutes; slower growth needs more --minutes.
 */
const GROWTH_LIMITS = {
  rss: { share: 0.2, floor: 24 * MiB },
  heapUsed: { share: 0.25, floor: 16 * MiB },
  fds: { share: 0.1, floor: 50 }
} as const

type Measure = keyof typeof GROWTH_LIMITS

interface Settings {
  minutes: number
  listeners: number
  /** short listeners started per second */
  churn: number
  /** seconds between the starts of two upstream outages */
  flapEvery: number
  /** seconds of a short outage */
  outage: number
  /** the relay's grace period, in seconds; the one long outage lasts this plus 5 */
  grace: number
}

function readSettings (): Settings {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      listeners: { type: 'string', default: '500' },
      churn: { type: 'string', default: '20' },
      'flap-every': { type: 'string', default: '30' },
      outage: { type: 'string', default: '3' },
      grace: { type: 'string', default: '10' }
    }
  })
  const number = (name: keyof typeof values): number => {
    const value = Number(values[name])
    if (!(value > 0)) throw new Error(`--${name}: expected a positive number, got ${values[name]}`)
    return value
  }
  return {
    minutes: number('minutes'),
    listeners: number('listeners'),
    churn: number('churn'),
    flapEvery: number('flap-every'),
    outage: number('outage'),
    grace: number('grace')
  }
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** A raw-socket listener that reconnects whenever the relay ends it, as a player left running would. */
class LongListener {
  bytes = 0
  lastDataAt = 0
  /** times the relay ended a connection that had been answered 200 */
  drops = 0
  #socket: net.Socket | undefined
  #answered = false
  #closed = false

  constructor (readonly port: number, readonly icy: boolean) {}

  get connected (): boolean {
    return this.#answered && this.#socket !== undefined
  }

  open (): void {
    if (this.#closed) return
    this.#answered = false
    const socket = net.connect(this.port, '127.0.0.1', () => socket.write(request(this.icy)))
    this.#socket = socket
    let head = ''
    socket.on('data', (data: Buffer) => {
      this.lastDataAt = Date.now()
      if (this.#answered) {
        this.bytes += data.length
        return
      }
      head += data.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      if (!/^(HTTP\/1\.[01]|ICY) 200 /.test(head)) return socket.destroy()
      this.#answered = true
      this.bytes += head.length - end - 4
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      if (this.#answered) this.drops++
      this.#socket = undefined
      this.#answered = false
      // spread the reconnects, so that 500 listeners do not come back in one burst
      if (!this.#closed) setTimeout(() => this.open(), 1000 + Math.random() * 1000)
    })
  }

  close (): void {
    this.#closed = true
    this.#socket?.destroy()
  }
}

function request (icy: boolean): string {
  return `GET ${MOUNT} HTTP/1.0\r\nUser-Agent: soak\r\n${icy ? 'Icy-MetaData: 1\r\n' : ''}\r\n`
}

interface ChurnCounts { ok: number, failed: number, open: Set<net.Socket> }

/** A listener that connects, reads a little of the stream (or gives up after 3 s) and leaves. */
function shortListener (port: number, counts: ChurnCounts): void {
  const socket = net.connect(port, '127.0.0.1', () => socket.write(request(Math.random() < 0.5)))
  counts.open.add(socket)
  let seen = 0
  const giveUp = setTimeout(() => socket.destroy(), 3000)
  socket.on('data', (data: Buffer) => {
    seen += data.length
    if (seen >= 4096) socket.destroy()
  })
  socket.on('error', () => {})
  socket.on('close', () => {
    clearTimeout(giveUp)
    counts.open.delete(socket)
    if (seen >= 4096) counts.ok++
    else counts.failed++
  })
}

/** The relay's process, with `ulimit -n` raised as far as the hard limit lets. */
function startRelay (upstreamUrl: string, grace: number): ChildProcess {
  const raise = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"'
  return spawn('bash', ['-c', raise, 'soak-relay', process.execPath, '--import', 'tsx', 'bench/soak-app.ts',
    upstreamUrl, MOUNT, String(grace)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] })
}

function messagesOf (child: ChildProcess, onMessage: (message: SoakMessage) => void): void {
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('{')) onMessage(JSON.parse(line) as SoakMessage)
  })
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** The samples the verdict compares: the run's first and last thirds, the warm-up left out when the run allows. */
function thirds (samples: SoakSample[]): [SoakSample[], SoakSample[]] {
  const settled = samples.filter((s) => s.at >= WARM_UP_MS)
  const kept = settled.length >= 6 ? settled : samples
  const third = Math.max(1, Math.floor(kept.length / 3))
  return [kept.slice(0, third), kept.slice(-third)]
}

interface Growth { measure: Measure, first: number, last: number, allowed: number, ok: boolean }

function growthOf (samples: SoakSample[]): Growth[] {
  const [early, late] = thirds(samples)
  return (Object.keys(GROWTH_LIMITS) as Measure[]).map((measure) => {
    const first = median(early.map((s) => s[measure]))
    const last = median(late.map((s) => s[measure]))
    const { share, floor } = GROWTH_LIMITS[measure]
    const allowed = Math.max(first * share, floor)
    return { measure, first, last, allowed, ok: last - first <= allowed }
  })
}

const mb = (bytes: number): string => (bytes / MiB).toFixed(1)
const ms = (value: number): string => value.toFixed(1)
const pad = (cells: Array<string | number>): string => cells.map((cell, i) => String(cell).padStart(i === 0 ? 4 : 9)).join(' ')

const HEADER = pad(['min', 'RSS MB', 'heap MB', 'fds', 'eld p50', 'eld p99', 'eld max', 'listen', 'reconn', 'slow', 'out MB', 'drops', 'churn ok', 'churn no'])

interface Row { minute: number, samples: SoakSample[], drops: number, churn: ChurnCounts }

/** One minute: memory and fds at its last sample; event-loop delay in ms (past the 10-ms sampling interval), p50 the median and p99/max the worst of its 10-s windows. */
function formatRow ({ minute, samples, drops, churn }: Row): string {
  const last = samples.at(-1)!
  const delays = samples.map((s) => s.delay)
  return pad([minute, mb(last.rss), mb(last.heapUsed), last.fds, ms(median(delays.map((d) => d.p50))),
    ms(Math.max(...delays.map((d) => d.p99))), ms(Math.max(...delays.map((d) => d.max))), last.listeners,
    last.reconnects, last.slowDrops, mb(last.bytesOut), drops, churn.ok, churn.failed])
}

/** Takes the upstream away now and then: `outage` seconds, and once (the middle flap) longer than the grace period. */
class Flapper {
  upstream: DemoUpstream
  flaps = 0
  #timer: NodeJS.Timeout | undefined
  #busy: Promise<void> = Promise.resolve()

  /** `drops` counts the long listeners the relay has ended so far: each flap tells how many the one before ended */
  constructor (upstream: DemoUpstream, readonly settings: Settings, readonly drops: () => number) {
    this.upstream = upstream
  }

  start (): void {
    const total = Math.floor(this.settings.minutes * 60 / this.settings.flapEvery)
    const longFlap = Math.floor(total / 2)
    let dropped = 0
    this.#timer = setInterval(() => {
      const seconds = this.flaps === longFlap ? this.settings.grace + 5 : this.settings.outage
      this.flaps++
      process.stdout.write(`     upstream down for ${seconds} s (flap ${this.flaps}; the previous flap ended ${this.drops() - dropped} long listeners)\n`)
      dropped = this.drops()
      this.#busy = this.#flap(seconds)
    }, this.settings.flapEvery * 1000)
  }

  async #flap (seconds: number): Promise<void> {
    await this.upstream.close()
    await sleep(seconds * 1000)
    this.upstream = await startUpstream(this.upstream.port)
  }

  /** Stops flapping; resolves once the upstream is up. */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    await this.#busy
  }
}

async function startUpstream (port = 0): Promise<DemoUpstream> {
  return await startDemoUpstream({
    file: SAMPLE_FILE,
    byteRate: BYTE_RATE,
    mount: UPSTREAM_MOUNT,
    port,
    titles: ['Soak - one', 'Soak - two', "Soak - it's three"],
    titleEveryMs: 5000
  })
}

async function waitReady (child: ChildProcess, samples: SoakSample[], onSample: (sample: SoakSample) => void): Promise<number> {
  return await new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`the relay process exited (${code ?? signal})`)))
    messagesOf(child, (message) => {
      if (message.type === 'ready') return resolve(message.port)
      samples.push(message)
      onSample(message)
    })
  })
}

async function soak (settings: Settings, stopAll: Array<() => void>): Promise<boolean> {
  const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ')
  process.stdout.write(`soak: ${settings.minutes} min, ${settings.listeners} long listeners, ${settings.churn} short/s, ` +
    `upstream down ${settings.outage} s every ${settings.flapEvery} s (once ${settings.grace + 5} s), grace ${settings.grace} s; ` +
    `${cpus().length} CPUs, load ${load()}\n`)
  const long: LongListener[] = []
  const drops = (): number => long.reduce((sum, l) => sum + l.drops, 0)
  const flapper = new Flapper(await startUpstream(), settings, drops)
  stopAll.push(() => { flapper.stop().then(() => flapper.upstream.close(), () => {}) })
  const child = startRelay(`http://127.0.0.1:${flapper.upstream.port}${UPSTREAM_MOUNT}`, settings.grace)
  stopAll.push(() => child.stdin?.end(), () => setTimeout(() => child.kill('SIGKILL'), 3000).unref())
  process.on('exit', () => child.kill('SIGKILL'))

  const samples: SoakSample[] = []
  const churn: ChurnCounts = { ok: 0, failed: 0, open: new Set() }
  let rowStart = 0
  // a row a minute: the sixth 10-s sample of each minute closes it
  const onSample = (sample: SoakSample): void => {
    const minute = Math.round(sample.at / 60_000)
    if (Math.abs(sample.at - minute * 60_000) > 5000 || minute === 0) return
    process.stdout.write(formatRow({ minute, samples: samples.slice(rowStart), drops: drops(), churn }) + '\n')
    rowStart = samples.length
  }
  const port = await waitReady(child, samples, onSample)
  let relayExited = false
  child.once('exit', () => { relayExited = true })
  process.stdout.write(HEADER + '\n')
  stopAll.push(() => { for (const l of long) l.close() }, () => { for (const s of churn.open) s.destroy() })
  for (let i = 0; i < settings.listeners; i++) {
    long.push(new LongListener(port, i % 2 === 0))
    long.at(-1)!.open()
    if (i % 50 === 49) await sleep(100)
  }
  const churnTimer = setInterval(() => shortListener(port, churn), 1000 / settings.churn)
  stopAll.push(() => clearInterval(churnTimer))
  flapper.start()
  await sleep(settings.minutes * 60_000 + 1000)
  clearInterval(churnTimer)
  await flapper.stop()
  const receiving = await settled(long)
  if (relayExited) throw new Error('the relay process exited during the soak')
  return verdict(samples, long, receiving, load())
}

/** Waits (up to SETTLE_MS) for every long listener to be connected and receiving; returns how many are. */
async function settled (long: LongListener[]): Promise<number> {
  const receiving = (): number => long.filter((l) => l.connected && Date.now() - l.lastDataAt < RECEIVING_MS).length
  const deadline = Date.now() + SETTLE_MS
  while (receiving() < long.length && Date.now() < deadline) await sleep(500)
  return receiving()
}

function verdict (samples: SoakSample[], long: LongListener[], receiving: number, load: string): boolean {
  const growth = growthOf(samples)
  const format = (g: Growth): string => {
    const value = g.measure === 'fds' ? String : mb
    return `${g.measure} ${value(g.first)} → ${value(g.last)}${g.measure === 'fds' ? '' : ' MB'} ` +
      `(allowed +${value(g.allowed)}): ${g.ok ? 'flat' : 'GROWS'}`
  }
  const heard = long.filter((l) => l.bytes > 0).length
  const ok = growth.every((g) => g.ok) && receiving === long.length
  process.stdout.write([
    '',
    `first third vs last third (medians of 10-s samples, first minute left out): ${growth.map(format).join('; ')}`,
    `long listeners: ${receiving}/${long.length} connected and receiving at the end; ${heard} got audio; ` +
      `${long.reduce((sum, l) => sum + l.drops, 0)} drops by the relay (each reconnected)`,
    `listeners that left, by the relay's reason: ${JSON.stringify(samples.at(-1)?.leaves ?? {})} ` +
      '(error: a short listener hung up mid-write; gap: ended by the long outage)',
    `load at the end: ${load}`,
    `verdict: ${ok ? 'PASS' : 'FAIL'}`,
    ''
  ].join('\n'))
  return ok
}

const stopAll: Array<() => void> = []
const cleanUp = (): void => { for (const stop of stopAll.splice(0)) stop() }
process.once('SIGINT', () => { cleanUp(); setTimeout(() => process.exit(130), 500) })
process.once('SIGTERM', () => { cleanUp(); setTimeout(() => process.exit(143), 500) })
try {
  const ok = await soak(readSettings(), stopAll)
  cleanUp()
  setTimeout(() => process.exit(ok ? 0 : 1), 500)
} catch (error) {
  process.stderr.write(`soak: ${(error as Error).message}\n`)
  cleanUp()
  setTimeout(() => process.exit(1), 500)
}
