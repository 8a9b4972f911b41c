// Playlists read by real players: a relay of a real Icecast 2 serves <mount>.m3u, .pls and .xspf; mpg123
// plays the .m3u and the .pls, VLC the .xspf and the .pls, ffprobe opens the entries of the .pls and the .xspf.
import assert from 'node:assert/strict'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import fastifyIcecastRelay, { type RelayDefinition } from '../../../lib/index.js'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import { assertTools, httpGet, makeFixtures, runMpg123, startIcecast, startSource, type Icecast, type Source } from '../../helpers/icecast.js'
import { run } from '../../helpers/procs.js'
import { selfSignedCertificate } from '../../helpers/servers.js'

const HOSTILE = "/a&b'<c>\"é.mp3"
const xspf = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, processEntities: true, htmlEntities: false })

let master: Icecast
let source: Source
let relay: RelayApp
const apps: FastifyInstance[] = []

function fromMaster (localMount: string, more: Partial<RelayDefinition> = {}): RelayDefinition {
  return { server: master.host, port: master.port, mount: '/live.mp3', localMount, ...more }
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123', 'ffprobe')
  const fixtures = await makeFixtures()
  master = await startIcecast()
  source = await startSource({ icecast: master, mount: '/live.mp3', files: [fixtures.mp3.long], format: 'mp3', name: 'Master MP3', genre: 'Test', bitrate: 128 })
  relay = await relayApp({
    prefix: '/stations',
    relays: [
      fromMaster('/radio.mp3', { username: 'relayuser', password: 'n0t-in-any-playlist' }),
      fromMaster('/radio'),
      // a mount whose own name ends in .m3u: the mount wins over the playlist of /radio
      fromMaster('/radio.m3u'),
      fromMaster(HOSTILE)
    ]
  }, (app) => {
    app.setNotFoundHandler(async (_request, reply) => await reply.code(404).type('text/plain').send('the host app\'s own 404'))
  })
  for (const mount of ['/radio.mp3', '/radio', '/radio.m3u', HOSTILE]) await waitForState(relay.app, mount, 'live', 10000)
  await waitUntil(() => relay.app.relay.get('/radio.mp3')!.metadata?.title === 'Long Track', 10000, 'the master\'s title')
})

after(async () => {
  await Promise.all(apps.map(async (app) => { await app.close() }))
  await relay?.app.close()
  await source?.stop()
  await master?.stop()
})

async function get (path: string, options: Parameters<typeof httpGet>[1] = {}): Promise<{ status: number, type: string | undefined, text: string, headers: Record<string, unknown> }> {
  const result = await httpGet(relay.url(path), options)
  return { status: result.status, type: result.headers['content-type'] as string | undefined, text: result.body.toString('utf8'), headers: result.headers }
}

async function ffprobeCodec (url: string): Promise<string> {
  const result = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', url], { timeoutMs: 20000 })
  assert.equal(result.code, 0, result.stderr)
  return result.stdout.toString('utf8').trim()
}

test('.m3u: Icecast\'s type and body, the listen URL under the prefix; mpg123 -@ plays it', async () => {
  const m3u = await get('/stations/radio.mp3.m3u')
  assert.equal(m3u.status, 200)
  assert.equal(m3u.type, 'audio/x-mpegurl')
  assert.equal(m3u.headers['cache-control'], 'no-cache, no-store')
  assert.equal(m3u.text, `${relay.url('/stations/radio.mp3')}\r\n`)

  const played = await runMpg123(relay.url('/stations/radio.mp3.m3u'), { args: ['-@'], ms: 4000 })
  assert.ok(played.ok, played.stderr)
  assert.ok(played.seconds > 1, `${played.seconds} s decoded`)
  assert.deepEqual(played.titles.slice(0, 1), ['Long Track'])
  assert.equal(played.format?.bitrate, 'cbr128')
})

test('.pls: SHOUTcast\'s shape with the stream\'s name; mpg123 plays it and ffprobe opens its entry', async () => {
  const pls = await get('/stations/radio.mp3.pls')
  assert.equal(pls.status, 200)
  assert.equal(pls.type, 'audio/x-scpls; charset=utf-8')
  assert.equal(pls.text, `[playlist]\nNumberOfEntries=1\nFile1=${relay.url('/stations/radio.mp3')}\nTitle1=Master MP3\nLength1=-1\nVersion=2\n`)
  const entry = /^File1=(.*)$/m.exec(pls.text)![1]!
  assert.equal(await ffprobeCodec(entry), 'mp3')

  const played = await runMpg123(relay.url('/stations/radio.mp3.pls'), { args: ['-@'], ms: 4000 })
  assert.ok(played.ok, played.stderr)
  assert.ok(played.seconds > 1, `${played.seconds} s decoded`)
})

test('.xspf: Icecast\'s track with the listen URL, the title and what the stream is; ffprobe opens its location', async () => {
  const answer = await get('/stations/radio.mp3.xspf')
  assert.equal(answer.status, 200)
  assert.equal(answer.type, 'application/xspf+xml; charset=utf-8')
  assert.equal(XMLValidator.validate(answer.text), true)
  const { playlist } = xspf.parse(answer.text)
  assert.equal(playlist['@xmlns'], 'http://xspf.org/ns/0/')
  const { track } = playlist.trackList
  assert.equal(track.location, relay.url('/stations/radio.mp3'))
  assert.equal(track.title, 'Long Track')
  assert.match(track.annotation, /^Stream Title: Master MP3\n/m)
  assert.match(track.annotation, /^Content Type: audio\/mpeg$/m)
  assert.match(track.annotation, /^Stream Genre: Test$/m)
  assert.equal(await ffprobeCodec(track.location), 'mp3')
})

/** The most listeners `localMount` had while `action` ran. */
async function peakListeners (localMount: string, action: () => Promise<unknown>): Promise<number> {
  let peak = 0
  const timer = setInterval(() => { peak = Math.max(peak, relay.app.relay.get(localMount)!.listeners) }, 50)
  await action()
  clearInterval(timer)
  return peak
}

test('VLC reads the .xspf and the .pls and plays their entry: the mount gets it as a listener', async () => {
  assertTools('cvlc')
  for (const format of ['xspf', 'pls']) {
    // VLC refuses to run as root; 6 s of playing, then it is stopped
    const vlc = ['timeout', '6', 'cvlc', '--aout=dummy', '--no-dbus', '--play-and-exit', relay.url(`/stations/radio.${format}`)]
    const argv = process.getuid?.() === 0 ? ['runuser', '-u', 'nobody', '--', 'env', 'HOME=/tmp', ...vlc] : vlc
    const peak = await peakListeners('/radio', async () => await run(argv[0]!, argv.slice(1), { timeoutMs: 15000 }))
    assert.equal(peak, 1, `VLC listened to /radio through its .${format}`)
  }
})

/** HEAD: the status, the content type, and how many body bytes came (none, for a HEAD). */
async function head (url: string): Promise<{ status: number, type: string | undefined, bodyBytes: number }> {
  return await new Promise((resolve, reject) => {
    http.request(url, { method: 'HEAD', agent: false }, (response) => {
      let bodyBytes = 0
      response.on('data', (chunk: Buffer) => { bodyBytes += chunk.length })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, type: response.headers['content-type'], bodyBytes }))
    }).on('error', reject).end()
  })
}

test('HEAD of a playlist: its head, no body', async () => {
  for (const [format, type] of [['m3u', 'audio/x-mpegurl'], ['pls', 'audio/x-scpls; charset=utf-8'], ['xspf', 'application/xspf+xml; charset=utf-8']]) {
    assert.deepEqual(await head(relay.url(`/stations/radio.mp3.${format}`)), { status: 200, type, bodyBytes: 0 }, format)
  }
})

test('a playlist of no mount is the host app\'s 404; a mount named like a playlist is served as the mount', async () => {
  for (const path of ['/stations/nothing.mp3.m3u', '/stations/radio.mp3.M3U', '/stations/radio.mp3.m3u8', '/stations/.xspf', '/radio.mp3.m3u', '/stations/radio.mp3.pls/']) {
    const answer = await get(path)
    assert.equal(answer.status, 404, path)
    assert.equal(answer.text, 'the host app\'s own 404', path)
  }
  assert.equal((await head(relay.url('/stations/radio.m3u'))).type, 'audio/mpeg', 'the mount /radio.m3u, not the playlist of /radio')
  const played = await runMpg123(relay.url('/stations/radio.m3u'), { ms: 3000 })
  assert.ok(played.ok && played.seconds > 1, played.stderr)
})

test('a hostile mount name: escaped in the XSPF, percent-encoded in every URL, and the .m3u still plays it', async () => {
  const url = relay.url(`/stations${encodeURI(HOSTILE)}`)
  const m3u = await get(`/stations${encodeURI(HOSTILE)}.m3u`)
  assert.equal(m3u.text, `${url}\r\n`)
  assert.equal(decodeURIComponent(new URL(m3u.text.trim()).pathname), `/stations${HOSTILE}`)
  const answer = await get(`/stations${encodeURI(HOSTILE)}.xspf`)
  assert.equal(XMLValidator.validate(answer.text), true)
  assert.match(answer.text, /<location>[^<>"]*&amp;b&apos;%3Cc%3E%22%C3%A9\.mp3<\/location>/)
  assert.equal(xspf.parse(answer.text).playlist.trackList.track.location, url)
  const pls = await get(`/stations${encodeURI(HOSTILE)}.pls`)
  assert.match(pls.text, new RegExp(`^File1=${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'))
  const played = await runMpg123(`${url}.m3u`, { args: ['-@'], ms: 3000 })
  assert.ok(played.ok && played.seconds > 1, played.stderr)
})

test('no credentials in a playlist: not the upstream\'s, not the ones a client sent', async () => {
  for (const format of ['m3u', 'pls', 'xspf']) {
    const answer = await get(`/stations/radio.mp3.${format}`, { auth: { user: 'listener', password: 'client-secret' } })
    assert.equal(answer.status, 200)
    for (const secret of ['relayuser', 'n0t-in-any-playlist', 'listener', 'client-secret', '@127.0.0.1']) {
      assert.ok(!answer.text.includes(secret), `${format} holds ${secret}`)
    }
  }
  // a Host header is the client's word: user info in it stays out of the URL
  const host = new URL(relay.base).host
  const answer = await httpGet(relay.url('/stations/radio.mp3.m3u'), { headers: { host: `listener:client-secret@${host}` } })
  assert.equal(answer.body.toString('utf8'), `http://${host}/stations/radio.mp3\r\n`)
})

/** An app of its own (HTTPS or with a `hostname`), its relays on demand so that they stay off their upstream. */
async function otherApp (options: { https?: { key: Buffer, cert: Buffer }, hostname?: string, stats?: boolean }): Promise<string> {
  // an HTTPS server's instance has a type of its own; the plugin treats it as any other
  const app = (options.https === undefined ? Fastify() : Fastify({ https: options.https })) as FastifyInstance
  apps.push(app)
  await app.register(fastifyIcecastRelay, {
    prefix: '/p',
    ...(options.hostname !== undefined && { hostname: options.hostname }),
    ...(options.stats !== undefined && { stats: options.stats }),
    relays: [fromMaster('/radio.mp3', { onDemand: true })]
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

test('the listen URL: https when the request came over TLS; the hostname option, with the port the request came in on; playlists with stats: false too', async () => {
  const tlsHost = await otherApp({ https: selfSignedCertificate() })
  const body = await new Promise<string>((resolve, reject) => {
    https.get(`https://${tlsHost}/p/radio.mp3.m3u`, { rejectUnauthorized: false }, (response) => {
      let text = ''
      response.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => resolve(text))
    }).on('error', reject)
  })
  assert.equal(body, `https://${tlsHost}/p/radio.mp3\r\n`)

  const named = await otherApp({ hostname: 'radio.localhost', stats: false })
  const port = named.split(':')[1]
  const answer = await httpGet(`http://${named}/p/radio.mp3.m3u`, { headers: { host: 'other.localhost:1234' } })
  assert.equal(answer.body.toString('utf8'), `http://radio.localhost:${port}/p/radio.mp3\r\n`)
  assert.equal((await httpGet(`http://${named}/p/status.xsl`)).status, 404, 'stats: false turns off the status pages, not the playlists')
  const fromHost = await httpGet(relay.url('/stations/radio.mp3.m3u'), { headers: { host: 'relay.localhost:8000' } })
  assert.equal(fromHost.body.toString('utf8'), 'http://relay.localhost:8000/stations/radio.mp3\r\n', 'without hostname: the Host the client asked for')
})
