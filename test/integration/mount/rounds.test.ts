// A mount of more listeners than a slice (lib/mount/round.ts) over real sockets: upstream reads that come while
// a round of writes runs join it, and every listener still gets the stream as it came, nothing lost or doubled.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { SLICE } from '../../../lib/mount/round.js'
import { scriptedRelay, waitUntil } from '../../helpers/app.js'
import { openListener } from '../../helpers/listen.js'
import { noise } from '../../helpers/scripted.js'

test('rounds in slices: reads that come during a round reach every one of more listeners than a slice, in order, once', async (t) => {
  // the listeners join as a crowd: no longer gathering for them (crowdWriteInterval 0) keeps the 5 ms rounds this is about
  const relay = await scriptedRelay(t, '/rounds.mp3', { plugin: { limits: { clients: 1000, crowdWriteInterval: 0 } } })
  await relay.upstream.waitForClients(1)
  // what each listener starts with (its burst): the stream so far
  relay.upstream.push(noise(1000))
  await waitUntil(() => relay.app.relay.get('/rounds.mp3')?.bytesIn === 1000, 5000, 'the first read relayed')
  const listeners = Array.from({ length: SLICE + 44 }, () => openListener(relay.url('/rounds.mp3')))
  t.after(async () => { await Promise.all(listeners.map(async (l) => await l.close())) })
  await Promise.all(listeners.map(async (l) => await l.head))
  await waitUntil(() => relay.app.relay.get('/rounds.mp3')?.listeners === listeners.length, 10000, 'every listener in')
  // reads a millisecond apart: with the 5 ms of writeInterval, later ones come while a round runs
  for (let i = 0; i < 40; i++) {
    relay.upstream.push(noise(3000 + i))
    await sleep(1 + (i % 7))
  }
  const sent = relay.upstream.sent()
  const last = sent.subarray(sent.length - 64)
  await waitUntil(() => listeners.every((l) => l.received().subarray(-64).equals(last)), 20000, 'every listener has the last read')
  for (const [i, l] of listeners.entries()) {
    const got = l.received()
    assert.ok(got.equals(sent), `listener ${i}: ${got.length} bytes of ${sent.length}, the whole stream as it came`)
  }
})
