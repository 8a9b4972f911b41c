import type { FastifyReply, FastifyRequest } from 'fastify'
import { hasBasicCredentials, sendUnauthorized } from '../auth.js'
import type { Credentials } from '../options.js'

/** An `onRequest` hook: Icecast's 401 with a Basic challenge unless the request carries the admin credentials. */
export function requireCredentials (expected: Credentials) {
  return async function checkCredentials (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!hasBasicCredentials(request.headers.authorization, expected)) await sendUnauthorized(reply)
  }
}
