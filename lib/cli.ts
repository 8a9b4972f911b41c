#!/usr/bin/env node
// The `icecast-relay` command: a Fastify server with the plugin, configured by an Icecast XML config.
import cluster, { type Worker } from 'node:cluster'
import { readFile } from 'node:fs/promises'
import type http from 'node:http'
import { parseArgs } from 'node:util'
import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyHttpOptions } from 'fastify'
import { ListenSockets } from './cli/servers.js'
import { acceptInWorkers, linkEnv, linkFromEnv, startPrimary } from './cluster/primary.js'
import { relayMachineQueries, workerMachineLink } from './cluster/link.js'
import { addedPrimaryRelay, workerHlsOrigin, workerMirror, workerOptions, type ClusterLink } from './cluster/split.js'
import { loadTls, type TlsCredentials } from './cli/tls.js'
import { RequestsAtDebug } from './cli/logging.js'
import { CrowdYoungGeneration, setServingV8Options } from './cli/v8.js'
import { readIcecastConfig, type IcecastConfig } from './config/icecast.js'
import type { ListenSocket, TlsFiles } from './config/listen.js'
import { DEFAULT_LOG_LEVEL, type LogLevel } from './config/logging.js'
import { UsageError } from './errors.js'
import { fastifyIcecastRelay } from './plugin.js'
import type { RelayPluginOptions } from './options.js'

const HELP = `Usage: icecast-relay --config icecast.xml [--port N] [--host ADDRESS] [--workers N] [--check]

Runs an Icecast-compatible relay server (Fastify + fastify-icecast-relay) from an Icecast 2 XML config.
The file may be a whole icecast.xml or just elements, as in Icecast's docs.

Options:
  -c, --config FILE   the Icecast XML config (required)
  -p, --port N        listen on this port instead of the first <listen-socket>'s <port> (default 8000);
                      the other sockets keep theirs
      --host ADDRESS  listen on this address instead of every socket's <bind-address> (default: all)
      --workers N     serve from N processes sharing the port (node:cluster), to use N cores: the
                      primary process relays each stream once (one upstream connection per mount) and
                      every worker mirrors it and serves listeners; the stats, metrics, <clients>,
                      <max-listeners>, listener ids and admin commands are the machine's, whichever
                      worker answers; one that dies is replaced (default 1)
      --check         validate the config, print the options it gives (passwords hidden) and the
                      elements it ignores, and exit
  -h, --help          this text

SIGTERM or SIGINT ends every listener and exits; a close that takes over 10 s exits anyway (status 1).

Read from the config: <listen-socket> (each one; ssl: HTTPS with <paths> ssl-certificate, one PEM
with key and certificate), <relay> (2.4, 2.5's <upstream>s, kh's <host>s), <mount> (per-mount
settings by name; type="default" for every mount), <relays-on-demand>, <master-server> and its fellows
(kh's <master> block and <master-redirect> too), kh's <max-redirect-slaves>, <limits>, <authentication>, <hostname>, <location>, <admin>, <server-id>. The README's CLI section has a
table of every Icecast element and what is done with it. Elements a relay does not apply are warned on
stderr; --check also lists, with its reason, every element ignored (the "ignored" key). An invalid config
exits with status 1 and a message naming the element.

<logging> <loglevel> sets what is logged on stdout: 1 error, 2 warn, 3 info (the default), 4 debug;
each request is logged at debug only (a listener is a request).

For thousands of listeners it sets V8's --optimize-for-size in its processes, so that the heap stays
close to what the listeners need; Node options of your own (node's command line, NODE_OPTIONS) replace it.`

interface CliArgs {
  config: string
  port: number | undefined
  host: string | undefined
  workers: number
  check: boolean
}

function parseCli (argv: string[]): CliArgs | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      workers: { type: 'string', default: '1' },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    },
    strict: true
  })
  if (values.help === true) return 'help'
  if (values.config === undefined) throw new UsageError('--config is required')
  const port = values.port === undefined ? undefined : Number(values.port)
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new UsageError(`--port ${values.port}: not a port number`)
  }
  const workers = Number(values.workers)
  if (!(Number.isInteger(workers) && workers >= 1 && workers <= 1024)) {
    throw new UsageError(`--workers ${values.workers}: not a number of processes`)
  }
  return { config: values.config, port, host: values.host, workers, check: values.check === true }
}

/** The options with every password replaced, for printing. */
function hidePasswords (value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, v: unknown) => (key === 'password' ? '(hidden)' : v))
}

/**
 * The accept backlog: a flash crowd connects at once, and past Node's default (511) the rest get in on
 * the SYN retry one to three seconds later; 4096 let 5000 listeners in within 0.8 s in the benchmark.
 * The kernel caps it at net.core.somaxconn.
 */
const LISTEN_BACKLOG = 4096

/**
 * How long a graceful close may take before the process exits anyway: listeners are ended at once on close,
 * so this bounds what no close can speed up (an upstream socket's teardown, a hook of the host's).
 */
const CLOSE_DEADLINE_MS = 10000

/** How the serving process logs: the level, and the V8 options the CLI set (none: the user's own). */
interface Logging {
  level: LogLevel
  v8Options: readonly string[]
}

async function serve (options: RelayPluginOptions, sockets: ListenSockets, logging: Logging, closing?: () => void): Promise<void> {
  // Fastify's default closes idle connections only: one that never finishes its request head would keep
  // the server, and so the process, alive after SIGTERM for as long as the client stays.
  // `https` only tells Fastify's messages that the first socket's server, made by the factory, is HTTPS.
  const settings: FastifyHttpOptions<http.Server> = {
    logger: { level: logging.level },
    logController: new RequestsAtDebug(),
    forceCloseConnections: true,
    serverFactory: sockets.serverFactory
  }
  const app = Fastify(sockets.first.tls === true ? { ...settings, https: {} } as FastifyHttpOptions<http.Server> : settings)
  if (logging.v8Options.length > 0) app.log.info(`V8 options set by the CLI: ${logging.v8Options.join(' ')} (Node options of your own replace them)`)
  if (logging.v8Options.includes('--optimize-for-size')) {
    // requests, not connections: a peer that only connects cannot keep the young generation grown
    const youngGeneration = new CrowdYoungGeneration((message) => { app.log.debug(message) })
    app.addHook('onRequest', (_request, _reply, done) => { youngGeneration.requested(); done() })
    app.addHook('onClose', async () => { youngGeneration.stop() })
  }
  await app.register(fastifyIcecastRelay, options)
  if (closing !== undefined) app.addHook('onClose', async () => { closing() })
  sockets.closeWith(app)
  closeWithGrace({ delay: CLOSE_DEADLINE_MS, logger: app.log }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'closing after an error')
    else app.log.info(`${signal ?? 'close'} received: closing`)
    await app.close()
  })
  await app.listen({ port: sockets.first.port, host: sockets.first.host, backlog: LISTEN_BACKLOG })
  await sockets.listenOnTheRest(app, LISTEN_BACKLOG)
}

/** `--port` moves the first socket (the one a single-socket config has), `--host` binds every socket. */
function withArgs (sockets: ListenSocket[], args: CliArgs): ListenSocket[] {
  return sockets.map((socket, i) => ({
    ...socket,
    ...(i === 0 && args.port !== undefined && { port: args.port }),
    ...(args.host !== undefined && { host: args.host })
  }))
}

/** The certificate settings as `--check` prints them: the files and ciphers, without the elements. */
function tlsSettings (files: TlsFiles): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([key, named]) => [key, named.value]))
}

const RESTART_DELAY_MS = 1000

/** close-with-grace's messages (a close past its deadline) in the CLI's own words. */
const STDERR_LOGGER = { error: (message: string): void => { process.stderr.write(`icecast-relay: ${message}\n`) } }

/**
 * The primary of `--workers N`: starts N processes that run this command without it, replaces one that
 * dies once they all listen, and passes SIGINT/SIGTERM on; a worker that has not ended by the close
 * deadline ends with the primary (its channel to it closes). Resolves with the exit status once all ended.
 */
async function superviseWorkers (workers: number, socketsEach: number, link: ClusterLink): Promise<number> {
  let stopping = false
  let listening = 0
  let status = 0
  // counted here, not from cluster.workers: a worker whose 'exit' comes before its channel's 'disconnect'
  // stays in that table, so the last one to end would never have been seen ending
  const live = new Set<Worker>()
  const stop = (code: number): void => {
    stopping = true
    status = Math.max(status, code)
    for (const worker of live) worker.kill('SIGTERM')
  }
  cluster.on('listening', () => { listening++ })
  const fork = (): void => { live.add(cluster.fork(linkEnv(link))) }
  acceptInWorkers(process.env)
  for (let i = 0; i < workers; i++) fork()
  const ended = new Promise<number>((resolve) => {
    cluster.on('exit', (worker, code, signal) => {
      live.delete(worker)
      const left = live.size
      if (!stopping && listening >= workers * socketsEach) {
        process.stderr.write(`icecast-relay: worker ${worker.process.pid} ended (${signal ?? code}); starting another\n`)
        // a second later, so that a worker that keeps dying does not keep a core busy with restarts
        setTimeout(() => { if (!stopping) fork() }, RESTART_DELAY_MS)
        return
      }
      // a worker that ends before all listen would end the same way again: stop, as one process would
      if (!stopping) {
        process.stderr.write(`icecast-relay: worker ${worker.process.pid} ended (${signal ?? code}) before listening\n`)
        stop(1)
      }
      if (left === 0) resolve(status)
    })
  })
  const grace = closeWithGrace({ delay: CLOSE_DEADLINE_MS, logger: STDERR_LOGGER }, async () => {
    stop(0)
    await ended
  })
  const code = await ended
  // its `beforeExit` handler would otherwise close again, with status 0, once nothing is left to run
  grace.uninstall()
  return code
}

/** The machine's relays in this process, the workers mirroring them; the relays close once the workers ended. */
async function superviseCluster (options: RelayPluginOptions, level: LogLevel, workers: number, socketsEach: number): Promise<number> {
  const primary = await startPrimary(options, level)
  const stopRelaying = relayMachineQueries(primary.app.relay, addedPrimaryRelay(primary.link.secret))
  try {
    return await superviseWorkers(workers, socketsEach, primary.link)
  } finally {
    stopRelaying()
    await primary.app.close()
  }
}

async function main (argv: string[]): Promise<number> {
  let args: CliArgs | 'help'
  try {
    args = parseCli(argv)
  } catch (error) {
    process.stderr.write(`icecast-relay: ${(error as Error).message}\nTry icecast-relay --help\n`)
    return 2
  }
  if (args === 'help') {
    process.stdout.write(HELP + '\n')
    return 0
  }
  let config: IcecastConfig
  let tls: TlsCredentials | undefined
  const warnings: string[] = []
  try {
    config = readIcecastConfig(await readFile(args.config, 'utf8'))
    warnings.push(...config.warnings)
    if (config.tls !== undefined) {
      const loaded = await loadTls(config.tls)
      tls = loaded.credentials
      warnings.push(...loaded.warnings)
    }
  } catch (error) {
    process.stderr.write(`icecast-relay: ${args.config}: ${(error as Error).message}\n`)
    return 1
  }
  for (const warning of warnings) process.stderr.write(`icecast-relay: warning: ${args.config}: ${warning}\n`)
  const listen = withArgs(config.listen, args)
  if (args.check) {
    const certificate = config.tls === undefined ? {} : { tls: tlsSettings(config.tls) }
    const logging = config.logLevel === undefined ? {} : { logLevel: config.logLevel }
    process.stdout.write(JSON.stringify({ listen, ...certificate, ...logging, options: hidePasswords(config.options), ignored: config.ignored }, null, 2) + '\n')
    return 0
  }
  const level = config.logLevel ?? DEFAULT_LOG_LEVEL
  // the primary of --workers too: it relays every stream once; its workers set their own
  const logging = { level, v8Options: setServingV8Options() }
  if (args.workers > 1 && cluster.isPrimary) return await superviseCluster(config.options, level, args.workers, listen.length)
  const link = cluster.isWorker ? linkFromEnv(process.env) : undefined
  if (link === undefined) {
    await serve(config.options, new ListenSockets(listen, tls), logging)
    return 0
  }
  const machine = workerMachineLink(workerMirror(config.options, link), workerHlsOrigin(link))
  await serve({ ...workerOptions(config.options, link), machine }, new ListenSockets(listen, tls), logging, machine.close)
  return 0
}

main(process.argv.slice(2)).then((code) => { if (code !== 0) process.exitCode = code }, (error: unknown) => {
  process.stderr.write(`icecast-relay: ${(error as Error).message}\n`)
  // at once: open upstream connections, or a worker's channel to its primary, would keep it running
  process.exit(1)
})
