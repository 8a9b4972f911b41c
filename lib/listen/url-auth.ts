// Icecast's URL authentication (src/auth_url.c of 2.4.4): a form POST to an auth server when a listener
// comes (listener_add) and when it leaves (listener_remove); the answer's headers decide, its body is not read.
import { basicAuthorization } from '../http.js'
import type { AuthEndpoint, ResolvedUrlAuth } from '../options.js'

/** What Icecast tells the auth server about a listener. */
export interface ListenerFields {
  /** the server's host name */
  server: string
  port: number
  /** the listener's id */
  client: number
  /** the mount as the listener asked for it, with its query string */
  mount: string
  user: string
  pass: string
  ip: string
  agent: string
}

const UNRESERVED = /^[A-Za-z0-9]$/

/**
 * A value as Icecast's util_url_escape writes it: every byte of its UTF-8 but ASCII letters and digits as
 * `%xx` in lower-case hex (a space is `%20`, never `+`), which any form decoder reads.
 */
export function icecastEscape (text: string): string {
  let out = ''
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte)
    out += UNRESERVED.test(char) ? char : `%${byte.toString(16).padStart(2, '0')}`
  }
  return out
}

/** A form body that starts with its action, written as it is, then the escaped fields. */
function form (action: string, pairs: Array<[string, string | number]>): string {
  return [`action=${action}`, ...pairs.map(([name, value]) => `${name}=${typeof value === 'number' ? value : icecastEscape(value)}`)].join('&')
}

/**
 * listener_add's body, in Icecast's order; `passed`: the listener's request headers the config names
 * (`headers`), each under its name after `headerPrefix`.
 */
export function listenerAddBody (fields: ListenerFields, passed: Array<[string, string]> = []): string {
  const { server, port, client, mount, user, pass, ip, agent } = fields
  return form('listener_add', [
    ['server', server], ['port', port], ['client', client], ['mount', mount],
    ['user', user], ['pass', pass], ['ip', ip], ['agent', agent], ...passed
  ])
}

/** listener_remove's body, in Icecast's order; `duration`: whole seconds the listener stayed. */
export function listenerRemoveBody (fields: ListenerFields, duration: number): string {
  const { server, port, client, mount, user, pass, ip, agent } = fields
  return form('listener_remove', [
    ['server', server], ['port', port], ['client', client], ['mount', mount],
    ['user', user], ['pass', pass], ['duration', duration], ['ip', ip], ['agent', agent]
  ])
}

export interface AuthAnswer {
  admitted: boolean
  /** seconds the listener may stay (the time-limit header), when the answer gives a number */
  timeLimit?: number
  /** the time-limit header's value when it is no number (Icecast logs it and sets no limit) */
  badTimeLimit?: string
  /** `icecast-auth-message`: why the auth server refused, for the log */
  message?: string
}

/** The values of a header the answer may repeat (fetch joins repeated lines with ", "). */
function valuesOf (headers: Headers, name: string): string[] | undefined {
  return headers.get(name)?.split(',').map((value) => value.trim())
}

/**
 * What an auth server's answer says, from its headers only, whatever its status (as Icecast): the listener is
 * admitted when it carries the `authHeader` line (its value compared without regard to case), and limited to
 * the seconds of the time-limit header when that is a whole number.
 */
export function readAuthAnswer (headers: Headers, auth: Pick<ResolvedUrlAuth, 'authHeader' | 'timelimitHeader'>): AuthAnswer {
  const expected = auth.authHeader.value.toLowerCase()
  const admitted = valuesOf(headers, auth.authHeader.name)?.some((value) => value.toLowerCase() === expected) ?? false
  const limit = headers.get(auth.timelimitHeader)?.trim()
  const message = headers.get('icecast-auth-message') ?? undefined
  return {
    admitted,
    ...(limit !== undefined && (/^\d{1,10}$/.test(limit) ? { timeLimit: Number(limit) } : { badTimeLimit: limit })),
    ...(message !== undefined && { message })
  }
}

export interface AuthCall {
  timeout: number
  userAgent: string
}

/**
 * POSTs a form to an auth server and resolves with its answer's headers. Rejects when it does not answer
 * within `timeout` seconds, is down, or answers no HTTP. Redirects are not followed (Icecast does not).
 * The body is cancelled unread, so that a huge or endless one costs nothing.
 */
export async function postToAuthServer (endpoint: AuthEndpoint, body: string, call: AuthCall): Promise<Headers> {
  const { credentials } = endpoint
  const response = await fetch(endpoint.url, {
    method: 'POST',
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(call.timeout * 1000),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': call.userAgent,
      ...(credentials !== undefined && { authorization: basicAuthorization(credentials.username, credentials.password) })
    }
  })
  response.body?.cancel().catch(ignore)
  return response.headers
}

function ignore (): void {}
