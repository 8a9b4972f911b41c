// `icecast-relay --workers N` as the cluster tests run it: the CLI from dist/, its workers counted as they listen.
import { spawnTracked, waitFor, type Proc } from './procs.js'

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname

/** Starts the CLI with `config` and `--workers workers`; resolves once every worker listens at `base`. */
export async function startWorkers (config: string, base: string, workers: number): Promise<Proc> {
  const cli = spawnTracked(process.execPath, [CLI, '--config', config, '--workers', String(workers)])
  const listening = (): number => cli.output().split(`"Server listening at ${base}"`).length - 1
  await waitFor(() => listening() === workers, { timeoutMs: 15000, message: () => `${workers} workers to listen\n${cli.output()}` })
  return cli
}

/** The pids of the processes that logged a request for `url` (Fastify logs each with its pid). */
export function pidsServing (output: string, url: string): Set<number> {
  const pids = new Set<number>()
  for (const line of output.split('\n')) {
    if (!line.includes('"incoming request"')) continue
    const entry = JSON.parse(line) as { pid: number, req?: { url?: string } }
    if (entry.req?.url === url) pids.add(entry.pid)
  }
  return pids
}
