// A master the test drives by hand: it answers /admin/streamlist.txt with whatever the test sets and
// streams any listed mount as audio/mpeg until the test drops it. Raw sockets, so requests are seen as sent.
import net from 'node:net'
import { onRequestHead } from './scripted.js'

export interface StreamlistAnswer {
  status?: number
  contentType?: string
  body?: string
  /** accept the request and never answer */
  hang?: boolean
  /** keep the connection open after the body */
  keepOpen?: boolean
  contentLength?: boolean
}

export interface RecordedRequest {
  path: string
  /** lower-cased header names */
  headers: Record<string, string>
  at: number
}

export interface FakeMaster {
  port: number
  url: (path?: string) => string
  requests: RecordedRequest[]
  /** stream list requests only */
  polls: () => RecordedRequest[]
  /** what the next stream list requests get */
  answer: StreamlistAnswer
  /** the mounts it streams (any path in it gets a stream) */
  mounts: Set<string>
  /** ends every stream connection of a mount */
  drop: (mount: string) => void
  /** writes bytes to every open stream */
  push: (chunk: Buffer) => void
  close: () => Promise<void>
}

function parseRequest (text: string): RecordedRequest {
  const [requestLine = '', ...lines] = text.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { path: requestLine.split(' ')[1] ?? '', headers, at: Date.now() }
}

export async function fakeMaster (answer: StreamlistAnswer = {}): Promise<FakeMaster> {
  const requests: RecordedRequest[] = []
  const streams = new Map<net.Socket, string>()
  const sockets = new Set<net.Socket>()
  const master = { answer, mounts: new Set<string>() }

  function respond (socket: net.Socket, request: RecordedRequest): void {
    if (request.path === '/admin/streamlist.txt') {
      const a = master.answer
      if (a.hang === true) return
      const body = Buffer.from(a.body ?? '')
      const length = a.contentLength === true ? `Content-Length: ${body.length}\r\n` : ''
      socket.write(`HTTP/1.0 ${a.status ?? 200} X\r\nContent-Type: ${a.contentType ?? 'text/plain'}\r\n${length}\r\n`)
      if (a.keepOpen === true) socket.write(body)
      else socket.end(body)
      return
    }
    if (!master.mounts.has(request.path)) {
      socket.end('HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\n')
      return
    }
    socket.write('HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n')
    streams.set(socket, request.path)
    socket.on('close', () => streams.delete(socket))
  }

  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    onRequestHead(socket, (head) => {
      const request = parseRequest(head)
      requests.push(request)
      respond(socket, request)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    requests,
    polls: () => requests.filter((r) => r.path === '/admin/streamlist.txt'),
    get answer () { return master.answer },
    set answer (value) { master.answer = value },
    mounts: master.mounts,
    drop (mount) {
      for (const [socket, path] of streams) if (path === mount) socket.destroy()
    },
    push (chunk) {
      for (const socket of streams.keys()) socket.write(chunk)
    },
    async close () {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** `Basic base64(user:pass)` */
export function basic (username: string, password: string): string {
  return 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64')
}
