// An app that runs its own cluster as `icecast-relay --workers N` does (a primary that relays, workers that
// mirror it over the machine link), with plugin options the XML config cannot give: JSON in
// CLUSTER_APP_OPTIONS, the port in CLUSTER_APP_PORT. A worker that ends is replaced at once. Its workers accept
// their own connections, as the CLI's do (the kernel, not a round robin, picks the worker).
// Run with `node --import tsx` (the library from dist/, as the CLI tests run it); the workers inherit it.
import cluster from 'node:cluster'
import Fastify from 'fastify'
import { fastifyIcecastRelay } from '../../dist/plugin.js'
import { acceptInWorkers, linkEnv, linkFromEnv, startPrimary } from '../../dist/cluster/primary.js'
import { relayMachineQueries, workerMachineLink } from '../../dist/cluster/link.js'
import { addedPrimaryRelay, workerHlsOrigin, workerMirror, workerOptions } from '../../dist/cluster/split.js'
import type { RelayPluginOptions } from '../../dist/options.js'

const options = JSON.parse(process.env['CLUSTER_APP_OPTIONS'] ?? '{}') as RelayPluginOptions
const port = Number(process.env['CLUSTER_APP_PORT'])
const WORKERS = 2

if (cluster.isPrimary) {
  acceptInWorkers(process.env)
  const primary = await startPrimary(options)
  const stopRelaying = relayMachineQueries(primary.app.relay, addedPrimaryRelay(primary.link.secret))
  let stopping = false
  const fork = (): void => { cluster.fork(linkEnv(primary.link)) }
  cluster.on('exit', (worker, code, signal) => {
    process.stderr.write(`cluster-app: worker ${worker.process.pid} ended (${signal ?? code})\n`)
    if (!stopping) fork()
    else if (Object.keys(cluster.workers ?? {}).length === 0) {
      stopRelaying()
      primary.app.close().then(() => process.exit(0), () => process.exit(1))
    }
  })
  process.on('SIGTERM', () => {
    stopping = true
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM')
  })
  for (let i = 0; i < WORKERS; i++) fork()
} else {
  const link = linkFromEnv(process.env)!
  const machine = workerMachineLink(workerMirror(options, link), workerHlsOrigin(link))
  const app = Fastify({ logger: true, forceCloseConnections: true })
  await app.register(fastifyIcecastRelay, { ...workerOptions(options, link), machine })
  process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
  await app.listen({ port, host: '127.0.0.1' })
}
