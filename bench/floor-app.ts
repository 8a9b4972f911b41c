// The floor: the least a relay in Node can do, to tell what of the plugin's figures is Node's and the
// kernel's. A bare `net` server, no HTTP server, no Fastify, no burst, no ICY: it reads the master's mount
// and writes what each upstream read brings (gathered for 5 ms, as the plugin's default writeInterval)
// to every listener socket, in one write each. Plain listeners only. Started by bench/run.ts as the
// server `floor`, with the same IPC as bench/relay-app.ts.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { parseArgs } from 'node:util'
import type { RelayCommand, RelayReply } from './protocol.js'

const { values } = parseArgs({ options: { upstream: { type: 'string' } } })
if (values.upstream === undefined) throw new Error('--upstream URL is required')
const upstream = new URL(values.upstream)
const HEAD = 'HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nConnection: Close\r\n\r\n'
const GATHER_MS = 5

const listeners = new Set<Socket>()
let pending: Buffer[] = []

function flush (): void {
  const chunk = pending.length === 1 ? pending[0]! : Buffer.concat(pending)
  pending = []
  for (const socket of listeners) socket.write(chunk)
}

const server = createServer((socket) => {
  socket.on('error', () => {})
  socket.on('close', () => listeners.delete(socket))
  let request = ''
  socket.on('data', (data: Buffer) => {
    if (listeners.has(socket)) return
    request += data.toString('latin1')
    if (!request.includes('\r\n\r\n')) return
    socket.write(HEAD)
    listeners.add(socket)
  })
})

/** The master's mount: its head is skipped, its body relayed; the parent hears `ready` at the first. */
function relay (): void {
  const source = connect({ host: upstream.hostname, port: Number(upstream.port) }, () => {
    source.write(`GET ${upstream.pathname} HTTP/1.0\r\nHost: ${upstream.host}\r\nUser-Agent: bench-floor\r\n\r\n`)
  })
  let head: Buffer | undefined = Buffer.alloc(0)
  source.on('data', (data: Buffer) => {
    if (head !== undefined) {
      head = Buffer.concat([head, data])
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      data = head.subarray(end + 4)
      head = undefined
      process.send!({ type: 'ready', port: (server.address() as AddressInfo).port } satisfies RelayReply)
      if (data.length === 0) return
    }
    if (pending.length === 0) setTimeout(flush, GATHER_MS)
    pending.push(data)
  })
}

server.listen(0, '127.0.0.1', relay)

process.on('message', (command: RelayCommand) => {
  if (command.type === 'memory') {
    const usage = process.memoryUsage()
    globalThis.gc?.()
    process.send!({ type: 'memory', before: usage, spaces: {}, after: process.memoryUsage() } satisfies RelayReply)
  } else {
    throw new Error(`${command.type} is not supported by the floor server`)
  }
})
process.once('SIGTERM', () => process.exit(0))
