// The `icecast-relay` CLI (the built dist/cli.js) serving relays with several upstreams, from the real docs'
// configs adapted to loopback: Icecast 2.5's <upstream>s and icecast-kh's <host>s, each upstream a real Icecast 2
// server. Both servers also listen on a loopback address of their own (127.0.0.2, 127.0.0.3) at one shared port,
// so that the snippets' upstreams differ by server only, as in the docs.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test, type TestContext } from 'node:test'
import { icecast25Upstreams, khShortened } from '../../unit/config/failover-snippets.js'
import {
  assertTools, freePort, httpGet, makeFixtures, makeTempDir, openListener, startIcecast, startSource, waitFor,
  type Fixtures, type Icecast, type Source
} from '../../helpers/icecast.js'
import { spawnTracked, START_TIMEOUT_MS } from '../../helpers/procs.js'

const CLI = new URL('../../../dist/cli.js', import.meta.url).pathname
const ADMIN = { auth: { user: 'admin', password: 'pw' } }
const HOSTS = ['127.0.0.2', '127.0.0.3']
const MOUNTS = ['/example.ogg', '/feed']

let fixtures: Fixtures
let shared: number
const servers: Icecast[] = []
/** per server, per mount: the source streaming it */
const sources: Array<Map<string, Source>> = []

before(async () => {
  assertTools('icecast2', 'ezstream')
  fixtures = await makeFixtures()
  shared = await freePort(HOSTS[0])
  for (const host of HOSTS) {
    const icecast = await startIcecast({
      extraXml: `<listen-socket><port>${shared}</port><bind-address>${host}</bind-address></listen-socket>`
    })
    servers.push(icecast)
    const mounts = new Map<string, Source>()
    for (const mount of MOUNTS) {
      mounts.set(mount, await startSource({ icecast, mount, files: [fixtures.vorbis.long], format: 'ogg', name: `${host}${mount}` }))
    }
    sources.push(mounts)
  }
})

after(async () => {
  for (const mounts of sources) for (const source of mounts.values()) await source.stop()
  for (const server of servers) await server.stop()
})

interface Served {
  base: string
  upstream: () => Promise<string>
}

/** The CLI serving `relay` (a config snippet), stopped when the test ends; resolves once it listens. */
async function serve (t: TestContext, relay: string): Promise<Served> {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const config = join(makeTempDir('cli-failover'), 'icecast.xml')
  writeFileSync(config, `<icecast>
  <listen-socket><bind-address>127.0.0.1</bind-address></listen-socket>
  <authentication><admin-password>pw</admin-password></authentication>
  <limits><source-timeout>3</source-timeout></limits>
  ${relay}
</icecast>
`)
  const cli = spawnTracked(process.execPath, [CLI, '--config', config, '--port', String(port)])
  t.after(async () => { await cli.stop() })
  await waitFor(async () => (await httpGet(`${base}/status-json.xsl`)).status === 200, {
    timeoutMs: START_TIMEOUT_MS, message: () => `the CLI to listen on ${base}\n${cli.output()}`
  })
  const upstream = async (): Promise<string> => {
    const [status] = JSON.parse((await httpGet(`${base}/admin/relays`, ADMIN)).body.toString()) as Array<{ upstream: string }>
    return status!.upstream
  }
  return { base, upstream }
}

/** Stops the first server's source of `mount` while a listener plays it; the relay goes on from the second. */
async function failOver (served: Served, localMount: string, mount: string): Promise<void> {
  await waitFor(async () => await served.upstream() === `http://${HOSTS[0]}:${shared}${mount}`, {
    timeoutMs: 10000, message: () => `the relay to play the first server's ${mount}`
  })
  const listener = openListener(served.base + localMount)
  assert.equal((await listener.head).status, 200)
  await listener.waitForBytes(20000, 10000)
  await sources[0]!.get(mount)!.stop()
  try {
    await waitFor(async () => await served.upstream() === `http://${HOSTS[1]}:${shared}${mount}`, {
      timeoutMs: 15000, message: () => `the relay to fail over to the second server's ${mount}`
    })
    const before = listener.received().length
    await listener.waitForBytes(before + 20000, 10000)
  } finally {
    await listener.close()
    sources[0]!.set(mount, await startSource({ icecast: servers[0]!, mount, files: [fixtures.vorbis.long], format: 'ogg' }))
  }
}

test('Icecast 2.5\'s <upstream>s (its conf example): the relay fails over from one real Icecast to the next, its listener kept', async (t) => {
  const free = await freePort()
  const served = await serve(t, icecast25Upstreams({ default: shared, third: free }, [...HOSTS, '127.0.0.4']))
  await failOver(served, '/different.ogg', '/example.ogg')
})

test('icecast-kh\'s <host>s (its doc\'s shortened listing): the relay fails over from one real Icecast to the next, its listener kept', async (t) => {
  const served = await serve(t, khShortened(shared, HOSTS))
  await failOver(served, '/stream', '/feed')
  // kh goes back to a higher host that answers again
  await waitFor(async () => await served.upstream() === `http://${HOSTS[0]}:${shared}/feed`, {
    timeoutMs: 45000, message: () => 'the relay to fail back to the first server'
  })
})
