// Two `icecast-relay` processes configured as icecast-kh nodes are: a master with <max-redirect-slaves> and
// the relay credentials, and a slave on 127.0.0.2 with <master-redirect>1</master-redirect> and its
// <hostname>. The slave registers on its polls; a listener the full master would refuse is sent to it.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { openListener } from '../../helpers/listen.js'
import { freePort, httpGet, makeTempDir, run, spawnTracked, waitFor } from '../../helpers/procs.js'
import { scriptedUpstream } from '../../helpers/scripted.js'

const ROOT = new URL('../../..', import.meta.url).pathname
const CLI = join(ROOT, 'dist/cli.js')
const dir = makeTempDir('redirect-cli')
const RELAY_PASSWORD = 'cli-redirect-secret'
const SLAVE_HOST = '127.0.0.2'

function configFile (name: string, xml: string): string {
  const file = join(dir, `${name}.xml`)
  writeFileSync(file, xml)
  return file
}

function masterXml (port: number, upstreamPort: number): string {
  return `<icecast>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>${port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <limits><clients>1</clients></limits>
  <authentication><relay-password>${RELAY_PASSWORD}</relay-password></authentication>
  <max-redirect-slaves>2</max-redirect-slaves>
  <relay><server>127.0.0.1</server><port>${upstreamPort}</port><mount>/s</mount><local-mount>/live</local-mount></relay>
</icecast>`
}

function slaveXml (port: number, masterPort: number): string {
  return `<icecast>
  <hostname>${SLAVE_HOST}</hostname>
  <listen-socket><port>${port}</port><bind-address>${SLAVE_HOST}</bind-address></listen-socket>
  <master-server>127.0.0.1</master-server><master-server-port>${masterPort}</master-server-port>
  <master-username>relay</master-username><master-password>${RELAY_PASSWORD}</master-password>
  <master-update-interval>1</master-update-interval><master-redirect>1</master-redirect>
</icecast>`
}

test('--check prints what the CLI maps of kh\'s redirect elements', async () => {
  const master = await run(process.execPath, [CLI, '--check', '--config', configFile('check-master', masterXml(8000, 8001))], { timeoutMs: 15000 })
  assert.equal(master.code, 0, master.stderr)
  assert.deepEqual(JSON.parse(master.stdout.toString()).options.redirect, { maxSlaves: 2 })
  const slave = await run(process.execPath, [CLI, '--check', '--config', configFile('check-slave', slaveXml(8000, 8001))], { timeoutMs: 15000 })
  assert.equal(slave.code, 0, slave.stderr)
  assert.deepEqual(JSON.parse(slave.stdout.toString()).options.master,
    { server: '127.0.0.1', port: 8001, username: 'relay', password: '(hidden)', updateInterval: 1, redirect: true })
  const noRelayPassword = await run(process.execPath, [CLI, '--check', '--config', configFile('check-bad', '<max-redirect-slaves>2</max-redirect-slaves>')], { timeoutMs: 15000 })
  assert.equal(noRelayPassword.code, 1)
  assert.match(noRelayPassword.stderr, /<max-redirect-slaves>: needs <authentication> <relay-password>/)
})

test('a slave CLI with <master-redirect> registers with a master CLI with <max-redirect-slaves>, which sends it the listener it cannot take', async (t) => {
  const upstream = await scriptedUpstream()
  const masterPort = await freePort()
  const slavePort = await freePort(SLAVE_HOST)
  const master = spawnTracked(process.execPath, [CLI, '--config', configFile('master', masterXml(masterPort, upstream.port))])
  const slave = spawnTracked(process.execPath, [CLI, '--config', configFile('slave', slaveXml(slavePort, masterPort))])
  const holders: Array<ReturnType<typeof openListener>> = []
  t.after(async () => {
    await Promise.all(holders.map(async (holder) => await holder.close()))
    await slave.stop()
    await master.stop()
    await upstream.close()
  })
  const masterBase = `http://127.0.0.1:${masterPort}`
  const slaveBase = `http://${SLAVE_HOST}:${slavePort}`
  await waitFor(async () => {
    const stats = JSON.parse((await httpGet(`${slaveBase}/status-json.xsl`)).body.toString())
    return [stats.icestats.source ?? []].flat().length === 1
  }, { timeoutMs: 15_000, message: () => `the slave to mirror /live\nmaster:\n${master.output()}\nslave:\n${slave.output()}` })

  const first = openListener(`${masterBase}/live?n=1`)
  holders.push(first)
  assert.equal((await first.head).status, 200, 'the master takes its one listener')
  const location = `${slaveBase}/live?n=2`
  // the slave registers at its next poll: until then the full master refuses
  await waitFor(async () => {
    const answer = await httpGet(`${masterBase}/live?n=2`)
    return answer.status === 302 && answer.headers.location === location
  }, { timeoutMs: 10_000, message: () => `a 302 to ${location}\nmaster:\n${master.output()}` })
  const redirected = openListener(location)
  holders.push(redirected)
  assert.equal((await redirected.head).status, 200)
  upstream.push(Buffer.from('through the slave'))
  assert.equal((await redirected.waitForBytes(17)).toString(), 'through the slave')
  assert.equal((await first.waitForBytes(17)).toString(), 'through the slave')
})
