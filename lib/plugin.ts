import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { playlistServer, statsPlugin } from './stats/plugin.js'
import { adminPlugin } from './admin/routes.js'
import { masterPlugin } from './master/plugin.js'
import { listenerRoute } from './listen/route.js'
import { ListenerGate } from './listen/gate.js'
import { MachineSlots } from './listen/slots.js'
import { failureLimiter, hasBasicCredentials, type FailureLimiter } from './auth.js'
import { MACHINE_ID_SPAN, resolveOptions, type RelayPluginOptions, type ResolvedOptions } from './options.js'
import { RelayDecorator, type RelayRegistry } from './relay/decorator.js'
import { RegistryCore } from './relay/registry.js'
import { shoutcastExtension } from './shoutcast/extension.js'
import { archive } from './archive/extension.js'
import { introExtension } from './intro/extension.js'
import { SERVER_NAME } from './http.js'
import { SlaveNetwork } from './cluster/network.js'
import { localView } from './stats/view.js'
import { catchUpRelays, machineView, MAX_HLS_POLLED, type Query } from './cluster/machine.js'
import { hlsServer, type HlsServer } from './hls/plugin.js'
import { corsAnywhere, preflightRoute } from './hls/cors.js'
import { InvalidOptionError } from './errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    relay: RelayRegistry
  }
}

async function icecastRelay (fastify: FastifyInstance, rawOptions: RelayPluginOptions): Promise<void> {
  const options = resolveOptions(rawOptions)
  const registry = new RegistryCore({
    relays: options.relays,
    limits: options.limits,
    userAgent: options.userAgent,
    log: fastify.log.child({ plugin: SERVER_NAME }),
    mountSettings: options.mountSettings,
    firstListenerId: (options.machine?.index ?? 0) * MACHINE_ID_SPAN
  })
  // Always installed: ICY blocks must be stripped from any upstream that sends them, asked or not.
  registry.extend(shoutcastExtension())
  // intro and dump-file: each does nothing for a relay without its option
  registry.extend(introExtension(Math.floor(options.limits.queueSize / 2)))
  const dumps = archive()
  registry.extend(dumps.extension)
  // the public methods only: the registry itself goes to the parts of the library that need more
  fastify.decorate('relay', new RelayDecorator(registry))

  // many machines: the slaves that register with this master, and where its new listeners go
  const network = options.redirect === undefined || options.relayAuth === undefined
    ? undefined
    : new SlaveNetwork({
      redirect: options.redirect,
      relayAuth: options.relayAuth,
      local: { get totalListeners () { return registry.totalListeners }, capacity: options.limits.clients },
      log: fastify.log.child({ plugin: SERVER_NAME }),
      ...(options.machine !== undefined && { machine: options.machine })
    })
  if (network !== undefined) registry.reportSlaves(() => network.slaves())
  const { relayAuth } = options
  const startedAt = new Date()
  const other = playlistServer({ server: options.server, startedAt, mountPrefix: options.prefix })
  const slots = new MachineSlots(options.machine, options.limits.clients)
  const gate = await listenerGate(fastify, registry, options)
  const hls = hlsOf(fastify, registry, gate, slots, options)
  listenerRoute(fastify, registry, {
    prefix: options.prefix,
    server: SERVER_NAME,
    gate,
    other,
    ...(hls !== undefined && { hls: hls.serve, others: hls.sessions }),
    slots,
    ...(network !== undefined && { redirect: async (request, ask) => await network.locationFor(request, ask) }),
    ...(relayAuth !== undefined && { isRelay: (request) => network?.isSlaveRequest(request) ?? hasBasicCredentials(request.headers.authorization, relayAuth) })
  })
  if (options.masters.length > 0 || options.relayAuth !== undefined) {
    await fastify.register(masterPlugin, {
      registry,
      masters: options.masters,
      relayAuth: options.relayAuth,
      mountPrefix: options.prefix,
      userAgent: options.userAgent,
      ...(network !== undefined && { network }),
      ...(options.server.hostname !== undefined && { hostname: options.server.hostname })
    })
  }
  // Fastify puts the sub-plugins' routes under `prefix`, next to the mounts
  const relays = hls === undefined ? registry : hls.relays(registry)
  const view = options.machine === undefined ? localView(relays) : machineView(relays, options.machine, { slaves: network, hlsPolled: hls?.polled })
  const stats = {
    prefix: options.prefix, mountPrefix: options.prefix, server: options.server, limits: options.limits, startedAt, view
  }
  if (options.stats) await fastify.register(statsPlugin, stats)
  if (options.admin !== undefined) await fastify.register(adminPlugin, { ...stats, credentials: options.admin })

  fastify.addHook('onReady', async () => {
    registry.startAll()
    if (options.machine !== undefined) await catchUpRelays(registry, options.machine, fastify.log.child({ plugin: SERVER_NAME }))
    // not awaited: a machine whose other processes do not answer must not hold this one back
    network?.catchUp().catch((error: unknown) => { fastify.log.warn({ err: error }, 'the machine\'s slave registrations were not read') })
  })
  fastify.addHook('preClose', async () => { registry.stopAll() })
  fastify.addHook('onClose', async () => { await dumps.settled() })
}

/**
 * HLS, when an `hls` option is given. On a machine whose processes would each cut their own segments (each
 * numbering its own), one must cut them for all: the link's `hlsOrigin`.
 */
function hlsOf (fastify: FastifyInstance, registry: RegistryCore, gate: ListenerGate, slots: MachineSlots, options: ResolvedOptions): HlsServer | undefined {
  if (options.hls === undefined) return undefined
  const { machine } = options
  if (machine !== undefined && machine.hlsOrigin === undefined) {
    throw new InvalidOptionError('hls', 'on a machine of several processes needs the machine link\'s hlsOrigin, the process that cuts the segments for all')
  }
  const tellPolls = machine === undefined
    ? undefined
    : { tell: async (ids: string[]) => await machine.ask({ kind: 'hlsPolled', ids } satisfies Query), max: MAX_HLS_POLLED }
  const hls = hlsServer({ registry, gate, hls: options.hls, origin: machine?.hlsOrigin, relayAuth: options.relayAuth, slots, tellPolls })
  if (hls.extension !== undefined) registry.extend(hls.extension)
  if (corsAnywhere(options.hls, options.relays)) preflightRoute(fastify, options.prefix, hls.preflight)
  fastify.addHook('onClose', async () => { hls.close() })
  return hls
}

/** Listener authentication; wrong htpasswd logins are counted in a sub-plugin of their own, as the admin routes'. */
async function listenerGate (fastify: FastifyInstance, registry: RegistryCore, options: ResolvedOptions): Promise<ListenerGate> {
  let failures: FailureLimiter | undefined
  await fastify.register(async (limited) => { failures = await failureLimiter(limited, options.limits) })
  const gate = new ListenerGate({
    registry,
    authenticate: options.authenticate,
    listenerAuth: options.listenerAuth,
    log: fastify.log.child({ plugin: SERVER_NAME }),
    userAgent: options.userAgent,
    hostname: options.server.hostname,
    prefix: options.prefix,
    failures: failures!,
    relayAuth: options.relayAuth
  })
  gate.warnOpenCredentials(options.relays)
  return gate
}

export const fastifyIcecastRelay = fp(icecastRelay, {
  fastify: '5.x',
  name: SERVER_NAME
})
