import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { statsPlugin } from './stats/plugin.js'
import { adminPlugin } from './admin/routes.js'
import { masterPlugin } from './master/plugin.js'
import { listenerRoute } from './listen/route.js'
import { resolveOptions, type RelayPluginOptions } from './options.js'
import { RelayDecorator, type RelayRegistry } from './relay/decorator.js'
import { RegistryCore } from './relay/registry.js'
import { shoutcastExtension } from './shoutcast/extension.js'
import { SERVER_NAME } from './http.js'

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
    mountSettings: options.mountSettings
  })
  // Always installed: ICY blocks must be stripped from any upstream that sends them, asked or not.
  registry.extend(shoutcastExtension())
  // the public methods only: the registry itself goes to the parts of the library that need more
  fastify.decorate('relay', new RelayDecorator(registry))

  listenerRoute(fastify, registry, { prefix: options.prefix, server: SERVER_NAME })
  if (options.masters.length > 0 || options.relayAuth !== undefined) {
    await fastify.register(masterPlugin, {
      registry, masters: options.masters, relayAuth: options.relayAuth, mountPrefix: options.prefix, userAgent: options.userAgent
    })
  }
  // Fastify puts the sub-plugins' routes under `prefix`, next to the mounts
  const stats = {
    prefix: options.prefix, mountPrefix: options.prefix, server: options.server, limits: options.limits, startedAt: new Date()
  }
  if (options.stats) await fastify.register(statsPlugin, stats)
  if (options.admin !== undefined) await fastify.register(adminPlugin, { ...stats, credentials: options.admin })

  fastify.addHook('onReady', async () => { registry.startAll() })
  fastify.addHook('preClose', async () => { registry.stopAll() })
}

export const fastifyIcecastRelay = fp(icecastRelay, {
  fastify: '5.x',
  name: SERVER_NAME
})
