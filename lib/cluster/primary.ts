// The primary process of `--workers N`: the one relay of the machine, on a private loopback port, and the
// link its workers find it by.
import cluster from 'node:cluster'
import { randomBytes } from 'node:crypto'
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import { fastifyIcecastRelay } from '../plugin.js'
import type { RelayPluginOptions } from '../options.js'
import { LINK_HOST, primaryOptions, type ClusterLink } from './split.js'

/** The environment variable that gives a worker the link: `port:secret`. */
export const LINK_ENV = 'ICECAST_RELAY_CLUSTER_LINK'

/** The link a worker was started with, or undefined in a process that is no worker of a primary. */
export function linkFromEnv (env: NodeJS.ProcessEnv): ClusterLink | undefined {
  const match = /^(\d{1,5}):([A-Za-z0-9_-]{16,})$/.exec(env[LINK_ENV] ?? '')
  return match === null ? undefined : { port: Number(match[1]), secret: match[2]! }
}

export function linkEnv (link: ClusterLink): Record<string, string> {
  return { [LINK_ENV]: `${link.port}:${link.secret}` }
}

/**
 * Before the first worker starts: each worker accepts its listeners' connections from the shared listen
 * socket itself. node:cluster's default (round robin) has the primary accept every one and pass it to a worker,
 * two messages each, in the process that also relays the upstreams and counts the places: a crowd then got in
 * at 0.62 of one process's pace. An operator's NODE_CLUSTER_SCHED_POLICY, which Node has applied, stays.
 */
export function acceptInWorkers (env: NodeJS.ProcessEnv): void {
  if (env['NODE_CLUSTER_SCHED_POLICY'] === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE
}

export interface Primary {
  app: FastifyInstance
  link: ClusterLink
}

/**
 * Starts the machine's relays: the plugin with the upstream side of `options`, listening on loopback at a
 * port the kernel picks, its mounts and stream list open only to the holders of a new random secret; it logs
 * at `level` (the config's `<loglevel>`).
 */
export async function startPrimary (options: RelayPluginOptions, level = 'info'): Promise<Primary> {
  const secret = randomBytes(32).toString('base64url')
  // the workers poll its stream list every second: a log line for each would drown the relays' own
  const app = Fastify({ logger: { level }, logController: new LogController({ disableRequestLogging: true }), forceCloseConnections: true })
  await app.register(fastifyIcecastRelay, primaryOptions(options, secret))
  await app.listen({ port: 0, host: LINK_HOST })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return { app, link: { port, secret } }
}
