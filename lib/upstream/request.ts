import { BadUpstreamRequestError } from '../errors.js'
import { basicAuthorization, bracketedHost } from '../http.js'

/** Where one upstream request goes. `host` is bare (IPv6 without brackets), `path` includes the query. */
export interface UpstreamTarget {
  tls: boolean
  host: string
  port: number
  path: string
  username?: string
  password?: string
}

export interface RequestOptions {
  userAgent: string
  /** Extra headers, e.g. `{ 'Icy-MetaData': '1' }`; one with the name of a built-in header replaces it. */
  headers?: Record<string, string>
}

// A CR or LF would end the header line early and let a configured value (a mount, a password)
// inject headers of its own; a NUL truncates lines in C servers such as Icecast.
const LINE_BREAKING = /[\r\n\0]/
// RFC 9110 token: anything else in a header name is either rejected by servers or an injection.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// The request line is split on spaces, so the path can hold no whitespace or control character.
const REQUEST_TARGET = /^\/[^\s\0-\x1f\x7f]*$/ // eslint-disable-line no-control-regex

/** The bytes of `GET <path> HTTP/1.0` with Host, User-Agent, extra headers and Basic auth. */
export function buildRequest (target: UpstreamTarget, opts: RequestOptions): Buffer {
  if (!REQUEST_TARGET.test(target.path)) {
    throw new BadUpstreamRequestError(`upstream path must start with / and hold no whitespace: ${JSON.stringify(target.path)}`)
  }
  const fields: Array<[string, string]> = [
    ['Host', hostHeader(target)],
    ['User-Agent', opts.userAgent]
  ]
  for (const [name, value] of Object.entries(opts.headers ?? {})) {
    replaceField(fields, name, value)
  }
  if (target.username !== undefined || target.password !== undefined) {
    replaceField(fields, 'Authorization', checkedBasicAuthorization(target.username ?? '', target.password ?? ''))
  }
  let text = `GET ${target.path} HTTP/1.0\r\n`
  for (const [name, value] of fields) {
    text += `${checkedName(name)}: ${checkedValue(name, value)}\r\n`
  }
  // UTF-8, not Latin-1: Latin-1 encoding keeps only the low byte of each character, so U+010A
  // would become a bare LF on the wire and slip past the check above.
  return Buffer.from(text + '\r\n', 'utf8')
}

/** `host[:port]`, the port left out when it is the scheme's default; IPv6 literals in brackets. */
function hostHeader (target: Pick<UpstreamTarget, 'tls' | 'host' | 'port'>): string {
  const host = bracketedHost(target.host)
  const defaultPort = target.tls ? 443 : 80
  return target.port === defaultPort ? host : `${host}:${target.port}`
}

/** The upstream's Basic credentials, refused when a header could not carry them as given. */
function checkedBasicAuthorization (username: string, password: string): string {
  // The first colon separates the user from the password, so a user name cannot hold one.
  if (username.includes(':')) throw new BadUpstreamRequestError('upstream username must not contain ":"')
  checkedValue('username', username)
  checkedValue('password', password)
  return basicAuthorization(username, password)
}

function replaceField (fields: Array<[string, string]>, name: string, value: string): void {
  const lower = name.toLowerCase()
  const index = fields.findIndex(([existing]) => existing.toLowerCase() === lower)
  if (index === -1) fields.push([name, value])
  else fields[index] = [name, value]
}

function checkedName (name: string): string {
  if (!TOKEN.test(name)) throw new BadUpstreamRequestError(`invalid upstream request header name: ${JSON.stringify(name)}`)
  return name
}

function checkedValue (name: string, value: string): string {
  if (LINE_BREAKING.test(value)) {
    throw new BadUpstreamRequestError(`upstream request ${name} must not contain CR, LF or NUL`)
  }
  return value
}
