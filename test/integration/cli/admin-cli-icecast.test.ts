// The `icecast-relay` CLI (the built dist/cli.js) relaying a real Icecast 2 master with the seed doc's
// single-broadcast <relay> snippet, its server and port pointed at the test's master.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { RELAY_SNIPPET } from '../../unit/config/seed.js'
import {
  LONG_TAGS, assertTools, freePort, httpGet, makeFixtures, makeTempDir, openListener, runOgginfo, startIcecast, startSource, waitFor,
  type Icecast, type Source
} from '../../helpers/icecast.js'
import { spawnTracked, START_TIMEOUT_MS, type Proc } from '../../helpers/procs.js'

const CLI = new URL('../../../dist/cli.js', import.meta.url).pathname

let master: Icecast
let source: Source
let cli: Proc
let base: string

before(async () => {
  assertTools('icecast2', 'ezstream', 'ogginfo')
  const fixtures = await makeFixtures()
  master = await startIcecast()
  source = await startSource({ icecast: master, mount: '/example.ogg', files: [fixtures.vorbis.long], format: 'ogg', name: 'Example' })
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  const config = join(makeTempDir('cli-icecast'), 'icecast.xml')
  writeFileSync(config, `<?xml version="1.0"?>
<icecast>
  <location>CLI relay</location>
  <relays-on-demand>1</relays-on-demand>
  <listen-socket>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  ${RELAY_SNIPPET.replace('192.168.1.11', master.host).replace('8001', String(master.port))}
</icecast>
`)
  cli = spawnTracked(process.execPath, [CLI, '--config', config, '--port', String(port)])
  await waitFor(async () => (await httpGet(`${base}/status-json.xsl`)).status === 200, {
    timeoutMs: START_TIMEOUT_MS, message: () => `the CLI to listen on ${base}\n${cli.output()}`
  })
})

after(async () => {
  await cli?.stop()
  await source?.stop()
  await master?.stop()
})

test('the seed\'s relay through the CLI: /example.ogg served as /different.ogg, an Ogg stream ogginfo accepts', async () => {
  const { icestats } = JSON.parse((await httpGet(`${base}/status-json.xsl`)).body.toString())
  assert.equal(icestats.location, 'CLI relay')
  assert.equal(icestats.source.length, 1, 'an on-demand relay is listed before anyone listens')
  assert.equal(icestats.source[0].listenurl, `${base}/different.ogg`)
  assert.equal(icestats.source[0].listeners, 0)

  const listener = openListener(`${base}/different.ogg`)
  const head = await listener.head
  assert.equal(head.status, 200)
  assert.equal(head.headers['content-type'], 'application/ogg')
  assert.equal(head.headers['icy-name'], 'Example')
  const body = await listener.waitForBytes(40000, 10000)
  await listener.close()
  // the relay joins the master's stream when the listener comes: Icecast sends the header pages, then its burst,
  // which starts mid-stream once the source has sent more than a burst since it began (a late run, under load)
  const info = await runOgginfo(body, { allowMidStreamJoin: true })
  assert.ok(info.ok, info.output)
  assert.ok(info.warnings.filter((warning) => warning.includes('sequence number gap')).length <= 1, `one gap at most, the join's\n${info.output}`)
  assert.equal(info.streams[0]?.type, 'vorbis')
  assert.ok(info.streams[0]?.comments.includes(`title=${LONG_TAGS.title}`), info.output)
})
