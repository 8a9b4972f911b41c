// `icecast-relay --workers 2` relaying a real Icecast 2 master: the primary process holds the one relay
// connection per mount, both workers mirror it and serve listeners that mpg123 decodes.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import {
  assertTools, freePort, httpGet, makeFixtures, makeTempDir, runMpg123, startIcecast, startSource,
  type Icecast, type Source
} from '../../helpers/icecast.js'
import { startWorkers, untilWorkersServe, waitForMirrors } from '../../helpers/cluster.js'
import type { Proc } from '../../helpers/procs.js'

const MOUNTS = ['/one.mp3', '/two.mp3']

let master: Icecast
let sources: Source[]
let cli: Proc
let base: string

/** The relay connections Icecast counts on a mount: its listeners there, from /admin/listclients. */
async function clientsOf (mount: string): Promise<number> {
  const page = (await master.admin(`/admin/listclients?mount=${mount}`)).body.toString()
  return [...page.matchAll(/<ID>\d+<\/ID>/g)].length
}

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123')
  const fixtures = await makeFixtures()
  master = await startIcecast()
  sources = await Promise.all(MOUNTS.map(async (mount) =>
    await startSource({ icecast: master, mount, files: [fixtures.mp3.long], format: 'mp3', name: `Name of ${mount}` })))
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  const config = join(makeTempDir('cluster-icecast'), 'icecast.xml')
  const relays = MOUNTS.map((mount) =>
    `<relay><server>${master.host}</server><port>${master.port}</port><mount>${mount}</mount><relay-shoutcast-metadata>1</relay-shoutcast-metadata></relay>`)
  writeFileSync(config, `<icecast>
  <logging><loglevel>4</loglevel></logging>
  <listen-socket><bind-address>127.0.0.1</bind-address><port>${port}</port></listen-socket>
  ${relays.join('\n  ')}
</icecast>
`)
  cli = await startWorkers(config, base, 2)
  await waitForMirrors(cli, base, MOUNTS)
})

after(async () => {
  await cli?.stop()
  for (const source of sources ?? []) await source.stop()
  await master?.stop()
})

test('--workers 2 against Icecast: one relay connection per mount from the machine; listeners of both workers decode audio with its title', async () => {
  for (const mount of MOUNTS) assert.equal(await clientsOf(mount), 1, `Icecast's listeners of ${mount}`)
  // four listeners at once, and four more until both workers served some
  await untilWorkersServe(cli, async (n) => {
    const urls = Array.from({ length: 4 }, (_, i) => `${MOUNTS[0]}?run=${n}-${i}`)
    const runs = await Promise.all(urls.map(async (url) => await runMpg123(base + url, { ms: 3000 })))
    for (const run of runs) {
      assert.ok(run.ok && run.seconds > 0.5, run.stderr)
      assert.equal(run.icyName, `Name of ${MOUNTS[0]}`)
      assert.ok(run.titles.length > 0, `an ICY title reaches the listener\n${run.stderr}`)
    }
    return urls
  }, { what: `four mpg123 at once on ${MOUNTS[0]}`, max: 8 })
  for (const mount of MOUNTS) assert.equal(await clientsOf(mount), 1, `Icecast's listeners of ${mount} after the listeners came`)
})

test('the primary\'s private port: no stats, no admin, and its stream list only to the holders of the link\'s secret', async () => {
  const urls = [...cli.output().matchAll(/"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/g)].map((m) => m[1]!)
  const primary = urls.find((url) => url !== base)
  assert.ok(primary !== undefined, cli.output())
  assert.equal((await httpGet(`${primary}/status-json.xsl`)).status, 404)
  assert.equal((await httpGet(`${primary}/admin/stats`, { auth: { user: 'admin', password: 'hackme' } })).status, 404)
  assert.equal((await httpGet(`${primary}/admin/streamlist.txt`)).status, 401)
  assert.equal((await httpGet(`${primary}/admin/streamlist.txt`, { auth: { user: 'cluster', password: 'guess' } })).status, 401)
  assert.equal((await httpGet(`${primary}/admin/streamlist.txt`, { auth: { user: 'relay', password: 'hackme' } })).status, 401)
})
