// Gathered writes bounded by queueSize (lib/mount/mount.ts gatherBound) over real sockets: a 10 Mbit/s stream
// relayed with a small queueSize, to a real client (curl) that reads at a little over the stream's rate, while
// a crowd joins and over TLS. Node counts a write in a socket's queue whole until the kernel took its last
// byte, so across a network a gathering of half a second in one write leaves such a listener over queueSize
// when the next write comes soon after (the crowd over, a title change). Loopback's sockets take megabytes at
// once (a 64 KiB MSS), so here that write passes too (40 Mbit/s as well): the bound itself is shown by the unit
// tests (test/unit/mount/join.test.ts, round.test.ts); these show that its more frequent writes keep a
// listener that keeps pace in, with every byte, in a crowd's rounds and over TLS.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import fastifyIcecastRelay from '../../../lib/index.js'
import { waitForState, waitUntil } from '../../helpers/app.js'
import { openListener } from '../../helpers/listen.js'
import { makeTempDir, sleep, spawnTracked, type Proc } from '../../helpers/procs.js'
import { noise, scriptedUpstream, type ScriptedUpstream } from '../../helpers/scripted.js'
import { selfSignedCertificate } from '../../helpers/servers.js'
import { assertTools } from '../../helpers/tools.js'

const MOUNT = '/video'
/** 10 Mbit/s: 12,500 bytes every 10 ms */
const PIECE = 12_500
const PIECE_MS = 10
const QUEUE_SIZE = 65_536

interface Setup { upstream: ScriptedUpstream, base: string, slowDrops: () => number, setTitle: (title: string) => void }

async function fastRelay (t: TestContext, https: boolean): Promise<Setup> {
  const upstream = await scriptedUpstream()
  const app = https ? Fastify({ https: selfSignedCertificate() }) as unknown as FastifyInstance : Fastify()
  await app.register(fastifyIcecastRelay, {
    limits: { clients: 1000, queueSize: QUEUE_SIZE, burstSize: 16_384 },
    relays: [{ url: upstream.url(), localMount: MOUNT }]
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, MOUNT, 'live')
  const port = (app.server.address() as AddressInfo).port
  return {
    upstream,
    base: `${https ? 'https' : 'http'}://127.0.0.1:${port}`,
    slowDrops: () => app.relay.get(MOUNT)?.slowDrops ?? -1,
    setTitle: (title) => { app.relay.setMetadata(MOUNT, { title }) }
  }
}

/** Pushes the stream until the returned function is called. */
function streaming (upstream: ScriptedUpstream): () => void {
  const timer = setInterval(() => { upstream.push(noise(PIECE)) }, PIECE_MS)
  return () => { clearInterval(timer) }
}

/** curl reading at 1.5 times the stream's rate into a file: a player that keeps pace. */
function pacedCurl (t: TestContext, url: string): { proc: Proc, body: () => Buffer } {
  const file = join(makeTempDir('gather-bound-'), 'body')
  const rate = Math.round(1.5 * PIECE * 1000 / PIECE_MS)
  const proc = spawnTracked('curl', ['-s', '-k', '-N', '--limit-rate', String(rate), '-o', file, url])
  t.after(async () => { await proc.stop() })
  return { proc, body: () => readFileSync(file) }
}

/** Whether `body` is a run of the stream as it came, from wherever the listener started. */
function runOfStream (body: Buffer, stream: Buffer): boolean {
  return body.length > 0 && stream.indexOf(body.subarray(0, 4096)) >= 0 &&
    stream.subarray(stream.indexOf(body.subarray(0, 4096))).subarray(0, body.length).equals(body)
}

/** Once the stream stopped: the player got all of it from its start and nobody was dropped as slow. Resolves with the stream. */
async function keptPace (upstream: ScriptedUpstream, player: ReturnType<typeof pacedCurl>, slowDrops: () => number): Promise<Buffer> {
  const all = upstream.sent()
  await waitUntil(() => player.body().length > 0 && all.subarray(-1000).equals(player.body().subarray(-1000)), 10000, 'the player has the last read')
  assert.equal(slowDrops(), 0, 'no listener dropped as slow')
  assert.ok(player.proc.alive(), 'the player is still connected')
  assert.ok(runOfStream(player.body(), all), `the player got ${player.body().length} bytes, a run of the stream`)
  return all
}

test('10 Mbit/s, queueSize 64 KiB, a crowd joining: a listener that keeps pace is never dropped as slow, and gets the stream as it came', async (t) => {
  assertTools('curl')
  const { upstream, base, slowDrops } = await fastRelay(t, false)
  await upstream.waitForClients(1)
  const stop = streaming(upstream)
  t.after(stop)
  const player = pacedCurl(t, base + MOUNT)
  await sleep(1000)
  // far more than 100 within a second: the stream is gathered for crowdWriteInterval (0.5 s) meanwhile, and
  // written in rounds to the crowd once in
  const crowd = Array.from({ length: 150 }, () => openListener(base + MOUNT))
  t.after(async () => { await Promise.all(crowd.map(async (l) => await l.close())) })
  await Promise.all(crowd.map(async (l) => await l.head))
  // past the crowd: writeInterval (5 ms) again, the next write right after the crowd's last
  await sleep(3000)
  stop()
  const all = await keptPace(upstream, player, slowDrops)
  await waitUntil(() => crowd.every((l) => all.subarray(-1000).equals(l.received().subarray(-1000))), 10000, 'the crowd has the last read')
  for (const [i, l] of crowd.entries()) assert.ok(runOfStream(l.received(), all), `crowd listener ${i}: a run of the stream`)
})

test('10 Mbit/s, queueSize 64 KiB, over TLS: a listener that keeps pace is never dropped as slow when titles change between the TLS tier\'s writes', async (t) => {
  assertTools('curl', 'openssl')
  const { upstream, base, slowDrops, setTitle } = await fastRelay(t, true)
  await upstream.waitForClients(1)
  const stop = streaming(upstream)
  t.after(stop)
  const player = pacedCurl(t, base + MOUNT)
  // a title change writes what was gathered at once: within tlsWriteInterval (0.5 s) of the last write
  for (let i = 0; i < 10; i++) {
    await sleep(350)
    setTitle(`title ${i}`)
  }
  stop()
  await keptPace(upstream, player, slowDrops)
})
