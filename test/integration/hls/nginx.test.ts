// HLS through a CDN edge (issue 19's proof): a real nginx with proxy_cache in front of the relay of a real
// Icecast 2 master (ezstream MP3); 50 HLS listeners through nginx for 30 s. Each segment reaches the relay
// about once however many listeners fetch it, and every listener gets every segment.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, type RelayApp } from '../../helpers/app.js'
import { firstVariant, hlsLoad, parseMediaPlaylist } from '../../helpers/hls-load.js'
import { assertTools, httpGet, makeFixtures, startIcecast, startSource, waitFor, type Icecast, type Source } from '../../helpers/icecast.js'
import { startNginxCache, type NginxCache } from '../../helpers/nginx.js'

const SEGMENT = /^\/radio\.mp3\/(\d+)\.mp3$/
const PLAYLIST = /^\/radio\.mp3\/index\.m3u8(\?session=[\w.-]+)?$/

/** The sequence of the newest segment of /radio.mp3, asked of the relay itself. */
async function liveEdge (): Promise<number> {
  const main = relay.url('/radio.mp3/index.m3u8')
  const media = firstVariant((await httpGet(main)).body.toString(), main)!
  return parseMediaPlaylist((await httpGet(media)).body.toString(), media).segments.at(-1)!.sequence
}

let master: Icecast
let source: Source
let relay: RelayApp
let nginx: NginxCache
/** requests that reached the relay, by path and query */
const seen: string[] = []

before(async () => {
  assertTools('icecast2', 'ezstream', 'nginx')
  const fixtures = await makeFixtures()
  master = await startIcecast()
  source = await startSource({ icecast: master, mount: '/live.mp3', files: [fixtures.mp3.long], format: 'mp3' })
  relay = await relayApp({
    hls: { segmentSeconds: 2, windowSegments: 6 },
    relays: [{ server: master.host, port: master.port, mount: '/live.mp3', localMount: '/radio.mp3' }]
  }, (app) => { app.addHook('onRequest', async (request) => { seen.push(request.url) }) })
  await waitForState(relay.app, '/radio.mp3', 'live', 10000)
  // three segments in the window, so that every listener starts on the same one
  await waitFor(async () => (await httpGet(relay.url('/radio.mp3/index.m3u8'))).status === 200, { timeoutMs: 15000, intervalMs: 500, message: 'HLS of /radio.mp3' })
  await new Promise((resolve) => setTimeout(resolve, 4000))
  nginx = await startNginxCache({ upstream: relay.base })
})

after(async () => {
  await nginx?.stop()
  await relay?.app.close()
  await source?.stop()
  await master?.stop()
})

test('50 HLS listeners through nginx proxy_cache for 30 s: the relay sees each segment about once, and every listener gets every segment', async (t) => {
  const before = seen.length
  const sessions = await hlsLoad(nginx.url('/radio.mp3/index.m3u8'), { sessions: 50, seconds: 30 })
  const reached = seen.slice(before)
  const edgeAtEnd = await liveEdge()
  t.diagnostic(`segments per listener: ${Math.min(...sessions.map((s) => s.segments.length))} to ${Math.max(...sessions.map((s) => s.segments.length))}; live edge ${edgeAtEnd}`)

  for (const [i, session] of sessions.entries()) {
    assert.deepEqual(session.errors, [], `listener ${i}`)
    assert.deepEqual(session.missed, [], `listener ${i}: no segment left the window before it came`)
    const first = session.segments[0]
    assert.deepEqual(session.segments, Array.from({ length: session.segments.length }, (_, k) => first + k), `listener ${i}: each segment once, in order`)
    // behind by a reload period (a segment) and the age nginx may give a playlist (half a segment), at most
    assert.ok(session.segments.at(-1)! >= edgeAtEnd - 2, `listener ${i} kept up with the live edge (${edgeAtEnd}): ${session.segments.join(' ')}`)
    // the 50 players are simulated in this process: on a loaded machine it may run late once; more is the relay's doing
    assert.ok(session.stalls <= 1, `listener ${i}: its playback ran dry ${session.stalls} times`)
  }
  const fetched = new Set(sessions.flatMap((session) => session.segments))
  const segmentRequests = reached.filter((url) => SEGMENT.test(url))
  const perSegment = new Map<string, number>()
  for (const url of segmentRequests) perSegment.set(url, (perSegment.get(url) ?? 0) + 1)
  t.diagnostic(`${sessions.reduce((sum, s) => sum + s.segmentRequests, 0)} segment requests of the listeners, ${segmentRequests.length} reached the relay for ${fetched.size} segments`)
  t.diagnostic(`${sessions.reduce((sum, s) => sum + s.playlistRequests, 0)} playlist requests of the listeners, ${reached.filter((url) => PLAYLIST.test(url)).length} reached the relay`)
  assert.equal(perSegment.size, fetched.size, 'every segment a listener got came from the relay once through the edge')
  assert.ok([...perSegment.values()].every((n) => n === 1), `one request per segment: ${JSON.stringify(Object.fromEntries(perSegment))}`)
  assert.deepEqual(reached.filter((url) => !SEGMENT.test(url) && !PLAYLIST.test(url)), [], 'nothing else reached the relay')
  const log = nginx.accessLog().trim().split('\n').filter((line) => / \/radio\.mp3\/\d+\.mp3$/.test(line))
  assert.equal(log.filter((line) => line.startsWith('MISS ')).length, fetched.size, 'nginx missed each segment once')
  assert.equal(relay.app.relay.get('/radio.mp3')!.listeners, 0, 'HLS listeners are sessions, not progressive listeners')
})
