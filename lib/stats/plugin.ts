import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Limits, ServerInfo } from '../options.js'
import type { SlaveStatus } from '../relay/decorator.js'
import { icestats, icestatsJson, isPublicMount, listenUrl, networkListeners, type StatsContext } from './icestats.js'
import { STATUS_PAGE_CSP, shoutcastSevenHtml, statusPage } from './page.js'
import { PLAYLIST_TYPES, PLAYLISTS, playlistPath } from './playlists.js'
import { IcestatsJsonSchema } from './schema.js'
import type { StatusView } from './view.js'
import { askedHost, bracketedHost, NO_CACHE } from '../http.js'

export interface StatsPluginOptions {
  server: ServerInfo
  startedAt: Date
  limits: Limits
  /** the main plugin's prefix, where mounts are served */
  mountPrefix: string
  /** where the relays and their listeners are read */
  view: StatusView
}

/**
 * Icecast names its configured `<hostname>` and the port the request came in on; without a `hostname`
 * option the stats name the host the client asked for, which is the one that works for it. An HTTP/1.0
 * request may name no host at all, and a Host header is the client's word: then it is localhost.
 */
export function statsContext (request: FastifyRequest, init: Pick<StatsPluginOptions, 'server' | 'startedAt' | 'mountPrefix'>): StatsContext {
  const { hostname } = init.server
  const port = request.socket.localPort
  const asked = askedHost(request) ?? new URL(`${request.protocol}://localhost${port === undefined ? '' : `:${port}`}`)
  const authority = hostname === undefined ? asked.host : `${bracketedHost(hostname)}:${port}`
  const network = networkListeners(request.server.relay.slaves(), init.mountPrefix)
  return {
    ...(network !== undefined && { network }),
    server: init.server,
    startedAt: init.startedAt,
    host: hostname ?? asked.hostname,
    listenBase: `${request.protocol}://${authority}${init.mountPrefix}`
  }
}

/** The public pages: Icecast's `/status-json.xsl` and `/status.xsl`, SHOUTcast's `/7.html`. */
export async function statsPlugin (fastify: FastifyInstance, init: StatsPluginOptions): Promise<void> {
  const { view } = init

  fastify.get('/status-json.xsl', { schema: { response: { 200: IcestatsJsonSchema } } }, async (request, reply) => {
    // public data that web players on other sites read
    reply.header('cache-control', NO_CACHE).header('access-control-allow-origin', '*')
    return icestatsJson(icestats(await view.list(), statsContext(request, init), { admin: false }))
  })

  fastify.get('/status.xsl', async (request, reply) => {
    reply.header('cache-control', NO_CACHE).header('content-security-policy', STATUS_PAGE_CSP).type('text/html; charset=utf-8')
    const { listenBase, network } = statsContext(request, init)
    return statusPage((await view.list()).filter(isPublicMount), {
      server: init.server, startedAt: init.startedAt, mountBase: init.mountPrefix, listenBase, ...(network !== undefined && { network })
    })
  })

  fastify.get('/7.html', async (_request, reply) => {
    const [status] = (await view.list()).filter(isPublicMount)
    const ips = new Set((await view.listenersOf(status?.localMount ?? ''))?.map((listener) => listener.ip))
    reply.header('cache-control', NO_CACHE).header('access-control-allow-origin', '*').type('text/html; charset=utf-8')
    return shoutcastSevenHtml({ status, maxListeners: status?.maxListeners ?? init.limits.clients, uniqueListeners: ips.size })
  })
}

// Many machines
/** The listen URLs of a mount on the registered slaves that relay it (an icecast-kh slave, reporting nothing, relays all). */
export function slaveUrls (slaves: readonly SlaveStatus[], scheme: string, path: string): string[] {
  return slaves.filter((slave) => slave.listeners === null || Object.hasOwn(slave.mounts, path))
    .map((slave) => `${slave.scheme ?? scheme}://${slave.host}:${slave.port}${encodeURI(path)}`)
}

export type PlaylistServer = (request: FastifyRequest, reply: FastifyReply, path: string) => boolean

/**
 * `<mount>.m3u`, `.pls` and `.xspf` for every mount, served where a path names no mount (so a mount whose
 * own name ends in `.m3u` is served as a mount). Answers and returns true when `path` is one, else false.
 * Public whatever `stats` says, as Icecast serves them: they say what any listener of the mount learns.
 */
export function playlistServer (init: Pick<StatsPluginOptions, 'server' | 'startedAt' | 'mountPrefix'>): PlaylistServer {
  return (request, reply, path) => {
    const asked = playlistPath(path)
    const status = asked === undefined ? undefined : request.server.relay.get(asked.mount)
    if (asked === undefined || status === undefined) return false
    const url = listenUrl(statsContext(request, init).listenBase, status.localMount)
    const mirrors = slaveUrls(request.server.relay.slaves(), request.protocol, init.mountPrefix + status.localMount)
    reply.header('cache-control', NO_CACHE).type(PLAYLIST_TYPES[asked.format])
      .send(PLAYLISTS[asked.format]({ url, mirrors, serverId: init.server.serverId, status }))
    return true
  }
}
