// icecast-kh's redirect settings in the CLI's config: <master-redirect> (a slave registers with its master),
// <max-redirect-slaves> (a master keeps that many), and their siblings <master-ssl-port> and <master-bind>.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { readIcecastConfig } from '../../../lib/config/icecast.js'
import { assertInvalidConfigs } from './invalid.js'

const SLAVE = '<master-server>127.0.0.1</master-server><master-server-port>8000</master-server-port><master-password>pw</master-password>'
const RELAY_PASSWORD = '<authentication><relay-password>rp</relay-password></authentication>'

test('<master-redirect> registers the slave with its master: master.redirect, advertising <hostname> and the listen port', () => {
  const { options, warnings } = readIcecastConfig(`<icecast><hostname>relay2.example</hostname><port>8001</port>${SLAVE}<master-redirect>1</master-redirect></icecast>`)
  assert.deepEqual(options.master, { server: '127.0.0.1', port: 8000, password: 'pw', redirect: true })
  assert.equal(options.hostname, 'relay2.example')
  assert.deepEqual(warnings, [])
  assert.deepEqual(readIcecastConfig(`${SLAVE}<master-redirect>0</master-redirect>`).options.master,
    { server: '127.0.0.1', port: 8000, password: 'pw', redirect: false })
})

test('<max-redirect-slaves> is the master side: redirect.maxSlaves, with the relay credentials slaves poll with', () => {
  const { options, warnings } = readIcecastConfig(`<icecast><max-redirect-slaves>3</max-redirect-slaves>${RELAY_PASSWORD}</icecast>`)
  assert.deepEqual(options.redirect, { maxSlaves: 3 })
  assert.deepEqual(options.relayAuth, { username: 'relay', password: 'rp' })
  assert.deepEqual(warnings, [])
})

test("kh's 0 keeps no slave: no redirect, and --check says why", () => {
  const { options, ignored } = readIcecastConfig(`<max-redirect-slaves>0</max-redirect-slaves>${RELAY_PASSWORD}`)
  assert.equal(options.redirect, undefined)
  assert.deepEqual(ignored, ['<max-redirect-slaves> ignored: 0 keeps no slave (kh\'s default): no redirects'])
})

test('<master-redirect> without <master-server> is ignored, named, as the other master elements', () => {
  const { options, warnings } = readIcecastConfig('<master-redirect>1</master-redirect>')
  assert.equal(options.master, undefined)
  assert.deepEqual(warnings, ['<master-redirect> ignored: there is no <master-server>'])
})

test("kh's <master-ssl-port> is the master's port, over TLS; <master-bind> is warned as a relay's <bind>", () => {
  const { options, warnings } = readIcecastConfig(`${SLAVE}<master-ssl-port>8443</master-ssl-port><master-bind>127.0.0.2</master-bind>`)
  assert.deepEqual(options.master, { server: '127.0.0.1', port: 8443, tls: true, password: 'pw' })
  assert.deepEqual(warnings, ['<master-bind> ignored: upstream connections are not bound to a local address'])
  const sslOnly = readIcecastConfig('<master-server>m</master-server><master-ssl-port>8443</master-ssl-port><master-password>pw</master-password>')
  assert.deepEqual(sslOnly.options.master, { server: 'm', port: 8443, tls: true, password: 'pw' })
})

test('errors name the element: no relay password, a count out of range, a switch that is no switch', () => {
  const cases: Array<[string, RegExp]> = [
    ['<max-redirect-slaves>2</max-redirect-slaves>', /^<max-redirect-slaves>: needs <authentication> <relay-password>: /],
    ['<authentication><relay-user>r</relay-user></authentication><max-redirect-slaves>2</max-redirect-slaves>', /^<max-redirect-slaves>: needs <authentication> <relay-password>/],
    [`<max-redirect-slaves>-1</max-redirect-slaves>${RELAY_PASSWORD}`, /^<max-redirect-slaves>: "-1" is not an integer from 0 to 10000$/],
    [`<max-redirect-slaves>10001</max-redirect-slaves>${RELAY_PASSWORD}`, /^<max-redirect-slaves>: "10001" is not an integer from 0 to 10000$/],
    [`<max-redirect-slaves>many</max-redirect-slaves>${RELAY_PASSWORD}`, /^<max-redirect-slaves>: "many" is not an integer/],
    [`${SLAVE}<master-redirect>maybe</master-redirect>`, /^<master-redirect>: "maybe" is not an integer/],
    ['<master-server>m</master-server><master-ssl-port>0</master-ssl-port>', /^<master-ssl-port>: "0" is not an integer from 1 to 65535$/]
  ]
  assertInvalidConfigs(cases)
})

test('property: any <max-redirect-slaves> gives redirect.maxSlaves of that count, none for 0, or an error naming it', () => {
  fc.assert(fc.property(fc.oneof(fc.integer({ min: -5, max: 20_000 }).map(String), fc.string({ maxLength: 8 })), (value) => {
    const text = value.replace(/[<&]/g, '')
    const xml = `<icecast><max-redirect-slaves>${text}</max-redirect-slaves>${RELAY_PASSWORD}</icecast>`
    let read
    try {
      read = readIcecastConfig(xml)
    } catch (error) {
      assert.match((error as Error).message, /^<max-redirect-slaves>: /)
      return
    }
    const maxSlaves = read.options.redirect?.maxSlaves
    assert.ok(maxSlaves === undefined ? read.ignored.length === 1 : maxSlaves >= 1 && maxSlaves <= 10_000)
    if (maxSlaves !== undefined) assert.equal(String(maxSlaves), text.trim().replace(/^0+(?=\d)/, ''))
  }))
})

test("kh's <master> block: the same master option, <redirect> as <master-redirect>; what it cannot do warned", () => {
  const { options, warnings } = readIcecastConfig(`<icecast><hostname>127.0.0.2</hostname><master>
    <server>127.0.0.1</server><port>8000</port><username>relay</username><password>pw</password>
    <interval>5</interval><redirect>1</redirect><on-demand>1</on-demand><relay-auth>1</relay-auth>
    <bind>127.0.0.2</bind><retry-delay>30</retry-delay><run-on>10</run-on><colour>red</colour>
  </master></icecast>`)
  assert.deepEqual(options.master, { server: '127.0.0.1', port: 8000, username: 'relay', password: 'pw', updateInterval: 5, redirect: true, onDemand: true })
  assert.deepEqual(warnings, [
    '<master> <bind> ignored: upstream connections are not bound to a local address',
    '<master> <retry-delay> ignored: a relay retries (and probes the upstreams before the one it plays) with its backoff, capped by limits.maxBackoff',
    '<master> <run-on> ignored: an on-demand relay keeps its upstream limits.onDemandLinger seconds after its last listener',
    '<master> <colour> ignored: not an element this relay knows'
  ])
  const ssl = readIcecastConfig('<master><server>m</server><ssl-port>8443</ssl-port><password>pw</password><relay-auth>0</relay-auth></master>')
  assert.deepEqual(ssl.options.master, { server: 'm', port: 8443, tls: true, password: 'pw' })
  assert.deepEqual(ssl.warnings, ['<master> <relay-auth> ignored: the master\'s relays always send its credentials'])
  assert.deepEqual(readIcecastConfig('<master><redirect>1</redirect></master>').warnings, ['<master> <redirect> ignored: there is no <master-server>'])
  assertInvalidConfigs([
    ['<master><server>m</server><port>99999</port></master>', /^<master> <port>: "99999" is not an integer from 1 to 65535$/],
    ['<master><server>m</server><port>1</port><redirect>maybe</redirect></master>', /^<master> <redirect>: "maybe" is not an integer/]
  ])
})
