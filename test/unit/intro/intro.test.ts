// The intro a relay's new listeners get first, through real sockets: a scripted MP3 upstream, the plugin in a
// Fastify app whose log is read, raw listeners that compare bytes.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, constants, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import fastifyIcecastRelay, { type RelayPluginOptions } from '../../../lib/index.js'
import { waitForState, waitUntil } from '../../helpers/app.js'
import { id3Tag, mp3Frames, vorbisStream, MP3_FRAME_BYTES } from '../../helpers/frames.js'
import { demuxIcy, openListener } from '../../helpers/listen.js'
import { makeTempDir, runOk, sleep } from '../../helpers/procs.js'
import { scriptedUpstream, type ScriptedUpstream } from '../../helpers/scripted.js'
import { INTRO_RECHECK_MS } from '../../../lib/intro/file.js'

interface LoggedApp {
  app: FastifyInstance
  url: (path: string) => string
  logs: () => Array<Record<string, unknown>>
}

/** The plugin in an app whose log lines the test reads. */
async function loggedApp (t: TestContext, options: RelayPluginOptions): Promise<LoggedApp> {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { lines.push(line) } } } })
  await app.register(fastifyIcecastRelay, options)
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(async () => { await app.close() })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  return { app, url: (path) => base + path, logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) }
}

async function mp3Upstream (t: TestContext): Promise<ScriptedUpstream> {
  const upstream = await scriptedUpstream()
  t.after(async () => { await upstream.close() })
  return upstream
}

function tempDir (t: TestContext): string {
  const dir = makeTempDir('intro-')
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

/** An intro file as encoders leave them: an ID3 tag, frames, and a last frame cut short. */
function introFile (frames: Buffer): Buffer {
  return Buffer.concat([id3Tag(300), frames, frames.subarray(0, 100)])
}

/** Asserts that `body` is `intro` and then a run of the upstream's bytes from a frame start. */
function assertIntroThenStream (body: Buffer, intro: Buffer, sent: Buffer): void {
  assert.ok(body.subarray(0, intro.length).equals(intro), 'the listener\'s first bytes are the intro\'s whole frames')
  const rest = body.subarray(intro.length)
  assert.ok(rest.length > MP3_FRAME_BYTES, 'the stream follows')
  const at = sent.indexOf(rest.subarray(0, 64))
  assert.ok(at >= 0 && at % MP3_FRAME_BYTES === 0, 'the stream follows from a frame start')
  assert.ok(sent.subarray(at, at + rest.length).equals(rest), 'the stream is a contiguous run of what the upstream sent')
}

test('a new listener gets the intro\'s whole frames, then the stream from a frame start (burst included); an ICY listener\'s interval counts the intro', async (t) => {
  const dir = tempDir(t)
  const frames = mp3Frames(20)
  writeFileSync(join(dir, 'intro.mp3'), introFile(frames))
  const upstream = await mp3Upstream(t)
  const { app, url } = await loggedApp(t, { relays: [{ url: upstream.url(), localMount: '/live', intro: join(dir, 'intro.mp3'), metaint: 1000 }] })
  await upstream.waitForClients(1)
  upstream.push(mp3Frames(30))
  await waitForState(app, '/live', 'live')
  await waitUntil(() => app.relay.get('/live')!.audio !== null)

  const plain = openListener(url('/live'))
  const icy = openListener(url('/live'), { icy: true })
  await Promise.all([plain.waitForBytes(frames.length + 30 * MP3_FRAME_BYTES), icy.waitForBytes(frames.length + 30 * MP3_FRAME_BYTES)])
  upstream.push(mp3Frames(5))
  await sleep(200)
  assertIntroThenStream((await plain.close()).body, frames, upstream.sent())

  const icyResult = await icy.close()
  assert.equal(icyResult.headers['icy-metaint'], '1000')
  const demuxed = demuxIcy(icyResult.body, 1000)
  assert.equal(demuxed.partial, false)
  assert.ok(icyResult.body.length - demuxed.audio.length >= Math.floor(demuxed.audio.length / 1000), 'a block every 1000 bytes of audio, the intro\'s counted')
  assertIntroThenStream(demuxed.audio, frames, upstream.sent())
})

test('a listener moved to a relay with an intro does not get it; a HEAD request gets no intro', async (t) => {
  const dir = tempDir(t)
  const frames = mp3Frames(10)
  writeFileSync(join(dir, 'b.mp3'), frames)
  const [a, b] = [await mp3Upstream(t), await mp3Upstream(t)]
  const { app, url } = await loggedApp(t, {
    relays: [{ url: a.url(), localMount: '/a' }, { url: b.url(), localMount: '/b', intro: join(dir, 'b.mp3') }]
  })
  await Promise.all([a.waitForClients(1), b.waitForClients(1)])
  a.push(mp3Frames(10))
  b.push(mp3Frames(10))
  await Promise.all([waitForState(app, '/a', 'live'), waitForState(app, '/b', 'live')])
  await waitUntil(() => app.relay.get('/b')!.audio !== null && app.relay.get('/a')!.audio !== null)
  const listener = openListener(url('/a'))
  await listener.waitForBytes(10 * MP3_FRAME_BYTES)
  assert.equal(await app.relay.moveListeners('/a', '/b'), 1)
  const before = listener.received().length
  b.push(mp3Frames(4))
  await listener.waitForBytes(before + 4 * MP3_FRAME_BYTES)
  const after = (await listener.close()).body.subarray(before)
  assert.equal(after.indexOf(frames.subarray(0, 417)), -1, 'no intro frame after the move')
  assert.ok(b.sent().includes(after), 'only the destination\'s stream')

  const head = openListener(url('/b'), { method: 'HEAD' })
  assert.equal((await head.head).status, 200)
  await head.ended
  assert.equal(head.received().length, 0)
})

test('an intro that is missing, of another format, too large or no audio is logged once and skipped; a new file is taken up', async (t) => {
  const dir = tempDir(t)
  const intro = join(dir, 'intro')
  const upstream = await mp3Upstream(t)
  const { app, url, logs } = await loggedApp(t, {
    relays: [{ url: upstream.url(), localMount: '/live', intro }],
    limits: { queueSize: 65536 }
  })
  await upstream.waitForClients(1)
  upstream.push(mp3Frames(30))
  await waitUntil(() => app.relay.get('/live')?.audio !== null)
  const introWarnings = (): string[] => logs().filter((line) => line['intro'] === intro && line['level'] === 40).map((line) => String(line['msg']))

  const streamOnly = async (): Promise<void> => {
    for (let i = 0; i < 2; i++) {
      const listener = openListener(url('/live'))
      const body = await listener.waitForBytes(MP3_FRAME_BYTES)
      await listener.close()
      assert.ok(upstream.sent().includes(body), 'the stream only, no intro')
    }
  }
  await streamOnly()
  assert.equal(introWarnings().length, 1, 'a missing file is logged once')
  assert.match(introWarnings()[0]!, /cannot be read \(ENOENT\)/)

  const cases: Array<[Buffer, RegExp]> = [
    [vorbisStream(7, 10, 4410), /intro file is ogg, the stream mpeg/],
    [mp3Frames(100), /is over 32768 bytes/],
    [Buffer.from('<html>not audio</html>'.repeat(40)), /no MP3, AAC \(ADTS\) or Ogg audio/]
  ]
  for (const [bytes, message] of cases) {
    writeFileSync(intro, bytes)
    await sleep(INTRO_RECHECK_MS + 100)
    const count = introWarnings().length
    await streamOnly()
    assert.equal(introWarnings().length, count + 1, `logged once: ${message}`)
    assert.match(introWarnings().at(-1)!, message)
  }

  const frames = mp3Frames(8)
  writeFileSync(intro, frames)
  await sleep(INTRO_RECHECK_MS + 100)
  const listener = openListener(url('/live'))
  await listener.waitForBytes(frames.length + MP3_FRAME_BYTES)
  assert.ok((await listener.close()).body.subarray(0, frames.length).equals(frames), 'the new file is read and sent')
})

test('an intro that names a FIFO or a directory is no regular file: logged, and listeners get the stream at once', async (t) => {
  const dir = tempDir(t)
  const fifo = join(dir, 'intro.fifo')
  await runOk('mkfifo', [fifo])
  // a reader stuck opening the FIFO would keep the process alive: a writer that comes and goes frees it
  t.after(() => { try { closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)) } catch {} })
  const [a, b] = [await mp3Upstream(t), await mp3Upstream(t)]
  const { app, url, logs } = await loggedApp(t, {
    relays: [{ url: a.url(), localMount: '/fifo', intro: fifo }, { url: b.url(), localMount: '/dir', intro: dir }]
  })
  await Promise.all([a.waitForClients(1), b.waitForClients(1)])
  a.push(mp3Frames(30))
  b.push(mp3Frames(30))
  await waitUntil(() => app.relay.get('/fifo')?.audio !== null && app.relay.get('/dir')?.audio !== null)
  for (const [mount, upstream] of [['/fifo', a], ['/dir', b]] as const) {
    const listener = openListener(url(mount))
    const body = await listener.waitForBytes(MP3_FRAME_BYTES, 3000)
    await listener.close()
    assert.ok(upstream.sent().includes(body), `${mount}: the stream only, no intro`)
  }
  const warnings = logs().filter((line) => line['level'] === 40).map((line) => String(line['msg']))
  assert.equal(warnings.filter((msg) => msg === 'intro file is not a regular file: listeners get no intro').length, 2)
})

test('an intro that is a FIFO with no writer, a device or a symlink loop never holds a listener: logged, the stream only', async (t) => {
  const dir = tempDir(t)
  const fifo = join(dir, 'fifo')
  execFileSync('mkfifo', [fifo])
  symlinkSync(join(dir, 'loop-b'), join(dir, 'loop-a'))
  symlinkSync(join(dir, 'loop-a'), join(dir, 'loop-b'))
  const cases: Array<[string, RegExp]> = [[fifo, /is not a regular file/], ['/dev/zero', /is not a regular file/], [join(dir, 'loop-a'), /cannot be read \(ELOOP\)/]]
  const upstream = await mp3Upstream(t)
  const { app, url, logs } = await loggedApp(t, {
    relays: cases.map(([intro], i) => ({ url: upstream.url(), localMount: `/live${i}`, intro })),
    limits: { queueSize: 65536 }
  })
  await upstream.waitForClients(cases.length)
  upstream.push(mp3Frames(30))
  for (const [i, [intro, message]] of cases.entries()) {
    await waitUntil(() => app.relay.get(`/live${i}`)?.audio !== null)
    const listener = openListener(url(`/live${i}`), { headTimeoutMs: 2000 })
    const body = await listener.waitForBytes(MP3_FRAME_BYTES, 2000)
    await listener.close()
    assert.ok(upstream.sent().includes(body), `${intro}: the stream only, no intro`)
    const warning = logs().find((line) => line['intro'] === intro && line['level'] === 40)
    assert.match(String(warning?.['msg']), message)
  }
})
