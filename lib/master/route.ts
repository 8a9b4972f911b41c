import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { hasBasicCredentials, sendUnauthorized, type BasicCredentials } from '../auth.js'
import type { RelayRegistry } from '../relay/registry.js'
import { STREAMLIST_PATH } from './fetch.js'
import { formatStreamlist } from './streamlist.js'

export interface StreamlistRouteOptions {
  auth: BasicCredentials
  /** the listener routes' prefix: slaves ask for the paths listed, so they carry it */
  mountPrefix: string
}

const Headers = Type.Object({ authorization: Type.Optional(Type.String()) })

/**
 * The master side: `GET /admin/streamlist.txt` lists every mount this app serves, one path a line, to a
 * slave that gives the relay credentials (Icecast's `<relay-user>`/`<relay-password>`).
 */
export function streamlistRoute (app: FastifyInstance, registry: RelayRegistry, options: StreamlistRouteOptions): void {
  app.get(STREAMLIST_PATH, { schema: { headers: Headers } }, async (request, reply) => {
    if (!hasBasicCredentials(request.headers.authorization, options.auth)) return sendUnauthorized(reply)
    const paths = registry.list().map((status) => options.mountPrefix + status.localMount)
    return reply
      .type('text/plain; charset=utf-8')
      .header('cache-control', 'no-cache, no-store')
      .send(formatStreamlist(paths))
  })
}
