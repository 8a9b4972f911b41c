// The relay under test, in a process of its own so that its CPU and memory are its own: a Fastify app
// with the plugin relaying one upstream mount, configured as a production user would run it (request
// logging off, warnings on). Tells its parent the port over IPC once the relay is live; on request, its
// memory before and after a full garbage collection (run with --expose-gc), and a CPU profile of a
// window (the V8 profiler of `node --cpu-prof`, but only while asked); with --memory-log FILE, a line of
// JSON a second of its memory by V8 heap space. Exits on SIGTERM after app.close().
// With --workers N, N such apps share the port in a `node:cluster`, as `icecast-relay --workers N` runs:
// this process then only hands connections out, and answers for its workers.
import cluster, { type Worker } from 'node:cluster'
import Fastify, { LogController } from 'fastify'
import { appendFileSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { getHeapSpaceStatistics } from 'node:v8'
import fastifyIcecastRelay from '../lib/index.js'
import type { RelayCommand, RelayReply } from './protocol.js'

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    mount: { type: 'string', default: '/live.mp3' },
    /** listen backlog; Node's default (511) when not given */
    backlog: { type: 'string' },
    /** limits.writeInterval, in seconds; the plugin's default when not given */
    'write-interval': { type: 'string' },
    workers: { type: 'string', default: '1' },
    /** appends a line of JSON a second: RSS, heap and external memory, each V8 heap space's size and use */
    'memory-log': { type: 'string' },
    /** HLS of the mount with segments of this many seconds (bench/hls.ts); none when not given */
    hls: { type: 'string' }
  }
})
if (values.upstream === undefined) throw new Error('--upstream URL is required')
const workers = Number(values.workers)
const reply = (message: RelayReply): void => { process.send!(message) }

if (workers > 1 && cluster.isPrimary) {
  await primary()
} else {
  await relayApp()
}

/** Sums the numbers of the workers' answers, field by field: memory figures add up. */
function sum (answers: unknown[]): unknown {
  const first = answers[0]
  if (typeof first === 'number') return (answers as number[]).reduce((a, b) => a + b, 0)
  if (typeof first !== 'object' || first === null) return first
  return Object.fromEntries(Object.keys(first).map((key) =>
    [key, sum(answers.map((answer) => (answer as Record<string, unknown>)[key]))]))
}

async function primary (): Promise<void> {
  if (values.backlog !== undefined) throw new Error('--backlog is not supported with --workers')
  const forked: Worker[] = []
  const ready: Array<Promise<RelayReply>> = []
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork()
    forked.push(worker)
    ready.push(new Promise((resolve) => worker.once('message', resolve)))
  }
  const [first] = await Promise.all(ready)
  reply(first!)
  process.on('message', (command: RelayCommand) => {
    if (command.type !== 'memory') throw new Error(`${command.type} is not supported with --workers`)
    const answers = forked.map(async (worker) => await new Promise<RelayReply>((resolve) => {
      worker.once('message', resolve)
      worker.send(command)
    }))
    Promise.all(answers).then((all) => reply(sum(all) as RelayReply), (error: unknown) => { throw error })
  })
  process.once('SIGTERM', () => {
    for (const worker of forked) worker.kill('SIGTERM')
    cluster.on('exit', () => { if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0) })
  })
}

/** V8's heap spaces, in MB: size (committed) and used. */
function heapSpacesMB (): Record<string, [number, number]> {
  const mb = (bytes: number): number => Math.round(bytes / 1e5) / 10
  return Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, [mb(s.space_size), mb(s.space_used_size)]]))
}

function logMemory (file: string, listeners: () => number): void {
  const start = Date.now()
  setInterval(() => {
    const { rss, heapTotal, heapUsed, external } = process.memoryUsage()
    appendFileSync(file, JSON.stringify({
      pid: process.pid, t: (Date.now() - start) / 1000, listeners: listeners(), rss, heapTotal, heapUsed, external, spacesMB: heapSpacesMB()
    }) + '\n')
  }, 1000).unref()
}

async function relayApp (): Promise<void> {
  const app = Fastify({ logger: { level: 'warn' }, logController: new LogController({ disableRequestLogging: true }) })
  await app.register(fastifyIcecastRelay, {
    relays: [{ url: values.upstream, localMount: values.mount }],
    ...(values.hls !== undefined && { hls: { segmentSeconds: Number(values.hls) } }),
    // the bench measures fan-out, not the listener limit
    limits: { clients: 1_000_000, ...(values['write-interval'] !== undefined && { writeInterval: Number(values['write-interval']) }) }
  })
  const live = new Promise<void>((resolve) => {
    app.relay.on('state', ({ state }) => { if (state === 'live') resolve() })
  })
  await app.listen({ port: 0, host: '127.0.0.1', ...(values.backlog !== undefined && { backlog: Number(values.backlog) }) })
  await live
  reply({ type: 'ready', port: (app.server.address() as AddressInfo).port })
  const memoryLog = values['memory-log']
  if (memoryLog !== undefined) logMemory(memoryLog, () => app.relay.get(values.mount)?.listeners ?? 0)

  const profiler = new Session()
  profiler.connect()

  async function answer (command: RelayCommand): Promise<void> {
    if (command.type === 'memory') {
      const before = process.memoryUsage()
      const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]))
      globalThis.gc!()
      reply({ type: 'memory', before, spaces, after: process.memoryUsage() })
    } else if (command.type === 'profile-start') {
      await profiler.post('Profiler.enable')
      await profiler.post('Profiler.start')
      reply({ type: 'profile-start' })
    } else {
      const { profile } = await profiler.post('Profiler.stop')
      writeFileSync(command.file, JSON.stringify(profile))
      reply({ type: 'profile-stop' })
    }
  }

  process.on('message', (command: RelayCommand) => {
    answer(command).catch((error: unknown) => {
      console.error(error)
      process.exit(1)
    })
  })

  process.once('SIGTERM', () => {
    app.close().then(() => process.exit(0), () => process.exit(1))
  })
}
