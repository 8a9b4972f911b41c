import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { before, test } from 'node:test'
import { relayApp, waitForState, waitUntil } from '../helpers/app.js'
import { assertTools, makeFixtures, openListener, runMpg123, runOgginfo, type Fixtures } from '../helpers/icecast.js'

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

async function rideTheGap (contentType: string, first: Buffer, second: Buffer, t: { after: (fn: () => Promise<void>) => void }): Promise<Buffer> {
  // The first stream is cut mid-page / mid-frame, as a crashing upstream would.
  const upstream = await filePerConnection(contentType, [first.subarray(0, Math.floor(first.length * 0.7) + 3), second])
  const { app, url } = await relayApp({
    relays: [{ server: '127.0.0.1', port: upstream.port, mount: '/s', localMount: '/s' }],
    limits: { gracePeriod: 5 }
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/s', 'live')
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
