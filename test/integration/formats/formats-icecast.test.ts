import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import {
  LONG_TAGS, TRACK_TAGS, assertTools, makeFixtures, openListener, runMpg123, runOgginfo, startIcecast, startSource,
  type Icecast, type Source
} from '../../helpers/icecast.js'
import { demuxIcy } from '../../helpers/listen.js'
import { adtsFixture } from '../../helpers/adts.js'

let icecast: Icecast
const sources: Source[] = []
let relay: RelayApp
const BURST = 32768

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123', 'ogginfo')
  const fixtures = await makeFixtures()
  icecast = await startIcecast()
  sources.push(...await Promise.all([
    startSource({ icecast, mount: '/vorbis.ogg', files: [fixtures.vorbis.long], format: 'ogg' }),
    startSource({ icecast, mount: '/opus.ogg', files: [fixtures.opus.long], format: 'ogg' }),
    startSource({ icecast, mount: '/chain.ogg', files: fixtures.vorbis.tracks, format: 'ogg' }),
    startSource({ icecast, mount: '/live.mp3', files: [fixtures.mp3.long], format: 'mp3' })
  ]))
  relay = await relayApp({
    relays: ['/vorbis.ogg', '/opus.ogg', '/chain.ogg', '/live.mp3'].map((mount) => ({ server: icecast.host, port: icecast.port, mount })),
    limits: { burstSize: BURST }
  })
  await Promise.all(['/vorbis.ogg', '/opus.ogg', '/chain.ogg', '/live.mp3'].map((m) => waitForState(relay.app, m, 'live')))
})

after(async () => {
  await relay?.app.close()
  await Promise.all(sources.map((s) => s.stop()))
  await icecast?.stop()
})

for (const [mount, codec] of [['/vorbis.ogg', 'vorbis'], ['/opus.ogg', 'opus']] as const) {
  test(`${codec}: a listener joining long after the chain start gets a stream ogginfo accepts; the status has the tags`, async () => {
    // Long after: the relay's burst window no longer reaches back to the header pages.
    await waitUntil(() => relay.app.relay.get(mount)!.bytesIn > 4 * BURST, 20000, `${mount} data`)
    const listener = openListener(relay.url(mount))
    const body = await listener.waitForBytes(BURST + 16000, 10000)
    await listener.close()
    const info = await runOgginfo(body, { allowMidStreamJoin: true })
    assert.ok(info.ok, info.output)
    assert.equal(info.streams[0]?.type.toLowerCase(), codec)
    assert.ok(info.streams[0]?.comments.includes(`title=${LONG_TAGS.title}`), info.output)
    const status = relay.app.relay.get(mount)!
    assert.equal(status.metadata?.title, LONG_TAGS.title)
    assert.equal(status.metadata?.artist, LONG_TAGS.artist)
    assert.equal(status.metadata?.source, codec)
    assert.equal(status.audio?.codec, codec)
    assert.equal(status.audio?.channels, 2)
  })
}

test('chained Ogg: titles reach events and status at track boundaries; a listener crossing them keeps decoding', async () => {
  const titles: string[] = []
  const onMetadata = (e: { localMount: string, metadata: { title?: string } }): void => {
    if (e.localMount === '/chain.ogg') titles.push(e.metadata.title ?? '')
  }
  relay.app.relay.on('metadata', onMetadata)
  const listener = openListener(relay.url('/chain.ogg'))
  await listener.head
  await new Promise((resolve) => setTimeout(resolve, 8000))
  const { body } = await listener.close()
  relay.app.relay.off('metadata', onMetadata)

  const order = TRACK_TAGS.map((tag) => tag.title)
  assert.ok(titles.length >= 2, `titles: ${JSON.stringify(titles)}`)
  for (let i = 1; i < titles.length; i++) {
    assert.equal(titles[i], order[(order.indexOf(titles[i - 1]!) + 1) % order.length], `after ${titles[i - 1]}`)
  }
  assert.equal(relay.app.relay.get('/chain.ogg')!.metadata?.title, titles.at(-1))
  const info = await runOgginfo(body, { allowMidStreamJoin: true })
  assert.ok(info.ok, info.output)
  assert.ok(info.streams.length >= 3, `${info.streams.length} logical streams`)
  for (const stream of info.streams) assert.equal(stream.type, 'vorbis')
})

function isMpegFrameStart (bytes: Buffer): boolean {
  return bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0 && (bytes[1]! & 0x06) !== 0
}

test('MP3: at many random join moments the first byte a listener gets starts a frame; mpg123 decodes without warnings', async () => {
  const joins = Array.from({ length: 16 }, (_, i) => ({ delay: Math.floor(Math.random() * 3000), icy: i % 2 === 1 }))
  const captures = await Promise.all(joins.map(async ({ delay, icy }) => {
    await new Promise((resolve) => setTimeout(resolve, delay))
    const listener = openListener(relay.url('/live.mp3'), { icy })
    await listener.waitForBytes(BURST + 8000, 10000)
    const result = await listener.close()
    return icy ? demuxIcy(result.body, Number(result.headers['icy-metaint'])).audio : result.body
  }))
  for (const audio of captures) assert.ok(isMpegFrameStart(audio), `first bytes ${audio.subarray(0, 4).toString('hex')}`)
  for (const audio of captures.slice(0, 4)) {
    const decoded = await runMpg123(audio, { icy: false })
    assert.ok(decoded.ok && decoded.problems.length === 0, decoded.problems.join('\n') + decoded.stderr)
  }
  const status = relay.app.relay.get('/live.mp3')!
  assert.deepEqual(status.audio, { codec: 'mp3', bitrate: 128, sampleRate: 44100, channels: 2 })
})

test('AAC (ADTS): late joiners start at a frame header too', async (t) => {
  const aac = adtsFixture()
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', () => {
      socket.write('HTTP/1.0 200 OK\r\nContent-Type: audio/aacp\r\n\r\n')
      let at = 0
      const timer = setInterval(() => {
        socket.write(aac.subarray(at, at + 1600))
        at = (at + 1600) % aac.length
      }, 50)
      socket.on('close', () => clearInterval(timer))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  relay.app.relay.add({ server: '127.0.0.1', port, mount: '/aac', localMount: '/aac' })
  t.after(async () => {
    relay.app.relay.remove('/aac')
    await new Promise((resolve) => server.close(resolve))
  })
  await waitUntil(() => (relay.app.relay.get('/aac')?.bytesIn ?? 0) > 40000, 10000, 'aac data')
  const firsts = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
    await new Promise((resolve) => setTimeout(resolve, i * 137))
    const listener = openListener(relay.url('/aac'))
    const body = await listener.waitForBytes(4000, 5000)
    await listener.close()
    return body
  }))
  for (const body of firsts) {
    assert.ok(body[0] === 0xff && (body[1]! & 0xf6) === 0xf0, `first bytes ${body.subarray(0, 4).toString('hex')}`)
    const length = ((body[3]! & 3) << 11) | (body[4]! << 3) | (body[5]! >> 5)
    assert.ok(body[length] === 0xff && (body[length + 1]! & 0xf6) === 0xf0, 'the next frame follows')
  }
  assert.equal(relay.app.relay.get('/aac')!.audio?.codec, 'aac')
})
