// A worker's HLS (an app on a machine link) when the process that cuts the segments fails it: a real HTTP server
// on loopback stands in for the primary, and drops the connection where told to.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { after, before, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyIcecastRelay, { type RelayPluginOptions } from '../../../lib/index.js'
import { quietMachine } from '../../helpers/app.js'
import { freePort } from '../../helpers/procs.js'

const SEGMENT_SECONDS = 2
const WINDOW = {
  discontinuitySequence: 0,
  epoch: 7,
  retired: [{ sequence: 6, bytes: 3, duration: 2, codec: 'mp3', codecs: 'mp4a.40.34', sampleRate: 44100, discontinuity: false, programDateTime: 1, createdAt: 1 }],
  segments: [{ sequence: 7, bytes: 3, duration: 2, codec: 'mp3', codecs: 'mp4a.40.34', sampleRate: 44100, discontinuity: false, programDateTime: 1, createdAt: 1 }]
}

/** the bytes of segment 6, which left the primary's playlist and is still served (RFC 8216 §6.2.2) */
const RETIRED_BYTES = Buffer.from('ID3')
let origin: Server
/** paths the stand-in primary drops the connection of, with no answer */
const dropped = new Set<string>()
let worker: FastifyInstance
let base: string
const logs: Array<{ level: number, msg: string, err?: { message: string } }> = []

before(async () => {
  origin = createServer((request, response) => {
    if (dropped.has(request.url ?? '')) return request.socket.destroy()
    if (request.url === '/live/hls-window.json') return response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(WINDOW))
    if (request.url === '/live/6.mp3') return response.writeHead(200, { 'content-type': 'audio/mpeg' }).end(RETIRED_BYTES)
    response.writeHead(404).end()
  })
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  const stream = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line))
      done()
    }
  })
  worker = Fastify({ logger: { level: 'warn', stream } })
  const options: RelayPluginOptions = {
    hls: { segmentSeconds: SEGMENT_SECONDS, windowSegments: 3 },
    machine: quietMachine(`http://127.0.0.1:${(origin.address() as AddressInfo).port}`, 'origin-secret'),
    // an upstream that is not there: the worker's HLS is the origin's, whatever its own relay does
    relays: [{ url: `http://127.0.0.1:${await freePort()}/live`, localMount: '/live' }]
  }
  await worker.register(fastifyIcecastRelay, options)
  await worker.listen({ port: 0, host: '127.0.0.1' })
  base = `http://127.0.0.1:${(worker.server.address() as AddressInfo).port}`
})

after(async () => {
  await worker?.close()
  origin?.close()
})

test('a segment that left the primary\'s playlist and is still served there is served by the worker too, and listed nowhere', async () => {
  const answer = await fetch(`${base}/live/6.mp3`)
  assert.equal(answer.status, 200)
  assert.deepEqual(Buffer.from(await answer.arrayBuffer()), RETIRED_BYTES)
  const main = await (await fetch(`${base}/live/index.m3u8`)).text()
  const media = await (await fetch(`${base}/live/${main.split('\n').find((line) => line.startsWith('index.m3u8'))!}`)).text()
  assert.match(media, /^7\.mp3$/m)
  assert.doesNotMatch(media, /^6\.mp3$/m)
})

test('a segment the primary fails to send (its connection dropped, not a 404) is a 503 with Retry-After and a log line, not a 500', async () => {
  dropped.add('/live/7.mp3')
  const answer = await fetch(`${base}/live/7.mp3`)
  assert.equal(answer.status, 503, await answer.text())
  assert.equal(answer.headers.get('retry-after'), String(SEGMENT_SECONDS))
  assert.equal(answer.headers.get('cache-control'), 'no-store', 'a cache in front keeps no failure for the segment')
  const line = logs.find((entry) => entry.msg === 'HLS segment 7.mp3 not read from the machine\'s origin')
  assert.ok(line !== undefined, JSON.stringify(logs))
  assert.equal(line.level, 40, 'a warning')
  const missing = await fetch(`${base}/live/8.mp3`)
  assert.equal(missing.status, 404, 'a segment out of the window is still a 404')
})

test('a window the primary fails to send is a 503 with Retry-After too', async () => {
  dropped.add('/live/hls-window.json')
  // the window read for the first test is kept half a target duration
  await new Promise((resolve) => setTimeout(resolve, SEGMENT_SECONDS * 500 + 100))
  const answer = await fetch(`${base}/live/index.m3u8`)
  assert.equal(answer.status, 503, await answer.text())
  assert.equal(answer.headers.get('retry-after'), String(SEGMENT_SECONDS))
  assert.ok(logs.some((entry) => entry.msg === 'HLS window not read from the machine\'s origin'), JSON.stringify(logs))
})
