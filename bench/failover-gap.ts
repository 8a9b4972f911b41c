// The gap a listener hears across a failover, with and without hot standby. Two paced upstreams on
// 127.0.0.2 and 127.0.0.3 play one program (like two servers of one source): 128 kbit/s MP3 frames whose
// payload carries the frame's number on a shared clock and which upstream sent it; each answers a new
// connection with a burst of its latest audio first, as Icecast does (burst-size 65535). A raw listener of
// the relay records every frame; the main upstream's server is killed; then:
//   wall gap: from the listener's last frame of A to its first frame of B (ms);
//   audio:    frames of the program skipped (> 0: lost) or heard twice (< 0: repeated) across the switch.
// Run: node --import tsx bench/failover-gap.ts [--runs 5] [--json out.json]
import Fastify from 'fastify'
import net from 'node:net'
import { writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import fastifyIcecastRelay from '../lib/index.js'

const FRAME_BYTES = 417
const FRAME_MS = 1152 / 44100 * 1000
/** Icecast's default burst-size: what a new connection gets of the latest audio first */
const BURST_FRAMES = Math.ceil(65535 / FRAME_BYTES)
const HEAD = 'HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n'

/** Frame `n` of the program as upstream `source` sends it: the number in nibbles (no 0xFF, no `O`). */
function frame (n: number, source: number): Buffer {
  const b = Buffer.alloc(FRAME_BYTES, 0x20)
  b.set([0xff, 0xfb, 0x90, 0x00])
  b[4] = 0x10 + source
  for (let i = 0; i < 8; i++) b[5 + i] = 0x10 + ((n >>> (28 - 4 * i)) & 0xf)
  return b
}

function readFrame (b: Buffer, at: number): { n: number, source: number } {
  let n = 0
  for (let i = 0; i < 8; i++) n = n * 16 + (b[at + 5 + i]! - 0x10)
  return { n, source: b[at + 4]! - 0x10 }
}

interface Upstream { url: string, kill: () => Promise<void>, stop: () => void }

/** A server on `host` that sends the program in real time, frame `n` at `t0 + n * FRAME_MS`. */
async function pacedUpstream (host: string, source: number, t0: number): Promise<Upstream> {
  const clients = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', () => {
      const now = Math.floor((Date.now() - t0) / FRAME_MS)
      const burst = []
      for (let n = Math.max(0, now - BURST_FRAMES + 1); n <= now; n++) burst.push(frame(n, source))
      socket.write(HEAD)
      socket.write(Buffer.concat(burst))
      clients.add(socket)
      socket.on('close', () => clients.delete(socket))
    })
  })
  let sent = Math.floor((Date.now() - t0) / FRAME_MS)
  const timer = setInterval(() => {
    const now = Math.floor((Date.now() - t0) / FRAME_MS)
    for (; sent < now; sent++) for (const socket of clients) socket.write(frame(sent + 1, source))
  }, 5)
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  const { port } = server.address() as AddressInfo
  const stop = (): void => {
    clearInterval(timer)
    for (const socket of clients) socket.destroy()
  }
  return {
    url: `http://${host}:${port}/live`,
    stop,
    kill: async () => {
      stop()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

interface Heard { at: number, n: number, source: number }

/** A raw listener that notes each whole frame as it arrives. */
function rawListener (port: number): { heard: Heard[], close: () => void } {
  const heard: Heard[] = []
  let carry = Buffer.alloc(0)
  let synced = false
  const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /gap HTTP/1.0\r\n\r\n'))
  socket.on('error', () => {})
  socket.on('data', (data: Buffer) => {
    const at = performance.now()
    carry = Buffer.concat([carry, data])
    if (!synced) {
      const end = carry.indexOf('\r\n\r\n')
      if (end < 0) return
      carry = carry.subarray(end + 4)
      synced = true
    }
    let i = 0
    for (; i + FRAME_BYTES <= carry.length; i += FRAME_BYTES) {
      if (carry[i] !== 0xff || carry[i + 1] !== 0xfb) throw new Error('the listener got a broken frame')
      heard.push({ at, ...readFrame(carry, i) })
    }
    carry = carry.subarray(i)
  })
  return { heard, close: () => socket.destroy() }
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

interface Gap { wallMs: number, audioMs: number, standby: boolean }

async function once (standby: boolean): Promise<Gap> {
  const t0 = Date.now()
  const [a, b] = await Promise.all([pacedUpstream('127.0.0.2', 0, t0), pacedUpstream('127.0.0.3', 1, t0)])
  const app = Fastify()
  await app.register(fastifyIcecastRelay, {
    limits: { gracePeriod: 10 },
    relays: [{ localMount: '/gap', upstreams: [{ url: a.url }, { url: b.url }], standby }]
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  try {
    const listener = rawListener((app.server.address() as AddressInfo).port)
    // long enough for a full burst of B's latest audio on a new connection
    await sleep(5000)
    await a.kill()
    await sleep(1500)
    listener.close()
    const lastA = listener.heard.findLast((h) => h.source === 0)
    const firstB = listener.heard.find((h) => h.source === 1)
    if (lastA === undefined || firstB === undefined) throw new Error('the listener did not get both upstreams')
    return { standby, wallMs: firstB.at - lastA.at, audioMs: (firstB.n - lastA.n - 1) * FRAME_MS }
  } finally {
    await app.close()
    b.stop()
    await b.kill()
  }
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
const fmt = (x: number): string => x.toFixed(1)

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, json: { type: 'string' } } })
const runs = Number(values.runs)
const results: Gap[] = []
for (const standby of [false, true]) for (let i = 0; i < runs; i++) results.push(await once(standby))

console.log('| standby | wall gap median / max (ms) | audio lost (+) or repeated (−) median / max (ms) |')
console.log('|---|---|---|')
for (const standby of [false, true]) {
  const of = results.filter((r) => r.standby === standby)
  const wall = of.map((r) => r.wallMs)
  const audio = of.map((r) => r.audioMs)
  const worst = audio.reduce((w, x) => (Math.abs(x) > Math.abs(w) ? x : w), 0)
  console.log(`| ${standby ? 'yes' : 'no'} | ${fmt(median(wall))} / ${fmt(Math.max(...wall))} | ${fmt(median(audio))} / ${fmt(worst)} |`)
}
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), node: process.version, runs: results }, null, 2) + '\n')
