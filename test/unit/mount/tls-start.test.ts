// A TLS listener's start (intro, codec headers, burst) is written in pieces of a TLS record at most, one at a
// time, with what is sent meanwhile behind them (lib/mount/listener.ts): Node's TLS stream keeps a buffer as
// large as the largest write it had, so a burst in one write cost each HTTPS listener some 35–40 KiB more.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { connect, createServer, type TLSSocket } from 'node:tls'
import fc from 'fast-check'
import { Listener, piecesOf, TLS_RECORD_BYTES, type EndReason } from '../../../lib/mount/listener.js'
import { selfSignedCertificate } from '../../helpers/servers.js'
import { waitUntil } from '../../helpers/app.js'

test('piecesOf (property): every byte once and in order, each piece full but the last, none empty', () => {
  const slice = fc.uint8Array({ maxLength: 40_000 }).map((bytes) => Buffer.from(bytes))
  fc.assert(fc.property(fc.array(slice, { maxLength: 12 }), fc.integer({ min: 1, max: 20_000 }), (slices, size) => {
    const pieces = piecesOf(slices, size)
    assert.deepEqual(Buffer.concat(pieces), Buffer.concat(slices))
    for (const [i, piece] of pieces.entries()) {
      assert.ok(piece.length > 0 && piece.length <= size)
      if (i < pieces.length - 1) assert.equal(piece.length, size)
    }
  }), { numRuns: 200 })
  const big = randomBytes(3 * TLS_RECORD_BYTES)
  assert.ok(piecesOf([big]).every((piece) => piece.buffer === big.buffer), 'a slice larger than a record is cut, not copied')
})

interface TlsPair {
  server: TLSSocket
  /** what the client received so far */
  received: () => Buffer
  /** each write the server's socket was given, with its queue at that moment */
  writes: Array<{ bytes: number, queued: number }>
}

/** A real TLS connection over loopback; the server side's writes are recorded as they pass to it. */
async function tlsPair (t: { after: (fn: () => void) => void }): Promise<TlsPair> {
  const { key, cert } = selfSignedCertificate()
  const server = createServer({ key, cert })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const accepted = once(server, 'secureConnection') as Promise<[TLSSocket]>
  const client = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', ca: cert, servername: 'localhost' })
  const chunks: Buffer[] = []
  client.on('data', (data: Buffer) => chunks.push(data))
  const [socket] = await accepted
  t.after(() => { client.destroy(); socket.destroy(); server.close() })
  const writes: TlsPair['writes'] = []
  const write = socket.write.bind(socket) as (chunk: Buffer, done?: (error?: Error | null) => void) => boolean
  socket.write = ((chunk: Buffer, done?: (error?: Error | null) => void) => {
    writes.push({ bytes: chunk.length, queued: socket.writableLength })
    return write(chunk, done)
  }) as typeof socket.write
  return { server: socket, received: () => Buffer.concat(chunks), writes }
}

function listenerOn (socket: TLSSocket, queueSize: number, ended: EndReason[] = []): Listener {
  return new Listener({ id: 1, socket, ip: '127.0.0.1', userAgent: '', queueSize, onEnd: (_, reason) => ended.push(reason), ending: new Set() })
}

test('a TLS listener\'s start goes in writes of a record at most, each after the last is done; what is sent meanwhile comes after it, all in order', async (t) => {
  const pair = await tlsPair(t)
  const listener = listenerOn(pair.server, 1 << 20)
  assert.ok(listener.encrypted)
  const burst = Array.from({ length: 50 }, () => randomBytes(1400))
  const later = [randomBytes(3000), randomBytes(20_000)]
  listener.start(burst)
  for (const chunk of later) listener.send(chunk)
  const all = Buffer.concat([...burst, ...later])
  await waitUntil(() => pair.received().length >= all.length, 5000, 'everything received')
  assert.ok(pair.received().equals(all), 'the start, then what was sent, every byte once and in order')
  assert.ok(pair.writes.length >= Math.ceil(all.length / TLS_RECORD_BYTES), `${pair.writes.length} writes`)
  for (const write of pair.writes) {
    assert.ok(write.bytes <= TLS_RECORD_BYTES, `a write of ${write.bytes} bytes`)
    assert.equal(write.queued, 0, 'no write while another is under way')
  }
  assert.equal(listener.bytesSent, all.length)
})

test('a TLS listener is sent more than a record in pieces too, one at a time', async (t) => {
  const pair = await tlsPair(t)
  const listener = listenerOn(pair.server, 1 << 20)
  const chunk = randomBytes(3 * TLS_RECORD_BYTES + 100)
  listener.send(chunk)
  await waitUntil(() => pair.received().length >= chunk.length, 5000, 'the chunk received')
  assert.ok(pair.received().equals(chunk))
  assert.deepEqual(pair.writes.map((write) => write.bytes), [TLS_RECORD_BYTES, TLS_RECORD_BYTES, TLS_RECORD_BYTES, 100])
  assert.ok(pair.writes.every((write) => write.queued === 0), 'no write while another is under way')
})

test('what waits behind a TLS listener\'s start counts toward its queue: past queueSize it is dropped as slow', async (t) => {
  const pair = await tlsPair(t)
  const ended: EndReason[] = []
  const listener = listenerOn(pair.server, 40_000, ended)
  listener.start([randomBytes(60_000)])
  listener.send(randomBytes(1000))
  assert.deepEqual(ended, ['slow'])
})

test('a TLS listener ended gracefully still gets what waited behind its start, as a plain one would', async (t) => {
  const pair = await tlsPair(t)
  const listener = listenerOn(pair.server, 1 << 20)
  const start = randomBytes(5 * TLS_RECORD_BYTES)
  const later = randomBytes(20_000)
  listener.start([start])
  listener.send(later)
  listener.end('removed')
  const all = Buffer.concat([start, later])
  await waitUntil(() => pair.received().length >= all.length, 5000, 'everything received before the close')
  assert.ok(pair.received().equals(all))
})

test('a TLS listener cut off (slow, kicked) gets no more of what waited', async (t) => {
  const pair = await tlsPair(t)
  const listener = listenerOn(pair.server, 1 << 20)
  listener.start([randomBytes(5 * TLS_RECORD_BYTES)])
  listener.end('kicked')
  await once(pair.server, 'close')
  assert.ok(pair.writes.length < 5, `${pair.writes.length} of the 5 pieces written`)
})
