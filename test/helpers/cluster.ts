// `icecast-relay --workers N` as the cluster tests run it: the CLI from dist/, its workers counted as they listen.
import { execFileSync } from 'node:child_process'
import type { OpenListener } from './listen.js'
import { spawnTracked, waitFor, type Proc } from './procs.js'
import { noise, scriptedUpstream } from './scripted.js'

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname

/** Starts the CLI with `config` and `--workers workers`; resolves once every worker listens at `base`. */
export async function startWorkers (config: string, base: string, workers: number): Promise<Proc> {
  const cli = spawnTracked(process.execPath, [CLI, '--config', config, '--workers', String(workers)])
  await waitForListening(cli, base, workers)
  return cli
}

/** Resolves once `count` workers have listened at `base` since the start (a replacement counts anew). */
export async function waitForListening (cli: Proc, base: string, count: number): Promise<void> {
  const listening = (): number => cli.output().split(`"Server listening at ${base}"`).length - 1
  await waitFor(() => listening() === count, { timeoutMs: 45000, message: () => `${count} workers to listen\n${cli.output()}` })
}

/** The pids of the processes that logged a request for `url` (at `<loglevel>4</loglevel>`, Fastify logs each with its pid). */
export function pidsServing (output: string, url: string): Set<number> {
  const pids = new Set<number>()
  for (const line of output.split('\n')) {
    if (!line.includes('"incoming request"')) continue
    const entry = JSON.parse(line) as { pid: number, req?: { url?: string } }
    if (entry.req?.url === url) pids.add(entry.pid)
  }
  return pids
}

/** The pids of the processes that logged that they listen at `base` (the workers, with their pids). */
export function pidsListening (output: string, base: string): Set<number> {
  const lines = output.split('\n').filter((line) => line.includes(`"Server listening at ${base}"`))
  return new Set(lines.map((line) => (JSON.parse(line) as { pid: number }).pid))
}

/** The TCP sockets of local `port` in `state` (ss's: `listening`, `established`), each as the pids that hold it. */
export function socketHolders (port: number, state: 'listening' | 'established'): number[][] {
  const sockets = execFileSync('ss', ['-Htnp', 'state', state, `( sport = :${port} )`], { maxBuffer: 64 << 20 }).toString()
  return sockets.split('\n').filter((line) => line !== '').map((line) => [...line.matchAll(/pid=(\d+)/g)].map((match) => Number(match[1])))
}

/** The pids of the processes that hold the listen socket of `port` (those that may accept its connections). */
export function pidsHoldingListenSocket (port: number): Set<number> {
  return new Set(socketHolders(port, 'listening').flat())
}

/** A scripted upstream that sends noise every 50 ms until it is stopped. */
export async function noisyUpstream (): Promise<{ port: number, requests: () => number, clients: () => number, stop: () => Promise<void> }> {
  const upstream = await scriptedUpstream()
  const pushing = setInterval(() => { upstream.push(noise(2000)) }, 50)
  return {
    port: upstream.port,
    requests: () => upstream.requests.length,
    clients: () => upstream.clients.size,
    stop: async () => {
      clearInterval(pushing)
      await upstream.close()
    }
  }
}

/** SIGKILLs one of two workers, and resolves once its replacement listens at `base`. */
export async function replaceWorker (cli: Proc, base: string, pid: number): Promise<void> {
  await killWorker(cli, pid)
  await waitForListening(cli, base, 3)
}

/** SIGKILLs a worker, and resolves once the primary has seen it end (a connection handed to it meanwhile is lost). */
export async function killWorker (cli: Proc, pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL')
  await waitFor(() => cli.output().includes(`worker ${pid} ended`), { timeoutMs: 3000, message: 'the primary to see its worker end' })
}

/** Ends the test's listeners, then the CLI, then its upstream. */
export async function stopAll (listeners: OpenListener[], cli: Proc | undefined, upstream: { stop: () => Promise<void> } | undefined): Promise<void> {
  for (const listener of listeners) await listener.close()
  await cli?.stop()
  await upstream?.stop()
}
