import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { mountOfUrl } from '../listen/route.js'
import type { ResolvedHls, ResolvedRelay } from '../options.js'

/** seconds a browser may keep a preflight's answer: Chromium's most */
const PREFLIGHT_MAX_AGE = 7200
/** the methods of the HLS URLs */
const METHODS = 'GET, HEAD, OPTIONS'
/** the response headers hls.js reads besides the safelisted ones: the age of a cached playlist, a range's length, a retry */
const EXPOSED = 'Age, Content-Range, Retry-After'
/** asked for a segment by players that read it in parts (Safari, hls.js's byte ranges) */
const ALWAYS_ALLOWED = ['range']
/** request header names echoed at most: a preflight asks a few */
const MAX_ASKED_HEADERS = 32
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * The CORS headers of an HLS answer (a fixed origin or `*`). The answer does not depend on the request's Origin,
 * so it has no `Vary: Origin` (Fetch §3.2.5 asks for it only then), which would split a CDN's cache per site.
 */
export function corsHeaders (reply: FastifyReply, origin: string): void {
  reply.header('access-control-allow-origin', origin).header('access-control-expose-headers', EXPOSED)
}

/**
 * The request headers a preflight may have: Range, and the names it asks that are HTTP tokens. The HLS URLs
 * only read (GET and HEAD), and an authenticate hook may read a header of its own: none asked is unsafe to let
 * through, but no odd text is echoed into a header.
 */
export function allowedHeaders (asked: string | undefined): string {
  const names = (asked ?? '').split(',').map((name) => name.trim().toLowerCase()).filter((name) => TOKEN.test(name))
  return [...new Set([...ALWAYS_ALLOWED, ...names.slice(0, MAX_ASKED_HEADERS)])].join(', ')
}

/** The answer to a CORS preflight of an HLS URL: 204, the origin, methods and headers it may use. */
export function answerPreflight (request: FastifyRequest, reply: FastifyReply, origin: string): void {
  const asked = request.headers['access-control-request-headers']
  corsHeaders(reply, origin)
  reply.code(204)
    .header('access-control-allow-methods', METHODS)
    .header('access-control-allow-headers', allowedHeaders(typeof asked === 'string' ? asked : undefined))
    .header('access-control-max-age', String(PREFLIGHT_MAX_AGE))
    .header('allow', METHODS)
    .send()
}

/** Whether any relay may be served with CORS: else no preflight route (a host app's own, @fastify/cors's, may be there). */
export function corsAnywhere (hls: ResolvedHls, relays: ReadonlyArray<Pick<ResolvedRelay, 'hls'>>): boolean {
  return hls.settings.cors !== false || relays.some((relay) => typeof relay.hls === 'object' && typeof relay.hls.cors === 'string')
}

/**
 * `OPTIONS <prefix>/*`: the preflights of the HLS URLs, which `answer` answers (true) when the path is one of a
 * mount with CORS; any other is the host app's 404.
 */
export function preflightRoute (app: FastifyInstance, prefix: string, answer: (request: FastifyRequest, reply: FastifyReply, path: string) => boolean): void {
  app.route({
    method: 'OPTIONS',
    url: `${prefix}/*`,
    handler: async (request, reply) => {
      const path = mountOfUrl(request.raw.url ?? '/', prefix)
      if (path === undefined || !answer(request, reply, path)) reply.callNotFound()
      return reply
    }
  })
}
