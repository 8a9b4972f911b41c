import assert from 'node:assert/strict'
import net from 'node:net'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import Fastify from 'fastify'
import fastifyIcecastRelay from '../../../lib/index.js'
import { waitForState, waitUntil } from '../../helpers/app.js'
import { openListener } from '../../helpers/listen.js'
import { httpGet } from '../../helpers/procs.js'
import { noise, scriptedUpstream } from '../../helpers/scripted.js'

const SECRETS = {
  upstream: 'Upstream-S3cret',
  urlPassword: 'Url-S3cret',
  master: 'Master-S3cret',
  relayAuth: 'Slave-S3cret',
  admin: 'Admin-S3cret'
}

test('credentials never appear in logs, statuses, stats or admin answers', async (t) => {
  // Upstreams that refuse the credentials, so that errors (and their logs) are made with them at hand.
  const refusing = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', () => socket.end('HTTP/1.0 401 Unauthorized\r\n\r\n'))
  })
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve))
  const { port } = refusing.address() as net.AddressInfo
  const healthy = await scriptedUpstream()
  const logs: string[] = []
  const app = Fastify({
    logger: { level: 'trace', stream: new Writable({ write (chunk, _enc, done) { logs.push(chunk.toString()); done() } }) }
  })
  await app.register(fastifyIcecastRelay, {
    relays: [
      { server: '127.0.0.1', port, mount: '/a', username: 'source', password: SECRETS.upstream },
      { url: `http://user:${SECRETS.urlPassword}@127.0.0.1:${port}/b` },
      { url: healthy.url(), localMount: '/ok', username: 'u', password: SECRETS.upstream }
    ],
    master: { server: '127.0.0.1', port, password: SECRETS.master, updateInterval: 1 },
    relayAuth: { password: SECRETS.relayAuth },
    admin: { username: 'admin', password: SECRETS.admin }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(async () => { await app.close(); await healthy.close(); await new Promise((resolve) => refusing.close(resolve)) })
  const base = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`
  await waitUntil(() => app.relay.get('/a')?.lastError !== null && app.relay.get('/b')?.lastError !== null, 5000, 'refused relays')
  await waitUntil(() => app.relay.masters()[0]?.lastError !== null, 5000, 'a refused poll')
  await waitForState(app, '/ok', 'live')

  const auth = { user: 'admin', password: SECRETS.admin }
  const answers = await Promise.all([
    httpGet(`${base}/status-json.xsl`),
    httpGet(`${base}/status.xsl`),
    httpGet(`${base}/admin/stats`, { auth }),
    httpGet(`${base}/admin/stats`, { auth, headers: { accept: 'application/json' } }),
    httpGet(`${base}/admin/relays`, { auth }),
    httpGet(`${base}/admin/listmounts`, { auth }),
    httpGet(`${base}/admin/metrics`, { auth }),
    httpGet(`${base}/admin/streamlist.txt`, { auth: { user: 'relay', password: SECRETS.relayAuth } })
  ])
  for (const answer of answers) assert.equal(answer.status, 200)
  const seen = [
    ...logs,
    JSON.stringify(app.relay.list()),
    JSON.stringify(app.relay.masters()),
    ...answers.map((a) => a.body.toString())
  ].join('\n')
  assert.ok(logs.length > 10 && seen.includes('Unauthorized') && seen.includes('/ok'), 'there was something to look in')
  for (const [what, secret] of Object.entries(SECRETS)) {
    assert.ok(!seen.includes(secret), `the ${what} password leaked`)
    assert.ok(!seen.includes(Buffer.from(`:${secret}`).toString('base64').slice(2, -2)), `the ${what} password leaked in Base64`)
  }
})

test('a 401 does not tell which part of the credentials was wrong', async (t) => {
  const app = Fastify()
  await app.register(fastifyIcecastRelay, { admin: { username: 'admin', password: SECRETS.admin }, relayAuth: { password: SECRETS.relayAuth } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(() => app.close())
  const base = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`
  for (const [path, user, password] of [['/admin/stats', 'admin', SECRETS.admin], ['/admin/streamlist.txt', 'relay', SECRETS.relayAuth]] as const) {
    const answers = await Promise.all([
      httpGet(base + path, { auth: { user: 'nobody', password } }),
      httpGet(base + path, { auth: { user, password: 'wrong' } }),
      httpGet(base + path, { auth: { user: 'nobody', password: 'wrong' } }),
      httpGet(base + path)
    ])
    const shapes = answers.map((a) => JSON.stringify({ status: a.status, auth: a.headers['www-authenticate'], body: a.body.toString() }))
    assert.equal(answers[0]!.status, 401)
    assert.equal(new Set(shapes).size, 1, `${path}: ${shapes.join(' | ')}`)
  }
})

test('a title set by hand cannot break out of StreamTitle and is capped at 4080 bytes', async (t) => {
  const upstream = await scriptedUpstream()
  const app = Fastify()
  await app.register(fastifyIcecastRelay, {
    relays: [{ url: upstream.url(), localMount: '/m', metaint: 1000 }],
    admin: { username: 'admin', password: SECRETS.admin },
    limits: { burstSize: 0 }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(async () => { await app.close(); await upstream.close() })
  const base = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`
  await waitForState(app, '/m', 'live')
  const listener = openListener(`${base}/m`, { icy: true })
  await listener.head
  await waitUntil(() => app.relay.get('/m')!.listeners === 1)

  const evil = "x';StreamUrl='http://evil.example/';Extra='1"
  app.relay.setMetadata('/m', { title: evil })
  upstream.push(noise(1001))
  const long = `${"Q';".repeat(100)}${'é'.repeat(2100)}`
  const res = await httpGet(`${base}/admin/metadata?mount=/m&mode=updinfo&song=${encodeURIComponent(long)}`, { auth: { user: 'admin', password: SECRETS.admin } })
  assert.equal(res.status, 200)
  upstream.push(noise(1000))
  await waitUntil(() => (listener.received().length > 2001 + 4000), 5000, 'both blocks')
  const { icy } = await listener.close()
  const [first, second] = icy!.blocks
  assert.equal(icy!.blocks.length, 2)
  const keys = (text: string): string[] => [...text.matchAll(/(?:^|';)([A-Za-z][A-Za-z0-9 _.-]*)='/g)].map((m) => m[1]!)
  assert.deepEqual(keys(first!.text), ['StreamTitle'])
  assert.equal(first!.text, "StreamTitle='x’;StreamUrl='http://evil.example/’;Extra='1';")
  assert.equal(app.relay.get('/m')!.metadata?.title, long)
  assert.deepEqual(keys(second!.text), ['StreamTitle'])
  assert.ok(second!.raw.length <= 4080, `${second!.raw.length} bytes`)
  assert.ok(!second!.text.includes('\uFFFD'), 'cut on a character boundary')
})
