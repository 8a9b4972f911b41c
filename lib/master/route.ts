import type { FastifyInstance, FastifyRequest } from 'fastify'
import { basicAuthGuard, type BasicCredentials } from '../auth.js'
import type { RelayView } from '../relay/extension.js'
import type { RegistryCore } from '../relay/registry.js'
import { STREAMLIST_PATH } from './fetch.js'
import { formatStreamlist } from './streamlist.js'
import { NO_CACHE } from '../http.js'

export interface StreamlistRouteOptions {
  auth: BasicCredentials
  /** the listener routes' prefix: slaves ask for the paths listed, so they carry it */
  mountPrefix: string
  /** many machines: a poll with the relay credentials, which may register its slave */
  onPoll?: (request: FastifyRequest) => void
}

/**
 * Whether a slave that asks for this relay now gets a stream, as Icecast lists its running sources: a live
 * relay, one whose listeners ride an upstream gap (the slave's listeners ride it too), and an on-demand one,
 * which connects when asked, unless its last attempt failed less than `retryAfterMs` ago. A relay still
 * connecting, or failing (a wrong password, an upstream down), is left out: a slave would only log errors.
 */
export function isRelayable (relay: RelayView, now: number, retryAfterMs: number): boolean {
  const admission = relay.admission()
  if (admission === 'join') return true
  const failedAt = relay.failedAt
  return relay.def.onDemand && admission === 'wait' && (failedAt === undefined || now - failedAt >= retryAfterMs)
}

/**
 * The master side: `GET /admin/streamlist.txt` lists the mounts a slave can relay now (`isRelayable`), one
 * path a line, to a slave that gives the relay credentials (Icecast's `<relay-user>`/`<relay-password>`);
 * failed credentials are rate-limited per address, as on the admin routes.
 */
export async function streamlistRoute (
  app: FastifyInstance, registry: RegistryCore, options: StreamlistRouteOptions
): Promise<void> {
  const onRequest = await basicAuthGuard(app, options.auth, registry.limits)
  app.get(STREAMLIST_PATH, { onRequest }, async (request, reply) => {
    options.onPoll?.(request)
    const now = Date.now()
    // an on-demand relay that just failed is offered again after the longest wait between a relay's retries
    const retryAfterMs = registry.limits.maxBackoff * 1000
    // a hidden mount is not offered to slaves, as Icecast leaves it out of its stream list
    const paths = registry.list()
      .filter((status) => !status.hidden && isRelayable(registry.find(status.localMount)!, now, retryAfterMs))
      .map((status) => options.mountPrefix + status.localMount)
    return reply
      .type('text/plain; charset=utf-8')
      .header('cache-control', NO_CACHE)
      .send(formatStreamlist(paths))
  })
}
