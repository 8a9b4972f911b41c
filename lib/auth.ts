import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply } from 'fastify'

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

/**
 * Whether an `Authorization` header carries exactly these Basic credentials. The comparison takes the
 * same time wherever the first difference is: both sides are hashed to equal-length digests first.
 * User names cannot hold a colon (the options refuse one), so `user:pass` names one pair only.
 */
export function hasBasicCredentials (header: string | undefined, expected: BasicCredentials): boolean {
  const encoded = header === undefined ? undefined : BASIC.exec(header)?.[1]
  const given = encoded === undefined ? '' : Buffer.from(encoded, 'base64').toString('utf8')
  const match = timingSafeEqual(digest(given), digest(`${expected.username}:${expected.password}`))
  return encoded !== undefined && match
}

/** Icecast's answer to missing or wrong credentials. */
export function sendUnauthorized (reply: FastifyReply): FastifyReply {
  return reply
    .code(401)
    .header('www-authenticate', `Basic realm="${REALM}"`)
    .type('text/plain; charset=utf-8')
    .send('You need to authenticate\r\n')
}
