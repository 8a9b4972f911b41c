// The kernel counters the benches read around a flash crowd (bench/netstat.ts).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { crowdLine } from '../../../bench/compare-report.js'
import { CROWD_COUNTERS, crowdCounters, tcpExtCounters } from '../../../bench/netstat.js'
import { machineCpuSeconds } from '../../../bench/proc.js'

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

test('crowdLine adds the load\'s and the machine\'s CPU and the listeners in by each second, when measured', () => {
  const line = crowdLine({
    seconds: 3.2,
    relayCpu: [0.8, 0.7],
    counters: { ListenOverflows: 0, ListenDrops: 0, TCPSynRetrans: 0, TCPReqQFullDoCookies: 0 },
    loadCpu: 0.52,
    machineCpu: { busy: 1.97, cores: 2 },
    inBySecond: [4000, 9000, 9990, 10000]
  })
  assert.equal(line, 'crowd of 3.20 s: relay CPU 0.80 + 0.70 s/s, load 0.52, machine 1.97 of 2 cores; machine: 0 accept-queue overflows, ' +
    '0 SYNs sent again, 0 SYN cookies; in by 1 s: 4000, 2 s: 9000, 3 s: 9990, 4 s: 10000')
})

test('machineCpuSeconds: busy is all but idle and iowait, in seconds of USER_HZ ticks (100)', () => {
  const stat = 'cpu  100 5 50 800 20 3 7 15 0 0\ncpu0 50 2 25 400 10 1 3 7 0 0\nintr 1 2 3\n'
  assert.deepEqual(machineCpuSeconds(stat), { busy: 1.8, total: 10 })
})
