// The processes of a bench run: the relays under test (an Icecast 2 slave, or the plugin in a Fastify
// app) and the load process. Each is a tracked child (test/helpers/procs.ts): killed when the bench
// exits, even by a signal.
import { fileURLToPath } from 'node:url'
import { startIcecast, type Icecast } from '../test/helpers/icecast.js'
import { spawnTracked, type Proc } from '../test/helpers/procs.js'
import { listenBacklog } from './proc.js'
import type { LoadCommand, LoadReply, RelayCommand, RelayReply } from './protocol.js'

export const MOUNT = '/live.mp3'
const BENCH = fileURLToPath(new URL('.', import.meta.url))

/** A relay under test: where its listeners connect, and the process whose CPU and memory count. */
export interface RelayUnderTest {
  server: 'icecast' | 'plugin' | 'floor'
  pid: number
  url: string
  /** the accept backlog of its listening socket, as the kernel reports it */
  backlog: number | undefined
  /** the plugin's own answers (bench/relay-app.ts): memory after a full GC, a CPU profile of a window */
  ask?: <T extends RelayReply>(command: RelayCommand) => Promise<T>
  stop (): Promise<void>
}

/** The limits both servers get: Icecast's defaults, which are the plugin's too. */
const LIMITS = { burstSize: 65535, queueSize: 524288 }

/** An Icecast 2 slave relaying the master's mount with a single-broadcast `<relay>`, room for `clients`. */
export async function startIcecastRelay (master: Icecast, clients: number): Promise<RelayUnderTest> {
  const slave = await startIcecast({
    clients,
    ...LIMITS,
    logLevel: 2,
    extraXml: `<relay><server>127.0.0.1</server><port>${master.port}</port><mount>${MOUNT}</mount>` +
      '<relay-shoutcast-metadata>1</relay-shoutcast-metadata></relay>'
  })
  try {
    await slave.waitForMount(MOUNT, { timeoutMs: 15000 })
  } catch (error) {
    await slave.stop()
    throw error
  }
  return {
    server: 'icecast',
    pid: slave.pid,
    url: slave.url(MOUNT),
    backlog: listenBacklog(slave.port),
    async stop () { await slave.stop({ graceMs: 3000 }) }
  }
}

/** Spawns a TypeScript script of bench/ under tsx with an IPC channel; kept alive until stopped. */
function spawnScript (script: string, args: string[], nodeArgs: string[] = []): Proc {
  return spawnTracked(process.execPath, [...nodeArgs, '--import', 'tsx', BENCH + script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    keepAlive: true
  })
}

/** The next IPC message of `proc` that has `type`; rejects when the process exits first or after `ms`. */
async function nextMessage<T extends { type: string }> (proc: Proc, type: T['type'], ms: number): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const onMessage = (message: T): void => {
      if (message.type !== type) return
      done()
      resolve(message)
    }
    const timer = setTimeout(() => { done(); reject(new Error(`no '${type}' within ${ms} ms\n${proc.output()}`)) }, ms)
    const done = (): void => {
      clearTimeout(timer)
      proc.child.off('message', onMessage)
    }
    proc.child.on('message', onMessage)
    proc.onExit.then((exit) => {
      done()
      reject(new Error(`${type}: process exited (${exit.code ?? exit.signal})\n${proc.output()}`))
    }, () => {})
  })
}

export interface PluginRelayOptions {
  backlog?: number | undefined
  /** limits.writeInterval (s) */
  writeInterval?: number | undefined
  /** apps in a `node:cluster` sharing the port (1: no cluster) */
  workers?: number | undefined
  /** options of the node process (and of its workers), e.g. `--optimize-for-size` */
  nodeOptions?: string[] | undefined
  /** a file the relay appends a line of JSON to every second: its memory by V8 heap space */
  memoryLog?: string | undefined
  /** HLS of the mount, with segments of this many seconds */
  hlsSegmentSeconds?: number | undefined
}

/** The plugin relaying `upstream` in a Fastify app of its own process (bench/relay-app.ts). */
export async function startPluginRelay (upstream: string, options: PluginRelayOptions = {}): Promise<RelayUnderTest> {
  const args = ['--upstream', upstream, '--mount', MOUNT]
  if (options.backlog !== undefined) args.push('--backlog', String(options.backlog))
  if (options.writeInterval !== undefined) args.push('--write-interval', String(options.writeInterval))
  if (options.workers !== undefined) args.push('--workers', String(options.workers))
  if (options.memoryLog !== undefined) args.push('--memory-log', options.memoryLog)
  if (options.hlsSegmentSeconds !== undefined) args.push('--hls', String(options.hlsSegmentSeconds))
  return await startNodeRelay('plugin', 'relay-app.ts', args, options.nodeOptions)
}

/** The floor (bench/floor-app.ts): a bare `net` relay of `upstream`, for what Node and the kernel cost. */
export async function startFloorRelay (upstream: string, nodeOptions: string[] = []): Promise<RelayUnderTest> {
  return await startNodeRelay('floor', 'floor-app.ts', ['--upstream', upstream], nodeOptions)
}

async function startNodeRelay (server: 'plugin' | 'floor', script: string, args: string[], nodeOptions: string[] = []): Promise<RelayUnderTest> {
  const proc = spawnScript(script, args, ['--expose-gc', ...nodeOptions])
  let ready: RelayReply & { type: 'ready' }
  try {
    ready = await nextMessage(proc, 'ready', 20000)
  } catch (error) {
    await proc.stop({ signal: 'SIGKILL' })
    throw error
  }
  return {
    server,
    pid: proc.pid,
    url: `http://127.0.0.1:${ready.port}${MOUNT}`,
    backlog: listenBacklog(ready.port),
    async ask<T extends RelayReply> (command: RelayCommand): Promise<T> {
      const answer = nextMessage<T>(proc, command.type, 30000)
      proc.child.send(command)
      return await answer
    },
    async stop () { await proc.stop({ signal: 'SIGTERM', graceMs: 5000 }) }
  }
}

export interface LoadProcess {
  pid: number
  request<T extends LoadReply> (command: LoadCommand, reply: T['type'], ms: number): Promise<T>
  stop (): Promise<void>
}

export function startLoad (): LoadProcess {
  const proc = spawnScript('load.ts', [])
  proc.child.on('message', (message: LoadReply) => {
    if (message.type === 'progress') console.error(`  ${message.phase}: ${message.admitted} of ${message.n} in`)
  })
  return {
    pid: proc.pid,
    async request<T extends LoadReply> (command: LoadCommand, reply: T['type'], ms: number): Promise<T> {
      const answer = nextMessage<T>(proc, reply, ms)
      proc.child.send(command)
      return await answer
    },
    async stop () { await proc.stop({ graceMs: 3000 }) }
  }
}
