import { createHash, timingSafeEqual } from 'node:crypto'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AuthRateLimitedError } from './errors.js'
import type { Limits } from './options.js'

export interface BasicCredentials {
  username: string
  password: string
}

/** The realm Icecast names, so that clients written for it (and people reading their prompts) see the same. */
export const REALM = 'Icecast2 Server'

const BASIC = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i

function digest (text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/** The decoded `user:pass` of a Basic `Authorization` header, or undefined when it carries none. */
function basicToken (header: string | undefined): string | undefined {
  const encoded = header === undefined ? undefined : BASIC.exec(header)?.[1]
  return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8')
}

/**
 * Whether an `Authorization` header carries exactly these Basic credentials. The comparison takes the
 * same time wherever the first difference is: both sides are hashed to equal-length digests first.
 * User names cannot hold a colon (the options refuse one), so `user:pass` names one pair only.
 */
export function hasBasicCredentials (header: string | undefined, expected: BasicCredentials): boolean {
  const given = basicToken(header)
  const match = timingSafeEqual(digest(given ?? ''), digest(`${expected.username}:${expected.password}`))
  return given !== undefined && match
}

/** The Basic credentials a request gives (a listener's `http://user:pass@host/mount`), split at the first colon. */
export function basicCredentialsOf (header: string | undefined): BasicCredentials | undefined {
  const token = basicToken(header)
  const colon = token?.indexOf(':') ?? -1
  return token === undefined || colon < 0 ? undefined : { username: token.slice(0, colon), password: token.slice(colon + 1) }
}

/**
 * Whether an `Authorization` header logs in as `expected`'s user: undefined when it gives no Basic credentials
 * or another user's, else whether its password is right. Both compared in constant time.
 */
export function loginAs (header: string | undefined, expected: BasicCredentials): boolean | undefined {
  const given = basicCredentialsOf(header)
  if (given === undefined || !sameSecret(given.username, expected.username)) return undefined
  return sameSecret(given.password, expected.password)
}

/** Whether two secrets are equal, in a time that does not tell where they first differ. */
export function sameSecret (a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b))
}

/** Icecast's answer to missing or wrong credentials. */
export function sendUnauthorized (reply: FastifyReply): FastifyReply {
  return reply
    .code(401)
    .header('www-authenticate', `Basic realm="${REALM}"`)
    .type('text/plain; charset=utf-8')
    .send('You need to authenticate\r\n')
}

function clientAddress (request: FastifyRequest): string {
  return request.ip
}

export type CredentialsCheck = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

/**
 * An `onRequest` hook that lets only requests with these Basic credentials through (others get Icecast's
 * 401) and slows password guessing down: once an address has sent more than `limits.authFailures` wrong
 * credentials within `limits.authWindow` seconds, each of its requests answers 429 with Retry-After until
 * the window ends. The right credentials never count, but they wait too: a 200 among the 429s would tell a
 * guesser which guess was right. @fastify/rate-limit is registered in `fastify`, an encapsulated
 * sub-plugin, so no route of the host app is limited.
 */
export async function basicAuthGuard (
  fastify: FastifyInstance, expected: BasicCredentials, limits: Pick<Limits, 'authFailures' | 'authWindow'>
): Promise<CredentialsCheck> {
  const failures = await failureLimiter(fastify, limits)
  return async function checkCredentials (request, reply) {
    const granted = hasBasicCredentials(request.headers.authorization, expected)
    await failures(request, reply, granted)
    if (!granted) await sendUnauthorized(reply)
  }
}

/**
 * Counts a request's credentials, right or wrong; throws AuthRateLimitedError (429, with Retry-After) for an
 * address past `limits.authFailures` wrong ones within `limits.authWindow` seconds.
 */
export type FailureLimiter = (request: FastifyRequest, reply: FastifyReply, granted: boolean) => Promise<void>

/** A FailureLimiter; @fastify/rate-limit is registered in `fastify`, which should be an encapsulated sub-plugin. */
export async function failureLimiter (
  fastify: FastifyInstance, limits: Pick<Limits, 'authFailures' | 'authWindow'>
): Promise<FailureLimiter> {
  await fastify.register(rateLimit, { global: false })
  // The key and allow-list are given, not inherited: a host app that registered the library first has its own
  // (a header the client chooses, say), and the library then hands out the host's `createRateLimit`.
  const failures = fastify.createRateLimit({
    max: limits.authFailures,
    timeWindow: limits.authWindow * 1000,
    keyGenerator: clientAddress,
    allowList: []
  })
  return async function countFailure (request, reply, granted) {
    const counted = await failures(request, { increment: !granted })
    if (!counted.isAllowed && counted.isExceeded) {
      reply.header('retry-after', counted.ttlInSeconds)
      throw new AuthRateLimitedError(counted.ttlInSeconds)
    }
  }
}
