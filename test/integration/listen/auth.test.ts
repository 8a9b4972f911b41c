// Listener authentication: the host app's hooks, `authenticate`, Icecast's URL auth against a real local auth
// server, htpasswd from an Icecast XML config; raw-socket listeners check that a refusal carries no audio byte.
import assert from 'node:assert/strict'
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { once } from 'node:events'
import { writeFileSync, rmSync, utimesSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test, type TestContext } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyIcecastRelay, { type RelayPluginOptions } from '../../../lib/index.js'
import { MAX_PENDING_AUTH } from '../../../lib/listen/gate.js'
import { readIcecastConfig } from '../../../lib/config/icecast.js'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import { listen, openListener } from '../../helpers/listen.js'
import { makeTempDir, removeTempDir, sleep } from '../../helpers/procs.js'
import { closedPort, serve } from '../../helpers/servers.js'
import { runMpg123 } from '../../helpers/clients.js'
import { assertTools } from '../../helpers/tools.js'

const SAMPLE = fileURLToPath(new URL('../../demo/sample.mp3', import.meta.url))
const REALM = 'Basic realm="Icecast2 Server"'

function basic (user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
}

/** An app relaying the sample file at each mount, live; closed when the test ends. */
async function sampleApp (
  t: TestContext, mounts: string[], options: Omit<RelayPluginOptions, 'relays'> = {},
  relay: Record<string, unknown> = {}, setup?: (app: FastifyInstance) => void | Promise<void>
): Promise<RelayApp> {
  const app = await relayApp({ ...options, relays: mounts.map((localMount) => ({ ...relay, localMount, upstreams: [{ file: SAMPLE }] })) }, setup)
  t.after(async () => { await app.app.close() })
  for (const mount of mounts) await waitForState(app.app, mount, 'live')
  return app
}

/** A refusal as a raw listener sees it: the status, the headers, and every byte after the head. */
async function refusal (url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number, headers: Record<string, string>, body: string }> {
  const result = await listen(url, { headers, method, ms: 1000 })
  return { status: result.status, headers: result.headers, body: result.body.toString('latin1') }
}

async function audio (url: string, headers: Record<string, string> = {}): Promise<Buffer> {
  const result = await listen(url, { headers, bytes: 8192 })
  assert.equal(result.status, 200, `${url}: ${result.statusLine}`)
  assert.equal(result.headers['content-type'], 'audio/mpeg')
  assert.equal(result.body.length, 8192)
  return result.body
}

test('the host app\'s onRequest hook, added before the plugin, refuses a listener without the token: its 401, no audio byte', async (t) => {
  const app = Fastify()
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/radio')) return
    const token = new URL(request.url, 'http://x').searchParams.get('token')
    if (token !== 'sesame') await reply.code(401).type('text/plain').send('token needed')
  })
  await app.register(fastifyIcecastRelay, { relays: [{ localMount: '/radio', upstreams: [{ file: SAMPLE }] }] })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(async () => { await app.close() })
  await waitForState(app, '/radio', 'live')
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

  const refused = await refusal(`${base}/radio`)
  assert.equal(refused.status, 401)
  assert.equal(refused.body, 'token needed')
  const head = await refusal(`${base}/radio`, {}, 'HEAD')
  assert.equal(head.status, 401)
  assert.equal(head.body, '')
  await audio(`${base}/radio?token=sesame`)
  const ok = await listen(`${base}/radio?token=sesame`, { method: 'HEAD', ms: 500 })
  assert.equal(ok.status, 200)
  assert.equal(ok.body.length, 0)
})

test('a preHandler hook added after the plugin checks a signed URL (HMAC of mount and expiry) for GET and HEAD', async (t) => {
  const secret = 'a secret of the host app'
  const sign = (mount: string, expires: number): string => createHmac('sha256', secret).update(`${mount}\n${expires}`).digest('hex')
  const relay = await sampleApp(t, ['/live.mp3'], {}, {}, (app) => {
    app.addHook('preHandler', async (request, reply) => {
      const url = new URL(request.url, 'http://x')
      const expires = Number(url.searchParams.get('expires'))
      const given = Buffer.from(url.searchParams.get('signature') ?? '', 'hex')
      const expected = Buffer.from(sign(url.pathname, expires), 'hex')
      const valid = given.length === expected.length && timingSafeEqual(given, expected) && expires * 1000 > Date.now()
      if (!valid) await reply.code(403).type('text/plain').send('bad or expired signature')
    })
  })
  const expires = Math.floor(Date.now() / 1000) + 60
  const signed = relay.url(`/live.mp3?expires=${expires}&signature=${sign('/live.mp3', expires)}`)
  await audio(signed)
  const head = await listen(signed, { method: 'HEAD', ms: 500 })
  assert.equal(head.status, 200)

  const forged = await refusal(relay.url(`/live.mp3?expires=${expires + 1}&signature=${sign('/live.mp3', expires)}`))
  assert.deepEqual([forged.status, forged.body], [403, 'bad or expired signature'])
  const past = Math.floor(Date.now() / 1000) - 1
  const expired = await refusal(relay.url(`/live.mp3?expires=${past}&signature=${sign('/live.mp3', past)}`), {}, 'HEAD')
  assert.equal(expired.status, 403)
  assert.equal(relay.app.relay.get('/live.mp3')?.listeners, 0)
})

test('authenticate: true admits, false answers 401 with Icecast\'s realm, a throw is logged and refused; the relay\'s replaces the app\'s', async (t) => {
  const asked: string[] = []
  const relay = await sampleApp(t, ['/a', '/b', '/c'], {
    authenticate: (request, mount) => {
      asked.push(mount)
      return new URL(request.url, 'http://x').searchParams.get('key') === 'global'
    }
  })
  relay.app.relay.remove('/c')
  relay.app.relay.add({
    localMount: '/c',
    upstreams: [{ file: SAMPLE }],
    authenticate: async (request) => {
      if (request.headers['x-boom'] !== undefined) throw new Error('the check broke')
      return request.headers['x-key'] === 'own'
    }
  })
  await waitForState(relay.app, '/c', 'live')

  await audio(relay.url('/a?key=global'))
  const refused = await refusal(relay.url('/b?key=wrong'))
  assert.equal(refused.status, 401)
  assert.equal(refused.headers['www-authenticate'], REALM)
  assert.equal(refused.body, 'You need to authenticate\r\n')
  assert.deepEqual(asked, ['/a', '/b'])

  await audio(relay.url('/c'), { 'x-key': 'own' })
  assert.equal((await refusal(relay.url('/c?key=global'))).status, 401, 'the app\'s check is replaced on /c')
  assert.equal((await refusal(relay.url('/c'), { 'x-key': 'own', 'x-boom': '1' })).status, 401)
  assert.deepEqual(asked, ['/a', '/b'])
})

interface AuthCall { path: string, body: string, fields: Record<string, string>, authorization: string | undefined }

/** A real HTTP auth server on loopback: records each call and answers with `answer`'s headers. */
async function authServer (t: TestContext, answer: (call: AuthCall, res: http.ServerResponse) => void): Promise<{ url: string, calls: AuthCall[] }> {
  const calls: AuthCall[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString('latin1') })
    req.on('end', () => {
      const call = { path: req.url ?? '', body, fields: Object.fromEntries(new URLSearchParams(body)), authorization: req.headers.authorization }
      calls.push(call)
      answer(call, res)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(async () => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls }
}

test('URL auth: listener_add gets Icecast\'s fields, its header admits, listener_remove tells the duration', async (t) => {
  const auth = await authServer(t, (call, res) => {
    if (call.fields['action'] === 'listener_add' && call.fields['user'] === 'ann') res.setHeader('icecast-auth-user', '1')
    else res.setHeader('icecast-auth-message', 'no such user')
    res.end('a body that is not read')
  })
  const relay = await sampleApp(t, ['/live'], { hostname: 'radio.example' }, {
    listenerAuth: { url: { listenerAdd: `${auth.url}/add`, listenerRemove: `${auth.url}/remove`, username: 'relay', password: 'p&ss', headers: ['x-country'], headerPrefix: 'h_' } }
  })
  const listener = openListener(relay.url('/live?stream=1'), { headers: { authorization: basic('ann', 'secret word'), 'x-country': 'NZ' } })
  const head = await listener.head
  assert.equal(head.status, 200)
  await listener.waitForBytes(4096)
  const add = auth.calls[0]!
  assert.equal(add.path, '/add')
  assert.equal(add.authorization, basic('relay', 'p&ss'))
  assert.deepEqual({ ...add.fields, port: undefined, client: undefined }, {
    action: 'listener_add',
    server: 'radio.example',
    port: undefined,
    client: undefined,
    mount: '/live?stream=1',
    user: 'ann',
    pass: 'secret word',
    ip: '127.0.0.1',
    agent: 'icecast-relay-test-listener/1.0',
    'h_x-country': 'NZ'
  })
  assert.equal(add.fields['port'], new URL(relay.base).port)
  assert.match(add.fields['client']!, /^\d+$/)

  await sleep(1200)
  await listener.close()
  await waitUntil(() => auth.calls.length === 2, 3000, 'listener_remove')
  const remove = auth.calls[1]!
  assert.equal(remove.path, '/remove')
  assert.equal(remove.fields['action'], 'listener_remove')
  assert.equal(remove.fields['client'], add.fields['client'])
  assert.equal(remove.fields['mount'], '/live?stream=1')
  assert.equal(remove.fields['user'], 'ann')
  assert.ok(Number(remove.fields['duration']) >= 1 && Number(remove.fields['duration']) <= 3, remove.fields['duration'])

  const refused = await refusal(relay.url('/live'), { authorization: basic('bob', 'x') })
  assert.equal(refused.status, 401)
  assert.equal(refused.headers['www-authenticate'], REALM)
  assert.equal(auth.calls.length, 3, 'a refused listener is not removed')
})

test('URL auth: the body is escaped as Icecast\'s util_url_escape (only letters and digits kept)', async (t) => {
  const auth = await authServer(t, (_call, res) => { res.setHeader('icecast-auth-user', '1'); res.end() })
  const relay = await sampleApp(t, ['/x'], {}, { listenerAuth: { url: { listenerAdd: auth.url } } })
  const listener = openListener(relay.url('/x?a=b%20c'), { headers: { authorization: basic('é-1', 'p+q') } })
  assert.equal((await listener.head).status, 200)
  await listener.close()
  const { body, fields } = auth.calls[0]!
  assert.match(body, /^action=listener_add&server=127%2e0%2e0%2e1&port=\d+&client=\d+&mount=%2fx%3fa%3db%2520c&user=%c3%a9%2d1&pass=p%2bq&ip=127%2e0%2e0%2e1&agent=icecast%2drelay%2dtest%2dlistener%2f1%2e0$/)
  assert.deepEqual([fields['user'], fields['pass'], fields['mount']], ['é-1', 'p+q', '/x?a=b%20c'])
})

test('URL auth: the time limit header ends the listener after that many seconds', async (t) => {
  const auth = await authServer(t, (call, res) => {
    if (call.fields['action'] === 'listener_add') res.setHeader('icecast-auth-user', '1')
    if (call.fields['action'] === 'listener_add') res.setHeader('icecast-auth-timelimit', '1')
    res.end()
  })
  const relay = await sampleApp(t, ['/timed'], { listenerAuth: { url: { listenerAdd: auth.url, listenerRemove: auth.url } } })
  const started = Date.now()
  const result = await listen(relay.url('/timed'), { ms: 5000 })
  assert.equal(result.status, 200)
  assert.ok(result.ended, 'the relay ended the listener')
  const lasted = Date.now() - started
  assert.ok(lasted >= 900 && lasted < 3000, `ended after ${lasted} ms`)
  assert.ok(result.body.length > 0)
  await waitUntil(() => auth.calls.length === 2, 3000, 'listener_remove')
  assert.equal(auth.calls[1]!.fields['duration'], '1')
})

test('URL auth: an auth server that is down refuses by default and admits with onError: admit', async (t) => {
  const down = `http://127.0.0.1:${await closedPort()}/auth`
  const relay = await sampleApp(t, ['/strict', '/lenient'], {}, {})
  relay.app.relay.remove('/strict')
  relay.app.relay.remove('/lenient')
  relay.app.relay.add({ localMount: '/strict', upstreams: [{ file: SAMPLE }], listenerAuth: { url: { listenerAdd: down } } })
  relay.app.relay.add({ localMount: '/lenient', upstreams: [{ file: SAMPLE }], listenerAuth: { url: { listenerAdd: down, onError: 'admit' } } })
  await waitForState(relay.app, '/strict', 'live')
  await waitForState(relay.app, '/lenient', 'live')
  assert.equal((await refusal(relay.url('/strict'))).status, 401)
  await audio(relay.url('/lenient'))
})

test('URL auth: a hanging auth server, one that answers garbage or a huge head, never blocks the app', async (t) => {
  const hanging = await serve(() => {})
  const garbage = await serve(({ socket }) => { socket.end('this is not HTTP\r\n\r\n') })
  const huge = await serve(({ socket }) => { socket.write(`HTTP/1.1 200 OK\r\nicecast-auth-user: 1\r\nx-big: ${'a'.repeat(200_000)}\r\n\r\n`) })
  const endless = await serve(({ socket }) => {
    socket.write('HTTP/1.1 200 OK\r\nicecast-auth-user: 1\r\nTransfer-Encoding: chunked\r\n\r\n')
    const timer = setInterval(() => { socket.write('10000\r\n' + 'x'.repeat(0x10000) + '\r\n') }, 5)
    socket.on('close', () => { clearInterval(timer) })
  })
  t.after(async () => { await Promise.all([hanging, garbage, huge, endless].map(async (server) => { await server.close() })) })
  const relay = await sampleApp(t, ['/free'])
  for (const [mount, server] of [['/hang', hanging], ['/garbage', garbage], ['/huge', huge], ['/endless', endless]] as const) {
    relay.app.relay.add({ localMount: mount, upstreams: [{ file: SAMPLE }], listenerAuth: { url: { listenerAdd: server.origin, timeout: 0.5 } } })
    await waitForState(relay.app, mount, 'live')
  }
  const started = Date.now()
  const waiting = refusal(relay.url('/hang'))
  await audio(relay.url('/free'))
  const refused = await waiting
  assert.equal(refused.status, 401)
  assert.ok(Date.now() - started < 2000, `refused after ${Date.now() - started} ms`)
  assert.equal((await refusal(relay.url('/garbage'))).status, 401)
  assert.equal((await refusal(relay.url('/huge'))).status, 401)
  await audio(relay.url('/endless'))
})

test('URL auth: a flood while the auth server hangs makes at most 100 calls; the rest get Icecast\'s 403 busy at once, and calls resume when it answers', async (t) => {
  const auth = await serve(() => {})
  t.after(async () => { await auth.close() })
  const relay = await sampleApp(t, ['/guarded'], {}, { listenerAuth: { url: { listenerAdd: auth.origin, timeout: 30 } } })
  const waiting = Array.from({ length: MAX_PENDING_AUTH }, () => openListener(relay.url('/guarded')))
  t.after(() => { for (const listener of waiting) listener.socket.destroy() })
  await waitUntil(() => auth.exchanges.length === MAX_PENDING_AUTH, 5000, 'the calls in flight')
  const started = Date.now()
  const busy = await Promise.all(Array.from({ length: 20 }, async () => await refusal(relay.url('/guarded'))))
  assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`)
  for (const answer of busy) {
    assert.equal(answer.status, 403)
    assert.match(answer.body, /busy, please try again later/)
    assert.doesNotMatch(answer.body, /\xff[\xe0-\xff]/, 'no audio byte')
  }
  assert.equal(auth.exchanges.length, MAX_PENDING_AUTH, 'no call past the limit')
  assert.equal((await fetch(relay.url('/status-json.xsl'))).status, 200, 'the app answers meanwhile')
  auth.exchanges[0]!.socket.end('HTTP/1.1 200 OK\r\nicecast-auth-user: 1\r\ncontent-length: 0\r\n\r\n')
  await waitUntil(() => waiting.some((listener) => listener.received().length > 0), 5000, 'the admitted listener\'s audio')
  const next = openListener(relay.url('/guarded'))
  t.after(() => { next.socket.destroy() })
  await waitUntil(() => auth.exchanges.length === MAX_PENDING_AUTH + 1, 5000, 'a call once one is over')
})

test('URL auth: listeners leaving all at once send every listener_remove, at most 100 at a time', async (t) => {
  const count = MAX_PENDING_AUTH + 50
  let inFlight = 0
  let peak = 0
  const auth = await authServer(t, (call, res) => {
    if (call.fields['action'] === 'listener_add') {
      res.setHeader('icecast-auth-user', '1')
      res.end()
      return
    }
    peak = Math.max(peak, ++inFlight)
    setTimeout(() => { inFlight--; res.end() }, 300)
  })
  const relay = await sampleApp(t, ['/many'], { limits: { clients: 1000 } }, { listenerAuth: { url: { listenerAdd: `${auth.url}/add`, listenerRemove: `${auth.url}/remove` } } })
  const listeners = []
  for (let batch = 0; batch < count; batch += 50) {
    const opened = Array.from({ length: 50 }, () => openListener(relay.url('/many')))
    for (const listener of opened) assert.equal((await listener.head).status, 200)
    listeners.push(...opened)
  }
  for (const listener of listeners) listener.socket.destroy()
  const removes = (): AuthCall[] => auth.calls.filter((call) => call.fields['action'] === 'listener_remove')
  await waitUntil(() => removes().length === count && inFlight === 0, 10000, 'every listener_remove')
  assert.equal(new Set(removes().map((call) => call.fields['client'])).size, count, 'one for each listener')
  assert.ok(peak <= MAX_PENDING_AUTH, `${peak} calls in flight at once`)
})

test('a full server refuses a listener with 403 before asking its auth server', async (t) => {
  const auth = await authServer(t, (_call, res) => { res.setHeader('icecast-auth-user', '1'); res.end() })
  const relay = await sampleApp(t, ['/open', '/guarded'], { limits: { clients: 1 } })
  relay.app.relay.remove('/guarded')
  relay.app.relay.add({ localMount: '/guarded', upstreams: [{ file: SAMPLE }], listenerAuth: { url: { listenerAdd: auth.url } } })
  await waitForState(relay.app, '/guarded', 'live')
  const first = openListener(relay.url('/open'))
  t.after(async () => { await first.close() })
  assert.equal((await first.head).status, 200)
  const refused = await refusal(relay.url('/guarded'))
  assert.equal(refused.status, 403)
  assert.match(refused.body, /Too many listeners on this server/)
  assert.equal(auth.calls.length, 0, 'no listener_add for a listener that cannot join')
})

test('htpasswd from an Icecast XML <mount>: right password plays (mpg123 with user:pass in the URL), wrong ones get 401, the file is re-read', async (t) => {
  assertTools('mpg123')
  const dir = makeTempDir('htpasswd-')
  t.after(() => { removeTempDir(dir) })
  const file = join(dir, 'listeners')
  const md5 = (text: string): string => createHash('md5').update(text).digest('hex')
  writeFileSync(file, `# listeners\nann:${md5('open-sesame')}\nbob:$apr1$abcdefgh$0123456789abcdefghijkl\n`)
  const config = readIcecastConfig(`<icecast>
    <relay><server>127.0.0.1</server><port>1</port><mount>/up</mount><local-mount>/private.mp3</local-mount></relay>
    <mount><mount-name>/private.mp3</mount-name>
      <authentication type="htpasswd"><option name="filename" value="${file}"/><option name="allow_duplicate_users" value="0"/></authentication>
    </mount>
    <mount><mount-name>/other</mount-name><authentication type="ldap"/></mount>
  </icecast>`)
  assert.deepEqual(config.options.relays?.[0]?.listenerAuth, { htpasswd: file, allowDuplicateUsers: false })
  const relays = config.options.relays!.map((def) => ({ localMount: def.localMount!, listenerAuth: def.listenerAuth!, upstreams: [{ file: SAMPLE }] }))
  const relay = await relayApp({ ...config.options, relays })
  t.after(async () => { await relay.app.close() })
  await waitForState(relay.app, '/private.mp3', 'live')

  const port = new URL(relay.base).port
  const played = await runMpg123(`http://ann:open-sesame@127.0.0.1:${port}/private.mp3`, { ms: 2500 })
  assert.ok(played.ok && played.frames > 10, played.stderr)

  for (const authorization of [basic('ann', 'wrong'), basic('bob', 'anything'), basic('nobody', 'open-sesame'), 'Basic !!!']) {
    const refused = await refusal(relay.url('/private.mp3'), { authorization })
    assert.equal(refused.status, 401, authorization)
    assert.equal(refused.headers['www-authenticate'], REALM)
  }
  assert.equal((await refusal(relay.url('/private.mp3'))).status, 401)

  const first = openListener(relay.url('/private.mp3'), { headers: { authorization: basic('ann', 'open-sesame') } })
  assert.equal((await first.head).status, 200)
  assert.equal((await refusal(relay.url('/private.mp3'), { authorization: basic('ann', 'open-sesame') })).status, 401, 'ann listens already')
  await first.close()
  await waitUntil(() => relay.app.relay.get('/private.mp3')?.listeners === 0, 3000, 'ann gone')

  writeFileSync(file, `carl:${md5('new')}\n`)
  utimesSync(file, new Date(), new Date(Date.now() + 5000))
  await audio(relay.url('/private.mp3'), { authorization: basic('carl', 'new') })
  assert.equal((await refusal(relay.url('/private.mp3'), { authorization: basic('ann', 'open-sesame') })).status, 401)

  rmSync(file)
  assert.equal((await refusal(relay.url('/private.mp3'), { authorization: basic('carl', 'new') })).status, 401, 'a missing file refuses')
})

test('htpasswd: wrong passwords past limits.authFailures answer 429 until the window ends', async (t) => {
  const dir = makeTempDir('htpasswd-')
  t.after(() => { removeTempDir(dir) })
  const file = join(dir, 'users')
  writeFileSync(file, `ann:${createHash('md5').update('pw').digest('hex')}\n`)
  const relay = await sampleApp(t, ['/m'], { limits: { authFailures: 2, authWindow: 60 }, listenerAuth: { htpasswd: file } })
  assert.equal((await refusal(relay.url('/m'), { authorization: basic('ann', 'a') })).status, 401)
  assert.equal((await refusal(relay.url('/m'), { authorization: basic('ann', 'b') })).status, 401)
  const limited = await refusal(relay.url('/m'), { authorization: basic('ann', 'c') })
  assert.equal(limited.status, 429)
  assert.ok(Number(limited.headers['retry-after']) > 0)
  assert.equal((await refusal(relay.url('/m'), { authorization: basic('ann', 'pw') })).status, 429, 'the right password waits too')
})

test('a relay whose upstream needs credentials and whose listeners need none is named once at start: it makes the stream public', async (t) => {
  const lines: Array<{ level: number, msg: string, relay?: string }> = []
  const port = await closedPort()
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(JSON.parse(line) as never) } } } })
  await app.register(fastifyIcecastRelay, {
    relays: [
      { url: `http://user:pw@127.0.0.1:${port}/open`, localMount: '/open' },
      { url: `http://127.0.0.1:${port}/guarded`, username: 'u', password: 'p', localMount: '/guarded', authenticate: () => true },
      { url: `http://127.0.0.1:${port}/plain`, localMount: '/plain' }
    ]
  })
  await app.ready()
  t.after(async () => { await app.close() })
  const warned = lines.filter((line) => line.msg.includes('makes the stream public'))
  assert.deepEqual(warned.map((line) => [line.level, line.relay]), [[40, '/open']])
})

/** An htpasswd file with one listener, `ann:pw`, removed when the test ends. */
function listenersFile (t: TestContext, lines = `ann:${createHash('md5').update('pw').digest('hex')}\n`): string {
  const dir = makeTempDir('htpasswd-')
  t.after(() => { removeTempDir(dir) })
  const file = join(dir, 'listeners')
  writeFileSync(file, lines)
  return file
}

const RELAY_AUTH = { username: 'relay', password: 'slave-secret' }

test('relay credentials on an htpasswd mount and a URL-auth mount: a slave is served as a relay, asking neither; plain listeners and wrong relay passwords get 401', async (t) => {
  const auth = await authServer(t, (call, res) => {
    if (call.fields['user'] === 'ann') res.setHeader('icecast-auth-user', '1')
    res.end()
  })
  const asked: string[] = []
  const relay = await sampleApp(t, ['/file', '/url'], {
    relayAuth: RELAY_AUTH,
    authenticate: (_request, mount) => { asked.push(mount); return true }
  })
  relay.app.relay.remove('/file')
  relay.app.relay.remove('/url')
  relay.app.relay.add({ localMount: '/file', upstreams: [{ file: SAMPLE }], listenerAuth: { htpasswd: listenersFile(t) } })
  relay.app.relay.add({ localMount: '/url', upstreams: [{ file: SAMPLE }], listenerAuth: { url: { listenerAdd: `${auth.url}/add`, listenerRemove: `${auth.url}/remove` } } })
  await waitForState(relay.app, '/file', 'live')
  await waitForState(relay.app, '/url', 'live')

  for (const mount of ['/file', '/url']) {
    const refused = await refusal(relay.url(mount))
    assert.equal(refused.status, 401, `${mount} without credentials`)
    assert.equal(refused.body, 'You need to authenticate\r\n')
  }
  const callsBefore = auth.calls.length
  const slaves = ['/file', '/url'].map((mount) => openListener(relay.url(mount), { headers: { authorization: basic(RELAY_AUTH.username, RELAY_AUTH.password) } }))
  t.after(() => { for (const slave of slaves) slave.socket.destroy() })
  for (const slave of slaves) {
    assert.equal((await slave.head).status, 200)
    await slave.waitForBytes(8192)
  }
  for (const mount of ['/file', '/url']) {
    const status = relay.app.relay.get(mount)!
    assert.deepEqual([status.relays, status.listeners], [1, 0], `${mount}: a relay, not a listener`)
  }
  for (const slave of slaves) await slave.close()
  await waitUntil(() => relay.app.relay.get('/url')!.relays === 0, 3000, 'the slave gone')
  await sleep(300)
  assert.equal(auth.calls.length, callsBefore, 'neither listener_add nor listener_remove for a slave')
  assert.deepEqual(asked, ['/file', '/url'], 'authenticate asked the plain listeners only')

  for (const mount of ['/file', '/url']) {
    const wrong = await refusal(relay.url(mount), { authorization: basic(RELAY_AUTH.username, 'slave-secreT') })
    assert.equal(wrong.status, 401, `${mount}: a wrong relay password`)
    assert.equal(wrong.headers['www-authenticate'], REALM)
  }
  assert.equal(auth.calls.length, callsBefore, 'a wrong relay password never reaches the auth server')
  await audio(relay.url('/file'), { authorization: basic('ann', 'pw') })
  await audio(relay.url('/url'), { authorization: basic('ann', 'any') })
  assert.deepEqual(asked, ['/file', '/url', '/file', '/url'])
  assert.equal(auth.calls.filter((call) => call.fields['action'] === 'listener_add').length, callsBefore + 1)
})

test('relay credentials open no listener auth on an app without relayAuth: the auth server judges them as any listener\'s', async (t) => {
  const auth = await authServer(t, (_call, res) => { res.end() })
  const relay = await sampleApp(t, ['/file', '/url'])
  relay.app.relay.remove('/file')
  relay.app.relay.remove('/url')
  relay.app.relay.add({ localMount: '/file', upstreams: [{ file: SAMPLE }], listenerAuth: { htpasswd: listenersFile(t) } })
  relay.app.relay.add({ localMount: '/url', upstreams: [{ file: SAMPLE }], listenerAuth: { url: { listenerAdd: auth.url } } })
  await waitForState(relay.app, '/file', 'live')
  await waitForState(relay.app, '/url', 'live')
  for (const mount of ['/file', '/url']) {
    assert.equal((await refusal(relay.url(mount), { authorization: basic(RELAY_AUTH.username, RELAY_AUTH.password) })).status, 401, mount)
  }
  assert.deepEqual(auth.calls.map((call) => [call.fields['user'], call.fields['pass']]), [[RELAY_AUTH.username, RELAY_AUTH.password]])
})

test('the relay user name is the slaves\': a listener of that name with its own htpasswd password is refused, as a wrong relay login', async (t) => {
  const md5 = (text: string): string => createHash('md5').update(text).digest('hex')
  const relay = await sampleApp(t, ['/m'], { relayAuth: RELAY_AUTH, listenerAuth: { htpasswd: listenersFile(t, `relay:${md5('mine')}\nann:${md5('pw')}\n`) } })
  const refused = await refusal(relay.url('/m'), { authorization: basic('relay', 'mine') })
  assert.equal(refused.status, 401)
  assert.equal(relay.app.relay.get('/m')!.listeners, 0)
  await audio(relay.url('/m'), { authorization: basic('ann', 'pw') })
})

test('a slave flooding a mount with wrong relay passwords gets 429 past limits.authFailures, the right one too (no oracle), on an open mount as well', async (t) => {
  const auth = await authServer(t, (_call, res) => { res.setHeader('icecast-auth-user', '1'); res.end() })
  const relay = await sampleApp(t, ['/open', '/url'], { relayAuth: RELAY_AUTH, limits: { authFailures: 3, authWindow: 60 } })
  relay.app.relay.remove('/url')
  relay.app.relay.add({ localMount: '/url', upstreams: [{ file: SAMPLE }], listenerAuth: { url: { listenerAdd: auth.url } } })
  await waitForState(relay.app, '/url', 'live')
  const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) =>
    await refusal(relay.url(i % 2 === 0 ? '/open' : '/url'), { authorization: basic(RELAY_AUTH.username, `guess-${i}`) })))
  const statuses = answers.map((answer) => answer.status).sort()
  assert.deepEqual([statuses.filter((status) => status === 401).length, statuses.filter((status) => status === 429).length], [3, 17])
  for (const answer of answers) assert.doesNotMatch(answer.body, /\xff[\xe0-\xff]/, 'no audio byte')
  const right = await refusal(relay.url('/open'), { authorization: basic(RELAY_AUTH.username, RELAY_AUTH.password) })
  assert.equal(right.status, 429, 'the right password waits too')
  assert.ok(Number(right.headers['retry-after']) > 0)
  assert.equal(auth.calls.length, 0, 'no call to the auth server')
  assert.equal(relay.app.relay.get('/open')!.listeners + relay.app.relay.get('/url')!.listeners, 0)
  await audio(relay.url('/open'))
})

test('maxListenerDuration ends a listener, not a slave\'s relay connection', async (t) => {
  const relay = await sampleApp(t, ['/timed'], { relayAuth: RELAY_AUTH }, { maxListenerDuration: 1 })
  const listener = openListener(relay.url('/timed'))
  const slave = openListener(relay.url('/timed'), { headers: { authorization: basic(RELAY_AUTH.username, RELAY_AUTH.password) } })
  t.after(() => { listener.socket.destroy(); slave.socket.destroy() })
  assert.equal((await listener.head).status, 200)
  assert.equal((await slave.head).status, 200)
  await listener.ended
  await sleep(1500)
  const { ended } = await slave.close()
  assert.equal(ended, false, 'the slave stayed past the listeners\' limit')
})
