// The registrations the processes of one machine share: each table keeps what the others took, and tables
// that get the same registrations in any order keep the same slaves (maxSlaves held for the machine).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { Value } from '@sinclair/typebox/value'
import { EXPIRY_GRACE_MS, SlaveTable, type SlaveRecord } from '../../../lib/cluster/slaves.js'
import { recordsOf, SlaveRecordSchema } from '../../../lib/cluster/shared-slaves.js'
import { answerQuery } from '../../../lib/cluster/machine.js'
import { localView } from '../../../lib/stats/view.js'
import { SlaveNetwork } from '../../../lib/cluster/network.js'
import type { MachineLink } from '../../../lib/options.js'
import type { FastifyRequest } from 'fastify'
import { pino } from 'pino'
import { waitUntil } from '../../helpers/app.js'

const record = (host: string, registeredAt: number, lastPollAt = registeredAt, listeners = 0): SlaveRecord => ({
  host,
  port: 8000,
  address: '127.0.0.1',
  load: { listeners, capacity: 100, mounts: [['/live.mp3', listeners]] },
  registeredAt,
  lastPollAt,
  nextPollAt: lastPollAt + 5000
})

test('a registration another process took is kept as if it came here, and round-trips through its record', () => {
  const table = new SlaveTable(10)
  assert.equal(table.merge(record('127.0.0.2', 100, 100, 3), 200), 'added')
  const [kept] = table.live(200)
  assert.equal(kept?.key, '127.0.0.2:8000')
  assert.equal(kept?.load?.mounts.get('/live.mp3'), 3)
  assert.deepEqual(table.records(200), [record('127.0.0.2', 100, 100, 3)])
  assert.ok(Value.Check(SlaveRecordSchema, table.records(200)[0]))
})

test('a newer poll replaces the load; an older one only lends its earlier registration time; an expired one is ignored', () => {
  const table = new SlaveTable(10)
  table.merge(record('h', 100, 1000, 5), 1000)
  table.merge(record('h', 50, 900, 9), 1000)
  assert.equal(table.record('h:8000', 1000)?.load?.listeners, 5, 'the newest report is kept')
  assert.equal(table.record('h:8000', 1000)?.registeredAt, 50, 'the earliest registration is kept')
  table.merge(record('h', 100, 2000, 7), 2000)
  assert.equal(table.record('h:8000', 2000)?.load?.listeners, 7)
  assert.equal(table.merge(record('old', 0, 0), 5000 + EXPIRY_GRACE_MS + 1), undefined)
  assert.equal(table.record('old:8000', 5000 + EXPIRY_GRACE_MS + 1), undefined)
})

test('a local poll of a slave keeps the registration time another process gave it', () => {
  const table = new SlaveTable(10)
  table.merge(record('h', 100), 100)
  assert.equal(table.register({ host: 'h', port: 8000, interval: 5 }, '127.0.0.1', 3000), 'updated')
  assert.equal(table.record('h:8000', 3000)?.registeredAt, 100)
})

test('maxSlaves for the machine: processes that get the same registrations in any order keep the same slaves, the earliest ones', () => {
  const registrations = fc.uniqueArray(fc.record({ host: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), at: fc.integer({ min: 0, max: 50 }) }), { selector: (each) => each.host, minLength: 1 })
  fc.assert(fc.property(registrations, fc.integer({ min: 1, max: 4 }), fc.nat(), (slaves, maxSlaves, seed) => {
    const records = slaves.map((each) => record(each.host, each.at))
    const shuffled = [...records].sort((x, y) => ((x.host.charCodeAt(0) * 31 + seed) % 7) - ((y.host.charCodeAt(0) * 31 + seed) % 7))
    const one = new SlaveTable(maxSlaves)
    const other = new SlaveTable(maxSlaves)
    for (const each of records) one.merge(each, 100)
    for (const each of shuffled) other.merge(each, 100)
    const keys = (table: SlaveTable): string[] => table.live(100).map((slave) => slave.key).sort()
    const earliest = [...records].sort((x, y) => x.registeredAt - y.registeredAt || (x.host < y.host ? -1 : 1)).slice(0, maxSlaves)
    assert.deepEqual(keys(one), keys(other))
    assert.deepEqual(keys(one), earliest.map((each) => `${each.host}:8000`).sort())
  }))
})

test("another process's word is checked: records of another shape are left out, and a query with one is refused", async () => {
  const good = record('h', 1)
  assert.deepEqual(recordsOf([[good, { ...good, port: 0 }, { ...good, extra: 1 }], 'no', null, [{ ...good, load: { listeners: -1, capacity: 1, mounts: [] } }]]), [good])
  const local = localView({} as never) as never
  await assert.rejects(answerQuery(local, { kind: 'slave', slave: { ...good, host: '' } }))
  const merged: SlaveRecord[] = []
  assert.equal(await answerQuery(local, { kind: 'slave', slave: good }, { slaves: { merge: (each) => merged.push(each), records: () => [] } }), true)
  assert.deepEqual(merged, [good])
  assert.equal(await answerQuery(local, { kind: 'slave', slave: good }), false, 'a process without redirect keeps no registration')
  assert.deepEqual(await answerQuery(local, { kind: 'slaves' }), [])
})

/** A machine link that holds each `ask` until `release`: the test's link, in memory. */
function heldLink (): { link: MachineLink, asked: unknown[], release: () => void } {
  const asked: unknown[] = []
  let waiting: Array<() => void> = []
  const link: MachineLink = {
    index: 1,
    ask: async (query) => {
      asked.push(query)
      await new Promise<void>((resolve) => waiting.push(resolve))
      return [[record('127.0.0.9', 5)]]
    },
    answer: () => {},
    reserve: async () => 'ok',
    release: () => {}
  }
  return { link, asked, release: () => { const now = waiting; waiting = []; for (const resolve of now) resolve() } }
}

const poll = (listeners: number): FastifyRequest => ({
  url: `/admin/streamlist.txt?rserver=127.0.0.2&rport=8000&interval=5&rlisteners=${listeners}&rcapacity=100`,
  ip: '127.0.0.1',
  headers: {}
}) as unknown as FastifyRequest

function network (link: MachineLink, now: () => number): SlaveNetwork {
  return new SlaveNetwork({
    redirect: { maxSlaves: 10, policy: 'when-full' },
    relayAuth: { username: 'relay', password: 'pw' },
    local: { totalListeners: 0, capacity: 100 },
    log: pino({ level: 'silent' }),
    machine: link,
    now
  })
}

test("a flood of one slave's polls sends one registration at a time over the link, then the newest; a process that joins takes the others'", async () => {
  const { link, asked, release } = heldLink()
  let now = 1000
  const master = network(link, () => now)
  for (let i = 0; i < 100; i++) {
    now++
    assert.ok(['added', 'updated'].includes(master.register(poll(i)) ?? ''))
  }
  assert.equal(asked.length, 1, 'one on its way; the other 99 polls wait for it')
  release()
  await waitUntil(() => asked.length === 2, 2000, 'the newest poll to be sent')
  assert.equal((asked[1] as { slave: SlaveRecord }).slave.load?.listeners, 99)
  release()
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(asked.length, 2, 'nothing more to send')
  const joining = network(link, () => now)
  const caughtUp = joining.catchUp()
  release()
  await caughtUp
  assert.deepEqual(joining.slaves().map((slave) => slave.key), ['127.0.0.9:8000'])
})
