// The relay under test, in a process of its own so that its CPU and memory are its own: a Fastify app
// with the plugin relaying one upstream mount, configured as a production user would run it (request
// logging off, warnings on). Tells its parent the port over IPC once the relay is live; on request, its
// memory before and after a full garbage collection (run with --expose-gc), and a CPU profile of a
// window (the V8 profiler of `node --cpu-prof`, but only while asked). Exits on SIGTERM after app.close().
import Fastify, { LogController } from 'fastify'
import { writeFileSync } from 'node:fs'
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
    'write-interval': { type: 'string' }
  }
})
if (values.upstream === undefined) throw new Error('--upstream URL is required')

const app = Fastify({ logger: { level: 'warn' }, logController: new LogController({ disableRequestLogging: true }) })
await app.register(fastifyIcecastRelay, {
  relays: [{ url: values.upstream, localMount: values.mount }],
  // the bench measures fan-out, not the listener limit
  limits: { clients: 1_000_000, ...(values['write-interval'] !== undefined && { writeInterval: Number(values['write-interval']) }) }
})
const live = new Promise<void>((resolve) => {
  app.relay.on('state', ({ state }) => { if (state === 'live') resolve() })
})
await app.listen({ port: 0, host: '127.0.0.1', ...(values.backlog !== undefined && { backlog: Number(values.backlog) }) })
await live
const reply = (message: RelayReply): void => { process.send!(message) }
reply({ type: 'ready', port: (app.server.address() as AddressInfo).port })

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
