// The kernel counters the benches read around a flash crowd (bench/netstat.ts).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { crowdLine } from '../../../bench/compare-report.js'
import { CROWD_COUNTERS, crowdCounters, tcpExtCounters } from '../../../bench/netstat.js'

const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,23}$/)

test('tcpExtCounters reads back every TcpExt counter, whatever lines come around them', () => {
  const other = fc.array(fc.tuple(name, fc.nat()), { maxLength: 4 })
  fc.assert(fc.property(fc.uniqueArray(fc.tuple(name, fc.nat()), { selector: ([n]) => n, maxLength: 40 }), other, (counters, ip) => {
    const text = [
      `IpExt: ${ip.map(([n]) => n).join(' ')}`, `IpExt: ${ip.map(([, v]) => v).join(' ')}`,
      `TcpExt: ${counters.map(([n]) => n).join(' ')}`, `TcpExt: ${counters.map(([, v]) => v).join(' ')}`,
      `MPTcpExt: ${ip.map(([n]) => n).join(' ')}`, `MPTcpExt: ${ip.map(([, v]) => v).join(' ')}`, ''
    ].join('\n')
    assert.deepEqual(tcpExtCounters(text), new Map(counters))
  }))
})

test('tcpExtCounters leaves out what is no count, and reads nothing from text without TcpExt lines', () => {
  assert.deepEqual(tcpExtCounters('TcpExt: ListenOverflows ListenDrops Extra\nTcpExt: 12 x\n'), new Map([['ListenOverflows', 12]]))
  for (const text of ['', 'TcpExt: ListenOverflows', 'IpExt: A\nIpExt: 1\n', '\u0000\n\n']) assert.deepEqual(tcpExtCounters(text), new Map(), text)
})

test('crowdCounters: what each crowd counter grew by, never below 0, a missing one 0', () => {
  const counters = fc.dictionary(fc.constantFrom(...CROWD_COUNTERS), fc.nat())
  fc.assert(fc.property(counters, counters, (a, b) => {
    const before = new Map(Object.entries(a))
    const after = new Map(Object.entries(b))
    const delta = crowdCounters(before, after)
    assert.deepEqual(Object.keys(delta), [...CROWD_COUNTERS])
    for (const counter of CROWD_COUNTERS) assert.equal(delta[counter], Math.max(0, (b[counter] ?? 0) - (a[counter] ?? 0)))
  }))
})

test('crowdLine names the relay\'s CPU over the crowd and the accept queue\'s overflows', () => {
  const line = crowdLine({ seconds: 4.3, relayCpu: [0.91], counters: { ListenOverflows: 16470, ListenDrops: 16470, TCPSynRetrans: 7633, TCPReqQFullDoCookies: 0 } })
  assert.equal(line, 'crowd of 4.30 s: relay CPU 0.91 s/s; machine: 16470 accept-queue overflows, 7633 SYNs sent again, 0 SYN cookies')
})
