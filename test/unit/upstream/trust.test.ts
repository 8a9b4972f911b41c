// What an upstream may make the relay do on the host app's behalf: serve a page on its origin, read a
// service of its network through a redirect, or be trusted over TLS without the operator's say.
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test, type TestContext } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyIcecastRelay, { type RelayPluginOptions } from '../../../lib/index.js'
import { LISTENER_SAFETY_HEADERS } from '../../../lib/mount/headers.js'
import { scriptedRelay, waitForState, waitUntil } from '../../helpers/app.js'
import { listen, openListener } from '../../helpers/listen.js'
import { httpGet } from '../../helpers/procs.js'
import { noise, scriptedUpstream } from '../../helpers/scripted.js'
import { privateCa, serve, type Exchange, type TestServer } from '../../helpers/servers.js'

const ADMIN = { username: 'admin', password: 'Admin-S3cret' }

/** An app with the plugin on a loopback port whose log lines the test reads; closed when the test ends. */
async function loggedApp (t: TestContext, options: RelayPluginOptions): Promise<{ app: FastifyInstance, base: string, logs: string[] }> {
  const logs: string[] = []
  const app = Fastify({ logger: { level: 'info', stream: new Writable({ write (chunk, _enc, done) { logs.push(chunk.toString()); done() } }) } })
  await app.register(fastifyIcecastRelay, options)
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(() => app.close())
  const { port } = app.server.address() as { port: number }
  return { app, base: `http://127.0.0.1:${port}`, logs }
}

async function server (t: TestContext, respond: (exchange: Exchange) => void, secure?: { key: Buffer, cert: Buffer }): Promise<TestServer> {
  const started = await serve(respond, secure)
  t.after(() => started.close())
  return started
}

const pathOf = (exchange: Exchange): string => exchange.request.split(' ')[1]!
const redirect = (location: string): string => `HTTP/1.0 302 Found\r\nLocation: ${location}\r\n\r\n`
const AUDIO_HEAD = 'HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n'

test('every answer on a mount, GET and HEAD, the relay\'s own 403, 405 and 503 too, carries nosniff and a CSP that runs nothing', async (t) => {
  const { app, url } = await scriptedRelay(t, '/live', { plugin: { limits: { clients: 1 } } })
  app.relay.add({ server: '127.0.0.1', port: 1, localMount: '/down' })
  await waitUntil(() => app.relay.get('/down')!.lastError !== null, 5000, 'the down relay to fail')
  const first = await listen(url('/live'), { ms: 200 })
  assert.equal(first.status, 200)
  const answers = [
    first,
    await listen(url('/live'), { method: 'HEAD', ms: 200 }),
    await listen(url('/live'), { method: 'POST', ms: 200 }),
    await listen(url('/down'), { ms: 200 })
  ]
  const holder = openListener(url('/live'))
  await waitUntil(() => app.relay.get('/live')!.listeners === 1)
  answers.push(await listen(url('/live'), { ms: 200 }))
  await holder.close()
  assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 405, 503, 403])
  for (const answer of answers) {
    for (const [name, value] of LISTENER_SAFETY_HEADERS) assert.equal(answer.headers[name.toLowerCase()], value, `${answer.status} ${name}`)
  }
  assert.deepEqual(LISTENER_SAFETY_HEADERS, [
    ['X-Content-Type-Options', 'nosniff'],
    ['Content-Security-Policy', "default-src 'none'; media-src 'self'; form-action 'none'"]
  ])
})

test('redirects to an internal service are refused by default and under public, even by a name; nothing of it is seen', async (t) => {
  // a service of the relay's own network, answering whatever asks with what looks like audio
  const internal = await server(t, ({ socket }) => socket.end('HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nX-Internal: Internal-S3cret\r\n\r\n{"secret":"Internal-S3cret"}'))
  const other = await scriptedUpstream({ headers: { 'icy-name': 'Other server' } })
  t.after(() => other.close())
  const upstream = await server(t, (exchange) => {
    const answers: Record<string, string> = {
      '/to-internal': redirect(`http://127.0.0.1:${internal.port}/secret`),
      '/to-internal-by-name': redirect(`http://localhost:${internal.port}/secret`),
      '/to-other': redirect(other.url('/stream')),
      '/own': redirect('/audio?from=own'),
      '/audio?from=own': AUDIO_HEAD
    }
    exchange.socket.end(answers[pathOf(exchange)] ?? 'HTTP/1.0 404 Not Found\r\n\r\n')
  })
  const { app, base } = await loggedApp(t, {
    relays: [
      { url: `${upstream.origin}/to-internal`, localMount: '/default' },
      { url: `${upstream.origin}/to-internal`, localMount: '/public', redirects: 'public' },
      { url: `${upstream.origin}/to-internal-by-name`, localMount: '/public-name', redirects: 'public' },
      { url: `${upstream.origin}/to-other`, localMount: '/other-default' },
      { url: `${upstream.origin}/to-other`, localMount: '/other-any', redirects: 'any' },
      { url: `${upstream.origin}/own`, localMount: '/own' }
    ],
    admin: ADMIN
  })
  const refused = {
    '/default': new RegExp(`redirect to http://127\\.0\\.0\\.1:${internal.port}/secret refused: another server than 127\\.0\\.0\\.1:${upstream.port}`),
    '/public': new RegExp(`redirect to http://127\\.0\\.0\\.1:${internal.port}/secret refused: 127\\.0\\.0\\.1 is not a public address`),
    '/public-name': new RegExp(`redirect to http://localhost:${internal.port}/secret refused: localhost resolves to (127\\.0\\.0\\.1|::1), which is not a public address`),
    '/other-default': new RegExp(`redirect to ${other.url('/stream')} refused: another server`)
  }
  for (const [mount, message] of Object.entries(refused)) {
    await waitUntil(() => app.relay.get(mount)!.lastError !== null, 5000, `${mount} refused`)
    assert.equal(app.relay.get(mount)!.lastError!.code, 'FST_ICECAST_RELAY_REDIRECT_REFUSED', mount)
    assert.match(app.relay.get(mount)!.lastError!.message, message, mount)
  }
  await waitForState(app, '/own', 'live')
  await waitForState(app, '/other-any', 'live')
  assert.equal(app.relay.get('/other-any')!.headers['icy-name'], 'Other server')

  const listeners = await Promise.all(Object.keys(refused).map((mount) => httpGet(`${base}${mount}`)))
  assert.deepEqual(listeners.map((answer) => answer.status), [503, 503, 503, 503])
  const seen = [
    ...listeners.map((answer) => answer.body.toString()),
    JSON.stringify(app.relay.list()),
    (await httpGet(`${base}/admin/relays`, { auth: { user: ADMIN.username, password: ADMIN.password } })).body.toString(),
    (await httpGet(`${base}/status-json.xsl`)).body.toString()
  ].join('\n')
  assert.ok(seen.includes('/other-any') && seen.includes('Other server'), 'there was something to look in')
  assert.ok(!seen.includes('Internal-S3cret') && !seen.includes('X-Internal'), 'nothing of the internal service is seen')
  assert.equal(internal.exchanges.length, 0, 'the internal service was never asked')
})

test('a relay\'s 401 after a redirect to another server names it and says the credentials stayed behind', async (t) => {
  const other = await server(t, ({ socket }) => socket.end('HTTP/1.0 401 Unauthorized\r\n\r\n'))
  const upstream = await server(t, ({ socket }) => socket.end(redirect(`http://127.0.0.1:${other.port}/stream`)))
  const { app } = await loggedApp(t, {
    relays: [{ url: `${upstream.origin}/live`, localMount: '/live', username: 'source', password: 'Upstream-S3cret', redirects: 'any' }]
  })
  await waitUntil(() => app.relay.get('/live')!.lastError !== null, 5000, 'the 401')
  assert.deepEqual({ ...app.relay.get('/live')!.lastError, at: undefined }, {
    code: 'FST_ICECAST_RELAY_UPSTREAM_STATUS',
    message: `upstream ${upstream.origin}/live (redirected to ${other.origin}/stream): answered 401 Unauthorized (the credentials were not forwarded past a redirect to another server)`,
    at: undefined
  })
  assert.doesNotMatch(other.exchanges[0]!.request, /Authorization/)
})

test('the master\'s stream list follows its redirects option', async (t) => {
  const lists = await server(t, ({ socket }) => socket.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n/a\r\n'))
  const master = await server(t, (exchange) => exchange.socket.end(pathOf(exchange) === '/admin/streamlist.txt'
    ? redirect(`http://127.0.0.1:${lists.port}/streamlist.txt`)
    : `${AUDIO_HEAD}mp3`))
  const definition = { server: '127.0.0.1', port: master.port, password: 'p', updateInterval: 60 }
  const { app: refusing } = await loggedApp(t, { master: definition })
  await waitUntil(() => refusing.relay.masters()[0]!.lastError !== null, 5000, 'a refused poll')
  assert.equal(refusing.relay.masters()[0]!.lastError!.code, 'FST_ICECAST_RELAY_REDIRECT_REFUSED')
  assert.match(refusing.relay.masters()[0]!.lastError!.message, new RegExp(`redirect to http://127\\.0\\.0\\.1:${lists.port}/streamlist\\.txt refused`))
  assert.equal(lists.exchanges.length, 0)

  const { app: following } = await loggedApp(t, { master: { ...definition, redirects: 'any' } })
  await waitUntil(() => following.relay.masters()[0]!.polls > 0 && following.relay.masters()[0]!.lastError === null, 5000, 'a followed poll')
  assert.deepEqual(following.relay.masters()[0]!.mounts, ['/a'])
  assert.equal(following.relay.get('/a')!.upstream, `http://127.0.0.1:${master.port}/a`)
})

test('a master listing URLs on other servers: not relayed by default, only to public addresses under public, anywhere under any', async (t) => {
  const internal = await server(t, ({ socket }) => socket.end('HTTP/1.0 200 OK\r\n\r\n{"secret":"internal"}'))
  const master = await server(t, (exchange) => exchange.socket.end(pathOf(exchange) === '/admin/streamlist.txt'
    ? `HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n/own\r\nhttp://127.0.0.1:${internal.port}/secret\r\nhttp://localhost:${internal.port}/named\r\n`
    : `${AUDIO_HEAD}mp3`))
  const definition = { server: '127.0.0.1', port: master.port, password: 'p', updateInterval: 60 }

  const { app: strict, logs } = await loggedApp(t, { master: definition })
  await waitForState(strict, '/own', 'live')
  assert.deepEqual(strict.relay.list().map((status) => status.localMount), ['/own'])
  assert.deepEqual(strict.relay.masters()[0]!.mounts, ['/own'])
  assert.equal(strict.relay.masters()[0]!.ignoredLines, 2)
  assert.ok(logs.some((line) => line.includes('listed URLs on other servers than the master were not relayed')))

  const { app: publicOnly } = await loggedApp(t, { master: { ...definition, redirects: 'public' } })
  for (const mount of ['/secret', '/named']) {
    await waitUntil(() => publicOnly.relay.get(mount)?.lastError !== null && publicOnly.relay.get(mount) !== undefined, 5000, `${mount} refused`)
    assert.equal(publicOnly.relay.get(mount)!.lastError!.code, 'FST_ICECAST_RELAY_NOT_PUBLIC', mount)
  }
  assert.match(publicOnly.relay.get('/named')!.lastError!.message, /localhost resolves to (127\.0\.0\.1|::1), which is not a public address/)
  assert.equal(internal.exchanges.length, 0, 'the internal service was never contacted')

  const { app: anywhere } = await loggedApp(t, { master: { ...definition, redirects: 'any' } })
  await waitUntil(() => internal.exchanges.length > 0, 5000, 'the listed server to be asked')
  assert.equal(anywhere.relay.get('/secret')!.upstream, `http://127.0.0.1:${internal.port}/secret`)
})

test('publicOnly: a relay whose URL someone else chose reaches no loopback or private address, by IP or by name', async (t) => {
  const internal = await server(t, ({ socket }) => socket.end(`${AUDIO_HEAD}internal`))
  const { app } = await loggedApp(t, {})
  app.relay.add({ url: `http://127.0.0.1:${internal.port}/a`, localMount: '/by-ip', publicOnly: true })
  app.relay.add({ url: `http://localhost:${internal.port}/b`, localMount: '/by-name', publicOnly: true })
  for (const mount of ['/by-ip', '/by-name']) {
    await waitUntil(() => app.relay.get(mount)!.lastError !== null, 5000, `${mount} refused`)
    assert.equal(app.relay.get(mount)!.lastError!.code, 'FST_ICECAST_RELAY_NOT_PUBLIC', mount)
  }
  assert.equal(internal.exchanges.length, 0)
  app.relay.add({ url: `http://127.0.0.1:${internal.port}/c`, localMount: '/trusted' })
  await waitForState(app, '/trusted', 'live')
})

test('TLS upstreams of a private CA: refused without ca, relayed with ca and servername, or unchecked with a warning', async (t) => {
  const ca = privateCa()
  const stream = noise(2000)
  const upstream = await server(t, ({ socket }) => socket.write(Buffer.concat([Buffer.from(AUDIO_HEAD), stream])), ca.issue('DNS:radio.test'))
  const url = `${upstream.origin}/live`
  const { app, base, logs } = await loggedApp(t, {
    relays: [
      { url, localMount: '/no-ca' },
      { url, localMount: '/no-name', ca: ca.cert },
      { url, localMount: '/private-ca', ca: [ca.cert], servername: 'radio.test' },
      { url, localMount: '/unchecked', rejectUnauthorized: false }
    ]
  })
  await waitUntil(() => app.relay.get('/no-ca')!.lastError !== null && app.relay.get('/no-name')!.lastError !== null, 5000, 'refused certificates')
  assert.equal(app.relay.get('/no-ca')!.lastError!.code, 'FST_ICECAST_RELAY_CONNECT_FAILED')
  assert.match(app.relay.get('/no-ca')!.lastError!.message, /unable to verify the first certificate/)
  assert.match(app.relay.get('/no-name')!.lastError!.message, /IP: 127\.0\.0\.1 is not in the cert's list/)
  await waitForState(app, '/private-ca', 'live')
  await waitForState(app, '/unchecked', 'live')
  const answer = await listen(`${base}/private-ca`, { bytes: stream.length })
  assert.deepEqual(answer.body, stream)
  assert.ok(upstream.exchanges.some((e) => (e.socket as import('node:tls').TLSSocket).servername === 'radio.test'), 'SNI radio.test')

  const warnings = (): Array<{ relay?: string, msg: string }> => logs.map((line) => JSON.parse(line) as { level: number, relay?: string, msg: string })
    .filter((line) => line.level === 40 && /rejectUnauthorized: false/.test(line.msg))
  assert.deepEqual(warnings().map((line) => line.relay), ['/unchecked'])
  assert.match(warnings()[0]!.msg, /^TLS certificate checks are OFF for this upstream \(rejectUnauthorized: false\)/)
  app.relay.add({ url, localMount: '/added', rejectUnauthorized: false })
  assert.deepEqual(warnings().map((line) => line.relay), ['/unchecked', '/added'])
})

test('a TLS master of a private CA: its ca and servername reach its poll and the relays it brings; an unchecked one warns once', async (t) => {
  const ca = privateCa()
  const master = await server(t, ({ request, socket }) => {
    if (request.startsWith('GET /admin/streamlist.txt ')) socket.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n/a\r\n/b\r\n')
    else socket.write(`${AUDIO_HEAD}mp3`)
  }, ca.issue('DNS:radio.test'))
  const definition = { server: '127.0.0.1', port: master.port, tls: true, password: 'p', updateInterval: 60 }
  const { app: without } = await loggedApp(t, { master: definition })
  await waitUntil(() => without.relay.masters()[0]!.lastError !== null, 5000, 'a refused poll')
  assert.match(without.relay.masters()[0]!.lastError!.message, /unable to verify the first certificate/)

  const { app } = await loggedApp(t, { master: { ...definition, ca: ca.cert, servername: 'radio.test' } })
  await waitUntil(() => app.relay.list().length === 2, 5000, 'the listed mounts')
  await waitUntil(() => app.relay.get('/a')!.lastError !== null || app.relay.get('/a')!.bytesIn > 0, 5000, 'the relay to connect')
  assert.equal(app.relay.get('/a')!.lastError, null)
  assert.equal(app.relay.get('/a')!.state, 'live')

  const { app: unchecked, logs } = await loggedApp(t, { master: { ...definition, rejectUnauthorized: false } })
  await waitUntil(() => unchecked.relay.list().length === 2, 5000, 'the listed mounts')
  await waitUntil(() => unchecked.relay.get('/b')!.bytesIn > 0, 5000, 'the relay to connect')
  const warnings = logs.filter((line) => /rejectUnauthorized: false/.test(line))
  assert.equal(warnings.length, 1, warnings.join('\n'))
  assert.match(warnings[0]!, new RegExp(`"master":"127\\.0\\.0\\.1:${master.port}"`))
})
