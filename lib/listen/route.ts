import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ListenerPlace } from '../relay/extension.js'
import type { Relay } from '../relay/relay.js'
import type { RegistryCore } from '../relay/registry.js'
import { sendUnauthorized } from '../auth.js'
import type { Admission, ListenerGate } from './gate.js'
import type { MachineSlots } from './slots.js'
import { LISTENER_SAFETY_HEADERS, listenerContentType } from '../mount/headers.js'
import { ListenerHeads } from './heads.js'
import { Listener, endAndClose } from '../mount/listener.js'
import { releaseHttpState } from './release.js'
import { percentDecoded } from '../http.js'

export interface ListenerRouteOptions {
  prefix: string
  server: string
  /** listener authentication */
  gate: ListenerGate
  /** the machine's count of listeners, beside this process's */
  slots: MachineSlots
  /** answers a path that names no mount when it is another of the mount's resources (a playlist); true if it did */
  other?: (request: FastifyRequest, reply: FastifyReply, path: string) => boolean
  /** answers a path that names no mount when it is one of a mount's HLS resources; true if it did */
  hls?: (request: FastifyRequest, reply: FastifyReply, path: string) => Promise<boolean>
  /** listeners the limits count besides the mounts' own (HLS sessions): in all, and of a mount */
  others?: OtherListeners
  /** many machines: the URL of another node to send a new listener to (a 302), or undefined to serve it here */
  redirect?: (request: FastifyRequest, ask: { path: string, refusing: boolean }) => Promise<string | undefined>
  /** many machines: whether a request is a slave's relay connection (the relay credentials): no listener of the limits */
  isRelay?: (request: FastifyRequest) => boolean
}

/** The local mount a request path names, or undefined when the path is outside the prefix or undecodable. */
export function mountOfUrl (url: string, prefix: string): string | undefined {
  const queryAt = url.indexOf('?')
  const path = queryAt === -1 ? url : url.slice(0, queryAt)
  if (!path.startsWith(prefix + '/')) return undefined
  return percentDecoded(path.slice(prefix.length))
}

/** The safety headers of any answer on a mount (see LISTENER_SAFETY_HEADERS). */
function withSafetyHeaders (reply: FastifyReply): FastifyReply {
  for (const [name, value] of LISTENER_SAFETY_HEADERS) reply.header(name, value)
  return reply
}

/** The relay's own answer on a mount. */
function refuse (reply: FastifyReply, code: 403 | 405 | 503, message: string, retryAfter?: number): FastifyReply {
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
  return withSafetyHeaders(reply).code(code).type('text/plain; charset=utf-8').send(message)
}

/** Another node serves the listener: Icecast-kh's 302, which players follow, asking again with their own headers. */
function redirectTo (reply: FastifyReply, location: string): FastifyReply {
  return withSafetyHeaders(reply).code(302).header('location', location).type('text/plain; charset=utf-8').send(`Moved to ${location}\r\n`)
}

const SERVER_FULL = 'Too many listeners on this server'

export interface OtherListeners {
  readonly size: number
  on: (localMount: string) => number
}

const NO_OTHERS: OtherListeners = { size: 0, on: () => 0 }

function serverFull (registry: RegistryCore, others: OtherListeners): boolean {
  return registry.totalListeners + others.size >= registry.limits.clients
}

/** Why a listener may not join now (Icecast answers 403 when full), or undefined when it may. */
export function overLimit (registry: RegistryCore, relay: Relay, others: OtherListeners = NO_OTHERS): string | undefined {
  if (serverFull(registry, others)) return SERVER_FULL
  const max = relay.def.maxListeners
  if (max !== undefined && relay.mount.audience + others.on(relay.localMount) >= max) return `Too many listeners on ${relay.localMount}`
  return undefined
}

/**
 * One wildcard route serves every mount, present and future; unknown paths go to the host app's own
 * not-found handler. A listener's response is written straight to its socket after `hijack()`:
 * Icecast's HTTP/1.0 head, then the shared chunks, with no chunked framing. Then Node's HTTP server
 * lets go of the connection, as for an upgrade, so that a listener costs little more than its socket.
 */
export function listenerRoute (app: FastifyInstance, registry: RegistryCore, options: ListenerRouteOptions): void {
  const others = options.others ?? NO_OTHERS
  const heads = new ListenerHeads()
  async function serve (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const localMount = mountOfUrl(request.raw.url ?? '/', options.prefix)
    const relay = localMount === undefined ? undefined : registry.find(localMount)
    if (relay === undefined) {
      if (localMount === undefined || (await options.hls?.(request, reply, localMount) !== true && options.other?.(request, reply, localMount) !== true)) reply.callNotFound()
      return reply
    }
    if (registry.closing) return refuse(reply, 503, 'Server is shutting down', 5)
    const location = await options.redirect?.(request, { path: options.prefix + relay.localMount, refusing: overLimit(registry, relay, others) !== undefined })
    if (location !== undefined) return redirectTo(reply, location)
    // before listener auth, as Icecast counts its clients: a full server asks no auth server
    const relayConnection = options.isRelay?.(request) === true
    if (!relayConnection && serverFull(registry, others)) return refuse(reply, 403, SERVER_FULL)
    const id = registry.nextListenerId()
    const granted = await options.gate.admit(request, reply, relay, id)
    if (granted === undefined) return sendUnauthorized(withSafetyHeaders(reply))
    try {
      return await join(request, reply, relay, id, granted, relayConnection)
    } finally {
      options.gate.settle(id)
    }
  }

  /** A listener let in: served from its mount (or that one's fallback) unless the server is full. */
  async function join (
    request: FastifyRequest, reply: FastifyReply, relay: Relay, id: number, granted: Admission, relayConnection: boolean
  ): Promise<FastifyReply | undefined> {
    const full = relayConnection ? undefined : overLimit(registry, relay, others)
    if (full !== undefined) return refuse(reply, 403, full)
    let admission = relay.admission()
    if (admission === 'wait') {
      const live = await relay.waitLive(registry.limits.connectTimeout * 1000)
      admission = live ? 'join' : 'unavailable'
    }
    // a mount that is down is served from its fallback, under its own URL, as Icecast does
    const fallback = admission === 'unavailable' ? await registry.fallbackFor(relay) : undefined
    if (admission === 'unavailable' && fallback === undefined) {
      return refuse(reply, 503, `${relay.localMount} is not available: its upstream is down`, 5)
    }
    const served = fallback ?? relay
    const fullNow = relayConnection ? undefined : overLimit(registry, served, others)
    if (fullNow !== undefined) return refuse(reply, 403, fullNow)

    // a slave's relay connection takes no listener's place, on this process or on the machine
    const machineFull = request.method === 'GET' && !relayConnection ? await options.slots.reserve(served) : undefined
    if (machineFull !== undefined) {
      // full on the machine though not here: a slave may still take the listener
      const location = machineFull.code === 403 ? await options.redirect?.(request, { path: options.prefix + relay.localMount, refusing: true }) : undefined
      return location === undefined ? refuse(reply, machineFull.code, machineFull.message) : redirectTo(reply, location)
    }
    const intro = request.method === 'GET' ? await registry.listenerPrelude(served) : undefined
    const socket = request.raw.socket
    if (socket.destroyed) {
      if (request.method === 'GET') options.slots.release(served)
      reply.hijack()
      return undefined
    }
    const place: ListenerPlace<Relay> = { relay: served }
    const framing = request.method === 'GET' ? registry.listenerFraming(place, request.headers) : undefined
    const head = heads.of(served, {
      server: options.server,
      contentType: listenerContentType(served.head?.headers),
      stream: served.streamHeaders(),
      extra: framing?.headers ?? {}
    })
    reply.hijack()
    if (request.method === 'HEAD') {
      endAndClose(socket, head)
      return undefined
    }
    // the head, the codec headers and the burst leave in one writev instead of a write each
    socket.cork()
    socket.write(head)
    const listener = new Listener({
      id,
      socket,
      ip: request.ip,
      userAgent: request.headers['user-agent'] ?? '',
      queueSize: registry.limits.queueSize,
      framer: framing?.framer,
      intro,
      // the auth server's time limit, else the limit of the mount asked for, as Icecast sets it on admission there;
      // a slave's relay connection is no listener to time out: cutting it would cut every listener of the slave
      maxDuration: relayConnection ? undefined : granted.maxDuration ?? relay.def.maxListenerDuration,
      onEnd: relayConnection ? registry.endListener : options.slots.onEnd(served, registry.endListener),
      ending: registry.ending,
      relay: relayConnection
    })
    registry.admitListener(place, listener, fallback === undefined ? undefined : relay)
    socket.uncork()
    // once the parser that called this route has returned
    setImmediate(releaseHttpState, socket)
    return undefined
  }

  /**
   * Other methods on a mount are answered in `onRequest`, before Fastify reads a body: a source client
   * pushing its stream at the relay by mistake gets its 405 at once, and the connection is closed.
   */
  async function refuseMethod (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const localMount = mountOfUrl(request.raw.url ?? '/', options.prefix)
    if (localMount === undefined || registry.find(localMount) === undefined) {
      reply.callNotFound()
      return reply
    }
    reply.header('allow', 'GET, HEAD').header('connection', 'close')
    return refuse(reply, 405, `${request.method} is not allowed on a mount: use GET or HEAD`)
  }

  app.route({
    method: ['GET', 'HEAD'],
    url: `${options.prefix}/*`,
    handler: serve
  })
  app.route({
    method: ['POST', 'PUT', 'DELETE', 'PATCH'],
    url: `${options.prefix}/*`,
    onRequest: refuseMethod,
    handler: refuseMethod
  })
}
