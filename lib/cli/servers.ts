// The CLI's listen sockets, plain and TLS, served by one Fastify app: Fastify's own server (made here, through
// its `serverFactory`) listens on the first socket, and a server of the same kind on each other socket hands
// its requests to the same router (`app.routing`), so every socket has the same routes, hooks and relays.
import { once } from 'node:events'
import http from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyServerFactory, FastifyServerFactoryHandler } from 'fastify'
import type { ListenSocket } from '../config/listen.js'
import { InvalidConfigError } from '../errors.js'
import type { TlsCredentials } from './tls.js'

/**
 * How long a TLS client may take over its handshake (Node's default is two minutes): as long as Icecast's
 * `<header-timeout>` default gives a client for its request head.
 */
export const HANDSHAKE_TIMEOUT_MS = 15000

/** The HTTP server settings Fastify gives its own server, given to every socket's. */
interface ServerSettings {
  keepAliveTimeout: number
  requestTimeout: number
  connectionTimeout: number
  maxRequestsPerSocket: number | null
}

type Handler = FastifyServerFactoryHandler
type AnyServer = http.Server | https.Server

/** A connection by its peer's address and port: the same for a TLS socket as for the TCP socket under it. */
function peerKey (socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`
}

function listenUrl (server: AnyServer, socket: ListenSocket): string {
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : socket.port
  const host = socket.host.includes(':') ? `[${socket.host}]` : socket.host
  return `${socket.tls === true ? 'https' : 'http'}://${host}:${port}`
}

export class ListenSockets {
  readonly #sockets: ListenSocket[]
  readonly #tls: TlsCredentials | undefined
  /** the servers of the sockets after the first */
  readonly #more: AnyServer[] = []
  /** TCP connections of TLS sockets whose handshake has not ended: no HTTP server knows them yet */
  readonly #handshaking = new Map<string, Socket>()
  #closed: Promise<unknown> | undefined

  /** `tls`: the credentials of the sockets that have `tls` (required if one has) */
  constructor (sockets: ListenSocket[], tls: TlsCredentials | undefined) {
    if (sockets.length === 0) throw new InvalidConfigError('no <listen-socket> to listen on')
    this.#sockets = sockets
    this.#tls = tls
  }

  get first (): ListenSocket {
    return this.#sockets[0]!
  }

  /**
   * Fastify's `serverFactory`: the server of the first socket, HTTPS if it has `tls`. Typed as the HTTP server
   * the app is typed with: Node's HTTPS server has every method of it that Fastify and the plugin use.
   */
  readonly serverFactory: FastifyServerFactory = (handler, options) =>
    this.#create(this.first, handler, options as unknown as ServerSettings) as http.Server

  #create (socket: ListenSocket, handler: Handler, settings: ServerSettings): AnyServer {
    const server = socket.tls === true ? this.#https(handler) : http.createServer(handler)
    server.keepAliveTimeout = settings.keepAliveTimeout
    server.requestTimeout = settings.requestTimeout
    server.setTimeout(settings.connectionTimeout)
    if (settings.maxRequestsPerSocket !== null && settings.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = settings.maxRequestsPerSocket
    return server
  }

  #https (handler: Handler): https.Server {
    if (this.#tls === undefined) throw new InvalidConfigError('<listen-socket> <ssl>: TLS needs a certificate')
    const server = https.createServer({ ...this.#tls, handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, handler)
    server.on('connection', (socket: Socket) => {
      const key = peerKey(socket)
      this.#handshaking.set(key, socket)
      socket.once('close', () => { if (this.#handshaking.get(key) === socket) this.#handshaking.delete(key) })
    })
    server.on('secureConnection', (socket: Socket) => { this.#handshaking.delete(peerKey(socket)) })
    return server
  }

  /** Before the app is ready: the other sockets' servers close with it. */
  closeWith (app: FastifyInstance): void {
    app.addHook('preClose', async () => { this.#close() })
    app.addHook('onClose', async () => { await this.#closed })
  }

  /**
   * Once Fastify listens on the first socket: listens on the others, their servers set as Fastify's own (its
   * client error handler, its timeouts). Rejects when one cannot listen.
   */
  async listenOnTheRest (app: FastifyInstance, backlog: number): Promise<void> {
    for (const socket of this.#sockets.slice(1)) {
      const server = this.#create(socket, app.routing, app.initialConfig as ServerSettings)
      for (const handler of app.server.listeners('clientError')) server.on('clientError', handler as () => void)
      this.#more.push(server)
      const listening = once(server, 'listening')
      server.listen({ port: socket.port, host: socket.host, backlog })
      await listening
      app.log.info(`Server listening at ${listenUrl(server, socket)}`)
    }
  }

  /**
   * As Fastify closes its own server (`forceCloseConnections`): no new connections, and the connections
   * that are no listener's are dropped (the plugin ends its listeners), TLS handshakes under way included.
   */
  #close (): void {
    this.#closed = Promise.all(this.#more.map(async (server) => {
      const closed = once(server, 'close')
      server.close()
      server.closeAllConnections()
      await closed
    }))
    for (const socket of this.#handshaking.values()) socket.destroy()
    this.#handshaking.clear()
  }
}
