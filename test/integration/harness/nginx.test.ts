// Self-test of test/helpers/nginx.ts: a real nginx with proxy_cache in front of a Fastify app keeps what
// the app's Cache-Control lets it keep, lets one request per URL through for a crowd, and nothing else.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import { startNginxCache } from '../../helpers/nginx.js'
import { httpGet } from '../../helpers/procs.js'

test('nginx caches what the app calls cacheable, collapses a crowd into one request, and passes the rest through, playlists without a queue', async (t) => {
  const app = Fastify()
  const seen = new Map<string, number>()
  app.addHook('onRequest', async (request) => { seen.set(request.url, (seen.get(request.url) ?? 0) + 1) })
  app.get('/cached', async (request, reply) => {
    await new Promise((resolve) => setTimeout(resolve, 200)) // a crowd arrives while the first answer is on its way
    return await reply.header('cache-control', 'public, max-age=30').send('kept')
  })
  app.get('/private', async (request, reply) => await reply.header('cache-control', 'no-store').send('fresh'))
  app.get('/index.m3u8', async (request, reply) => {
    await new Promise((resolve) => setTimeout(resolve, 200))
    return await reply.header('cache-control', 'no-store').send('#EXTM3U\n')
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(async () => await app.close())
  const nginx = await startNginxCache({ upstream: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` })
  t.after(async () => { await nginx.stop() })

  const crowd = await Promise.all(Array.from({ length: 20 }, async () => await httpGet(nginx.url('/cached'))))
  assert.deepEqual(new Set(crowd.map((r) => `${r.status} ${r.body.toString()}`)), new Set(['200 kept']))
  for (let i = 0; i < 5; i++) assert.equal((await httpGet(nginx.url('/private'))).body.toString(), 'fresh')
  // a crowd on a playlist that may not be stored is not queued: all at once, in about one answer's time
  const start = Date.now()
  const playlists = await Promise.all(Array.from({ length: 10 }, async () => await httpGet(nginx.url('/index.m3u8'))))
  assert.deepEqual(new Set(playlists.map((r) => r.status)), new Set([200]))
  assert.ok(Date.now() - start < 1000, `10 playlists in ${Date.now() - start} ms`)
  assert.equal(seen.get('/index.m3u8'), 10)
  assert.equal(seen.get('/cached'), 1, 'one request of twenty reached the app')
  assert.equal(seen.get('/private'), 5, 'no-store passes every request through')
  const log = nginx.accessLog().trim().split('\n')
  assert.equal(log.filter((l) => l === 'MISS 200 /cached').length, 1, log.join('\n'))
  assert.equal(log.filter((l) => /^(HIT|UPDATING) 200 \/cached$/.test(l)).length, 19, log.join('\n'))
  const exit = await nginx.stop()
  assert.equal(exit.code, 0, nginx.logs())
})
