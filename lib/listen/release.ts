import { Socket } from 'node:net'

/** The parts of Node's HTTP parser (an internal `HTTPParser`) that releasing a connection needs. */
interface HttpParser {
  _consumed?: boolean
  unconsume (): void
  remove (): void
  close (): void
}

interface HttpSocket extends Socket {
  parser?: unknown
  _httpMessage?: unknown
}

/**
 * The listeners Node's HTTP server (and the response it assigned) put on a connection's socket, by
 * function name: Node itself removes these when it hands a socket to an `upgrade` handler.
 */
const HTTP_SERVER_HANDLERS = new Set([
  'bound socketOnData', 'bound socketOnEnd', 'bound socketOnClose', 'bound socketOnDrain',
  'socketOnError', 'socketOnTimeout', 'onSocketResume', 'onSocketPause', 'onServerResponseClose'
])
const SOCKET_EVENTS = ['data', 'end', 'close', 'drain', 'error', 'timeout', 'resume', 'pause'] as const

function isHttpParser (value: unknown): value is HttpParser {
  const parser = value as Partial<HttpParser> | null
  return typeof parser?.unconsume === 'function' && typeof parser.remove === 'function' &&
    typeof parser.close === 'function'
}

function discard (): void {}

/**
 * Releases what Node's HTTP server keeps for a connection whose response a listener now owns: its
 * parser, the `IncomingMessage`, the `ServerResponse`, the bound handlers. An open response holds
 * about 3.5 KiB of them, more than the socket itself, for as long as the listener listens; Node frees
 * the same things when it gives a socket to an `upgrade` handler, and this does it the same way.
 *
 * Call it once the route is done with the request and its reply is hijacked, outside the parser's own
 * call stack (from `setImmediate`). It returns false and leaves the socket as it is when the socket
 * does not look as Node 20-24 leave it, so a change in Node costs memory, not correctness.
 * From then on the caller owns the socket: it reads and drops what the client sends, and must handle
 * `end` (the server no longer ends a half-closed connection).
 */
export function releaseHttpState (socket: Socket): boolean {
  const held = socket as HttpSocket
  const parser = held.parser
  if (socket.destroyed || !isHttpParser(parser)) return false
  for (const event of SOCKET_EVENTS) {
    for (const handler of socket.listeners(event)) {
      if (HTTP_SERVER_HANDLERS.has(handler.name)) socket.removeListener(event, handler as () => void)
    }
  }
  if (parser._consumed === true) parser.unconsume()
  parser.remove()
  parser.close()
  held.parser = null
  held._httpMessage = null
  // the server wrapped these to unconsume the parser when someone listens to `data`
  socket.on = Socket.prototype.on
  socket.addListener = Socket.prototype.addListener
  socket.prependListener = Socket.prototype.prependListener
  // the server's idle timeout is not a listener's; one that already ended keeps the timeout of its end
  if (!socket.writableEnded) socket.setTimeout(0)
  socket.on('data', discard)
  return true
}
