// Every <listen-socket> of an Icecast config, plain or TLS, and the certificate TLS sockets serve.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { readIcecastConfig } from '../../../lib/config/icecast.js'

const PEM = '/etc/icecast2/icecast.pem'

test('a plain and a TLS socket, the certificate in <paths>: both sockets in order, the PEM file named', () => {
  const config = readIcecastConfig(`<icecast>
  <listen-socket><port>8000</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <listen-socket><port>8443</port><bind-address>127.0.0.1</bind-address><ssl>1</ssl></listen-socket>
  <paths><webroot>/usr/share/icecast2/web</webroot><ssl-certificate>${PEM}</ssl-certificate><ssl-allowed-ciphers>HIGH:!aNULL</ssl-allowed-ciphers></paths>
</icecast>`)
  assert.deepEqual(config.listen, [{ port: 8000, host: '127.0.0.1' }, { port: 8443, host: '127.0.0.1', tls: true }])
  assert.deepEqual(config.tls, {
    certificate: { value: PEM, element: '<paths> <ssl-certificate>' },
    ciphers: { value: 'HIGH:!aNULL', element: '<paths> <ssl-allowed-ciphers>' }
  })
  assert.deepEqual(config.warnings, [])
})

test('Icecast 2.5: <tls> modes, and the key, certificate and ciphers of <security><tls-context>', () => {
  const config = readIcecastConfig(`<listen-socket><port>1</port><tls>rfc2818</tls></listen-socket>
  <listen-socket><port>2</port><tls>auto_no_plain</tls></listen-socket>
  <listen-socket><port>3</port><tls>disabled</tls></listen-socket>
  <listen-socket><port>4</port><tls>auto</tls></listen-socket>
  <listen-socket><port>5</port><ssl>on</ssl></listen-socket>
  <security><chroot>0</chroot><tls-context><tls-certificate>/c.pem</tls-certificate><tls-key>/k.pem</tls-key><tls-allowed-ciphers>HIGH</tls-allowed-ciphers><tls-version>1.3</tls-version></tls-context></security>`)
  assert.deepEqual(config.listen.map((socket) => socket.tls === true), [true, true, false, false, true])
  assert.deepEqual(config.tls, {
    certificate: { value: '/c.pem', element: '<security> <tls-context> <tls-certificate>' },
    key: { value: '/k.pem', element: '<security> <tls-context> <tls-key>' },
    ciphers: { value: 'HIGH', element: '<security> <tls-context> <tls-allowed-ciphers>' }
  })
  assert.deepEqual(config.warnings, [
    '<listen-socket> #4 <tls> ignored: TLS told apart from plain HTTP on one port is not done: this socket serves plain HTTP only; ' +
      'give TLS a socket of its own with <ssl>1</ssl> (or 2.5\'s <tls>rfc2818</tls>)',
    '<security> <tls-context> <tls-version> ignored: not an element this relay knows'
  ])
})

test('icecast-kh: a key file of its own; <ssl-cafile> warned: the chain goes in the certificate file', () => {
  const config = readIcecastConfig(`<listen-socket><port>8443</port><ssl>1</ssl></listen-socket>
  <paths><ssl-certificate>/c.pem</ssl-certificate><ssl-private-key>/k.pem</ssl-private-key><ssl-cafile>/ca.pem</ssl-cafile></paths>`)
  assert.deepEqual(config.tls, { certificate: { value: '/c.pem', element: '<paths> <ssl-certificate>' }, key: { value: '/k.pem', element: '<paths> <ssl-private-key>' } })
  assert.deepEqual(config.warnings, ['<paths> <ssl-cafile> ignored: the certificate chain is read from the certificate file: append it there'])
})

test('a TLS socket without a certificate: the config is invalid, naming the socket\'s element', () => {
  assert.throws(() => readIcecastConfig('<listen-socket><port>8000</port></listen-socket><listen-socket><port>8443</port><ssl>1</ssl></listen-socket>'), {
    code: 'FST_ICECAST_RELAY_INVALID_CONFIG',
    message: '<listen-socket> #2 <ssl>: TLS needs a certificate: <paths> <ssl-certificate>, one PEM file with the private key and the certificate'
  })
  assert.throws(() => readIcecastConfig('<listen-socket><ssl>1</ssl></listen-socket><paths><ssl-certificate></ssl-certificate></paths>'),
    { message: /^<listen-socket> <ssl>: TLS needs a certificate/ })
})

test('a certificate and no TLS socket: warned (kh would serve TLS on any port, told apart by its first bytes)', () => {
  const config = readIcecastConfig(`<listen-socket><port>8000</port><ssl>0</ssl></listen-socket><paths><ssl-certificate>${PEM}</ssl-certificate></paths>`)
  assert.deepEqual(config.listen, [{ port: 8000, host: '0.0.0.0' }])
  assert.equal(config.tls, undefined)
  assert.deepEqual(config.warnings, [
    '<paths> <ssl-certificate> ignored: no <listen-socket> has <ssl>1</ssl>, and TLS told apart from plain HTTP on one port is not done'
  ])
})

test('socket elements with no meaning for a relay are listed with their reason; unknown ones are warned', () => {
  const config = readIcecastConfig(`<listen-socket><port>8000</port><shoutcast-mount>/live</shoutcast-mount><so-sndbuf>65536</so-sndbuf>
    <listen-backlog>64</listen-backlog><colour>red</colour></listen-socket>`)
  assert.deepEqual(config.warnings, ['<listen-socket> <colour> ignored: not an element this relay knows'])
  assert.deepEqual(config.ignored, [
    '<listen-socket> <shoutcast-mount> ignored: a relay takes no source clients',
    '<listen-socket> <so-sndbuf> ignored: listener sockets keep the system\'s send buffer size',
    '<listen-socket> <listen-backlog> ignored: every socket listens with a backlog of 4096 (capped by net.core.somaxconn)',
    '<listen-socket> <colour> ignored: not an element this relay knows'
  ])
  assert.throws(() => readIcecastConfig('<listen-socket><ssl>maybe</ssl></listen-socket>'), /<listen-socket> <ssl>: "maybe" is not an integer/)
})

const SWITCH_ON = ['1', 'true', 'yes', 'on', 'rfc2818', 'auto_no_plain', '-1']
const SWITCH_OFF = ['0', 'false', 'no', 'off', 'disabled']
const socketArb = fc.record({
  port: fc.integer({ min: 1, max: 65535 }),
  host: fc.option(fc.constantFrom('127.0.0.1', '127.0.0.2', '::1', 'localhost'), { nil: undefined }),
  tls: fc.option(fc.oneof(fc.constantFrom(...SWITCH_ON).map((word) => ({ word, on: true })),
    fc.constantFrom(...SWITCH_OFF).map((word) => ({ word, on: false }))), { nil: undefined }),
  element: fc.constantFrom('ssl', 'tls')
})

test('property: every socket, in order, with its port, address and TLS switch as written', () => {
  fc.assert(fc.property(fc.array(socketArb, { minLength: 1, maxLength: 6 }), (sockets) => {
    const xml = sockets.map((socket) => `<listen-socket><port>${socket.port}</port>` +
      (socket.host === undefined ? '' : `<bind-address>${socket.host}</bind-address>`) +
      (socket.tls === undefined ? '' : `<${socket.element}>${socket.tls.word}</${socket.element}>`) + '</listen-socket>').join('\n') +
      `<paths><ssl-certificate>${PEM}</ssl-certificate></paths>`
    const config = readIcecastConfig(xml)
    assert.deepEqual(config.listen, sockets.map((socket) => ({
      port: socket.port, host: socket.host ?? '0.0.0.0', ...(socket.tls?.on === true && { tls: true })
    })))
    assert.equal(config.tls !== undefined, sockets.some((socket) => socket.tls?.on === true))
  }))
})
