import assert from 'node:assert/strict'
import { test } from 'node:test'
import { XMLParser } from 'fast-xml-parser'
import { relayApp, scriptedRelay, waitForState, waitUntil } from '../../helpers/app.js'
import { openListener } from '../../helpers/listen.js'
import { noise, scriptedUpstream } from '../../helpers/scripted.js'
import { ADMIN, adminGet } from '../../helpers/admin.js'

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, isArray: (name) => name === 'source' || name === 'listener' })

/** One ICY metadata block, length byte first. */
function icyBlock (text: string): Buffer {
  const bytes = Buffer.from(text)
  const block = Buffer.alloc(1 + Math.ceil(bytes.length / 16) * 16)
  block[0] = (block.length - 1) / 16
  bytes.copy(block, 1)
  return block
}

const ADMIN_ROUTES = [
  '/admin/stats', '/admin/listmounts', '/admin/listclients?mount=/a', '/admin/killclient?mount=/a&id=1',
  '/admin/moveclients?mount=/a&destination=/b', '/admin/killsource?mount=/a', '/admin/metadata?mount=/a&mode=updinfo&song=x',
  '/admin/relays', '/admin/metrics'
]

test('admin routes answer 401 with a Basic challenge to no, wrong or partial credentials', async (t) => {
  const upstream = await scriptedUpstream()
  // every route with every wrong credential: more failures than the guessing limit lets through by default
  const { app, url } = await relayApp({ relays: [{ url: upstream.url(), localMount: '/a' }], admin: ADMIN, limits: { authFailures: 1000 } })
  t.after(async () => { await app.close(); await upstream.close() })
  const wrong = [null, { ...ADMIN, password: 'hack me: reall' }, { ...ADMIN, username: 'Admin' }, { username: 'admin', password: '' }]
  for (const path of ADMIN_ROUTES) {
    for (const auth of wrong) {
      const res = await adminGet(url(path), { auth })
      assert.equal(res.status, 401, `${path} with ${JSON.stringify(auth)}`)
      assert.equal(res.headers['www-authenticate'], 'Basic realm="Icecast2 Server"')
    }
  }
  const del = await app.inject({ method: 'DELETE', url: '/admin/relays?mount=/a' })
  assert.equal(del.statusCode, 401)
  assert.equal(app.relay.get('/a')?.localMount, '/a')
  assert.equal((await adminGet(url('/admin/stats'))).status, 200)
})

test('without admin credentials there are no admin routes; stats: false removes the public pages', async (t) => {
  const upstream = await scriptedUpstream()
  const plain = await relayApp({ relays: [{ url: upstream.url(), localMount: '/a' }] })
  const quiet = await relayApp({ relays: [{ url: upstream.url(), localMount: '/a' }], stats: false, admin: ADMIN })
  t.after(async () => { await plain.app.close(); await quiet.app.close(); await upstream.close() })
  for (const path of ADMIN_ROUTES) assert.equal((await adminGet(plain.url(path))).status, 404, path)
  for (const path of ['/status-json.xsl', '/status.xsl', '/7.html']) {
    assert.equal((await adminGet(plain.url(path), { auth: null })).status, 200, path)
    assert.equal((await adminGet(quiet.url(path), { auth: null })).status, 404, path)
  }
  assert.equal((await adminGet(quiet.url('/admin/stats'))).status, 200)
})

test('status JSON: exact listener counts, the ICY title whole, listen URLs under the prefix', async (t) => {
  const upstream = await scriptedUpstream({ headers: { 'icy-metaint': '1000', 'icy-name': 'Scripted', 'icy-br': '128', 'icy-genre': 'Test' } })
  const { app, url, base } = await relayApp({ relays: [{ url: upstream.url(), localMount: '/m.mp3' }], prefix: '/radio', limits: { burstSize: 0 } })
  const named = await relayApp({ relays: [{ url: upstream.url(), localMount: '/m.mp3' }], hostname: 'radio.example', location: 'Studio', adminEmail: 'ops@radio.example' })
  t.after(async () => { await app.close(); await named.app.close(); await upstream.close() })
  await waitForState(app, '/m.mp3', 'live')
  await waitForState(named.app, '/m.mp3', 'live')
  const listeners = [openListener(url('/radio/m.mp3')), openListener(url('/radio/m.mp3')), openListener(url('/radio/m.mp3'))]
  await Promise.all(listeners.map((l) => l.head))
  await waitUntil(() => app.relay.get('/m.mp3')!.listeners === 3)
  upstream.push(Buffer.concat([noise(1000), icyBlock("StreamTitle='Artist A - It''s Title';"), noise(10)]))
  await waitUntil(() => app.relay.get('/m.mp3')!.metadata !== null)
  await listeners[0]!.close()
  await waitUntil(() => app.relay.get('/m.mp3')!.listeners === 2)

  const res = await adminGet(url('/radio/status-json.xsl'), { auth: null })
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  assert.equal(res.headers['access-control-allow-origin'], '*')
  const { icestats } = JSON.parse(res.text)
  assert.equal(icestats.host, '127.0.0.1')
  assert.equal(icestats.location, 'Earth')
  assert.equal(icestats.admin, 'icemaster@localhost')
  assert.deepEqual(icestats.source.length, 1)
  const [source] = icestats.source
  assert.equal(source.listenurl, `${base}/radio/m.mp3`)
  assert.equal(source.listeners, 2)
  assert.equal(source.listener_peak, 3)
  assert.equal(source.title, "Artist A - It''s Title")
  assert.equal(source.artist, undefined, 'an ICY title is not split')
  assert.equal(source.server_name, 'Scripted')
  assert.equal(source.bitrate, 128)
  assert.equal(source.genre, 'Test')
  assert.equal(source.server_type, 'audio/mpeg')
  assert.equal(source.total_bytes_read, undefined, 'admin-only values stay out of the public JSON')
  assert.equal((await adminGet(url('/status-json.xsl'), { auth: null })).status, 404, 'the pages live under the prefix')

  const namedStats = JSON.parse((await adminGet(named.url('/status-json.xsl'), { auth: null })).text).icestats
  assert.equal(namedStats.host, 'radio.example')
  assert.equal(namedStats.location, 'Studio')
  assert.equal(namedStats.admin, 'ops@radio.example')
  assert.equal(namedStats.source[0].listenurl, `http://radio.example:${new URL(named.base).port}/m.mp3`)
  await Promise.all(listeners.map((l) => l.close()))
})

test('a Host header that names no host gives the stats of localhost, not an error', async (t) => {
  const { app } = await relayApp({ relays: [] })
  t.after(async () => { await app.close() })
  for (const host of ['a b', '[::1', 'x:99999']) {
    const res = await app.inject({ url: '/status-json.xsl', headers: { host } })
    assert.equal(res.statusCode, 200, host)
    assert.equal(res.json().icestats.host, 'localhost', host)
  }
  const asked = await app.inject({ url: '/status-json.xsl', headers: { host: 'Radio.Example:8000' } })
  assert.equal(asked.json().icestats.host, 'radio.example')
})

test('/admin/stats: XML by default, JSON when asked; every value, or one mount\'s', async (t) => {
  const upstream = await scriptedUpstream({ headers: { 'icy-pub': '1' } })
  const { app, url } = await relayApp({
    relays: [{ url: upstream.url('/a'), localMount: '/a', maxListeners: 9 }, { url: upstream.url('/b'), localMount: '/b' }],
    admin: ADMIN
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await Promise.all([waitForState(app, '/a', 'live'), waitForState(app, '/b', 'live')])
  upstream.push(noise(500))
  await waitUntil(() => app.relay.get('/a')!.bytesIn === 500 && app.relay.get('/b')!.bytesIn === 500)

  const asXml = await adminGet(url('/admin/stats'))
  assert.equal(asXml.headers['content-type'], 'text/xml; charset=utf-8')
  const doc = xml.parse(asXml.text).icestats
  assert.equal(doc.sources, '2')
  assert.deepEqual(doc.source.map((s: Record<string, string>) => s['@mount']), ['/a', '/b'])
  assert.equal(doc.source[0].max_listeners, '9')
  assert.equal(doc.source[0].public, '1')
  assert.equal(doc.source[0].total_bytes_read, '500')
  assert.equal(doc.source[1].max_listeners, 'unlimited')

  const asJson = await adminGet(url('/admin/stats'), { headers: { accept: 'application/json' } })
  assert.equal(asJson.headers['content-type'], 'application/json; charset=utf-8')
  const { icestats } = JSON.parse(asJson.text)
  assert.equal(icestats.sources, 2)
  assert.equal(icestats.source[0].total_bytes_read, 500)
  assert.equal(icestats.source[0].max_listeners, 9)

  const one = xml.parse((await adminGet(url('/admin/stats?mount=/b'))).text).icestats
  assert.deepEqual(one.source.map((s: Record<string, string>) => s['@mount']), ['/b'])
  assert.equal((await adminGet(url('/admin/stats?mount=/nope'))).status, 404)
})

test('listmounts, listclients and killclient', async (t) => {
  const { app, url } = await scriptedRelay(t, '/a', { plugin: { admin: ADMIN, limits: { burstSize: 0 } } })
  const first = openListener(url('/a'))
  const second = openListener(url('/a'))
  await Promise.all([first.head, second.head])
  await waitUntil(() => app.relay.get('/a')!.listeners === 2)

  const mounts = xml.parse((await adminGet(url('/admin/listmounts'))).text).icestats.source
  assert.equal(mounts.length, 1)
  assert.equal(mounts[0]['@mount'], '/a')
  assert.equal(mounts[0].listeners, '2')
  assert.equal(mounts[0]['content-type'], 'audio/mpeg')
  assert.match(mounts[0].Connected, /^\d+$/)

  const clients = xml.parse((await adminGet(url('/admin/listclients?mount=/a'))).text).icestats.source[0]
  assert.equal(clients.Listeners, '2')
  const ids = app.relay.listenersOf('/a')!.map((l) => String(l.id))
  assert.deepEqual(clients.listener.map((l: Record<string, string>) => l.ID).sort(), ids.sort())
  for (const listener of clients.listener) {
    assert.equal(listener.IP, '127.0.0.1')
    assert.equal(listener.UserAgent, 'icecast-relay-test-listener/1.0')
    assert.match(listener.Connected, /^\d+$/)
  }
  assert.equal((await adminGet(url('/admin/listclients?mount=/nope'))).status, 404)
  assert.match((await adminGet(url('/admin/listclients'))).text, /querystring must have required property 'mount'/)

  const notFound = xml.parse((await adminGet(url('/admin/killclient?mount=/a&id=999999'))).text).iceresponse
  assert.deepEqual(notFound, { message: 'Client 999999 not found', return: '0' })
  assert.match((await adminGet(url('/admin/killclient?mount=/a&id=x'))).text, /querystring\/id must be integer/)
  const killed = xml.parse((await adminGet(url(`/admin/killclient?mount=/a&id=${ids[0]}`))).text).iceresponse
  assert.deepEqual(killed, { message: `Client ${ids[0]} removed`, return: '1' })
  await waitUntil(() => app.relay.get('/a')!.listeners === 1)
  await Promise.all([first.close(), second.close()])
})

test('moveclients over HTTP: the listeners move; refused moves say why', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, url } = await relayApp({
    relays: [{ url: upstream.url('/a'), localMount: '/a' }, { url: upstream.url('/b'), localMount: '/b' }], admin: ADMIN, limits: { burstSize: 0 }
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await Promise.all([waitForState(app, '/a', 'live'), waitForState(app, '/b', 'live')])
  const listener = openListener(url('/a'), { icy: true })
  await listener.head
  await waitUntil(() => app.relay.get('/a')!.listeners === 1)
  const moved = xml.parse((await adminGet(url('/admin/moveclients?mount=/a&destination=/b'))).text).iceresponse
  assert.deepEqual(moved, { message: 'Clients moved from /a to /b (1)', return: '1' })
  assert.equal(app.relay.get('/b')!.listeners, 1)
  const same = await adminGet(url('/admin/moveclients?mount=/b&destination=/b'))
  assert.equal(same.status, 409)
  assert.match(same.text, /same mount/)
  assert.equal((await adminGet(url('/admin/moveclients?mount=/b&destination=/nope'))).status, 404)
  assert.equal((await adminGet(url('/admin/moveclients?mount=/b'))).status, 400)
  await listener.close()
})

test('killsource restarts the relay: a new upstream request, and its listeners stay on', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/a', { plugin: { admin: ADMIN, limits: { burstSize: 0 } } })
  const listener = openListener(url('/a'))
  await listener.head
  await waitUntil(() => app.relay.get('/a')!.listeners === 1)
  const before = noise(5000)
  upstream.push(before)
  assert.ok((await listener.waitForBytes(5000)).equals(before))
  const res = xml.parse((await adminGet(url('/admin/killsource?mount=/a'))).text).iceresponse
  assert.equal(res.return, '1')
  await waitUntil(() => upstream.requests.length === 2 && app.relay.get('/a')!.state === 'live', 5000, 'a second upstream connection')
  assert.equal(app.relay.get('/a')!.listeners, 1)
  assert.equal(app.relay.get('/a')!.lastError?.code, 'FST_ICECAST_RELAY_RESTARTED')
  await upstream.waitForClients(1)
  upstream.push(Buffer.from('after restart'))
  assert.equal((await listener.waitForBytes(5013)).subarray(5000).toString(), 'after restart')
  assert.equal((await adminGet(url('/admin/killsource?mount=/nope'))).status, 404)
  await listener.close()
})

test('metadata updinfo sets the title an ICY listener gets; artist and title, other modes, missing text', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/a', { relay: { metaint: 200 }, plugin: { admin: ADMIN, limits: { burstSize: 0 } } })
  const listener = openListener(url('/a'), { icy: true })
  assert.equal((await listener.head).headers['icy-metaint'], '200')
  await waitUntil(() => app.relay.get('/a')!.listeners === 1)

  const set = await adminGet(url(`/admin/metadata?mount=/a&mode=updinfo&song=${encodeURIComponent("Café's song; live")}`))
  assert.deepEqual(xml.parse(set.text).iceresponse, { message: 'Metadata update successful', return: '1' })
  upstream.push(noise(250))
  await listener.waitForBytes(250 + 1 + 48)
  await adminGet(url('/admin/metadata?mount=/a&mode=updinfo&artist=Band&title=Tune'))
  upstream.push(noise(200))
  await listener.waitForBytes(450 + 1 + 48 + 1 + 32)
  const result = await listener.close()
  assert.deepEqual(result.icy!.titles, ["Café's song; live", 'Band - Tune'])

  const other = xml.parse((await adminGet(url('/admin/metadata?mount=/a&mode=other&song=x'))).text).iceresponse
  assert.deepEqual(other, { message: 'No such action', return: '0' })
  const missing = await adminGet(url('/admin/metadata?mount=/a&mode=updinfo&artist=Only'))
  assert.equal(missing.status, 400)
  assert.match(missing.text, /song, or title/)
  assert.equal((await adminGet(url('/admin/metadata?mount=/nope&mode=updinfo&song=x'))).status, 404)
  assert.equal(app.relay.get('/a')!.metadata?.title, 'Band - Tune')
})

test('the status page and /7.html over HTTP', async (t) => {
  const upstream = await scriptedUpstream({ headers: { 'icy-br': '64' } })
  const { app, url } = await relayApp({ relays: [{ url: upstream.url('/a'), localMount: '/first', maxListeners: 50 }, { url: upstream.url('/b'), localMount: '/second' }] })
  t.after(async () => { await app.close(); await upstream.close() })
  await Promise.all([waitForState(app, '/first', 'live'), waitForState(app, '/second', 'live')])
  app.relay.setMetadata('/first', { title: 'First, title' })
  const listeners = [openListener(url('/first')), openListener(url('/first'))]
  await Promise.all(listeners.map((l) => l.head))
  await waitUntil(() => app.relay.get('/first')!.listeners === 2)

  const page = await adminGet(url('/status.xsl'), { auth: null })
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8')
  assert.match(page.text, /data-mount="\/first" data-state="live"/)
  assert.match(page.text, /data-mount="\/second" data-state="live"/)
  assert.match(page.text, /<dd class="now-playing">First, title<\/dd>/)
  const seven = await adminGet(url('/7.html'), { auth: null })
  assert.match(seven.text, /<body>2,1,2,50,1,64,First, title<\/body>/)
  await Promise.all(listeners.map((l) => l.close()))
})
