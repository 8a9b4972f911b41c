// The caches of a worker's HLS origin (RemoteWindows) against a real HTTP server on loopback that counts what it is asked.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { RemoteWindows } from '../../../lib/hls/origin.js'

const AUTH = `Basic ${Buffer.from('relay:secret').toString('base64')}`
/** 0.2 s segments: a window is kept 100 ms */
const SETTINGS = { segmentSeconds: 0.2, windowSegments: 3 }
const WINDOW = {
  discontinuitySequence: 0,
  epoch: 7,
  retired: [],
  segments: [{ sequence: 7, bytes: 3, duration: 0.2, codec: 'aac', codecs: 'mp4a.40.2', sampleRate: 44100, discontinuity: false, programDateTime: 1, createdAt: 1 }]
}

let server: Server
let url: string
const asked: string[] = []
/** paths answered 500 once */
const failOnce = new Set<string>()

before(async () => {
  server = createServer((request, response) => {
    const path = request.url ?? ''
    asked.push(path)
    if (request.headers.authorization !== AUTH) return response.writeHead(401).end()
    if (failOnce.delete(path)) return response.writeHead(500).end()
    // answered a little later, so that askers at once share one request
    setTimeout(() => {
      if (path.endsWith('/hls-window.json')) response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(WINDOW))
      else if (path.endsWith('/7.aac')) response.writeHead(200).end(Buffer.from([1, 2, 3]))
      else response.writeHead(404).end()
    }, 20)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

after(() => { server.close() })

const count = (path: string): number => asked.filter((each) => each === path).length

test('origin: a window asked by many at once is one request, kept half a target duration, then asked again', async () => {
  const remote = new RemoteWindows({ url, username: 'relay', password: 'secret' }, 3)
  const windows = await Promise.all(Array.from({ length: 20 }, async () => await remote.window('/a.aac', SETTINGS)))
  assert.ok(windows.every((window) => window.segments[0]!.sequence === 7))
  assert.equal(count('/a.aac/hls-window.json'), 1)
  await remote.window('/a.aac', SETTINGS)
  assert.equal(count('/a.aac/hls-window.json'), 1, 'kept')
  await sleep(150)
  await remote.window('/a.aac', SETTINGS)
  assert.equal(count('/a.aac/hls-window.json'), 2, 'expired after 100 ms')
})

test('origin: a window asked for fresher than it is kept is fetched again once it is that old, one fetch shared', async () => {
  // kept 1 s (2 s segments); asked for one newer than 50 ms, as the segment after the newest is
  const settings = { segmentSeconds: 2, windowSegments: 3 }
  const remote = new RemoteWindows({ url, username: 'relay', password: 'secret' }, 3)
  await remote.window('/fresh.aac', settings)
  await remote.window('/fresh.aac', settings, 50)
  assert.equal(count('/fresh.aac/hls-window.json'), 1, 'younger than 50 ms: kept')
  await sleep(80)
  await Promise.all(Array.from({ length: 5 }, async () => await remote.window('/fresh.aac', settings, 50)))
  assert.equal(count('/fresh.aac/hls-window.json'), 2, 'older: fetched again, once for five askers')
  await remote.window('/fresh.aac', settings)
  assert.equal(count('/fresh.aac/hls-window.json'), 2, 'the fresh one is kept for the others')
})

test('origin: a failed fetch is forgotten at once: the next asker fetches again', async () => {
  const remote = new RemoteWindows({ url, username: 'relay', password: 'secret' }, 3)
  failOnce.add('/b.aac/hls-window.json')
  await assert.rejects(remote.window('/b.aac', SETTINGS), /answered 500/)
  assert.equal((await remote.window('/b.aac', SETTINGS)).segments.length, 1)
  assert.equal(count('/b.aac/hls-window.json'), 2)
  const wrong = new RemoteWindows({ url, username: 'relay', password: 'wrong' }, 3)
  await assert.rejects(wrong.window('/b.aac', SETTINGS), /answered 401/)
})

test('origin: a segment is fetched once per sequence and cut time; one gone is undefined; the windows kept are bounded', async () => {
  const remote = new RemoteWindows({ url, username: 'relay', password: 'secret' }, 3)
  const bytes = await Promise.all(Array.from({ length: 10 }, async () => await remote.segment('/c.aac', '7.aac', 1, SETTINGS)))
  assert.ok(bytes.every((each) => each?.equals(Buffer.from([1, 2, 3]))))
  await remote.segment('/c.aac', '7.aac', 1, SETTINGS)
  assert.equal(count('/c.aac/7.aac'), 1)
  await remote.segment('/c.aac', '7.aac', 2, SETTINGS)
  assert.equal(count('/c.aac/7.aac'), 2, 'another cut (a relay added again) is another segment')
  assert.equal(await remote.segment('/c.aac', '8.aac', 1, SETTINGS), undefined)
  // 64 mounts' windows are kept: past them the oldest goes, and is asked again
  const slow = { segmentSeconds: 60, windowSegments: 3 }
  for (let i = 0; i <= 64; i++) await remote.window(`/m${i}.aac`, slow)
  await remote.window('/m64.aac', slow)
  assert.equal(count('/m64.aac/hls-window.json'), 1, 'the newest kept')
  await remote.window('/m0.aac', slow)
  assert.equal(count('/m0.aac/hls-window.json'), 2, 'the oldest was let go')
})

test('origin: a mount named with `%`, non-ASCII and reserved characters is asked percent-encoded, as the origin decodes it', async () => {
  const remote = new RemoteWindows({ url, username: 'relay', password: 'secret' }, 3)
  await remote.window('/ä 100%;x.aac', SETTINGS).catch(() => undefined)
  await remote.segment('/ä 100%;x.aac', '7.aac', 1, SETTINGS)
  const wanted = ['/%C3%A4%20100%25;x.aac/hls-window.json', '/%C3%A4%20100%25;x.aac/7.aac']
  assert.deepEqual(asked.filter((path) => path.includes('100')), wanted)
  assert.deepEqual(wanted.map((path) => decodeURIComponent(path)), ['/ä 100%;x.aac/hls-window.json', '/ä 100%;x.aac/7.aac'])
})
