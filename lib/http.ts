// The few HTTP words every room says the same way.
import type { FastifyRequest } from 'fastify'

/** The name the library gives itself: the listeners' `Server`, the upstreams' `User-Agent`, the stats' `server_id`. */
export const SERVER_NAME = 'fastify-icecast-relay'

/** Live answers (streams, stats, stream lists) must never come from a cache. */
export const NO_CACHE = 'no-cache, no-store'

/** A host as it stands in a URL or a Host header: an IPv6 literal in brackets. */
export function bracketedHost (host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

/** A Basic `Authorization` value, `Basic base64(user:pass)`, UTF-8 as RFC 7617 recommends. */
export function basicAuthorization (username: string, password: string): string {
  return 'Basic ' + Buffer.from(`${username}:${password}`, 'utf8').toString('base64')
}

/** `text` percent-decoded, or undefined when its encoding is bad (`%E0%A4%A`). */
export function percentDecoded (text: string): string | undefined {
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}

/** The host and port a request asked for; none when its Host header names none, or nothing a URL can hold. */
export function askedHost (request: FastifyRequest): URL | undefined {
  try {
    return new URL(`${request.protocol}://${request.host}`)
  } catch {
    return undefined
  }
}
