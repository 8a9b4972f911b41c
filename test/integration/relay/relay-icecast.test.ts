import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, type RelayApp } from '../../helpers/app.js'
import {
  makeFixtures, assertTools, openListener, runMpg123, runOgginfo, startIcecast, startSource,
  type Icecast, type Source
} from '../../helpers/icecast.js'
import { httpGet } from '../../helpers/procs.js'

let icecast: Icecast
const sources: Source[] = []
let relay: RelayApp

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123', 'ogginfo')
  const fixtures = await makeFixtures()
  icecast = await startIcecast()
  sources.push(await startSource({ icecast, mount: '/live.mp3', files: [fixtures.mp3.long], format: 'mp3', name: 'Master MP3', genre: 'Test' }))
  sources.push(await startSource({ icecast, mount: '/live.ogg', files: [fixtures.vorbis.long], format: 'ogg' }))
  relay = await relayApp({
    relays: [
      { server: icecast.host, port: icecast.port, mount: '/live.mp3', localMount: '/relayed.mp3' },
      { server: icecast.host, port: icecast.port, mount: '/live.ogg', relayShoutcastMetadata: false },
      { server: icecast.host, port: icecast.port, mount: '/live.ogg', localMount: '/ondemand.ogg', onDemand: true }
    ],
    limits: { burstSize: 16384 }
  }, (app) => {
    app.setNotFoundHandler((request, reply) => { reply.code(404).send({ notFoundBy: 'host', url: request.url }) })
  })
  await waitForState(relay.app, '/relayed.mp3', 'live')
  await waitForState(relay.app, '/live.ogg', 'live')
})

after(async () => {
  await relay?.app.close()
  await Promise.all(sources.map((s) => s.stop()))
  await icecast?.stop()
})

test('a relayed MP3 mount under another local name serves audio/mpeg that mpg123 decodes', async () => {
  const listener = openListener(relay.url('/relayed.mp3'))
  const head = await listener.head
  assert.equal(head.status, 200)
  assert.equal(head.headers['content-type'], 'audio/mpeg')
  assert.equal(head.headers['icy-name'], 'Master MP3')
  assert.equal(head.headers['icy-genre'], 'Test')
  assert.equal(head.headers['icy-metaint'], undefined, 'no ICY blocks for a listener that did not ask')
  const body = await listener.waitForBytes(64000, 10000)
  await listener.close()
  const decoded = await runMpg123(body, { icy: false })
  assert.ok(decoded.ok, decoded.problems.join('\n') + decoded.stderr)
  assert.ok(decoded.seconds > 3, `decoded ${decoded.seconds} s`)
  assert.equal(decoded.format?.rate, 44100)
})

test('the relayed bytes are a contiguous run of what the master sends its own listeners', async () => {
  const direct = openListener(icecast.url('/live.mp3'))
  await direct.head
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const relayed = openListener(relay.url('/relayed.mp3'))
  await relayed.head
  const relayedBody = await relayed.waitForBytes(60000, 10000)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const directBody = (await direct.close()).body
  await relayed.close()

  const probe = relayedBody.subarray(0, 4096)
  const at = directBody.indexOf(probe)
  assert.ok(at >= 0, 'the relay\'s first bytes appear in the master\'s stream')
  const overlap = Math.min(relayedBody.length, directBody.length - at)
  assert.ok(overlap > 40000, `overlap of ${overlap} bytes`)
  assert.ok(relayedBody.subarray(0, overlap).equals(directBody.subarray(at, at + overlap)), 'nothing lost, invented or reordered')
})

test('an Ogg Vorbis mount is relayed byte for byte; an on-demand listener gets an Ogg stream ogginfo accepts', async () => {
  assert.equal(relay.app.relay.get('/live.ogg')!.contentType, 'application/ogg')
  const direct = openListener(icecast.url('/live.ogg'))
  await direct.head
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const relayed = openListener(relay.url('/live.ogg'))
  assert.equal((await relayed.head).headers['content-type'], 'application/ogg')
  const relayedBody = await relayed.waitForBytes(40000, 10000)
  await new Promise((resolve) => setTimeout(resolve, 500))
  const directBody = (await direct.close()).body
  await relayed.close()
  // A late joiner gets the codec header pages first, then pages that are a run of the master's stream.
  const tail = relayedBody.subarray(relayedBody.length - 4096)
  const end = directBody.indexOf(tail) + tail.length
  assert.ok(end > tail.length, 'the relay\'s last bytes appear in the master\'s stream')
  let run = tail.length
  while (run < relayedBody.length && relayedBody[relayedBody.length - run - 1] === directBody[end - run - 1]) run++
  const headers = relayedBody.subarray(0, relayedBody.length - run)
  assert.ok(headers.length > 0 && headers.length < 16384, `${headers.length} bytes of headers`)
  assert.equal(headers.subarray(0, 4).toString('latin1'), 'OggS')
  assert.equal(headers[5]! & 2, 2, 'the first page is a BOS page')
  const joined = await runOgginfo(relayedBody, { allowMidStreamJoin: true })
  assert.ok(joined.ok, joined.output)

  assert.equal(relay.app.relay.get('/ondemand.ogg')!.state, 'idle')
  const first = openListener(relay.url('/ondemand.ogg'))
  assert.equal((await first.head).status, 200)
  const body = await first.waitForBytes(40000, 10000)
  await first.close()
  const info = await runOgginfo(body, { allowMidStreamJoin: true })
  assert.ok(info.ok, info.output)
  assert.equal(info.streams[0]?.type, 'vorbis')
})

test('HEAD on a relayed mount answers the stream headers and no body', async () => {
  const listener = openListener(relay.url('/relayed.mp3'), { method: 'HEAD' })
  const head = await listener.head
  await listener.ended
  assert.equal(head.status, 200)
  assert.equal(head.headers['content-type'], 'audio/mpeg')
  assert.equal(listener.received().length, 0)
})

test('an unknown mount is a 404 from the host app\'s own not-found handler', async () => {
  const res = await httpGet(relay.url('/not-relayed.mp3'))
  assert.equal(res.status, 404)
  assert.deepEqual(JSON.parse(res.body.toString()), { notFoundBy: 'host', url: '/not-relayed.mp3' })
})

test('a mount added with app.relay.add after listen is served at once', async () => {
  relay.app.relay.add({ url: icecast.url('/live.mp3'), localMount: '/added.mp3' })
  await waitForState(relay.app, '/added.mp3', 'live')
  const listener = openListener(relay.url('/added.mp3'))
  assert.equal((await listener.head).status, 200)
  const body = await listener.waitForBytes(32000, 10000)
  await listener.close()
  const decoded = await runMpg123(body, { icy: false })
  assert.ok(decoded.ok, decoded.problems.join('\n'))
})
