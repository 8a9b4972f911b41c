import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { readIcecastConfig } from '../../../lib/config/icecast.js'
import { MASTER_SNIPPET, RELAY_SNIPPET, SEED_DOC, seedDocSnippets } from './seed.js'

test('the snippets here are the seed doc\'s, character for character', (t) => {
  const snippets = seedDocSnippets()
  if (snippets === undefined) {
    // the copies above stand in for it; in CI the shared folder is always there
    assert.ok(!process.env.CI, `${SEED_DOC.pathname} is missing`)
    t.diagnostic(`${SEED_DOC.pathname} is absent: the copies were not compared`)
    return
  }
  assert.deepEqual(snippets, [MASTER_SNIPPET, RELAY_SNIPPET])
})

test('the master-slave snippet, verbatim: the master option (of the issue-4-master branch)', () => {
  assert.deepEqual(readIcecastConfig(MASTER_SNIPPET), {
    options: { relays: [], master: { server: '192.168.1.11', port: 8001, updateInterval: 120, password: 'hackme' } },
    listen: [{ port: 8000, host: '0.0.0.0' }],
    warnings: [],
    ignored: []
  })
})

test('the single-broadcast snippet, verbatim: one relay, key for key', () => {
  assert.deepEqual(readIcecastConfig(RELAY_SNIPPET), {
    options: {
      relays: [{ server: '192.168.1.11', port: 8001, mount: '/example.ogg', localMount: '/different.ogg', relayShoutcastMetadata: false }]
    },
    listen: [{ port: 8000, host: '0.0.0.0' }],
    warnings: [],
    ignored: []
  })
})

const FULL = `<?xml version="1.0"?>
<!-- a slave's config -->
<icecast>
  <location>Studio &amp; Co</location>
  <admin>ops@radio.example</admin>
  <hostname>radio.example</hostname>
  <server-id>Icecast 2.4.4</server-id>
  <limits>
    <clients>250</clients>
    <sources>2</sources>
    <queue-size>102400</queue-size>
    <burst-on-connect>1</burst-on-connect>
    <burst-size>32768</burst-size>
    <source-timeout>5</source-timeout>
    <client-timeout>30</client-timeout>
  </limits>
  <authentication>
    <source-password>unused</source-password>
    <relay-user>slave</relay-user>
    <relay-password>r3lay</relay-password>
    <admin-password><![CDATA[p<a>ss]]></admin-password>
  </authentication>
  <listen-socket>
    <port>8100</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  <relays-on-demand>1</relays-on-demand>
  ${MASTER_SNIPPET}
  <master-username>slave</master-username>
  ${RELAY_SNIPPET}
  <relay>
    <port>8002</port>
    <mount>/;</mount>
    <local-mount>/sc.mp3</local-mount>
    <username>u</username>
    <password>p</password>
    <on-demand>0</on-demand>
  </relay>
  <paths><basedir>/usr/share/icecast2</basedir></paths>
  <logging><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot></security>
</icecast>
`

test('a whole config: both snippets in it, listen socket, limits, credentials, server info', () => {
  assert.deepEqual(readIcecastConfig(FULL), {
    options: {
      location: 'Studio & Co',
      adminEmail: 'ops@radio.example',
      hostname: 'radio.example',
      serverId: 'Icecast 2.4.4',
      limits: { clients: 250, queueSize: 102400, burstSize: 32768, sourceTimeout: 5 },
      admin: { username: 'admin', password: 'p<a>ss' },
      relayAuth: { username: 'slave', password: 'r3lay' },
      relays: [
        { onDemand: true, server: '192.168.1.11', port: 8001, mount: '/example.ogg', localMount: '/different.ogg', relayShoutcastMetadata: false },
        { onDemand: false, server: '127.0.0.1', port: 8002, mount: '/;', localMount: '/sc.mp3', username: 'u', password: 'p' }
      ],
      master: { server: '192.168.1.11', port: 8001, updateInterval: 120, password: 'hackme', username: 'slave', onDemand: true }
    },
    listen: [{ port: 8100, host: '127.0.0.1' }],
    logLevel: 'info',
    warnings: [],
    // what has no meaning for a relay is only listed (by --check), each with its reason
    ignored: [
      '<limits> <sources> ignored: a relay takes no source clients',
      '<limits> <client-timeout> ignored: a listener is dropped when its queue passes queue-size, not after a time',
      '<authentication> <source-password> ignored: a relay takes no source clients',
      '<paths> <basedir> ignored: Icecast\'s own files: the relay reads none',
      '<security> <chroot> ignored: run the CLI as the user it should run as'
    ]
  })
})

test('Icecast\'s ways: burst-on-connect 0 is no burst; every listen socket; port and bind-address at the top', () => {
  const noBurst = readIcecastConfig('<limits><burst-size>9000</burst-size><burst-on-connect>0</burst-on-connect></limits>')
  assert.equal(noBurst.options.limits?.burstSize, 0)
  const sockets = readIcecastConfig('<port>8001</port><listen-socket><bind-address>127.0.0.1</bind-address></listen-socket><listen-socket><port>9001</port></listen-socket>')
  assert.deepEqual(sockets.listen, [{ port: 8001, host: '127.0.0.1' }, { port: 9001, host: '0.0.0.0' }])
  assert.deepEqual(sockets.warnings, [])
  assert.deepEqual(readIcecastConfig('<port>8123</port><bind-address>::1</bind-address>').listen, [{ port: 8123, host: '::1' }])
  assert.deepEqual(readIcecastConfig('<icecast/>').options, { relays: [] })
})

test('the relay\'s own limits in <limits>: how long the stream is gathered, in decimal seconds, within the options\' range', () => {
  const { options, warnings } = readIcecastConfig(`<limits><write-interval>0</write-interval><tls-write-interval>0.25</tls-write-interval>
    <crowd-write-interval>1</crowd-write-interval><busy-write-interval>0.005</busy-write-interval></limits>`)
  assert.deepEqual(options.limits, { writeInterval: 0, tlsWriteInterval: 0.25, crowdWriteInterval: 1, busyWriteInterval: 0.005 })
  assert.deepEqual(warnings, [])
  // any decimal in the options' range reads back as the number it writes
  fc.assert(fc.property(fc.integer({ min: 0, max: 9 }), fc.stringMatching(/^\d{1,9}$/), (whole, fraction) => {
    const seconds = `${whole}.${fraction}`
    assert.equal(readIcecastConfig(`<limits><busy-write-interval>${seconds}</busy-write-interval></limits>`).options.limits?.busyWriteInterval, Number(seconds))
  }))
  for (const [bad, message] of [
    ['-1', /^<limits> <write-interval>: "-1" is not a decimal number such as 0\.5$/],
    ['.5', /is not a decimal number/],
    ['1e-3', /is not a decimal number/],
    ['0,5', /is not a decimal number/],
    ['', /is not a decimal number/],
    ['11', /^<limits> <write-interval>: Expected number to be less or equal to 10$/]
  ] as const) {
    assert.throws(() => readIcecastConfig(`<limits><write-interval>${bad}</write-interval></limits>`), { message }, bad)
  }
})

test('credentials: no password, no account (there is no default password); Icecast\'s default user names', () => {
  assert.equal(readIcecastConfig('<authentication><admin-user>root</admin-user></authentication>').options.admin, undefined)
  assert.deepEqual(readIcecastConfig('<authentication><admin-password>x</admin-password></authentication>').options.admin,
    { username: 'admin', password: 'x' })
  assert.deepEqual(readIcecastConfig('<authentication><relay-password>y</relay-password></authentication>').options.relayAuth,
    { username: 'relay', password: 'y' })
})

test('unknown elements and Icecast features a relay does not do are ignored with a warning', () => {
  const { warnings, options } = readIcecastConfig(`<relay><port>1</port><bind>10.0.0.1</bind><colour>red</colour></relay>
    <mount><mount-name>/live</mount-name><max-listeners>5</max-listeners></mount>
    <limits><turbo>1</turbo></limits><authentication><admin-user>a</admin-user><root>1</root></authentication>
    <master-password>orphan</master-password><yp>1</yp>`)
  assert.deepEqual(warnings, [
    '<relay> <bind> ignored: upstream connections are not bound to a local address',
    '<relay> <colour> ignored: not an element this relay knows',
    '<limits> <turbo> ignored: not an element this relay knows',
    '<authentication> <root> ignored: not an element this relay knows',
    '<yp> ignored: not an element this relay knows',
    // read once every relay is known: a <mount> no relay serves (and no master may bring) is told
    '<mount> (/live): no relay of this config serves it; its settings wait for a relay of that name',
    '<master-password> ignored: there is no <master-server>'
  ])
  assert.deepEqual(options.relays, [{ server: '127.0.0.1', port: 1 }])
})

test('bare elements after many comments are read at once (found by `npm run fuzz`: the root test backtracked)', () => {
  const started = performance.now()
  const { options } = readIcecastConfig('<!-- a comment -->\n'.repeat(27) + RELAY_SNIPPET)
  assert.equal(options.relays?.[0]?.port, 8001)
  assert.ok(readIcecastConfig('<!-- a - comment - -->\n'.repeat(27) + '<icecast><location>x</location></icecast>').options.location === 'x')
  assert.ok(performance.now() - started < 500, `${performance.now() - started} ms`)
})

test('an invalid config fails with a message that names the element', () => {
  const cases: Array<[string, RegExp]> = [
    ['<relay><port>x</port></relay>', /^<relay> <port>: "x" is not an integer from 1 to 65535$/],
    ['<relay><server>h</server></relay>', /^<relay> <port>: required \(Icecast has no default port for a relay either\)$/],
    ['<relay><port>1</port></relay><relay><port>99999</port></relay>', /^<relay> #2 <port>: "99999" is not an integer/],
    ['<relay><port>1</port><local-mount>nolead</local-mount></relay>', /^<relay> <local-mount>: Expected string to match/],
    ['<relay><port>1</port><local-mount>/a/../b</local-mount></relay>', /^<relay> <local-mount>: must not contain "\." or "\.\." segments$/],
    ['<relay><port>1</port><mount>/a</mount></relay><relay><port>2</port><mount>/a</mount></relay>', /^<relay> #2 <local-mount>: \/a is already used/],
    ['<relay><port>1</port><on-demand>yes</on-demand></relay><relay><port>1</port><on-demand>maybe</on-demand></relay>', /^<relay> #2 <on-demand>: "maybe" is not an integer/],
    ['<relay><port>1</port><server>bad host</server></relay>', /^<relay> <server>: /],
    ['<relay><port><x/></port></relay>', /^<relay> <port>: expected text, found elements$/],
    ['<limits><queue-size>10</queue-size></limits>', /^<limits> <queue-size>: Expected integer to be greater or equal to 4096$/],
    ['<limits><source-timeout>0</source-timeout></limits>', /^<limits> <source-timeout>: /],
    ['<limits><clients>-1</clients></limits>', /^<limits> <clients>: "-1" is not an integer from 0/],
    ['<authentication><admin-user>a:b</admin-user><admin-password>x</admin-password></authentication>', /^<authentication> <admin-user>: /],
    ['<authentication><admin-password></admin-password></authentication>', /^<authentication> <admin-password>: /],
    ['<hostname>two words</hostname>', /^<hostname>: /],
    ['<relay><server>a^b</server><port>1</port></relay>', /^<relay> <server>: "a\^b" is not a host name or address$/],
    ['<master-server>\'92.168.1.11</master-server><master-server-port>1</master-server-port><master-password>p</master-password>',
      /^<master-server>: "'92\.168\.1\.11" is not a host name or address$/],
    ['<master-server>m</master-server>', /^<master-server-port>: required with <master-server>$/],
    ['<master-server>m</master-server><master-server-port>0</master-server-port>', /^<master-server-port>: "0" is not an integer/],
    ['<master-server>m</master-server><master-server-port>1</master-server-port><master-update-interval>0</master-update-interval>',
      /^<master-update-interval>: "0" is not an integer from 1/],
    ['<listen-socket><port>http</port></listen-socket>', /^<listen-socket> <port>: "http" is not an integer/],
    ['<relay><port>1</port>', /^line 2, column 1: <relay> opened in line 1, col 1 is not closed$/],
    ['<icecast><relay>', /^line 1, column \d+: not closed: <icecast> <relay>$/],
    ['<icecast><relay></icecast>', /^line 1, column \d+: /],
    ['<?xml version="1.0"?>\n<icecast>\n  <location>x</locaton>\n</icecast>', /^line 3, column \d+: Expected closing tag 'location'/],
    [' \n', /^empty: no <icecast> element/],
    // well-formed, but the XML parser refuses these names (found by `npm run fuzz`)
    ['<relay><port>1</port><constructor/></relay>', /^unreadable: .*"constructor" is a reserved JavaScript keyword/],
    ['<icecast><__proto__>1</__proto__></icecast>', /^unreadable: .*"__proto__" is a reserved JavaScript keyword/]
  ]
  for (const [xml, message] of cases) {
    assert.throws(() => readIcecastConfig(xml), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FST_ICECAST_RELAY_INVALID_CONFIG', xml)
      assert.match(error.message, message, xml)
      return true
    })
  }
})

test('character references are decoded as libxml2 decodes them; an escaped one stays text', () => {
  const { options } = readIcecastConfig('<location>caf&#233; &#x263A; &amp;#65;</location><admin>&#111;ps@radio</admin>')
  assert.equal(options.location, 'café ☺ &#65;')
  assert.equal(options.adminEmail, 'ops@radio')
})
