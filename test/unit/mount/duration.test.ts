import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import net from 'node:net'
import { test, type TestContext } from 'node:test'
import { Listener, type EndReason } from '../../../lib/mount/listener.js'

interface Pair {
  listener: Listener
  /** the client's end of the listener's socket */
  client: net.Socket
  ends: Array<{ reason: EndReason, at: number }>
  /** resolves with what the client read once its socket closes */
  closed: Promise<Buffer>
}

/** A Listener over a real loopback TCP connection, and the client end of it. */
async function listenerPair (t: TestContext, maxDuration?: number): Promise<Pair> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve))
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  t.after(() => client.destroy())
  const socket = await accepted
  const ends: Pair['ends'] = []
  const read: Buffer[] = []
  client.on('data', (data: Buffer) => read.push(data))
  const closed = new Promise<Buffer>((resolve) => client.on('close', () => resolve(Buffer.concat(read))))
  const listener = new Listener({
    id: 1,
    socket,
    ip: '127.0.0.1',
    userAgent: 'test',
    queueSize: 1 << 20,
    maxDuration,
    onEnd: (_listener, reason) => ends.push({ reason, at: Date.now() }),
    ending: new Set()
  })
  t.after(() => listener.end('closing'))
  return { listener, client, ends, closed }
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

test('listener maxDuration: ended with reason "duration" once it passes, after what it was sent is flushed', async (t) => {
  const { listener, ends, closed } = await listenerPair(t, 0.3)
  listener.send(Buffer.from('audio'))
  await sleep(150)
  assert.equal(ends.length, 0, 'not before its time')
  const read = await closed
  assert.equal(ends.length, 1)
  assert.equal(ends[0]!.reason, 'duration')
  assert.ok(ends[0]!.at - listener.connectedAt >= 300, `ended after ${ends[0]!.at - listener.connectedAt} ms`)
  assert.ok(ends[0]!.at - listener.connectedAt < 1000, `ended after ${ends[0]!.at - listener.connectedAt} ms`)
  assert.equal(read.toString(), 'audio')
})

test('listener maxDuration: none, Infinity or NaN is no limit', async (t) => {
  const pairs = await Promise.all([undefined, Infinity, Number.NaN].map(async (max) => await listenerPair(t, max)))
  await sleep(300)
  for (const pair of pairs) {
    assert.deepEqual(pair.ends, [])
    assert.equal(pair.listener.ended, false)
  }
})

test('listener maxDuration: 0 ends it at once, but never inside its constructor (before it is attached)', async (t) => {
  const { listener, ends, closed } = await listenerPair(t, 0)
  assert.equal(listener.ended, false)
  await closed
  assert.deepEqual(ends.map((end) => end.reason), ['duration'])
})

test('listener maxDuration: a listener that ends first is ended once, and its timer goes with it', async (t) => {
  const { listener, client, ends, closed } = await listenerPair(t, 0.2)
  client.end()
  await closed
  await sleep(350)
  assert.deepEqual(ends.map((end) => end.reason), ['client'])
  assert.equal(listener.ended, true)
})

test('listener maxDuration: a limit longer than a Node timer can wait (24.8 days) is still kept, not fired at once', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 })
  const socket = new net.Socket()
  t.after(() => socket.destroy())
  const ends: EndReason[] = []
  const days = 30
  const listener = new Listener({
    id: 1,
    socket,
    ip: '127.0.0.1',
    userAgent: '',
    queueSize: 1 << 20,
    maxDuration: days * 86400,
    onEnd: (_listener, reason) => ends.push(reason),
    ending: new Set()
  })
  t.mock.timers.tick(2 ** 31)
  assert.deepEqual(ends, [], 'still on after the first timer')
  t.mock.timers.tick(days * 86400_000 - 2 ** 31 - 1)
  assert.deepEqual(ends, [], 'still on a millisecond before')
  t.mock.timers.tick(1)
  assert.deepEqual(ends, ['duration'])
  assert.equal(listener.ended, true)
})

test('listener maxDuration: its timer keeps no process alive', () => {
  const script = `
    import net from 'node:net'
    import { Listener } from './lib/mount/listener.ts'
    new Listener({ id: 1, socket: new net.Socket(), ip: '', userAgent: '', queueSize: 1, maxDuration: 3600, onEnd () {}, ending: new Set() })
  `
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), timeout: 20_000 })
  assert.equal(run.status, 0, `still running after 20 s, or failed: ${run.stderr.toString()}`)
})
