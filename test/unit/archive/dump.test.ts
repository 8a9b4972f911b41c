// Dump files through real sockets and a real disk: a scripted upstream relayed by the plugin, the files it
// writes compared byte for byte with what the upstream sent and what a listener got.
import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import fastifyIcecastRelay, { type RelayPluginOptions } from '../../../lib/index.js'
import { waitForState, waitUntil } from '../../helpers/app.js'
import { mp3Frames, vorbisStream, MP3_FRAME_BYTES } from '../../helpers/frames.js'
import { openListener } from '../../helpers/listen.js'
import { makeTempDir, sleep } from '../../helpers/procs.js'
import { scriptedUpstream, type ScriptedOptions, type ScriptedUpstream } from '../../helpers/scripted.js'

interface DumpSetup {
  app: FastifyInstance
  url: (path: string) => string
  upstream: ScriptedUpstream
  dir: string
  logs: () => Array<Record<string, unknown>>
  /** closes the app (its files are written and closed when this resolves) and reads the files, oldest first */
  files: () => Promise<Buffer[]>
}

/** The files of a pattern `<prefix>-%Y%m%d%H%M%S<ext>` in creation order: by time, then sequence number. */
function dumpFiles (dir: string): Buffer[] {
  const key = (name: string): [string, number] => {
    const match = /-(\d{14})(?:-(\d+))?\./.exec(name)!
    return [match[1]!, Number(match[2] ?? 0)]
  }
  return readdirSync(dir)
    .filter((name) => name.startsWith('dump-'))
    .sort((a, b) => { const [ka, kb] = [key(a), key(b)]; return ka[0] < kb[0] ? -1 : ka[0] > kb[0] ? 1 : ka[1] - kb[1] })
    .map((name) => readFileSync(join(dir, name)))
}

async function dumpRelay (t: TestContext, dumpFile: (dir: string) => NonNullable<RelayPluginOptions['relays']>[number]['dumpFile'], upstreamOptions?: ScriptedOptions, plugin: RelayPluginOptions = {}): Promise<DumpSetup> {
  const dir = makeTempDir('dump')
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const upstream = await scriptedUpstream(upstreamOptions)
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { lines.push(line) } } } })
  await app.register(fastifyIcecastRelay, { ...plugin, relays: [{ url: upstream.url(), localMount: '/live', dumpFile: dumpFile(dir) }] })
  await app.listen({ port: 0, host: '127.0.0.1' })
  let closed = false
  t.after(async () => { if (!closed) await app.close(); await upstream.close() })
  await upstream.waitForClients(1)
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  return {
    app,
    url: (path) => base + path,
    upstream,
    dir,
    logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    files: async () => {
      closed = true
      await app.close()
      return dumpFiles(dir)
    }
  }
}

const FRAME_SYNC = Buffer.from([0xff, 0xfb])

test('rotation by size: every file starts on a frame and stays within rotateBytes; together they are the stream, a listener\'s bytes a run of it', async (t) => {
  const { upstream, url, app, files } = await dumpRelay(t, (dir) => ({ path: join(dir, 'dump-%Y%m%d%H%M%S.mp3'), rotateBytes: 16384 }))
  upstream.push(mp3Frames(10))
  await waitForState(app, '/live', 'live')
  const listener = openListener(url('/live'))
  for (let i = 0; i < 12; i++) {
    upstream.push(mp3Frames(10))
    await sleep(20)
  }
  await listener.waitForBytes(100 * MP3_FRAME_BYTES)
  const heard = (await listener.close()).body
  const dumped = await files()
  assert.ok(dumped.length >= Math.ceil(130 * MP3_FRAME_BYTES / 16384), `${dumped.length} files of 130 frames in at most 16384 bytes each`)
  for (const file of dumped) {
    assert.ok(file.subarray(0, 2).equals(FRAME_SYNC), 'a file starts on a frame')
    assert.ok(file.length <= 16384 && file.length % MP3_FRAME_BYTES === 0, `whole frames within rotateBytes: ${file.length}`)
  }
  const whole = Buffer.concat(dumped)
  assert.ok(whole.equals(upstream.sent()), 'the files in order are what the upstream sent: nothing lost, nothing invented')
  assert.ok(whole.includes(heard), 'what the listener got is a run of the dump')
})

test('rotation by time: a new file once one is rotateSeconds old, at a frame; together they are the stream', async (t) => {
  const { upstream, app, files } = await dumpRelay(t, (dir) => ({ path: join(dir, 'dump-%Y%m%d%H%M%S.mp3'), rotateSeconds: 1 }))
  upstream.push(mp3Frames(5))
  await waitForState(app, '/live', 'live')
  for (let i = 0; i < 25; i++) {
    upstream.push(mp3Frames(2))
    await sleep(100)
  }
  const dumped = await files()
  assert.ok(dumped.length >= 2 && dumped.length <= 4, `${dumped.length} files of 2.5 s at 1 s each`)
  for (const file of dumped) assert.ok(file.subarray(0, 2).equals(FRAME_SYNC))
  assert.ok(Buffer.concat(dumped).equals(upstream.sent()))
})

test('Ogg: every file starts with the codec headers, then pages from a page start', async (t) => {
  const { upstream, app, files } = await dumpRelay(t, (dir) => ({ path: join(dir, 'dump-%Y%m%d%H%M%S.ogg'), rotateBytes: 16384 }), { head: 'HTTP/1.0 200 OK\r\nContent-Type: audio/ogg\r\n\r\n' })
  const stream = vorbisStream(42, 120, 4410)
  const headerEnd = stream.indexOf('OggS', stream.indexOf('OggS', 1) + 1)
  for (let at = 0; at < stream.length; at += 4000) {
    upstream.push(stream.subarray(at, at + 4000))
    await sleep(10)
  }
  await waitForState(app, '/live', 'live')
  const dumped = await files()
  assert.ok(dumped.length >= 3, `${dumped.length} files`)
  const headers = stream.subarray(0, headerEnd)
  let data = Buffer.alloc(0)
  for (const file of dumped) {
    assert.ok(file.subarray(0, headers.length).equals(headers), 'each file begins with the stream\'s header pages')
    assert.equal(file.indexOf('OggS', headers.length), headers.length, 'then a page')
    data = Buffer.concat([data, file.subarray(headers.length)])
  }
  assert.ok(data.equals(stream.subarray(headerEnd, headerEnd + data.length)), 'the data pages, in order, none lost')
  assert.ok(data.length > stream.length - headerEnd - 4000, 'up to the last whole page')
})

test('a directory that is missing is logged, the listeners are served, and the dump starts once it is there', async (t) => {
  const setup = await dumpRelay(t, (dir) => join(dir, 'later', 'dump-%Y%m%d%H%M%S.mp3'))
  const { upstream, app, url, dir, logs } = setup
  upstream.push(mp3Frames(10))
  await waitForState(app, '/live', 'live')
  const listener = openListener(url('/live'))
  await listener.waitForBytes(10 * MP3_FRAME_BYTES)
  await waitUntil(() => logs().some((line) => line['code'] === 'ENOENT'), 3000, 'the error logged')
  const error = logs().find((line) => line['code'] === 'ENOENT')!
  assert.equal(error['level'], 50)
  assert.match(String(error['msg']), /^dump-file: ENOENT.*then a new file is tried$/)
  mkdirSync(join(dir, 'later'))
  const started = Date.now()
  while (readdirSync(join(dir, 'later')).length === 0 && Date.now() - started < 5000) {
    upstream.push(mp3Frames(3))
    await sleep(100)
  }
  upstream.push(mp3Frames(3))
  await sleep(100)
  assert.equal(app.relay.get('/live')!.listeners, 1, 'the listener was served all along')
  assert.ok(logs().some((line) => /writing again after a disk error/.test(String(line['msg']))), 'the restart is logged with the bytes not written')
  await setup.files()
  const [file] = dumpFiles(join(dir, 'later'))
  assert.ok(file!.subarray(0, 2).equals(FRAME_SYNC))
  assert.ok(upstream.sent().includes(file!), 'a run of the stream from a frame')
  await listener.close()
})

test('a new upstream connection no listener rode over to starts a new file; a name taken gets a sequence number', async (t) => {
  const { upstream, app, files } = await dumpRelay(t, (dir) => join(dir, 'dump-00000000000000.mp3'), {}, { limits: { maxBackoff: 0.5 } })
  upstream.push(mp3Frames(10))
  await waitForState(app, '/live', 'live')
  await sleep(100)
  const first = upstream.sent()
  upstream.drop()
  await upstream.waitForClients(1)
  await waitForState(app, '/live', 'live')
  upstream.push(mp3Frames(6))
  await sleep(100)
  const dumped = await files()
  assert.equal(dumped.length, 2)
  assert.ok(dumped[0]!.equals(first))
  assert.ok(dumped[1]!.equals(upstream.sent().subarray(first.length)))
})

test('dumpFile is checked at register', async () => {
  const register = async (dumpFile: unknown): Promise<unknown> => {
    const app = Fastify()
    try {
      await app.register(fastifyIcecastRelay, { relays: [{ url: 'http://127.0.0.1:9/x', dumpFile } as never] })
      await app.ready()
      return undefined
    } catch (error) {
      return error
    } finally {
      await app.close()
    }
  }
  assert.match(String(await register('/srv/%Y-%q.mp3')), /relays\[0\]\.dumpFile: %q is no conversion/)
  assert.match(String(await register({ path: '/srv/a/../b.mp3' })), /relays\[0\]\.dumpFile\.path: must not contain/)
  assert.match(String(await register({ path: '/srv/x.mp3', rotateBytes: 100 })), /relays\[0\]\.dumpFile\.rotateBytes/)
  assert.match(String(await register('relative.mp3')), /relays\[0\]\.dumpFile/)
  assert.match(String(await register({ path: '/srv/x.mp3', rotate: 1 })), /relays\[0\]\.dumpFile/)
})
