import assert from 'node:assert/strict'
import net from 'node:net'
import { test, type TestContext } from 'node:test'
import { relayApp, waitForState, waitUntil } from '../../helpers/app.js'
import { httpGet } from '../../helpers/procs.js'
import { openListener } from '../../helpers/listen.js'
import { scriptedUpstream } from '../../helpers/scripted.js'
import { basic } from '../../helpers/fake-master.js'

test('/admin/streamlist.txt lists every mount, prefixed, to a slave with the relay credentials; 401 otherwise', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, url } = await relayApp({
    relays: [{ url: upstream.url('/a'), localMount: '/live.mp3' }, { url: upstream.url('/b'), localMount: '/café-100%' }],
    relayAuth: { password: 'hackme' },
    prefix: '/radio'
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/live.mp3', 'live')
  await waitForState(app, '/café-100%', 'live')

  for (const headers of [{}, { authorization: basic('relay', 'wrong') }, { authorization: basic('admin', 'hackme') },
    { authorization: 'Bearer hackme' }, { authorization: 'Basic !!!' }] as Array<Record<string, string>>) {
    const refused = await httpGet(url('/admin/streamlist.txt'), { headers })
    assert.equal(refused.status, 401, JSON.stringify(headers))
    assert.equal(refused.headers['www-authenticate'], 'Basic realm="Icecast2 Server"')
  }
  const listed = await httpGet(url('/admin/streamlist.txt'), { headers: { authorization: basic('relay', 'hackme') } })
  assert.equal(listed.status, 200)
  assert.equal(listed.headers['content-type'], 'text/plain; charset=utf-8')
  assert.equal(listed.body.toString(), '/radio/live.mp3\r\n/radio/caf%C3%A9-100%25\r\n')

  app.relay.remove('/live.mp3')
  const after = await httpGet(url('/admin/streamlist.txt'), { auth: { user: 'relay', password: 'hackme' } })
  assert.equal(after.body.toString(), '/radio/caf%C3%A9-100%25\r\n')
})

/** Exactly what Icecast 2.4.4's slave sends: HTTP/1.0, no Host, no User-Agent. */
async function icecastSlaveRequest (port: number, authorization: string, path = '/admin/streamlist.txt'): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port })
  socket.write(`GET ${path} HTTP/1.0\r\nAuthorization: ${authorization}\r\n\r\n`)
  const chunks: Buffer[] = []
  for await (const chunk of socket) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('latin1')
}

test('an Icecast slave\'s request (HTTP/1.0, no Host) is answered; without relayAuth there is no stream list', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, base } = await relayApp({
    relays: [{ url: upstream.url('/a'), localMount: '/a.mp3' }], relayAuth: { username: 'slave', password: 'x' }
  })
  const { app: plain, url: plainUrl } = await relayApp({})
  t.after(async () => { await app.close(); await plain.close(); await upstream.close() })
  await waitForState(app, '/a.mp3', 'live')
  const answer = await icecastSlaveRequest(Number(new URL(base).port), basic('slave', 'x'))
  assert.match(answer, /^HTTP\/1\.[01] 200 /)
  assert.ok(answer.endsWith('\r\n\r\n/a.mp3\r\n'), answer)
  assert.equal((await httpGet(plainUrl('/admin/streamlist.txt'), { auth: { user: 'relay', password: 'x' } })).status, 404)
})

test('plugin to plugin: a slave app mirrors a master app\'s mounts, prefix and odd names included', async (t) => {
  const upstream = await scriptedUpstream({ headers: { 'icy-name': 'Top' } })
  const top = await relayApp({
    relays: [{ url: upstream.url('/s'), localMount: '/one.mp3' }, { url: upstream.url('/s'), localMount: '/café-100%' }],
    relayAuth: { password: 'pw' },
    prefix: '/radio'
  })
  const topPort = Number(new URL(top.base).port)
  const slave = await relayApp({ master: { server: '127.0.0.1', port: topPort, password: 'pw', updateInterval: 1 } })
  t.after(async () => { await slave.app.close(); await top.app.close(); await upstream.close() })
  await waitForState(slave.app, '/radio/one.mp3', 'live')
  await waitForState(slave.app, '/radio/café-100%', 'live')
  assert.equal(slave.app.relay.get('/radio/one.mp3')!.stream.name, 'Top')

  const listener = openListener(slave.url('/radio/caf%C3%A9-100%25'))
  assert.equal((await listener.head).status, 200)
  upstream.push(Buffer.from('abcdef'))
  assert.equal((await listener.waitForBytes(6)).toString(), 'abcdef')
  await listener.close()
})

/** A TCP server that accepts connections and never answers, as a host behind a black hole would. */
async function blackHole (t: TestContext): Promise<number> {
  const accepted = new Set<net.Socket>()
  const server = net.createServer((socket) => { socket.on('error', () => {}); accepted.add(socket) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const socket of accepted) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return (server.address() as net.AddressInfo).port
}

const relayCredentials = { auth: { user: 'relay', password: 'pw' } }

test('/admin/streamlist.txt lists what a slave can relay now: live, riding a gap, on demand unless it just failed', async (t) => {
  const good = await scriptedUpstream()
  const refusing = await scriptedUpstream({ head: 'HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm="x"\r\n\r\n' })
  const hole = await blackHole(t)
  const { app, url } = await relayApp({
    relays: [
      { url: good.url('/live'), localMount: '/live' },
      { url: refusing.url('/s'), localMount: '/wrong-password', password: 'nope' },
      { server: '127.0.0.1', port: hole, localMount: '/connecting' },
      { url: good.url('/od'), localMount: '/on-demand', onDemand: true },
      { url: refusing.url('/od'), localMount: '/on-demand-failing', onDemand: true }
    ],
    relayAuth: { password: 'pw' },
    limits: { gracePeriod: 1, maxBackoff: 1, connectTimeout: 1 }
  })
  t.after(async () => { await app.close(); await good.close(); await refusing.close() })
  await waitForState(app, '/live', 'live')
  await waitForState(app, '/wrong-password', 'retrying')
  const listed = async (): Promise<string> => (await httpGet(url('/admin/streamlist.txt'), relayCredentials)).body.toString()
  assert.equal(await listed(), '/live\r\n/on-demand\r\n/on-demand-failing\r\n', 'on-demand relays connect when asked')
  assert.equal(app.relay.get('/connecting')!.connectedSince, null, 'the black hole never answered')

  assert.equal((await httpGet(url('/on-demand-failing'))).status, 503)
  await waitForState(app, '/on-demand-failing', 'idle')
  assert.equal(await listed(), '/live\r\n/on-demand\r\n', 'an on-demand relay whose last attempt failed is left out')

  // a gap follows a stream: a connection that sent under 4 KiB starts no grace period
  good.push(Buffer.alloc(5000, 0x20))
  await waitUntil(() => app.relay.get('/live')!.bytesIn === 5000)
  good.drop()
  await good.close()
  await waitForState(app, '/live', 'retrying')
  assert.equal(await listed(), '/live\r\n/on-demand\r\n', 'listed while its gap is within the grace period')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  assert.equal(await listed(), '/on-demand\r\n/on-demand-failing\r\n',
    'past the grace period the relay is left out; the failed on-demand relay is offered again after maxBackoff')
})

test("icecast-kh's own request, /admin/streams, gets the same list to the relay credentials, whatever else its query holds", async (t) => {
  const upstream = await scriptedUpstream()
  const { app, url } = await relayApp({
    relays: [
      { url: upstream.url('/a'), localMount: '/live.mp3' },
      { url: upstream.url('/b'), localMount: '/café-100%' },
      { url: upstream.url('/c'), localMount: '/secret' }
    ],
    mounts: { '/secret': { hidden: true } },
    relayAuth: { password: 'hackme' },
    prefix: '/radio'
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/live.mp3', 'live')
  await waitForState(app, '/café-100%', 'live')
  await waitForState(app, '/secret', 'live')
  const auth = { user: 'relay', password: 'hackme' }
  const list = (await httpGet(url('/admin/streamlist.txt'), { auth })).body.toString()
  assert.equal(list, '/radio/live.mp3\r\n/radio/caf%C3%A9-100%25\r\n')

  for (const query of ['', '?rserver=127.0.0.2&rport=8000&interval=5', '?rserver=&rport=x&interval=-1', '?interval=5&interval=6',
    '?Mount=/live.mp3', '?%ZZ=1&a=%', '?' + 'x'.repeat(4000)]) {
    const answer = await httpGet(url('/admin/streams' + query), { auth })
    assert.equal(answer.status, 200, query)
    assert.equal(answer.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(answer.body.toString(), list, query)
  }
  // kh's masters list `/admin/streams?mount=/x`, a stream: never answered with a list a relay would take for audio
  // absolute, as kh's relay reads a Location: the host asked for, or the address reached when none is named
  for (const [query, location] of [['?mount=/live.mp3', url('/radio/live.mp3')], ['?mount=/caf%C3%A9-100%25&rserver=a', url('/radio/caf%C3%A9-100%25')]]) {
    const moved = await httpGet(url('/admin/streams' + query), { auth })
    assert.equal(moved.status, 302, query)
    assert.equal(moved.headers.location, location)
  }
  const asked = await httpGet(url('/admin/streams?mount=/live.mp3'), { auth, headers: { host: 'relay.example:8000' } })
  assert.equal(asked.headers.location, 'http://relay.example:8000/radio/live.mp3')
  const noHost = await icecastSlaveRequest(Number(new URL(url('/')).port), basic('relay', 'hackme'), '/admin/streams?mount=/live.mp3')
  assert.match(noHost, new RegExp(`^HTTP/1\\.[01] 302 [^]*\r\nlocation: ${url('/radio/live.mp3').replace(/\./g, '\\.')}\r\n`, 'i'))
  for (const query of ['?mount', '?mount=', '?mount=/secret', '?mount=/nope', '?mount=/live.mp3/', '?mount=live.mp3', '?mount=/radio/live.mp3']) {
    const missing = await httpGet(url('/admin/streams' + query), { auth })
    assert.equal(missing.status, 404, query)
    assert.equal(missing.body.toString(), 'No such mount\r\n')
  }
  for (const query of ['', '?mount=/live.mp3']) {
    assert.equal((await httpGet(url('/admin/streams' + query))).status, 401, `no credentials ${query}`)
    assert.equal((await httpGet(url('/admin/streams' + query), { auth: { user: 'relay', password: 'hackmf' } })).status, 401)
  }
})

test('a poll of /admin/streams registers an icecast-kh slave as /admin/streamlist.txt does; its relay connection does not', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, url } = await relayApp({
    relays: [{ url: upstream.url('/a'), localMount: '/a.mp3' }], relayAuth: { password: 'pw' }, redirect: {}
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/a.mp3', 'live')
  const stream = await httpGet(url('/admin/streams?mount=/a.mp3&rserver=127.0.0.3&rport=8001&interval=5'), relayCredentials)
  assert.equal(stream.status, 302)
  assert.deepEqual(app.relay.slaves(), [])
  const poll = await httpGet(url('/admin/streams?rserver=127.0.0.2&rport=8000&interval=5'), relayCredentials)
  assert.equal(poll.body.toString(), '/a.mp3\r\n')
  assert.deepEqual(app.relay.slaves().map((slave) => slave.key), ['127.0.0.2:8000'])
})

test('a list of 3000 mounts is answered whole on both paths', async (t) => {
  const upstream = await scriptedUpstream()
  const mounts = Array.from({ length: 3000 }, (_, i) => `/channel-${String(i).padStart(4, '0')}-${'x'.repeat(100)}.mp3`)
  // on demand: listed without an upstream connection each
  const { app, url } = await relayApp({
    relays: mounts.map((localMount) => ({ url: upstream.url(localMount), localMount, onDemand: true })),
    relayAuth: { password: 'pw' }
  })
  t.after(async () => { await app.close(); await upstream.close() })
  const expected = mounts.map((mount) => mount + '\r\n').join('')
  for (const path of ['/admin/streams', '/admin/streamlist.txt']) {
    const answer = await httpGet(url(path), { ...relayCredentials, timeoutMs: 10_000 })
    assert.equal(answer.body.toString(), expected, path)
  }
})

test('wrong relay credentials on /admin/streams and /admin/streamlist.txt count as one: alternating gains no guesses', async (t) => {
  const { app, url } = await relayApp({ relayAuth: { password: 'pw' }, limits: { authFailures: 4 } })
  t.after(async () => { await app.close() })
  const wrong = { auth: { user: 'relay', password: 'guess' } }
  for (const path of ['/admin/streams', '/admin/streamlist.txt', '/admin/streams?mount=/x', '/admin/streamlist.txt']) {
    assert.equal((await httpGet(url(path), wrong)).status, 401, path)
  }
  assert.equal((await httpGet(url('/admin/streams'), wrong)).status, 429)
  assert.equal((await httpGet(url('/admin/streamlist.txt'), relayCredentials)).status, 429)
})
