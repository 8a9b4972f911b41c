import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AdminAuthError } from '../errors.js'
import type { Credentials } from '../options.js'

/** Icecast's realm: admin tools that answer a challenge may look for it. */
export const REALM = 'Icecast2 Server'

/** The user and password of a `Basic` Authorization header, or undefined when it is none. */
export function parseBasic (header: string | undefined): Credentials | undefined {
  const encoded = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header ?? '')?.[1]
  if (encoded === undefined) return undefined
  const decoded = Buffer.from(encoded, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon === -1) return undefined
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

/**
 * Whether the header carries exactly these credentials. Digests make both sides the same length for
 * `timingSafeEqual`, and both parts are always compared, so the time taken tells nothing about either.
 */
export function hasCredentials (header: string | undefined, expected: Credentials): boolean {
  const given = parseBasic(header)
  const userMatches = timingSafeEqual(digest(given?.username ?? ''), digest(expected.username))
  const passwordMatches = timingSafeEqual(digest(given?.password ?? ''), digest(expected.password))
  return given !== undefined && userMatches && passwordMatches
}

/** An `onRequest` hook: 401 with a Basic challenge unless the request carries the admin credentials. */
export function requireCredentials (expected: Credentials) {
  return async function checkCredentials (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (hasCredentials(request.headers.authorization, expected)) return
    reply.header('www-authenticate', `Basic realm="${REALM}"`)
    throw new AdminAuthError()
  }
}
