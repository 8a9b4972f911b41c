import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Limits, ServerInfo } from '../options.js'
import { icestats, icestatsJson, isPublicMount, type StatsContext } from './icestats.js'
import { shoutcastSevenHtml, statusPage } from './page.js'
import { IcestatsJsonSchema } from './schema.js'
import { bracketedHost, NO_CACHE } from '../http.js'

export interface StatsPluginOptions {
  server: ServerInfo
  startedAt: Date
  limits: Limits
  /** the main plugin's prefix, where mounts are served */
  mountPrefix: string
}

/** The host and port a request asked for; none when its Host header names none, or nothing a URL can hold. */
function askedHost (request: FastifyRequest): URL | undefined {
  try {
    return new URL(`${request.protocol}://${request.host}`)
  } catch {
    return undefined
  }
}

/**
 * Icecast names its configured `<hostname>` and the port the request came in on; without a `hostname`
 * option the stats name the host the client asked for, which is the one that works for it. An HTTP/1.0
 * request may name no host at all, and a Host header is the client's word: then it is localhost.
 */
export function statsContext (request: FastifyRequest, init: StatsPluginOptions): StatsContext {
  const { hostname } = init.server
  const port = request.socket.localPort
  const asked = askedHost(request) ?? new URL(`${request.protocol}://localhost${port === undefined ? '' : `:${port}`}`)
  const authority = hostname === undefined ? asked.host : `${bracketedHost(hostname)}:${port}`
  return {
    server: init.server,
    startedAt: init.startedAt,
    host: hostname ?? asked.hostname,
    listenBase: `${request.protocol}://${authority}${init.mountPrefix}`
  }
}

/** The public pages: Icecast's `/status-json.xsl` and `/status.xsl`, SHOUTcast's `/7.html`. */
export async function statsPlugin (fastify: FastifyInstance, init: StatsPluginOptions): Promise<void> {
  const registry = fastify.relay

  fastify.get('/status-json.xsl', { schema: { response: { 200: IcestatsJsonSchema } } }, async (request, reply) => {
    // public data that web players on other sites read
    reply.header('cache-control', NO_CACHE).header('access-control-allow-origin', '*')
    return icestatsJson(icestats(registry.list(), statsContext(request, init), { admin: false }))
  })

  fastify.get('/status.xsl', async (_request, reply) => {
    reply.header('cache-control', NO_CACHE).type('text/html; charset=utf-8')
    return statusPage(registry.list().filter(isPublicMount), { server: init.server, startedAt: init.startedAt, mountBase: init.mountPrefix })
  })

  fastify.get('/7.html', async (_request, reply) => {
    const [status] = registry.list().filter(isPublicMount)
    const ips = new Set(registry.listenersOf(status?.localMount ?? '')?.map((listener) => listener.ip))
    reply.header('cache-control', NO_CACHE).header('access-control-allow-origin', '*').type('text/html; charset=utf-8')
    return shoutcastSevenHtml({ status, maxListeners: status?.maxListeners ?? init.limits.clients, uniqueListeners: ips.size })
  })
}
