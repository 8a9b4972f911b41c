import type { FastifyInstance, FastifyRequest } from 'fastify'
import { announcement } from '../cluster/announce.js'
import type { SlaveNetwork } from '../cluster/network.js'
import type { ResolvedMaster, ResolvedOptions } from '../options.js'
import type { RegistryCore } from '../relay/registry.js'
import type { MasterStatus } from '../relay/decorator.js'
import type { RelayEvents } from '../relay/relay.js'
import { UNCHECKED_TLS_WARNING } from '../upstream/client.js'
import { MasterPoller } from './poller.js'
import { masterRelayDefinition, planReconcile, type DesiredRelay } from './reconcile.js'
import { streamlistRoute } from './route.js'
import { StaggeredStarts } from './stagger.js'

export interface MasterPluginOptions {
  /** the app's registry, whole: its relays to reconcile, the limits, where `masters()` reads from */
  registry: RegistryCore
  masters: ResolvedMaster[]
  relayAuth: ResolvedOptions['relayAuth']
  /** the listener routes' prefix (not `prefix`: Fastify would put this plugin's routes under it) */
  mountPrefix: string
  userAgent: string
  // Many machines
  /** the master side: registers the slaves that poll */
  network?: SlaveNetwork
  /** the app's `hostname` option, advertised by a slave that registers unless its `redirect` names a host */
  hostname?: string
}

/**
 * The master-slave sub-plugin. As a slave it mirrors every mount of its masters: their stream lists are
 * polled and the registry's relays reconciled with them, touching only the relays a master brought.
 * As a master (`relayAuth`) it serves `/admin/streamlist.txt` to slaves, Icecast ones included.
 */
export async function masterPlugin (fastify: FastifyInstance, options: MasterPluginOptions): Promise<void> {
  const { registry } = options
  if (options.relayAuth !== undefined) {
    const { network } = options
    await streamlistRoute(fastify, registry, {
      auth: options.relayAuth,
      mountPrefix: options.mountPrefix,
      ...(network !== undefined && { onPoll: (request: FastifyRequest) => network.register(request) })
    })
  }
  if (options.masters.length === 0) return

  let shadowed = new Map<string, string[]>()
  let sourceOf = new Map<string, string[]>()
  const pollers = options.masters.map((master) => new MasterPoller(master, {
    userAgent: options.userAgent,
    timeout: registry.limits.connectTimeout * 1000,
    log: fastify.log.child({ master: master.name }),
    onList: reconcile,
    query: registrationOf
  }))
  for (const poller of pollers) {
    if (poller.master.tlsOptions?.rejectUnauthorized === false) poller.log.warn({ upstream: poller.master.url.href }, UNCHECKED_TLS_WARNING)
  }
  /** Why each poller did not register at its last poll: logged when it changes. */
  const unannounced = new Map<MasterPoller, string>()
  function registrationOf (poller: MasterPoller): string {
    const announced = announcement(poller.master, {
      hostname: options.hostname,
      address: fastify.server.address(),
      mountPrefix: options.mountPrefix,
      statuses: registry.list(),
      listeners: registry.totalListeners,
      capacity: registry.limits.clients
    })
    if (announced === undefined) return ''
    const reason = 'reason' in announced ? announced.reason : undefined
    if (reason !== undefined && unannounced.get(poller) !== reason) poller.log.warn(`not registering with the master for redirects: ${reason}`)
    if (reason === undefined) unannounced.delete(poller)
    else unannounced.set(poller, reason)
    return 'query' in announced ? announced.query : ''
  }
  const pollerOf = (origin: string | undefined): MasterPoller | undefined =>
    pollers.find((poller) => poller.master.origin === origin)

  const masterOf = (origin: string): ResolvedMaster => pollerOf(origin)!.master

  function start (wanted: DesiredRelay): void {
    // Relays are being stopped for good: starting one now would outlive the app.
    if (registry.closing) return
    const poller = pollerOf(wanted.origin)!
    try {
      // an upstream that refuses the relay (401, 403) is asked again at the master's pace, not the backoff's
      registry.add(masterRelayDefinition(masterOf, wanted), { origin: wanted.origin, refusedRetry: masterOf(wanted.origin).updateInterval })
      poller.log.info({ relay: wanted.localMount, upstreams: wanted.sources.length }, 'new mount on the master: relay started')
    } catch (error) {
      poller.log.warn({ relay: wanted.localMount, err: error }, 'cannot relay a listed mount')
    }
  }

  /** The masters listing a mount changed: its relay's upstreams follow, and its listeners stay. */
  function update (wanted: DesiredRelay): void {
    const poller = pollerOf(wanted.origin)!
    try {
      registry.setUpstreams(masterRelayDefinition(masterOf, wanted), wanted.origin)
      poller.log.info({ relay: wanted.localMount, upstreams: wanted.sources.map((source) => source.upstream.href) }, 'masters listing the mount changed: relay upstreams updated')
    } catch (error) {
      poller.log.warn({ relay: wanted.localMount, err: error }, 'cannot relay a listed mount')
    }
  }
  const starts = new StaggeredStarts(start)

  function reconcile (): void {
    if (registry.closing) return
    const plan = planReconcile(registry.list(), pollers.map((poller) => ({
      origin: poller.master.origin, entries: poller.entries
    })))
    shadowed = plan.shadowed
    sourceOf = plan.sourceOf
    for (const localMount of plan.stop) {
      pollerOf(registry.get(localMount)?.origin)?.log.info({ relay: localMount }, 'mount no longer listed by any master: relay stopped')
      registry.remove(localMount)
    }
    for (const wanted of plan.update) update(wanted)
    // the relays not started yet are in this plan again, if still wanted
    starts.plan(plan.start)
  }

  // A relay of masters that loses its stream, or leaves an upstream, may have a source gone from a master:
  // its masters are asked now, not in minutes.
  const pollSourcesOf = (localMount: string): void => {
    for (const poller of pollers) if (sourceOf.get(poller.master.origin)?.includes(localMount) === true) poller.pollSoon()
  }
  function onState (event: RelayEvents['state']): void {
    if (event.previous === 'live' && event.state === 'retrying') pollSourcesOf(event.localMount)
  }
  function onFailover (event: RelayEvents['failover']): void {
    pollSourcesOf(event.localMount)
  }
  registry.on('state', onState)
  registry.on('failover', onFailover)

  const isMasterRelay = (localMount: string): boolean => pollerOf(registry.find(localMount)?.def.origin) !== undefined
  /** The relays a master brought that their upstreams refuse. */
  const refusedOf = (origin: string): MasterStatus['refused'] => registry.list().flatMap((status) => {
    const refusal = status.origin === origin ? registry.find(status.localMount)?.refusal : undefined
    return refusal === undefined ? [] : [{ localMount: status.localMount, ...refusal }]
  })
  registry.reportMasters(() => pollers.map((poller) => poller.status(
    (sourceOf.get(poller.master.origin) ?? []).filter(isMasterRelay),
    shadowed.get(poller.master.origin) ?? [],
    refusedOf(poller.master.origin)
  )))

  fastify.addHook('onReady', async () => { for (const poller of pollers) poller.start() })
  // a poll before the app listened could not register: the next one, soon, does
  fastify.addHook('onListen', async () => { for (const poller of unannounced.keys()) poller.pollSoon() })
  fastify.addHook('onClose', async () => {
    starts.cancel()
    registry.off('state', onState)
    registry.off('failover', onFailover)
    for (const poller of pollers) poller.close()
  })
}
