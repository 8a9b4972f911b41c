// An upstream the test drives by hand: it answers every request with a given head and then sends only
// what the test pushes, so byte counts and gaps are exact.
import { randomBytes } from 'node:crypto'
import net from 'node:net'

/**
 * Random bytes that no format reader takes for audio: no 0xFF (no MPEG frame sync) and no `O` (no Ogg
 * capture pattern, not even a partial one at the end). The relay passes them on at once, byte for byte,
 * and may start a listener anywhere, so tests can count bytes exactly.
 */
export function noise (length: number): Buffer {
  const bytes = randomBytes(length)
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0xff || bytes[i] === 0x4f) bytes[i] = 0x20
  return bytes
}

export interface ScriptedUpstream {
  port: number
  url: (path?: string) => string
  /** request heads received, in order */
  requests: string[]
  /** clients that got a head and now receive pushes */
  clients: Set<net.Socket>
  /** everything pushed so far */
  sent: () => Buffer
  push: (chunk: Buffer) => void
  /** closes every upstream connection (the server keeps accepting) */
  drop: () => void
  /** stops accepting: new connections are refused */
  close: () => Promise<void>
  /** accepts again on the same port after close() */
  reopen: () => Promise<void>
  waitForClients: (n: number, timeoutMs?: number) => Promise<void>
}

export interface ScriptedOptions {
  head?: string
  headers?: Record<string, string>
}

/** Calls `handle` once with the request head (up to the blank line, excluded) a client sends. */
export function onRequestHead (socket: net.Socket, handle: (head: string) => void): void {
  socket.on('error', () => {})
  let pending = ''
  socket.on('data', function onData (data: Buffer) {
    pending += data.toString('latin1')
    const end = pending.indexOf('\r\n\r\n')
    if (end < 0) return
    socket.off('data', onData)
    handle(pending.slice(0, end))
  })
}

export async function scriptedUpstream (options: ScriptedOptions = {}): Promise<ScriptedUpstream> {
  const head = options.head ?? ['HTTP/1.0 200 OK', 'Content-Type: audio/mpeg',
    ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n'
  const clients = new Set<net.Socket>()
  const requests: string[] = []
  const sent: Buffer[] = []
  const waiters = new Set<() => void>()

  function onConnection (socket: net.Socket): void {
    onRequestHead(socket, (request) => {
      requests.push(request)
      socket.write(head)
      clients.add(socket)
      socket.on('close', () => clients.delete(socket))
      for (const wake of [...waiters]) wake()
    })
  }

  let server = net.createServer(onConnection)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port

  return {
    port,
    url: (path = '/stream') => `http://127.0.0.1:${port}${path}`,
    requests,
    clients,
    sent: () => Buffer.concat(sent),
    push (chunk) {
      sent.push(chunk)
      for (const socket of clients) socket.write(chunk)
    },
    drop () {
      for (const socket of clients) socket.destroy()
      clients.clear()
    },
    async close () {
      for (const socket of clients) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
    async reopen () {
      server = net.createServer(onConnection)
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    },
    async waitForClients (n, timeoutMs = 5000) {
      if (clients.size >= n) return
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`only ${clients.size} of ${n} upstream clients`)) }, timeoutMs)
        const check = (): void => {
          if (clients.size < n) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
        waiters.add(check)
      })
    }
  }
}
