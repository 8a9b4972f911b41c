import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { before, test } from 'node:test'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import { pagesOf } from '../../unit/fuzz/inputs.js'
import { assertTools, makeFixtures, openListener, runMpg123, runOgginfo, sleep, type Fixtures } from '../../helpers/icecast.js'

let fixtures: Fixtures

before(async () => {
  assertTools('mpg123', 'ogginfo')
  fixtures = await makeFixtures()
})

/** An upstream that sends one file per connection, in order, and holds the connection open. */
async function filePerConnection (contentType: string, files: Buffer[]): Promise<{ port: number, drop: () => void, close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>()
  let served = 0
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', () => {
      socket.write(`HTTP/1.0 200 OK\r\nContent-Type: ${contentType}\r\n\r\n`)
      socket.write(files[Math.min(served++, files.length - 1)]!)
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    drop: () => { for (const socket of sockets) socket.destroy() },
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

/** A relay of /s on an upstream that sends `files`, one per connection, once it is live. */
async function relayOf (contentType: string, files: Buffer[], t: { after: (fn: () => Promise<void>) => void }):
Promise<RelayApp & { upstream: Awaited<ReturnType<typeof filePerConnection>> }> {
  const upstream = await filePerConnection(contentType, files)
  const relay = await relayApp({
    relays: [{ server: '127.0.0.1', port: upstream.port, mount: '/s', localMount: '/s' }],
    limits: { gracePeriod: 5 }
  })
  t.after(async () => { await relay.app.close(); await upstream.close() })
  await waitForState(relay.app, '/s', 'live')
  return { ...relay, upstream }
}

async function rideTheGap (contentType: string, first: Buffer, second: Buffer, t: { after: (fn: () => Promise<void>) => void }): Promise<Buffer> {
  // The first stream is cut mid-page / mid-frame, as a crashing upstream would.
  const { app, url, upstream } = await relayOf(contentType, [first.subarray(0, Math.floor(first.length * 0.7) + 3), second], t)
  const listener = openListener(url('/s'))
  await listener.waitForBytes(20000, 5000)
  upstream.drop()
  await waitForState(app, '/s', 'retrying')
  await waitForState(app, '/s', 'live', 5000)
  await waitUntil(() => app.relay.get('/s')!.bytesIn > first.length * 0.7 + second.length * 0.5, 5000, 'second stream')
  await new Promise((resolve) => setTimeout(resolve, 200))
  const { body, ended } = await listener.close()
  assert.equal(ended, false, 'the listener stayed connected through the gap')
  return body
}

test('Ogg: a listener who rides an upstream gap gets the new stream\'s headers and keeps decoding', async (t) => {
  const first = readFileSync(fixtures.vorbis.long.file)
  const second = readFileSync(fixtures.opus.tracks[0]!.file)
  const body = await rideTheGap('application/ogg', first, second, t)
  // A crashed upstream never sent EOS for its stream: the relay ends it with an EOS page of its own
  // before the next chain, which players need to take the next chain's headers.
  const info = await runOgginfo(body, { allowMidStreamJoin: true })
  // ok: no warning but the mid-stream join of the first stream and the open end of the last
  assert.ok(info.ok, info.output)
  assert.deepEqual(info.streams.map((s) => s.type.toLowerCase()), ['vorbis', 'opus'])
})

test('MP3: a listener who rides an upstream gap decodes on without warnings', async (t) => {
  const first = readFileSync(fixtures.mp3.long.file)
  const second = readFileSync(fixtures.mp3.tracks[0]!.file)
  const body = await rideTheGap('audio/mpeg', first, second, t)
  const decoded = await runMpg123(body, { icy: false })
  assert.ok(decoded.ok && decoded.problems.length === 0, decoded.problems.join('\n') + decoded.stderr)
  assert.ok(decoded.seconds > 5, `${decoded.seconds} s decoded`)
})

test('Ogg then MP3 across a gap: the riders get the old chain ended with EOS pages, nothing of the MP3 (not even bytes before its first frame), and are ended to come back for it', async (t) => {
  const ogg = pagesOf(readFileSync(fixtures.vorbis.long.file))
  const first = Buffer.concat(ogg.slice(0, 20))
  // bytes that cannot begin a format come first: passed on at once when no Ogg chain is open
  const second = Buffer.concat([Buffer.alloc(700, 0x20), readFileSync(fixtures.mp3.tracks[0]!.file)])
  const { app, url, upstream } = await relayOf('application/ogg', [first, second], t)
  await waitUntil(() => app.relay.get('/s')!.bytesIn >= first.length, 5000, 'the first connection')
  // a listener gets the header pages and a burst that ends with the first connection's last page
  const listener = openListener(url('/s'))
  await listener.waitForBytes(10000, 5000)
  upstream.drop()
  await waitForState(app, '/s', 'retrying')
  await waitForState(app, '/s', 'live', 5000)
  await Promise.race([listener.ended, sleep(3000).then(() => assert.fail('the listener was not ended'))])
  const { body } = await listener.close()
  const pages = pagesOf(body)
  const last = ogg[19]!
  assert.ok(pages.at(-2)!.equals(last), 'the first connection\'s pages up to its last')
  const eos = pages.at(-1)!
  assert.equal(eos.length, 27, 'then one EOS page, and nothing of the MP3')
  assert.equal(eos[5], 0x04)
  assert.equal(eos.readUInt32LE(14), last.readUInt32LE(14))
  assert.equal(eos.readUInt32LE(18), last.readUInt32LE(18) + 1)
  const info = await runOgginfo(body, { allowTruncatedEnd: false, allowMidStreamJoin: true })
  assert.ok(info.ok, info.output)
  // a listener who comes now gets the MP3
  const late = openListener(url('/s'))
  const head = await late.head
  assert.equal(head.headers['content-type'], 'application/ogg', 'the upstream\'s label, whatever it holds')
  const bytes = await late.waitForBytes(4000, 5000)
  assert.ok(bytes.subarray(0, 2).equals(Buffer.from([0xff, 0xfb])) || (bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0), 'an MP3 frame first')
  await late.close()
})

test('Ogg: a reconnect that nobody rides (no listener in the gap) hands no chain on: the server\'s burst is kept for the next listener, and no EOS page is written', async (t) => {
  const ogg = pagesOf(readFileSync(fixtures.vorbis.long.file))
  const headers = ogg.slice(0, 2)
  const first = Buffer.concat(ogg.slice(0, 20))
  // the same running source again: its header pages and a burst of pages the first connection sent
  const second = Buffer.concat([...headers, ...ogg.slice(14, 20)])
  const { app, url, upstream } = await relayOf('application/ogg', [first, second], t)
  await waitUntil(() => app.relay.get('/s')!.bytesIn >= first.length, 5000, 'the first connection')
  upstream.drop()
  await waitForState(app, '/s', 'retrying')
  await waitForState(app, '/s', 'live', 5000)
  await waitUntil(() => app.relay.get('/s')!.bytesIn >= first.length + second.length, 5000, 'the second connection')
  const listener = openListener(url('/s'))
  await listener.waitForBytes(second.length, 3000).catch(() => {})
  const { body } = await listener.close()
  assert.equal(body.length, second.length, 'the headers and the whole burst')
  assert.ok(body.equals(second))
})
