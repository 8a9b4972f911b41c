import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { statsPlugin } from './stats/plugin.js'
import { adminPlugin } from './admin/routes.js'
import { masterPlugin } from './master/plugin.js'
import { listenerRoute } from './listen/route.js'
import { resolveOptions, type RelayPluginOptions } from './options.js'
import { RelayRegistry } from './relay/registry.js'
import { shoutcastPlugin } from './shoutcast/plugin.js'
import { SERVER_NAME } from './http.js'

declare module 'fastify' {
  interface FastifyInstance {
    relay: RelayRegistry
  }
}

async function icecastRelay (fastify: FastifyInstance, rawOptions: RelayPluginOptions): Promise<void> {
  const options = resolveOptions(rawOptions)
  const registry = new RelayRegistry({
    relays: options.relays,
    limits: options.limits,
    userAgent: options.userAgent,
    log: fastify.log.child({ plugin: SERVER_NAME })
  })
  fastify.decorate('relay', registry)

  // Always registered: ICY blocks must be stripped from any upstream that sends them, asked or not.
  await fastify.register(shoutcastPlugin)
  listenerRoute(fastify, registry, { prefix: options.prefix, server: SERVER_NAME })
  if (options.masters.length > 0 || options.relayAuth !== undefined) {
    await fastify.register(masterPlugin, {
      masters: options.masters, relayAuth: options.relayAuth, mountPrefix: options.prefix, userAgent: options.userAgent
    })
  }
  // Fastify puts the sub-plugins' routes under `prefix`, next to the mounts
  const stats = { prefix: options.prefix, mountPrefix: options.prefix, server: options.server, startedAt: new Date() }
  if (options.stats) await fastify.register(statsPlugin, stats)
  if (options.admin !== undefined) await fastify.register(adminPlugin, { ...stats, credentials: options.admin })

  fastify.addHook('onReady', async () => { registry.startAll() })
  fastify.addHook('preClose', async () => { registry.stopAll() })
}

export const fastifyIcecastRelay = fp(icecastRelay, {
  fastify: '5.x',
  name: SERVER_NAME
})
