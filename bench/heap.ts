// node --expose-gc --import tsx bench/heap.ts [--n 2000]
// What one open listener connection keeps on the JS heap, after a full garbage collection, for servers
// of growing weight: a bare `net` server, a bare `http` server holding the response open (and the same
// once releaseHttpState let it go), a Fastify route that hijacks it, and the plugin.
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { noise, scriptedUpstream } from '../test/helpers/scripted.js'
import fastifyIcecastRelay from '../lib/index.js'
import { releaseHttpState } from '../lib/listen/release.js'
import { startLoad } from './servers.js'

const { values } = parseArgs({ options: { n: { type: 'string', default: '2000' } } })
const N = Number(values.n)
const HEAD = 'HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n'
/** about 128 kbit/s, as the bench's stream: the load counts a listener in at its first body byte */
const CHUNK = noise(4000)
const EVERY_MS = 250

interface Subject {
  port: number
  close (): Promise<void>
}

/** The held sockets of the bare servers get CHUNK every EVERY_MS, as a relay would send them. */
function feeder (sockets: Set<Socket>): () => void {
  const timer = setInterval(() => { for (const socket of sockets) socket.write(CHUNK) }, EVERY_MS)
  return () => clearInterval(timer)
}

function hold (sockets: Set<Socket>, socket: Socket): void {
  socket.write(HEAD)
  sockets.add(socket)
  socket.on('close', () => sockets.delete(socket))
  // a released socket is half-open (the HTTP server's option) and nobody else ends it
  socket.on('end', () => socket.end())
  socket.on('error', () => {})
}

async function listening (server: NetServer | HttpServer, stop: () => void): Promise<Subject> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    async close () {
      stop()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

async function fastifyListening (app: FastifyInstance, stop: () => void): Promise<Subject> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    port: (app.server.address() as AddressInfo).port,
    async close () {
      stop()
      await app.close()
    }
  }
}

/** Fastify as the bench's relay app runs it: warnings logged, request logging off. */
function fastify (): FastifyInstance {
  return Fastify({ logger: { level: 'warn' }, logController: new LogController({ disableRequestLogging: true }) })
}

const SUBJECTS: Record<string, () => Promise<Subject>> = {
  async net () {
    const sockets = new Set<Socket>()
    const server = createNetServer((socket) => socket.once('data', () => hold(sockets, socket)))
    return await listening(server, feeder(sockets))
  },
  async http () {
    const sockets = new Set<Socket>()
    const server = createHttpServer((request) => hold(sockets, request.socket))
    return await listening(server, feeder(sockets))
  },
  async 'bare `http` server, then releaseHttpState' () {
    const sockets = new Set<Socket>()
    const server = createHttpServer((request) => {
      hold(sockets, request.socket)
      setImmediate(releaseHttpState, request.socket)
    })
    return await listening(server, feeder(sockets))
  },
  async 'fastify hijack' () {
    const sockets = new Set<Socket>()
    const app = fastify()
    app.get('/live.mp3', async (request, reply) => {
      reply.hijack()
      hold(sockets, request.raw.socket)
    })
    return await fastifyListening(app, feeder(sockets))
  },
  async plugin () {
    const upstream = await scriptedUpstream()
    const app = fastify()
    await app.register(fastifyIcecastRelay, { relays: [{ url: upstream.url('/live.mp3') }], limits: { clients: 1_000_000 } })
    const timer = setInterval(() => upstream.push(CHUNK), EVERY_MS)
    const subject = await fastifyListening(app, () => clearInterval(timer))
    await upstream.waitForClients(1)
    return {
      port: subject.port,
      async close () {
        await subject.close()
        await upstream.close()
      }
    }
  }
}

function heapUsed (): number {
  globalThis.gc!()
  return process.memoryUsage().heapUsed
}

console.log(`| server | heap bytes per open listener (N = ${N}) |\n| --- | ---: |`)
for (const [name, start] of Object.entries(SUBJECTS)) {
  const subject = await start()
  await sleep(1000)
  const before = heapUsed()
  const load = startLoad()
  const url = `http://127.0.0.1:${subject.port}/live.mp3`
  await load.request({ type: 'open', groups: [{ label: name, url, n: N, icy: false }], reference: url, samples: 0, admissionTimeoutMs: 30000 }, 'admitted', 60000)
  await sleep(2000)
  const perListener = (heapUsed() - before) / N
  await load.request({ type: 'close' }, 'closed', 30000)
  await load.stop()
  await subject.close()
  console.log(`| ${name} | ${perListener.toFixed(0)} |`)
}
