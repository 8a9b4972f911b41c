import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { get, type IncomingMessage } from 'node:http'
import { test } from 'node:test'
import { relayApp, scriptedRelay, waitForState, waitUntil } from '../../helpers/app.js'
import { openListener } from '../../helpers/listen.js'
import { freePort, httpGet } from '../../helpers/procs.js'
import { noise, scriptedUpstream } from '../../helpers/scripted.js'

test('listenersOf lists id, address, user agent and seconds connected; kick ends one listener only', async (t) => {
  const { app, url, upstream } = await scriptedRelay(t, '/k', { plugin: { limits: { burstSize: 0 } } })
  const first = openListener(url('/k'))
  await first.head
  const second = await new Promise<IncomingMessage>((resolve) => {
    get(url('/k'), { agent: false, headers: { 'User-Agent': 'second/2.0' } }, resolve)
  })
  const secondClosed = new Promise((resolve) => second.once('close', resolve))
  second.resume()
  await waitUntil(() => app.relay.get('/k')!.listeners === 2)

  const listed = app.relay.listenersOf('/k')!
  assert.equal(listed.length, 2)
  for (const listener of listed) {
    assert.equal(listener.ip, '127.0.0.1')
    assert.equal(listener.connectedSeconds, 0)
    assert.ok(Number.isInteger(listener.id))
  }
  assert.deepEqual(listed.map((l) => l.userAgent).sort(), ['icecast-relay-test-listener/1.0', 'second/2.0'])
  assert.equal(app.relay.listenersOf('/nope'), undefined)

  const leaves: Array<string | undefined> = []
  app.relay.on('listener', (e) => { if (e.action === 'leave') leaves.push(e.reason) })
  const victim = listed.find((l) => l.userAgent === 'second/2.0')!
  assert.equal(app.relay.kick('/k', victim.id + 1000), false)
  assert.equal(app.relay.kick('/nope', victim.id), false)
  assert.equal(app.relay.kick('/k', victim.id), true)
  await secondClosed
  assert.deepEqual(leaves, ['kicked'])
  assert.deepEqual(app.relay.listenersOf('/k')!.map((l) => l.id), listed.filter((l) => l !== victim).map((l) => l.id))
  upstream.push(Buffer.from('still here'))
  assert.equal((await first.waitForBytes(10)).toString(), 'still here')
  await first.close()
})

test('moveListeners: listeners keep their connection; an ICY listener keeps its interval and gets the new titles', async (t) => {
  const a = await scriptedUpstream()
  const b = await scriptedUpstream()
  const { app, url } = await relayApp({
    relays: [{ url: a.url(), localMount: '/a', metaint: 100 }, { url: b.url(), localMount: '/b', metaint: 300 }],
    limits: { burstSize: 0, clients: 2 }
  })
  t.after(async () => { await app.close(); await a.close(); await b.close() })
  await Promise.all([waitForState(app, '/a', 'live'), waitForState(app, '/b', 'live')])
  app.relay.setMetadata('/a', { title: 'On A' })
  app.relay.setMetadata('/b', { title: 'On B' })
  const icy = openListener(url('/a'), { icy: true })
  const plain = openListener(url('/a'))
  assert.equal((await icy.head).headers['icy-metaint'], '100')
  await plain.head
  await waitUntil(() => app.relay.get('/a')!.listeners === 2)

  const fromA = noise(250)
  a.push(fromA)
  await plain.waitForBytes(250)
  await icy.waitForBytes(250 + 2 * 17)
  const events: string[] = []
  app.relay.on('listener', (e) => events.push(`${e.localMount} ${e.action}${e.reason === undefined ? '' : ' ' + e.reason}`))

  assert.equal(await app.relay.moveListeners('/a', '/b'), 2)
  assert.equal(app.relay.get('/a')!.listeners, 0)
  assert.equal(app.relay.get('/b')!.listeners, 2)
  const third = await httpGet(url('/a'))
  assert.equal(third.status, 403, 'moved listeners still count against the server\'s limit')
  assert.match(third.body.toString(), /Too many listeners on this server/)
  assert.deepEqual(events, ['/a leave moved', '/b join moved', '/a leave moved', '/b join moved'], 'a move says so as it joins too')

  const fromB = noise(400)
  b.push(fromB)
  await plain.waitForBytes(650)
  await icy.waitForBytes(650 + 2 * 17 + 17 + 3)
  a.push(noise(100)) // no longer theirs
  const [icyResult, plainResult] = await Promise.all([icy.close(), plain.close()])
  assert.ok(plainResult.body.equals(Buffer.concat([fromA, fromB])))
  const demuxed = icyResult.icy!
  assert.equal(demuxed.metaint, 100)
  assert.ok(demuxed.audio.equals(Buffer.concat([fromA, fromB]).subarray(0, demuxed.audio.length)))
  assert.ok(demuxed.audio.length >= 600, `${demuxed.audio.length} audio bytes`)
  assert.deepEqual(demuxed.titles, ['On A', 'On B'])
  assert.equal(demuxed.blocks[1]!.offset, 300, 'the first boundary on /b carries its title')
  assert.equal(app.relay.get('/a')!.bytesOut, 250 * 2, 'audio bytes sent on /a stay counted there')
})

test('moveListeners refuses the same mount, unknown mounts, another format and a destination that is down', async (t) => {
  const mp3 = await scriptedUpstream()
  const ogg = await scriptedUpstream({ head: 'HTTP/1.0 200 OK\r\nContent-Type: audio/ogg; codecs=opus\r\n\r\n' })
  const { app } = await relayApp({
    relays: [
      { url: mp3.url(), localMount: '/mp3' },
      { url: ogg.url(), localMount: '/opus' },
      { url: ogg.url(), localMount: '/vorbis' },
      { server: '127.0.0.1', port: await freePort(), localMount: '/down' }
    ],
    limits: { connectTimeout: 1 }
  })
  t.after(async () => { await app.close(); await mp3.close(); await ogg.close() })
  await Promise.all(['/mp3', '/opus', '/vorbis'].map((m) => waitForState(app, m, 'live')))
  await waitForState(app, '/down', 'retrying')

  await assert.rejects(app.relay.moveListeners('/mp3', '/mp3'), /from \/mp3 to \/mp3: they are the same mount/)
  await assert.rejects(app.relay.moveListeners('/mp3', '/nope'), { code: 'FST_ICECAST_RELAY_UNKNOWN_MOUNT' })
  await assert.rejects(app.relay.moveListeners('/nope', '/mp3'), { code: 'FST_ICECAST_RELAY_UNKNOWN_MOUNT' })
  await assert.rejects(app.relay.moveListeners('/mp3', '/opus'), /mpeg and ogg differ/)
  await assert.rejects(app.relay.moveListeners('/mp3', '/down'), { code: 'FST_ICECAST_RELAY_MOVE_REFUSED', message: /\/down is not available/ })
  assert.equal(await app.relay.moveListeners('/opus', '/vorbis'), 0, 'Ogg to Ogg is one format')

  // a relay whose frames showed MP3 and one labelled audio/mpeg that sent nothing yet carry one format
  const frames = await scriptedUpstream()
  t.after(async () => { await frames.close() })
  app.relay.add({ url: frames.url(), localMount: '/frames' })
  await waitForState(app, '/frames', 'live')
  frames.push(readFileSync(new URL('../../demo/sample.mp3', import.meta.url)).subarray(0, 20000))
  await waitUntil(() => app.relay.get('/frames')!.audio?.codec === 'mp3')
  assert.equal(await app.relay.moveListeners('/frames', '/mp3'), 0)
})

test('moveListeners connects an on-demand destination first', async (t) => {
  const upstream = await scriptedUpstream()
  const { app, url } = await relayApp({
    relays: [{ url: upstream.url('/a'), localMount: '/a' }, { url: upstream.url('/b'), localMount: '/b', onDemand: true }],
    limits: { burstSize: 0 }
  })
  t.after(async () => { await app.close(); await upstream.close() })
  await waitForState(app, '/a', 'live')
  assert.equal(app.relay.get('/b')!.state, 'idle')
  const listener = openListener(url('/a'))
  await listener.head
  await waitUntil(() => app.relay.get('/a')!.listeners === 1)
  assert.equal(await app.relay.moveListeners('/a', '/b'), 1)
  assert.equal(app.relay.get('/b')!.state, 'live')
  assert.equal(app.relay.get('/b')!.listeners, 1)
  await upstream.waitForClients(2)
  const lastClient = [...upstream.clients].at(-1)!
  lastClient.write('from b')
  assert.equal((await listener.waitForBytes(6)).toString(), 'from b')
  await listener.close()
})
