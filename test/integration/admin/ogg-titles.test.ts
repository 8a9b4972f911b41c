// Titles of Ogg streams in the status JSON: from Vorbis comments (as a real Icecast slave shows them)
// and from OpusTags (which Icecast ignores). The plugin reads them through the Ogg format reader, which
// puts the comment fields in `metadata.fields` with `source: 'vorbis' | 'opus'`; the stats read `TITLE`
// and `ARTIST` there.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, type RelayApp } from '../../helpers/app.js'
import {
  LONG_TAGS, assertTools, makeFixtures, startIcecast, startSource, waitFor, type Icecast, type IcecastSource, type Source
} from '../../helpers/icecast.js'
import { adminGet } from '../../helpers/admin.js'

let master: Icecast
let slave: Icecast
const sources: Source[] = []
let relay: RelayApp

before(async () => {
  assertTools('icecast2', 'ezstream')
  const fixtures = await makeFixtures()
  master = await startIcecast()
  sources.push(await startSource({ icecast: master, mount: '/live.ogg', files: [fixtures.vorbis.long], format: 'ogg' }))
  sources.push(await startSource({ icecast: master, mount: '/live.opus', files: [fixtures.opus.long], format: 'ogg' }))
  slave = await startIcecast({
    extraXml: `<relay><server>127.0.0.1</server><port>${master.port}</port><mount>/live.ogg</mount></relay>`
  })
  relay = await relayApp({
    relays: [
      { server: master.host, port: master.port, mount: '/live.ogg' },
      { server: master.host, port: master.port, mount: '/live.opus' }
    ]
  })
  await waitForState(relay.app, '/live.ogg', 'live')
  await waitForState(relay.app, '/live.opus', 'live')
  await slave.waitForMount('/live.ogg', { timeoutMs: 10000 })
})

after(async () => {
  await relay?.app.close()
  await slave?.stop()
  await Promise.all(sources.map((s) => s.stop()))
  await master?.stop()
})

async function ourSource (mount: string): Promise<IcecastSource | undefined> {
  const { icestats } = JSON.parse((await adminGet(relay.url('/status-json.xsl'), { auth: null })).text)
  return (icestats.source as IcecastSource[]).find((s) => s.listenurl.endsWith(mount))
}

/** The entry once it has a title (the comment header may come a moment after the mount is listed). */
async function titled (read: () => Promise<IcecastSource | undefined>, what: string): Promise<IcecastSource> {
  let last: IcecastSource | undefined
  return await waitFor(async () => {
    last = await read()
    return last?.title === undefined ? undefined : last
  }, { timeoutMs: 5000, message: () => `a title in ${what}: ${JSON.stringify(last)}` })
}

test('Vorbis: title and artist from the comments, as the real Icecast slave gives them', async () => {
  const reference = await titled(async () => (await slave.sources()).find((s) => s.mount === '/live.ogg'), 'the slave\'s /live.ogg')
  assert.equal(reference.title, LONG_TAGS.title)
  assert.equal(reference.artist, LONG_TAGS.artist)
  const ours = await titled(async () => await ourSource('/live.ogg'), 'our /live.ogg')
  assert.equal(ours.title, reference.title)
  assert.equal(ours.artist, reference.artist)
  for (const key of ['subtype', 'audio_channels', 'audio_samplerate', 'audio_bitrate']) {
    assert.equal(ours[key], reference[key], key)
  }
})

test('Opus: title and artist from OpusTags (Icecast shows none)', async () => {
  const ours = await titled(async () => await ourSource('/live.opus'), 'our /live.opus')
  assert.equal(ours.title, LONG_TAGS.title)
  assert.equal(ours.artist, LONG_TAGS.artist)
})
