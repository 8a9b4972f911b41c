// A crowd joining a mount (lib/relay/crowd.ts, lib/mount/tier.ts) over real sockets: while it comes, the
// stream is gathered for `limits.crowdWriteInterval` for the listeners already in, and once it has passed,
// `limits.writeInterval` holds again; joiners force no write on the others, and everyone gets the stream
// as it came, nothing lost or doubled. So too while a mount's writes would keep the thread busy, for
// `limits.busyWriteInterval`.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { scriptedRelay, waitUntil } from '../../helpers/app.js'
import { openListener } from '../../helpers/listen.js'
import { noise } from '../../helpers/scripted.js'

/** ms from an upstream read to its last byte reaching a listener */
async function delivery (push: () => void, bytes: number, listener: ReturnType<typeof openListener>): Promise<number> {
  const start = performance.now()
  push()
  await listener.waitForBytes(bytes, 10000)
  return performance.now() - start
}

test('a crowd joining: those already in get the stream gathered for crowdWriteInterval, then writeInterval again; everyone gets all of it once', async (t) => {
  // a busy mount is not gathered here: what gathers is the crowd
  const relay = await scriptedRelay(t, '/crowd.mp3', { plugin: { limits: { clients: 1000, busyWriteInterval: 0 } } })
  await relay.upstream.waitForClients(1)
  relay.upstream.push(noise(1000))
  await waitUntil(() => relay.app.relay.get('/crowd.mp3')?.bytesIn === 1000, 5000, 'the first read relayed')
  const first = openListener(relay.url('/crowd.mp3'))
  t.after(async () => { await first.close() })
  await first.waitForBytes(1000)
  // far more than 100 within a second, or within two on a busy machine
  const crowd = Array.from({ length: 250 }, () => openListener(relay.url('/crowd.mp3')))
  t.after(async () => { await Promise.all(crowd.map(async (l) => await l.close())) })
  await Promise.all(crowd.map(async (l) => await l.head))
  await waitUntil(() => relay.app.relay.get('/crowd.mp3')?.listeners === crowd.length + 1, 10000, 'every listener in')
  const gathered = await delivery(() => { relay.upstream.push(noise(2000)) }, 3000, first)
  assert.ok(gathered >= 400, `a read during the crowd reached a listener already in after ${gathered.toFixed(0)} ms: gathered for 0.5 s`)
  await sleep(1500)
  const sent = relay.upstream.sent().length
  const after = await delivery(() => { relay.upstream.push(noise(3000)) }, sent + 3000, first)
  assert.ok(after < 400, `a read after the crowd reached it after ${after.toFixed(0)} ms: the 5 ms of writeInterval again`)
  const all = relay.upstream.sent()
  await waitUntil(() => crowd.every((l) => l.received().length >= all.length), 10000, 'every listener has the last read')
  for (const [i, l] of [first, ...crowd].entries()) {
    assert.ok(l.received().equals(all), `listener ${i}: ${l.received().length} bytes of ${all.length}, the whole stream as it came`)
  }
})

/**
 * A mount of 1,000 real listeners, then a read every 5 ms for 2.5 s: each a round of 1,000 writes, most of a
 * second's worth. Resolves with the ms the next read takes to reach a listener, and then checks that once calm
 * (a second and more without reads) a read goes out at `writeInterval`, and that everyone got everything once.
 */
async function busyMount (t: TestContext, name: string, limits: Record<string, number>): Promise<number> {
  const relay = await scriptedRelay(t, name, { plugin: { limits: { clients: 2000, ...limits } } })
  await relay.upstream.waitForClients(1)
  relay.upstream.push(noise(1000))
  await waitUntil(() => relay.app.relay.get(name)?.bytesIn === 1000, 5000, 'the first read relayed')
  const listeners = Array.from({ length: 1000 }, () => openListener(relay.url(name)))
  t.after(async () => { await Promise.all(listeners.map(async (l) => await l.close())) })
  await Promise.all(listeners.map(async (l) => await l.head))
  await waitUntil(() => relay.app.relay.get(name)?.listeners === listeners.length, 10000, 'every listener in')
  const first = listeners[0]!
  // the crowd has passed
  await sleep(1500)
  const until = performance.now() + 2500
  while (performance.now() < until) {
    relay.upstream.push(noise(200))
    await sleep(5)
  }
  // what was gathered goes out; the next read is timed
  await first.waitForBytes(relay.upstream.sent().length, 5000)
  const busy = await delivery(() => { relay.upstream.push(noise(2000)) }, relay.upstream.sent().length + 2000, first)
  // a second and more without reads: the next one foresees a calm mount
  await sleep(1500)
  const sent = relay.upstream.sent().length
  const calm = await delivery(() => { relay.upstream.push(noise(3000)) }, sent + 3000, first)
  assert.ok(calm < 300, `a read once calm reached it after ${calm.toFixed(0)} ms: the 5 ms of writeInterval again`)
  const all = relay.upstream.sent()
  await waitUntil(() => listeners.every((l) => l.received().length >= all.length), 10000, 'every listener has the last read')
  for (const [i, l] of listeners.entries()) {
    assert.ok(l.received().equals(all), `listener ${i}: ${l.received().length} bytes of ${all.length}, the whole stream as it came`)
  }
  return busy
}

test('a mount whose writes would keep the thread busy is gathered for busyWriteInterval, and at writeInterval once its reads calm; everyone gets all of it once', async (t) => {
  const busy = await busyMount(t, '/busy.mp3', {})
  assert.ok(busy >= 300, `a read of a busy mount reached a listener after ${busy.toFixed(0)} ms: gathered for 0.5 s`)
})

test('crowdWriteInterval 0: a busy mount is still gathered, for busyWriteInterval', async (t) => {
  const busy = await busyMount(t, '/uncrowded.mp3', { crowdWriteInterval: 0 })
  assert.ok(busy >= 300, `a read of a busy mount reached a listener after ${busy.toFixed(0)} ms: gathered for 0.5 s`)
})

test('busyWriteInterval 0: a busy mount is written at writeInterval', async (t) => {
  const busy = await busyMount(t, '/eager.mp3', { busyWriteInterval: 0 })
  assert.ok(busy < 300, `a read of a busy mount reached a listener after ${busy.toFixed(0)} ms: not gathered`)
})
