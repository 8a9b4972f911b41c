import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import net, { type AddressInfo } from 'node:net'
import { test } from 'node:test'
import { relayApp, scriptedRelay, waitForState, waitUntil } from '../../helpers/app.js'
import { demuxIcy, openListener } from '../../helpers/listen.js'
import { noise, scriptedUpstream } from '../../helpers/scripted.js'
import fastifyIcecastRelay from '../../../lib/index.js'
import { upstreamMetaint } from '../../../lib/shoutcast/extension.js'
import { CONFORMANCE_DIR, conformancePresent, icyBlock as block, icyBody } from '../../helpers/icy.js'

/** A one-mount server that answers with a recorded response head, then sends the body when told to. */
async function replayServer (head: Buffer, path: string): Promise<{ port: number, send: (body: Buffer) => void, close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', (request) => {
      if (request.toString('latin1').split(' ')[1] !== path) {
        socket.end('HTTP/1.0 404 Not Found\r\n\r\n')
        return
      }
      socket.write(head)
      sockets.add(socket)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    send: (body) => { for (const socket of sockets) socket.write(body) },
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

/** The SHOUTcast v1 capture, or a synthetic one of the same shape when the conformance folder is absent. */
function shoutcastCapture (present: boolean): { head: Buffer, body: Buffer, title: string } {
  if (present) {
    const raw = readFileSync(new URL('node-icy/icy-server-response-metaint', CONFORMANCE_DIR))
    const end = raw.indexOf('\r\n\r\n') + 4
    const expected = JSON.parse(readFileSync(new URL('node-icy/expected.json', CONFORMANCE_DIR), 'utf8'))
    const text: string = expected['icy-server-response-metaint'].metadata[0].text
    return { head: raw.subarray(0, end), body: raw.subarray(end), title: /StreamTitle='(.*?)';/.exec(text)![1]! }
  }
  const head = Buffer.from('ICY 200 OK\r\nicy-name:Synthetic\r\ncontent-type:audio/mpeg\r\nicy-pub:1\r\nicy-metaint:32768\r\nicy-br:192\r\n\r\n')
  const mp3 = readFileSync(new URL('../../demo/sample.mp3', import.meta.url)).subarray(1000, 82455)
  return { head, body: icyBody(mp3, 32768, { 0: block("StreamTitle='Synthetic - Title';") }), title: 'Synthetic - Title' }
}

test('SHOUTcast v1 (ICY 200 OK, metaint 32768) at mount /: ICY listeners get the real title, others pure audio', async (t) => {
  const capture = shoutcastCapture(conformancePresent(t))
  const upstream = await replayServer(capture.head, '/')
  const { app, url } = await relayApp({ relays: [{ server: '127.0.0.1', port: upstream.port, mount: '/' }] })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/', 'live')
  const status = app.relay.get('/')!
  assert.equal(status.headers['icy-metaint'], '32768')

  const icy = openListener(url('/'), { icy: true })
  const plain = openListener(url('/'))
  const [icyHead, plainHead] = await Promise.all([icy.head, plain.head])
  assert.equal(icyHead.headers['icy-metaint'], '32768')
  assert.equal(plainHead.headers['icy-metaint'], undefined)
  assert.equal(plainHead.headers['icy-br'], '192')
  await waitUntil(() => app.relay.get('/')!.listeners === 2)
  upstream.send(capture.body)

  // The relay hands on whole frames only and starts listeners at a frame: each gets a contiguous run
  // of the stripped audio that starts with a frame header and lacks at most the last, unfinished frame.
  const audio = demuxIcy(capture.body, 32768).audio
  const isRunOfAudio = (run: Buffer): boolean => {
    const at = audio.indexOf(run.subarray(0, 4096))
    return at >= 0 && run.equals(audio.subarray(at, at + run.length)) && audio.length - (at + run.length) < 1500 &&
      run[0] === 0xff && (run[1]! & 0xe0) === 0xe0
  }
  await plain.waitForBytes(audio.length - 3000)
  await icy.waitForBytes(audio.length - 3000)
  await new Promise((resolve) => setTimeout(resolve, 200))
  const [icyResult, plainResult] = await Promise.all([icy.close(), plain.close()])
  assert.ok(isRunOfAudio(plainResult.body), 'pure audio, no metadata bytes')
  assert.ok(isRunOfAudio(icyResult.icy!.audio))
  assert.deepEqual(icyResult.icy!.titles, [capture.title])
  assert.equal(app.relay.get('/')!.metadata?.title, capture.title)
  assert.equal(app.relay.get('/')!.audio?.codec, 'mp3')
})

test('SHOUTcast v1 mount /; relayed under a name of our own', async (t) => {
  const capture = shoutcastCapture(conformancePresent(t))
  const upstream = await replayServer(capture.head, '/;')
  const { app, url } = await relayApp({ relays: [{ server: '127.0.0.1', port: upstream.port, mount: '/;', localMount: '/pulse' }] })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/pulse', 'live')
  const listener = openListener(url('/pulse'), { icy: true })
  await listener.head
  await waitUntil(() => app.relay.get('/pulse')!.listeners === 1)
  upstream.send(capture.body)
  await waitUntil(() => app.relay.get('/pulse')!.metadata?.title === capture.title)
  await listener.close()
})

test('titles: events, status, byte-exact blocks for ICY listeners; unchanged titles give 0x00', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/t', { upstream: { headers: { 'icy-metaint': '1000' } }, plugin: { limits: { burstSize: 0 } } })
  const titles: Array<string | undefined> = []
  app.relay.on('metadata', (e) => titles.push(e.metadata.title))
  const listener = openListener(url('/t'), { icy: true })
  assert.equal((await listener.head).headers['icy-metaint'], '1000')
  await waitUntil(() => app.relay.get('/t')!.listeners === 1)

  const audio = noise(7000)
  const first = block("StreamTitle='It's; fine';StreamUrl='http://x/';")
  const second = block("StreamTitle='Second';")
  upstream.push(icyBody(audio, 1000, { 1: first, 2: first, 4: second }))
  upstream.push(audio.subarray(0, 1))
  await listener.waitForBytes(7001 + 7)
  const result = await listener.close()
  const icy = result.icy!
  assert.ok(icy.audio.equals(Buffer.concat([audio, audio.subarray(0, 1)]).subarray(0, icy.audio.length)))
  assert.deepEqual(icy.blocks.map((b) => b.text), [
    "StreamTitle='';", "StreamTitle='It's; fine';StreamUrl='http://x/';", "StreamTitle='Second';"
  ])
  assert.deepEqual(titles, ["It's; fine", 'Second'], 'a repeated block is no change')
  const status = app.relay.get('/t')!
  assert.equal(status.metadata?.title, 'Second')
  assert.equal(status.metadata?.source, 'icy')
})

test('malformed blocks are dropped and logged, once per 10 s; the audio goes on untouched', async (t) => {
  const upstream = await scriptedUpstream({ headers: { 'icy-metaint': '500' } })
  const logs: string[] = []
  const app = Fastify({
    logger: {
      level: 'warn',
      stream: { write: (line: string) => { const { msg, reason } = JSON.parse(line); logs.push(`${msg}: ${reason}`) } }
    }
  })
  await app.register(fastifyIcecastRelay, { relays: [{ url: upstream.url(), localMount: '/m' }], limits: { burstSize: 0 } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = (path: string): string => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}${path}`
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/m', 'live')
  const listener = openListener(url('/m'))
  await listener.head
  await waitUntil(() => app.relay.get('/m')!.listeners === 1)
  const audio = noise(2000)
  upstream.push(icyBody(audio, 500, { 0: block('\x01\x02garbage'), 1: block('\x03more'), 2: block("StreamTitle='Good';") }))
  assert.ok((await listener.waitForBytes(2000)).equals(audio))
  await waitUntil(() => app.relay.get('/m')!.metadata?.title === 'Good')
  assert.equal(logs.length, 1, logs.join('\n'))
  assert.match(logs[0]!, /^damaged upstream stream data: malformed ICY metadata block dropped: /)
  assert.equal(app.relay.get('/m')!.state, 'live')
  await listener.close()
})

test('metadata off: no Icy-MetaData asked, blocks sent unasked are still stripped, no title kept', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/off', { upstream: { headers: { 'icy-metaint': '100' } }, relay: { relayShoutcastMetadata: false }, plugin: { limits: { burstSize: 0 } } })
  assert.doesNotMatch(upstream.requests[0]!, /icy-metadata/i)
  const listener = openListener(url('/off'))
  await listener.head
  await waitUntil(() => app.relay.get('/off')!.listeners === 1)
  const audio = noise(1000)
  upstream.push(icyBody(audio, 100, { 1: block("StreamTitle='Hidden';") }))
  assert.ok((await listener.waitForBytes(1000)).equals(audio))
  assert.equal(app.relay.get('/off')!.metadata, null)
  await listener.close()
})

test('Ogg: a listener asking for ICY metadata gets the plain stream, no icy-metaint, as from Icecast', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/o.ogg', { upstream: { head: 'HTTP/1.0 200 OK\r\nContent-Type: audio/ogg\r\n\r\n' }, plugin: { limits: { burstSize: 0 } } })
  const listener = openListener(url('/o.ogg'), { icy: true })
  const head = await listener.head
  assert.equal(head.headers['icy-metaint'], undefined)
  await waitUntil(() => app.relay.get('/o.ogg')!.listeners === 1)
  const bytes = noise(40000)
  upstream.push(bytes)
  assert.ok((await listener.waitForBytes(40000)).equals(bytes), 'no ICY blocks inserted at 16000')
  await listener.close()
})

test('setMetadata by hand reaches ICY listeners at the default interval 16000 and the relay\'s own metaint', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, url } = await relayApp({
    relays: [{ url: upstream.url('/a'), localMount: '/a' }, { url: upstream.url('/b'), localMount: '/b', metaint: 100 }],
    limits: { burstSize: 0 }
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/a', 'live')
  await waitForState(app, '/b', 'live')
  const a = openListener(url('/a'), { icy: true })
  const b = openListener(url('/b'), { icy: true })
  assert.equal((await a.head).headers['icy-metaint'], '16000')
  assert.equal((await b.head).headers['icy-metaint'], '100')
  await waitUntil(() => app.relay.get('/a')!.listeners === 1 && app.relay.get('/b')!.listeners === 1)
  const events: string[] = []
  app.relay.on('metadata', (e) => events.push(`${e.localMount}:${e.metadata.title}`))
  app.relay.setMetadata('/a', { title: "Hand's; made", url: 'https://example.org' })
  app.relay.setMetadata('/b', { title: 'Live now' })
  assert.throws(() => app.relay.setMetadata('/nope', { title: 'x' }), /no relay serves \/nope/)
  upstream.push(noise(16001))
  await a.waitForBytes(16001 + 1 + 64)
  await b.waitForBytes(16001 + 160)
  const [ra, rb] = await Promise.all([a.close(), b.close()])
  assert.deepEqual(ra.icy!.titles, ["Hand's; made"])
  assert.match(ra.icy!.blocks[0]!.text, /StreamUrl='https:\/\/example\.org';/)
  assert.deepEqual(rb.icy!.titles, ['Live now'])
  assert.deepEqual(events, ["/a:Hand's; made", '/b:Live now'])
  assert.equal(app.relay.get('/a')!.metadata?.source, 'manual')
})

test('Icecast 1.x x-audiocast-* headers become icy-* for listeners and the status; chunked HTTP/1.1 with ICY works', async (t) => {
  const head = [
    'HTTP/1.1 200 OK', 'Content-Type: audio/mpeg', 'Transfer-Encoding: chunked', 'x-audiocast-name: Old Icecast',
    'x-audiocast-genre: Rock', 'x-audiocast-bitrate: 128', 'x-audiocast-description: Vintage', 'x-audiocast-url: http://old/',
    'icy-metaint: 300'
  ].join('\r\n') + '\r\n\r\n'
  const { app, url, upstream } = await scriptedRelay(t, '/old', { upstream: { head }, plugin: { limits: { burstSize: 0 } } })
  const listener = openListener(url('/old'))
  const h = await listener.head
  assert.equal(h.headers['icy-name'], 'Old Icecast')
  assert.equal(h.headers['icy-genre'], 'Rock')
  assert.equal(h.headers['icy-br'], '128')
  assert.equal(h.headers['icy-description'], 'Vintage')
  assert.equal(h.headers['icy-url'], 'http://old/')
  assert.deepEqual(app.relay.get('/old')!.stream, {
    name: 'Old Icecast', genre: 'Rock', description: 'Vintage', url: 'http://old/', bitrate: 128, public: null
  })
  await waitUntil(() => app.relay.get('/old')!.listeners === 1)
  const audio = noise(900)
  const body = icyBody(audio, 300, { 1: block("StreamTitle='Chunked';") })
  for (const piece of [body.subarray(0, 301), body.subarray(301, 350), body.subarray(350)]) {
    upstream.push(Buffer.concat([Buffer.from(piece.length.toString(16) + '\r\n'), piece, Buffer.from('\r\n')]))
  }
  assert.ok((await listener.waitForBytes(900)).equals(audio))
  await waitUntil(() => app.relay.get('/old')!.metadata?.title === 'Chunked')
  await listener.close()
})

test('a relay charset decodes titles for display; listeners get the upstream\'s bytes unchanged', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/pl', { upstream: { headers: { 'icy-metaint': '400' } }, relay: { charset: 'iso-8859-2', metaint: 400 }, plugin: { limits: { burstSize: 0 } } })
  const listener = openListener(url('/pl'), { icy: true })
  await listener.head
  await waitUntil(() => app.relay.get('/pl')!.listeners === 1)
  // "Łódź" in ISO-8859-2: Ł=0xA3, ó=0xF3, ź=0xBC
  const latin2 = Buffer.concat([Buffer.from("StreamTitle='"), Buffer.from([0xa3, 0xf3, 0x64, 0xbc]), Buffer.from("';")])
  const raw = Buffer.alloc(1 + Math.ceil(latin2.length / 16) * 16)
  raw[0] = (raw.length - 1) / 16
  latin2.copy(raw, 1)
  upstream.push(icyBody(noise(1200), 400, { 0: raw }))
  await waitUntil(() => app.relay.get('/pl')!.metadata?.title === 'Łódź')
  await listener.waitForBytes(1200 + raw.length + 1)
  const { icy } = await listener.close()
  assert.ok(icy!.blocks[0]!.raw.equals(raw.subarray(1)), 'the block is passed on byte for byte')
  assert.throws(() => app.relay.add({ url: upstream.url(), localMount: '/bad', charset: 'utf-16le' }), /charset/)
})

test('an upstream interval out of the sane range is framed anew at 16000 for listeners; a bad one is named as sent', async (t) => {
  for (const upstreamMetaint of [1, 2147483648]) {
    const { app, url, upstream } = await scriptedRelay(t, `/m${upstreamMetaint}`, {
      upstream: { headers: { 'icy-metaint': String(upstreamMetaint) } }, plugin: { limits: { burstSize: 0 } }
    })
    const listener = openListener(url(`/m${upstreamMetaint}`), { icy: true })
    assert.equal((await listener.head).headers['icy-metaint'], '16000', `upstream ${upstreamMetaint}`)
    await waitUntil(() => app.relay.get(`/m${upstreamMetaint}`)!.listeners === 1)
    const audio = noise(40000)
    // metaint 1: a length byte after every audio byte, the title in one of them
    const body = upstreamMetaint === 1 ? icyBody(audio, 1, { 5: block("StreamTitle='Reframed';") }) : audio
    upstream.push(body)
    upstream.push(audio.subarray(0, 1))
    await waitUntil(() => listener.received().length >= 40001 + 2, 5000, 'the reframed audio')
    const { icy, body: received } = await listener.close()
    assert.ok(received.length < 40001 + 200, `${received.length} bytes: the upstream's interval is not passed on`)
    assert.ok(icy!.audio.equals(Buffer.concat([audio, audio.subarray(0, 1)]).subarray(0, icy!.audio.length)))
    assert.ok(icy!.audio.length >= 40000)
    assert.deepEqual(icy!.titles, upstreamMetaint === 1 ? ['Reframed'] : [''])
  }
  for (const value of ['-16000', '9007199254740993', '0', '16k']) {
    assert.throws(() => upstreamMetaint({ protocol: 'ICY', status: 200, reason: 'OK', headers: { 'icy-metaint': value } }),
      { code: 'FST_ICECAST_RELAY_BAD_METAINT', message: `icy-metaint must be a positive integer, got "${value}"` })
  }
})
