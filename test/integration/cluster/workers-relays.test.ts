// `icecast-relay --workers 2`: a relay added over `POST /admin/relays` reaches the primary (one upstream
// connection for the machine) and every worker before the answer; `DELETE` ends it on every worker; a worker
// that starts later serves it too.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { noisyUpstream, pidsServing, replaceWorker, startWorkers, stopAll, untilWorkersServe } from '../../helpers/cluster.js'
import { openListener, type OpenListener } from '../../helpers/listen.js'
import { freePort, httpGet, makeTempDir, waitFor, type Proc } from '../../helpers/procs.js'

const CONFIGURED = '/configured.mp3'
const ADDED = '/added.mp3'
const ADMIN = { user: 'admin', password: 'workers-relays-admin' }
const authorization = `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`

let upstream: Awaited<ReturnType<typeof noisyUpstream>>
let cli: Proc
let base: string
const listeners: OpenListener[] = []

before(async () => {
  upstream = await noisyUpstream()
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  const config = join(makeTempDir('cluster-relays'), 'icecast.xml')
  writeFileSync(config, `<icecast>
  <logging><loglevel>4</loglevel></logging>
  <authentication><admin-user>${ADMIN.user}</admin-user><admin-password>${ADMIN.password}</admin-password></authentication>
  <listen-socket><bind-address>127.0.0.1</bind-address><port>${port}</port></listen-socket>
  <relay><server>127.0.0.1</server><port>${upstream.port}</port><mount>/stream</mount><local-mount>${CONFIGURED}</local-mount></relay>
</icecast>
`)
  cli = await startWorkers(config, base, 2)
  await waitFor(() => upstream.clients() === 1, { timeoutMs: 10000, message: 'the primary to relay the configured mount' })
})

after(async () => { await stopAll(listeners, cli, upstream) })

async function post (body: unknown): Promise<{ status: number, body: { message?: string, localMount?: string } }> {
  const answer = await fetch(`${base}/admin/relays`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: answer.status, body: await answer.json() as { message?: string } }
}

/** The relays GET /admin/relays lists (`url`: with a query that tells its answer in the log). */
async function listed (url = '/admin/relays'): Promise<string[]> {
  const relays = JSON.parse((await httpGet(base + url, { auth: ADMIN })).body.toString()) as Array<{ localMount: string }>
  return relays.map((relay) => relay.localMount).sort()
}

test('a relay added over POST /admin/relays is on every worker when the answer comes, with one upstream connection for the machine', async () => {
  const added = await post({ server: '127.0.0.1', port: upstream.port, mount: '/stream', localMount: ADDED })
  assert.equal(added.status, 201, JSON.stringify(added.body))
  assert.equal(added.body.localMount, ADDED)
  // at once, whichever worker answers
  await untilWorkersServe(cli, async (i) => {
    const url = `/admin/relays?added=${i}`
    assert.deepEqual(await listed(url), [ADDED, CONFIGURED].sort(), `GET /admin/relays, answer ${i + 1}`)
    return url
  }, { what: 'answers of GET /admin/relays', min: 6, max: 30 })
  await untilWorkersServe(cli, async (n) => {
    const listener = openListener(`${base}${ADDED}?n=${n}`)
    listeners.push(listener)
    assert.equal((await listener.head).status, 200)
    await listener.waitForBytes(4000, 10000)
    return `${ADDED}?n=${n}`
  }, { what: `listeners of ${ADDED}`, max: 30 })
  assert.equal(upstream.clients(), 2, 'one upstream connection per mount for the machine: the primary\'s')
})

test('a bad definition is a 400 naming the field, and nothing is added anywhere; a mount already served is a 409', async () => {
  const bad = await post({ server: '127.0.0.1', port: 70000 })
  assert.equal(bad.status, 400)
  assert.match(bad.body.message ?? '', /^relay\.port: /)
  const noPath = await post({ server: '127.0.0.1', port: upstream.port, mount: '/stream', localMount: '/a/../b' })
  assert.equal(noPath.status, 400)
  assert.match(noPath.body.message ?? '', /^relay\.localMount: /)
  for (let i = 0; i < 4; i++) assert.equal(await post({ server: '127.0.0.1', port: upstream.port, mount: '/stream', localMount: ADDED }).then((answer) => answer.status), 409)
  for (let i = 0; i < 4; i++) assert.deepEqual(await listed(), [ADDED, CONFIGURED].sort())
  assert.equal(upstream.clients(), 2)
})

test('a worker that starts after the add (one replacing a worker that died) serves the added mount', async () => {
  const [victim] = pidsServing(cli.output(), `${ADDED}?n=0`)
  await replaceWorker(cli, base, victim!)
  const served = await untilWorkersServe(cli, async (n) => {
    const listener = openListener(`${base}${ADDED}?after=${n}`)
    listeners.push(listener)
    assert.equal((await listener.head).status, 200, `listener ${n}`)
    return `${ADDED}?after=${n}`
  }, { what: `listeners of ${ADDED} after the replacement`, min: 6, max: 30 })
  assert.ok(!served.has(victim!))
  for (let i = 0; i < 4; i++) assert.deepEqual(await listed(), [ADDED, CONFIGURED].sort())
})

test('DELETE /admin/relays ends the mount on every worker and the primary before it answers', async () => {
  const open = listeners.filter((listener) => !listener.socket.destroyed)
  const answer = await fetch(`${base}/admin/relays?mount=${ADDED}`, { method: 'DELETE', headers: { authorization } })
  assert.equal(answer.status, 204)
  await untilWorkersServe(cli, async (i) => {
    const url = `/admin/relays?deleted=${i}`
    assert.deepEqual(await listed(url), [CONFIGURED], `GET /admin/relays, answer ${i + 1}`)
    assert.equal((await httpGet(`${base}${ADDED}?deleted=${i}`)).status, 404, `GET ${ADDED}, answer ${i + 1}`)
    return [url, `${ADDED}?deleted=${i}`]
  }, { what: `answers of GET /admin/relays and ${ADDED}`, min: 6, max: 30 })
  await waitFor(() => open.every((listener) => listener.socket.destroyed || !listener.socket.readable), { timeoutMs: 3000, message: 'every worker to end its listeners of the mount' })
  await waitFor(() => upstream.clients() === 1, { timeoutMs: 3000, message: 'the primary to drop the upstream' })
})

test("a relay added with listener authentication: every worker asks the auth server, and its mount on the primary's private port is no way round it", async (t) => {
  // a real auth server: the ann users with their password are admitted, anyone else refused
  const auth = http.createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString('latin1') })
    req.on('end', () => {
      const fields = new URLSearchParams(body)
      if (/^ann\d+$/.test(fields.get('user') ?? '') && fields.get('pass') === 'secret') res.setHeader('icecast-auth-user', '1')
      res.end()
    })
  })
  auth.listen(0, '127.0.0.1')
  await once(auth, 'listening')
  t.after(() => { auth.closeAllConnections(); auth.close() })
  const GUARDED = '/guarded.mp3'
  const listenerAdd = `http://127.0.0.1:${(auth.address() as AddressInfo).port}/auth`
  const added = await post({ server: '127.0.0.1', port: upstream.port, mount: '/stream', localMount: GUARDED, listenerAuth: { url: { listenerAdd } } })
  assert.equal(added.status, 201, JSON.stringify(added.body))
  for (let i = 0; i < 4; i++) assert.equal((await httpGet(`${base}${GUARDED}`)).status, 401, `no credentials, answer ${i + 1}`)
  // a user listens once to a mount (Icecast's duplicate logins): a user each, eight at least
  const basic = (user: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:secret`).toString('base64')}` })
  const admitted: OpenListener[] = []
  await untilWorkersServe(cli, async (n) => {
    const listener = openListener(`${base}${GUARDED}?ann=${n}`, { headers: basic(`ann${n}`) })
    admitted.push(listener)
    listeners.push(listener)
    assert.equal((await listener.head).status, 200, `ann${n}`)
    return `${GUARDED}?ann=${n}`
  }, { what: `listeners of ${GUARDED}`, min: 8, max: 30 })
  // where each worker reads it: the primary's private port
  const relays = JSON.parse((await httpGet(`${base}/admin/relays`, { auth: ADMIN })).body.toString()) as Array<{ localMount: string, upstream: string }>
  const privateUrl = relays.find((relay) => relay.localMount === GUARDED)!.upstream
  assert.match(privateUrl, /^http:\/\/127\.0\.0\.1:\d+\/guarded\.mp3$/)
  assert.equal((await httpGet(privateUrl)).status, 401, 'the private mount asks for the link\'s credentials')
  assert.equal((await httpGet(privateUrl, { auth: { user: 'ann0', password: 'secret' } })).status, 401)
  const streamlist = await httpGet(`${new URL(privateUrl).origin}/admin/streamlist.txt`)
  assert.equal(streamlist.status, 401)
  for (const listener of admitted) await listener.close()
  const removed = await fetch(`${base}/admin/relays?mount=${GUARDED}`, { method: 'DELETE', headers: { authorization } })
  assert.equal(removed.status, 204)
})
