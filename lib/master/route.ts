import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { basicAuthGuard, type BasicCredentials } from '../auth.js'
import type { RelayView } from '../relay/extension.js'
import type { RegistryCore } from '../relay/registry.js'
import { STREAMLIST_PATH } from './fetch.js'
import { formatStreamlist, listedPath } from './streamlist.js'
import { askedHost, bracketedHost, NO_CACHE } from '../http.js'

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

/** icecast-kh's slaves ask this first, and fall back to STREAMLIST_PATH (with a warning) when it fails. */
export const KH_STREAMS_PATH = '/admin/streams'

/** The mounts a slave can relay now, as their listener paths (prefix included), in the registry's order. */
function relayablePaths (registry: RegistryCore, mountPrefix: string): string[] {
  const now = Date.now()
  // an on-demand relay that just failed is offered again after the longest wait between a relay's retries
  const retryAfterMs = registry.limits.maxBackoff * 1000
  // a hidden mount is not offered to slaves, as Icecast leaves it out of its stream list
  return registry.list()
    .filter((status) => !status.hidden && isRelayable(registry.find(status.localMount)!, now, retryAfterMs))
    .map((status) => mountPrefix + status.localMount)
}

/**
 * Where a kh relay connection (`/admin/streams?mount=/x`, which kh's masters list) is sent: the mount's own URL,
 * where the relay credentials already make it a slave's connection. Undefined for a mount not offered.
 */
function khMountLocation (request: FastifyRequest, registry: RegistryCore, mountPrefix: string, mount: string): string | undefined {
  const status = registry.get(mount)
  const path = status === undefined || status.hidden ? undefined : listedPath(mountPrefix + mount)
  if (path === undefined) return undefined
  // absolute, as kh's relay reads a Location: the host asked for, else the address the request reached
  const origin = askedHost(request)?.origin ?? `${request.protocol}://${bracketedHost(request.socket.localAddress ?? 'localhost')}:${request.socket.localPort ?? ''}`
  return origin + path
}

/**
 * The master side: `GET /admin/streamlist.txt` lists the mounts a slave can relay now (`isRelayable`), one
 * path a line, to a slave that gives the relay credentials (Icecast's `<relay-user>`/`<relay-password>`);
 * failed credentials are rate-limited per address, as on the admin routes. icecast-kh's slaves ask
 * `GET /admin/streams` first: the same list, which kh reads as it reads its own masters' (a line without kh's
 * `/admin/streams?mount=` prefix is both the remote and the local mount).
 */
export async function streamlistRoute (
  app: FastifyInstance, registry: RegistryCore, options: StreamlistRouteOptions
): Promise<void> {
  const onRequest = await basicAuthGuard(app, options.auth, registry.limits)
  function sendList (request: FastifyRequest, reply: FastifyReply): FastifyReply {
    options.onPoll?.(request)
    return reply
      .type('text/plain; charset=utf-8')
      .header('cache-control', NO_CACHE)
      .send(formatStreamlist(relayablePaths(registry, options.mountPrefix)))
  }
  app.get(STREAMLIST_PATH, { onRequest }, async (request, reply) => sendList(request, reply))
  app.get(KH_STREAMS_PATH, { onRequest }, async (request, reply) => {
    const mount = new URL(request.url, 'http://x').searchParams.get('mount')
    if (mount === null) return sendList(request, reply)
    // a stream asked for, never a list: a relay given a list instead would take the text for audio
    const location = khMountLocation(request, registry, options.mountPrefix, mount)
    if (location === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('No such mount\r\n')
    return reply.code(302).header('location', location).header('cache-control', NO_CACHE).type('text/plain; charset=utf-8').send(`Moved to ${location}\r\n`)
  })
}
