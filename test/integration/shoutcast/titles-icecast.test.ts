import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, type RelayApp } from '../../helpers/app.js'
import {
  TRACK_TAGS, makeFixtures, assertTools, openListener, runMpg123, startIcecast, startSource,
  type Icecast, type Source
} from '../../helpers/icecast.js'

let icecast: Icecast
let source: Source
let relay: RelayApp

/** Consecutive duplicates removed: a title repeated at the next boundary is no change. */
function changes (titles: string[]): string[] {
  return titles.filter((title, i) => i === 0 || title !== titles[i - 1])
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123')
  const fixtures = await makeFixtures()
  icecast = await startIcecast()
  source = await startSource({ icecast, mount: '/titles.mp3', files: fixtures.mp3.tracks, format: 'mp3' })
  relay = await relayApp({ relays: [{ server: icecast.host, port: icecast.port, mount: '/titles.mp3', localMount: '/relay.mp3' }] })
  await waitForState(relay.app, '/relay.mp3', 'live')
})

after(async () => {
  await relay?.app.close()
  await source?.stop()
  await icecast?.stop()
})

test('the titles a relay listener sees are the master\'s, in order, and reach the status and events', async () => {
  const seen: string[] = []
  const onMetadata = (e: { metadata: { title?: string } }): void => { seen.push(e.metadata.title ?? '') }
  relay.app.relay.on('metadata', onMetadata)
  const direct = openListener(icecast.url('/titles.mp3'), { icy: true })
  const relayed = openListener(relay.url('/relay.mp3'), { icy: true })
  await Promise.all([direct.head, relayed.head])
  await new Promise((resolve) => setTimeout(resolve, 11000))
  const [d, r] = await Promise.all([direct.close(), relayed.close()])
  relay.app.relay.off('metadata', onMetadata)

  const masterTitles = changes(d.icy!.titles)
  const relayTitles = changes(r.icy!.titles.filter((t) => t !== ''))
  assert.ok(relayTitles.length >= 3, `relay titles: ${JSON.stringify(relayTitles)}`)
  const start = masterTitles.indexOf(relayTitles[0]!)
  assert.ok(start >= 0, `${relayTitles[0]} is one of the master's: ${JSON.stringify(masterTitles)}`)
  assert.deepEqual(relayTitles.slice(0, masterTitles.length - start), masterTitles.slice(start, start + relayTitles.length))
  const known = new Set(TRACK_TAGS.map((tag) => tag.title))
  for (const title of relayTitles) assert.ok(known.has(title), `unexpected title ${title}`)
  assert.ok(changes(seen).length >= 2, `metadata events: ${JSON.stringify(seen)}`)
  assert.ok(known.has(relay.app.relay.get('/relay.mp3')!.metadata!.title!))
})

test('mpg123, a real ICY client, prints the titles from the relay\'s stream', async () => {
  const result = await runMpg123(relay.url('/relay.mp3'), { ms: 8000 })
  assert.ok(result.problems.length === 0, result.problems.join('\n'))
  const titles = changes(result.titles)
  assert.ok(titles.length >= 2, `mpg123 printed ${JSON.stringify(result.titles)}\n${result.stderr}`)
  const known = new Set(TRACK_TAGS.map((tag) => tag.title))
  for (const title of titles) assert.ok(known.has(title), `unexpected title ${title}`)
})
