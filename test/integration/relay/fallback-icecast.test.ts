// A relay of a real Icecast mount (fed by ezstream) with a file fallback and fallback override: the source
// goes away while mpg123 plays, the listener is moved to the file's loop, the source comes back and the
// listener with it, never disconnected, mpg123 decoding on through both moves.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import {
  assertTools, makeFixtures, openListener, runMpg123, sleep, startIcecast, startSource,
  type Fixtures, type Icecast, type Source
} from '../../helpers/icecast.js'

let fixtures: Fixtures
let icecast: Icecast
let source: Source | undefined
let relay: RelayApp | undefined

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123', 'sox', 'lame')
  fixtures = await makeFixtures()
  icecast = await startIcecast()
})

after(async () => {
  await relay?.app.close()
  await source?.stop()
  await icecast?.stop()
})

const startMain = async (): Promise<Source> => await startSource({ icecast, mount: '/main.mp3', files: [fixtures.mp3.long], format: 'mp3' })

test('the main source dies while mpg123 plays: the file fallback plays on; the source returns: back to it, never disconnected', async () => {
  source = await startMain()
  relay = await relayApp({
    relays: [
      { server: icecast.host, port: icecast.port, mount: '/main.mp3', fallbackMount: '/loop.mp3', fallbackOverride: true },
      { localMount: '/loop.mp3', upstreams: [{ file: fixtures.mp3.tracks[0]!.file }] }
    ],
    limits: { gracePeriod: 1, maxBackoff: 1 }
  })
  const { app, url } = relay
  await Promise.all([waitForState(app, '/main.mp3', 'live'), waitForState(app, '/loop.mp3', 'live')])
  const moves: string[] = []
  app.relay.on('listener', (e) => { if (e.reason === 'fallback' || e.reason === 'override') moves.push(`${e.localMount} ${e.action} ${e.reason}`) })

  const playing = runMpg123(url('/main.mp3'), { ms: 16000 })
  const raw = openListener(url('/main.mp3'))
  await raw.waitForBytes(40000)
  await waitUntil(() => app.relay.get('/main.mp3')!.listeners === 2, 3000, 'mpg123 listening')

  await source.stop()
  source = undefined
  await waitUntil(() => app.relay.get('/loop.mp3')!.listeners === 2, 8000, 'both moved to the file fallback')
  assert.equal(app.relay.get('/main.mp3')!.fallbackListeners, 2)
  const onFallback = raw.received().length
  await sleep(3000)
  assert.ok(raw.received().length - onFallback > 3 * 16000 * 0.8, 'the file plays on the fallback at its rate (128 kbit/s)')

  source = await startMain()
  await waitUntil(() => app.relay.get('/main.mp3')!.listeners === 2, 8000, 'both back on the main stream')
  assert.equal(app.relay.get('/main.mp3')!.fallbackListeners, 0)
  assert.equal(app.relay.get('/loop.mp3')!.listeners, 0)
  assert.deepEqual([...new Set(moves)], ['/main.mp3 leave fallback', '/loop.mp3 join fallback', '/loop.mp3 leave override', '/main.mp3 join override'])

  const decoded = await playing
  assert.ok(decoded.ok, `mpg123 decoded on without a problem: ${decoded.problems.join('; ')}`)
  assert.ok(decoded.seconds > 8, `mpg123 decoded ${decoded.seconds} s`)
  const result = await raw.close()
  assert.equal(result.ended, false, 'never disconnected')
  const whole = await runMpg123(result.body)
  assert.ok(whole.ok, `what the listener got decodes as one stream: ${whole.problems.join('; ')}`)
})
