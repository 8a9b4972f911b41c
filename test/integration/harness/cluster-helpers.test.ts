// Self-test of the cluster tests' helpers (test/helpers/cluster.ts) on a real `icecast-relay --workers 2`:
// the kernel picks the worker of each connection, so "both workers served" is asked on for, never assumed.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { pidsListening, pidsServing, startWorkers, untilWorkersServe, waitForMirrors } from '../../helpers/cluster.js'
import { freePort, httpGet, makeTempDir, type Proc } from '../../helpers/procs.js'
import { scriptedUpstream } from '../../helpers/scripted.js'

let upstream: Awaited<ReturnType<typeof scriptedUpstream>>
let cli: Proc
let base: string

before(async () => {
  upstream = await scriptedUpstream()
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  const config = join(makeTempDir('cluster-helpers'), 'icecast.xml')
  writeFileSync(config, `<icecast>
  <logging><loglevel>4</loglevel></logging>
  <listen-socket><bind-address>127.0.0.1</bind-address><port>${port}</port></listen-socket>
  <relay><server>127.0.0.1</server><port>${upstream.port}</port><mount>/stream</mount><local-mount>/live</local-mount></relay>
</icecast>
`)
  cli = await startWorkers(config, base, 2)
})

after(async () => {
  await cli?.stop()
  await upstream?.close()
})

test('waitForMirrors resolves once each worker has listed the mount; untilWorkersServe then finds both workers, the ones listening', async () => {
  await waitForMirrors(cli, base, ['/live'])
  const served = await untilWorkersServe(cli, async (n) => {
    assert.equal((await httpGet(`${base}/status-json.xsl?n=${n}`)).status, 200)
    return `/status-json.xsl?n=${n}`
  }, { what: 'answers', min: 3 })
  assert.deepEqual([...served].sort(), [...pidsListening(cli.output(), base)].sort())
  for (let n = 0; n < 3; n++) assert.equal(pidsServing(cli.output(), `/status-json.xsl?n=${n}`).size, 1, `request ${n} logged once`)
})

test('untilWorkersServe stops at max and says how many attempts were made; an attempt that names no request counts no worker', async () => {
  let attempts = 0
  await assert.rejects(untilWorkersServe(cli, async (n) => {
    attempts++
    await httpGet(`${base}/status-json.xsl?more=${n}`)
    return `/status-json.xsl?more=${n}`
  }, { what: 'answers of two workers', workers: 3, max: 5 }), /^Error: timed out after 3000 ms waiting for answers of two workers: [12] of 3 workers served after 5 attempts \(pids \d+(, \d+)?\)$/)
  assert.equal(attempts, 5)
  await assert.rejects(untilWorkersServe(cli, async () => {
    await httpGet(`${base}/status-json.xsl`)
    return undefined
  }, { what: 'answers not awaited', max: 4 }), /0 of 2 workers served after 4 attempts/)
})
