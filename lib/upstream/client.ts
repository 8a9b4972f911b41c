import net from 'node:net'
import tls, { rootCertificates } from 'node:tls'
import {
  AlreadyStartedError,
  BadRedirectError,
  ConnectError,
  ConnectTimeoutError,
  InvalidOptionError,
  NotAudioError,
  NotPublicError,
  RedirectRefusedError,
  SourceTimeoutError,
  TooManyRedirectsError,
  UpstreamClosedError,
  UpstreamStatusError
} from '../errors.js'
import { ChunkedDecoder } from './chunked.js'
import { HeadParser, type ResponseHead } from './head.js'
import { streamTypeRefusal } from './media.js'
import { isPublicAddress, isSameServer, publicOnlyLookup, type RedirectPolicy } from './redirects.js'
import { buildRequest, type UpstreamTarget } from './request.js'
import { percentDecoded } from '../http.js'

/** The TLS settings an operator may give for an upstream with its own certificate authority. */
export interface UpstreamTlsOptions {
  /** PEM certificates trusted besides the system's, on every https request of the opening */
  ca?: string | string[]
  /** the name the configured server's certificate is checked against (and sent as SNI) */
  servername?: string
  /** false: the configured server's certificate is not checked at all */
  rejectUnauthorized?: boolean
}

/** Logged where `rejectUnauthorized: false` is configured: it turns off what https is for. */
export const UNCHECKED_TLS_WARNING =
  'TLS certificate checks are OFF for this upstream (rejectUnauthorized: false): anyone on the network path can read and change what it sends'

export interface UpstreamOptions {
  /** `http:` or `https:`; credentials in it (`http://user:pass@host/`) are used unless given below. */
  url: URL
  username?: string
  password?: string
  /** Extra request headers, e.g. `{ 'Icy-MetaData': '1' }`. */
  headers?: Record<string, string>
  userAgent: string
  /** Milliseconds for the whole opening: connecting and reading the head, redirects included. */
  connectTimeout: number
  /** Largest response head accepted, in bytes (default 16384). */
  headLimit?: number
  /** Redirects followed before giving up (default 10). */
  maxRedirects?: number
  /** Which redirects are followed (default `same-server`): see RedirectPolicy. */
  redirects?: RedirectPolicy
  /** Every connection, to `url`'s server too, must go to public addresses: `url` came from someone else. */
  publicOnly?: boolean
  /** Milliseconds without data after which a started stream ends; 0 disables the check. */
  sourceTimeout: number
  /** Aborts the opening (not a stream already opened: call `close()` for that). */
  signal?: AbortSignal
  /** Names the upstream in error messages; by default its URL without credentials. */
  label?: string
  /**
   * For https: `ca` on every request; `servername` and `rejectUnauthorized` only towards the server of
   * `url` (and its same-server redirects), never towards another server a redirect names.
   */
  tlsOptions?: UpstreamTlsOptions
  /**
   * Why a 2xx answer of this `Content-Type` is refused (the error to reject with), or undefined to take
   * it. By default only media types are taken, with NotAudioError.
   */
  typeError?: (contentType: string | undefined, label: string) => Error | undefined
}

export interface UpstreamSink {
  /** Body bytes, dechunked, ICY blocks still in. Must not throw. */
  data (chunk: Buffer): void
  /** The stream is over: `SourceTimeoutError`, `UpstreamClosedError`, `BadChunkError` or a socket error. */
  end (error: Error): void
}

export interface UpstreamConnection {
  head: ResponseHead
  /** The URL finally answered, after redirects, without credentials. */
  url: URL
  /**
   * Delivers the body to `sink`: first the bytes that came with the head, then the socket's data.
   * `sink.end` is called exactly once unless `close()` comes first. Can be called once.
   */
  start (sink: UpstreamSink): void
  /** Destroys the socket. Silent: `sink.end` is not called afterwards. */
  close (): void
}

interface Credentials {
  username?: string
  password?: string
}

/** How one request's socket connects. */
interface ConnectOptions {
  tls: tls.ConnectionOptions
  /** A checking resolver, for a host that must resolve to public addresses only. */
  lookup?: net.LookupFunction
}

/** What one request needs. */
interface Attempt {
  target: UpstreamTarget
  url: URL
  request: Buffer
  label: string
  headLimit: number | undefined
  sourceTimeout: number
  connect: ConnectOptions
  signal: AbortSignal
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
const EMPTY = Buffer.alloc(0)

/**
 * Connects to an upstream stream server, sends the request, follows the redirects `redirects` allows
 * and reads the response head (HTTP/1.x or ICY). Resolves once a 2xx head of an accepted media type has
 * arrived; rejects with an error from lib/errors.ts (or the signal's reason), every socket destroyed.
 */
export async function openUpstream (options: UpstreamOptions): Promise<UpstreamConnection> {
  const first = checkedUrl(options.url)
  let url = first
  let credentials: Credentials = {
    username: options.username ?? urlCredentials(url).username,
    password: options.password ?? urlCredentials(url).password
  }
  /** Credentials that a redirect to another server left behind. */
  let withheld = false
  const maxRedirects = options.maxRedirects ?? 10
  const policy = options.redirects ?? 'same-server'
  const name = options.label ?? withoutCredentials(first).href
  // Errors after a redirect name where it led: a 401 from there is not the configured server's.
  const labelOf = (at: URL): string => at === first ? name : `${name} (redirected to ${withoutCredentials(at).href})`
  const opening = openingSignal(options, () => new ConnectTimeoutError(labelOf(url), options.connectTimeout))
  try {
    for (let redirects = 0; ; redirects++) {
      const target = targetOf(url, credentials)
      const connection = await exchange({
        target,
        url,
        request: buildRequest(target, { userAgent: options.userAgent, headers: options.headers }),
        label: labelOf(url),
        headLimit: options.headLimit,
        sourceTimeout: options.sourceTimeout,
        connect: connectOptions({ first, url, policy, publicOnly: options.publicOnly === true }, options.tlsOptions, name),
        signal: opening.signal
      })
      if (!REDIRECTS.has(connection.head.status)) {
        return accepted(connection, labelOf(url), withheld, options.typeError ?? notAudio)
      }
      connection.close()
      if (redirects === maxRedirects) throw new TooManyRedirectsError(name, maxRedirects)
      const next = redirectTarget(connection.head, url, labelOf(url))
      assertFollowed(policy, first, next, name)
      const nextCredentials = credentialsFor(next, url, credentials)
      withheld ||= hasCredentials(credentials) && !hasCredentials(nextCredentials)
      credentials = nextCredentials
      url = next
    }
  } finally {
    opening.dispose()
  }
}

function checkedUrl (url: URL): URL {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOptionError('url', `${url.protocol} is neither http: nor https:`)
  }
  return url
}

/** One signal for the whole opening: the caller's abort or the connect timeout, whichever comes first. */
function openingSignal (
  options: Pick<UpstreamOptions, 'signal' | 'connectTimeout'>,
  timeoutError: () => Error
): { signal: AbortSignal, dispose (): void } {
  const controller = new AbortController()
  const external = options.signal
  const forward = (): void => controller.abort(external?.reason)
  const timer = setTimeout(() => controller.abort(timeoutError()), options.connectTimeout).unref()
  if (external?.aborted === true) forward()
  else external?.addEventListener('abort', forward, { once: true })
  return {
    signal: controller.signal,
    dispose () {
      clearTimeout(timer)
      external?.removeEventListener('abort', forward)
    }
  }
}

/**
 * The status of an upstream that refused the relay for want of credentials (401) or for the ones it sent
 * (403): what no retry soon will change; undefined for any other failure.
 */
export function refusalStatus (error: unknown): 401 | 403 | undefined {
  const status = (error as { upstreamStatus?: unknown } | null)?.upstreamStatus
  return status === 401 || status === 403 ? status : undefined
}

/** Rejects what is not a stream; hands on what is. */
function accepted (
  connection: Connection,
  label: string,
  withheld: boolean,
  typeError: NonNullable<UpstreamOptions['typeError']>
): Connection {
  const { status, reason, headers } = connection.head
  let error: Error | undefined
  if (status < 200 || status > 299) {
    const note = status === 401 && withheld ? ' (the credentials were not forwarded past a redirect to another server)' : ''
    error = Object.assign(new UpstreamStatusError(label, status, reason + note), { upstreamStatus: status })
  } else {
    error = typeError(headers['content-type'], label)
  }
  if (error === undefined) return connection
  connection.close()
  throw error
}

function notAudio (contentType: string | undefined, label: string): Error | undefined {
  const refusal = streamTypeRefusal(contentType)
  return refusal === undefined ? undefined : new NotAudioError(label, contentType, refusal)
}

/** Throws unless the policy follows a redirect from the configured server `first` to `next`. */
function assertFollowed (policy: RedirectPolicy, first: URL, next: URL, name: string): void {
  if (policy !== 'same-server' || isSameServer(first, next)) return
  throw new RedirectRefusedError(name, withoutCredentials(next).href,
    `another server than ${first.host} (the option redirects: 'public' or 'any' allows it)`)
}

/** A private CA's certificates beside the system's roots: Node's `ca` option replaces the roots. */
export function withSystemRoots (ca: string | string[]): string[] {
  return [...rootCertificates, ...[ca].flat()]
}

interface ConnectTarget {
  /** the configured server */
  first: URL
  url: URL
  policy: RedirectPolicy
  publicOnly: boolean
}

/**
 * How to connect to `url`: the operator's TLS settings for its own server, and a resolver that lets only
 * public addresses be reached where they must be: another server under the `public` policy, or any
 * server of a `publicOnly` opening.
 */
function connectOptions (
  { first, url, policy, publicOnly }: ConnectTarget, tlsOptions: UpstreamTlsOptions | undefined, name: string
): ConnectOptions {
  const { ca, servername, rejectUnauthorized } = tlsOptions ?? {}
  const ownServer = isSameServer(first, url)
  const tls = {
    ...(ca !== undefined && { ca: withSystemRoots(ca) }),
    ...(ownServer && servername !== undefined && { servername }),
    ...(ownServer && rejectUnauthorized !== undefined && { rejectUnauthorized })
  }
  if (!publicOnly && (ownServer || policy !== 'public')) return { tls }
  const refusal = (host: string, address: string): Error => {
    const why = `${host === address ? address : `${host} resolves to ${address}, which`} is not a public address`
    return url === first ? new NotPublicError(name, why) : new RedirectRefusedError(name, withoutCredentials(url).href, `${why} (${publicOnly ? 'publicOnly' : "redirects: 'public'"})`)
  }
  const host = bareHost(url)
  if (net.isIP(host) !== 0 && !isPublicAddress(host)) throw refusal(host, host)
  return { tls, lookup: publicOnlyLookup(refusal) }
}

function redirectTarget (head: ResponseHead, from: URL, label: string): URL {
  const location = head.headers.location
  if (location === undefined || location === '') throw new BadRedirectError(label, '(none)')
  let next: URL
  try {
    next = new URL(location, from)
  } catch {
    throw new BadRedirectError(label, JSON.stringify(location))
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new BadRedirectError(label, JSON.stringify(location))
  return next
}

/**
 * Credentials written in the Location win; otherwise ours follow only to the same server, so a redirect
 * cannot make us hand them to another one.
 */
function credentialsFor (next: URL, from: URL, current: Credentials): Credentials {
  const own = urlCredentials(next)
  if (hasCredentials(own)) return own
  return isSameServer(from, next) ? current : {}
}

function hasCredentials (credentials: Credentials): boolean {
  return credentials.username !== undefined || credentials.password !== undefined
}

/** The URL's user and password, percent-decoded; undefined when empty. */
function urlCredentials (url: URL): Credentials {
  return { username: decoded(url.username), password: decoded(url.password) }
}

/** A URL's own user or password part, percent-decoded; a badly encoded one is taken as written. */
function decoded (component: string): string | undefined {
  return component === '' ? undefined : percentDecoded(component) ?? component
}

function withoutCredentials (url: URL): URL {
  const copy = new URL(url)
  copy.username = ''
  copy.password = ''
  return copy
}

/** URL keeps IPv6 literals in brackets; sockets want them bare. */
function bareHost (url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1')
}

function targetOf (url: URL, credentials: Credentials): UpstreamTarget {
  const tls = url.protocol === 'https:'
  return {
    tls,
    host: bareHost(url),
    port: url.port === '' ? (tls ? 443 : 80) : Number(url.port),
    path: url.pathname + url.search,
    ...credentials
  }
}

function connect (target: UpstreamTarget, options: ConnectOptions): net.Socket {
  // No TCP keep-alive: the source timeout notices a dead upstream sooner than keep-alive probes.
  const where = { host: target.host, port: target.port, keepAlive: false, ...(options.lookup && { lookup: options.lookup }) }
  if (!target.tls) return net.connect(where)
  // tls.connect sends no SNI unless told; RFC 6066 forbids an IP address there.
  const servername = net.isIP(target.host) === 0 ? { servername: target.host } : {}
  return tls.connect({ ...servername, ...options.tls, ...where })
}

/** One request and its response head, on a fresh socket. */
function exchange (attempt: Attempt): Promise<Connection> {
  const { signal, label } = attempt
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason)
      return
    }
    const socket = connect(attempt.target, attempt.connect)
    const parser = new HeadParser(label, attempt.headLimit)
    const detach = (): void => {
      socket.off('data', onData)
      socket.off('error', onError)
      socket.off('close', onClose)
      signal.removeEventListener('abort', onAbort)
    }
    const fail = (error: unknown): void => {
      detach()
      socket.destroy()
      reject(error)
    }
    function onData (chunk: Buffer): void {
      let parsed
      try {
        parsed = parser.push(chunk)
      } catch (error) {
        fail(error)
        return
      }
      if (parsed === undefined) return
      socket.pause()
      detach()
      resolve(new Connection(socket, parsed.head, parsed.rest, attempt))
    }
    function onError (error: Error): void {
      // the checking lookup's own refusals say more than a connect failure would
      const refused = error instanceof RedirectRefusedError || error instanceof NotPublicError
      fail(refused ? error : new ConnectError(label, error.message, { cause: error }))
    }
    function onClose (): void {
      fail(new ConnectError(label, 'closed before the end of the response head'))
    }
    function onAbort (): void {
      fail(signal.reason)
    }
    socket.on('data', onData)
    socket.on('error', onError)
    socket.on('close', onClose)
    signal.addEventListener('abort', onAbort, { once: true })
    socket.write(attempt.request)
  })
}

/** A socket whose head has been read, paused until `start`. */
class Connection implements UpstreamConnection {
  readonly head: ResponseHead
  readonly url: URL
  readonly #socket: net.Socket
  readonly #label: string
  readonly #sourceTimeout: number
  readonly #decoder: ChunkedDecoder | undefined
  #rest: Buffer
  #sink: UpstreamSink | undefined
  /** Why the socket ended before `start`; told to the sink after the bytes that came with the head. */
  #pending: Error | undefined
  /** No more calls to the sink. */
  #over = false

  constructor (socket: net.Socket, head: ResponseHead, rest: Buffer, attempt: Attempt) {
    this.head = head
    this.url = withoutCredentials(attempt.url)
    this.#socket = socket
    this.#label = attempt.label
    this.#sourceTimeout = attempt.sourceTimeout
    this.#decoder = isChunked(head) ? new ChunkedDecoder(attempt.label) : undefined
    this.#rest = rest
    socket.on('error', (error) => this.#ended(error))
    socket.on('close', () => this.#ended(new UpstreamClosedError(this.#label)))
    socket.on('timeout', () => this.#finish(new SourceTimeoutError(this.#label, this.#sourceTimeout)))
  }

  start (sink: UpstreamSink): void {
    if (this.#sink !== undefined) throw new AlreadyStartedError()
    this.#sink = sink
    if (this.#over) return
    const rest = this.#rest
    this.#rest = EMPTY
    this.#feed(rest)
    if (this.#pending !== undefined) {
      this.#finish(this.#pending)
      return
    }
    if (this.#over) return
    this.#socket.on('data', (chunk: Buffer) => this.#feed(chunk))
    // The socket's own idle timer: reset by Node on every read, no timer work per chunk here.
    this.#socket.setTimeout(this.#sourceTimeout)
    this.#socket.resume()
  }

  close (): void {
    this.#over = true
    this.#socket.destroy()
  }

  #feed (chunk: Buffer): void {
    if (this.#over) return
    if (this.#decoder === undefined) {
      if (chunk.length > 0) this.#sink!.data(chunk)
      return
    }
    let body
    try {
      body = this.#decoder.push(chunk)
    } catch (error) {
      this.#finish(error as Error)
      return
    }
    for (const piece of body) {
      if (this.#over) return
      this.#sink!.data(piece)
    }
    if (this.#decoder.done) this.#finish(new UpstreamClosedError(this.#label))
  }

  /** The socket failed or closed: tell the sink, or keep the reason until there is one. */
  #ended (error: Error): void {
    if (this.#sink !== undefined) {
      this.#finish(error)
      return
    }
    this.#pending ??= error
    this.#socket.destroy()
  }

  #finish (error: Error): void {
    if (this.#over) return
    this.#over = true
    this.#socket.destroy()
    this.#sink!.end(error)
  }
}

function isChunked (head: ResponseHead): boolean {
  const codings = head.headers['transfer-encoding']?.split(',')
  return head.protocol === 'HTTP/1.1' && codings?.at(-1)?.trim().toLowerCase() === 'chunked'
}
