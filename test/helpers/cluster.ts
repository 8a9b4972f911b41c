// `icecast-relay --workers N` as the cluster tests run it: the CLI from dist/, its workers counted as they listen.
import { execFileSync } from 'node:child_process'
import type { OpenListener } from './listen.js'
import { httpGet, sleep, spawnTracked, START_TIMEOUT_MS, waitFor, type Proc } from './procs.js'
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
  await waitFor(() => listening() === count, { timeoutMs: START_TIMEOUT_MS, message: () => `${count} workers to listen\n${cli.output()}` })
}

/** The pids of the processes that logged a request for `url` (at `<loglevel>4</loglevel>`, Fastify logs each with its pid). */
export function pidsServing (output: string, url: string): Set<number> {
  return pidsServingAny(output, [url])
}

/** The pids of the processes that logged a request for any of `urls`. */
function pidsServingAny (output: string, urls: Iterable<string>): Set<number> {
  const wanted = new Set(urls)
  const pids = new Set<number>()
  for (const line of output.split('\n')) {
    if (!line.includes('"incoming request"')) continue
    const entry = JSON.parse(line) as { pid: number, req?: { url?: string } }
    if (wanted.has(entry.req?.url ?? '')) pids.add(entry.pid)
  }
  return pids
}

/** The URLs (path and query, as logged) of the requests an attempt made; none when its answer was not yet the one awaited. */
export type Served = string | readonly string[] | undefined

export interface SpreadOptions {
  /** what an attempt is, for the failure's message */
  what: string
  /** how many workers must have served (2) */
  workers?: number
  /** the attempts made whatever the workers (0) */
  min?: number
  /** the most attempts (60) */
  max?: number
  /** the pause after an attempt that leaves workers to serve (0 ms) */
  intervalMs?: number
}

/**
 * Calls `attempt(n)`, n = 0, 1, …, at least `min` times and on until the requests it made were served by
 * `workers` workers; fails after `max` attempts, saying how many were made and which workers served. Each worker
 * accepts its own connections (the kernel, not a round robin, picks the worker), so one may take any number of
 * requests in a row: a test that needs every worker asks on until every worker answered. Resolves with the pids
 * that served. Under a round robin it ends once the round has reached each worker: it holds under either policy.
 */
export async function untilWorkersServe (cli: Proc, attempt: (n: number) => Promise<Served>, options: SpreadOptions): Promise<Set<number>> {
  const { what, workers = 2, min = 0, max = 60, intervalMs = 0 } = options
  const urls = new Set<string>()
  const served = (): Set<number> => pidsServingAny(cli.output(), urls)
  let n = 0
  for (; n < min || (served().size < workers && n < max); n++) {
    for (const url of [await attempt(n) ?? []].flat()) urls.add(url)
    if (served().size < workers) await sleep(intervalMs)
  }
  // a worker's log line may reach the output a moment after its answer
  return await waitFor(() => served().size >= workers && served(), {
    timeoutMs: 3000,
    message: () => `${what}: ${served().size} of ${workers} workers served after ${n} attempts (pids ${[...served()].join(', ')})`
  })
}

/** the waits for mirrors so far: each asks under URLs of its own, which workers that ended answered none of */
let mirrorWaits = 0

/**
 * Resolves once `workers` workers have each answered /status-json.xsl with every mount of `mounts` listed: each
 * mirrors them. (Answers in a row prove nothing: the kernel may give one worker all of them.)
 */
export async function waitForMirrors (cli: Proc, base: string, mounts: readonly string[], workers = 2): Promise<void> {
  const call = ++mirrorWaits
  await untilWorkersServe(cli, async (n) => {
    const url = `/status-json.xsl?mirrors=${call}-${n}`
    const answer = await httpGet(base + url).catch(() => undefined)
    const listed = [JSON.parse(answer?.body.toString() ?? '{}').icestats?.source ?? []].flat() as Array<{ listenurl: string }>
    return mounts.every((mount) => listed.some((source) => source.listenurl.endsWith(mount))) ? url : undefined
  }, { what: `answers of /status-json.xsl listing ${mounts.join(' ')}`, workers, max: 300, intervalMs: 50 })
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
