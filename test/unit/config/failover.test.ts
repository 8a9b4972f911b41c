// Relays with several upstreams and fallbacks, read from the configs of Icecast 2.5 and icecast-kh.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readIcecastConfig } from '../../../lib/config/icecast.js'
import { khOrder } from '../../../lib/config/relay.js'
import { resolveOptions } from '../../../lib/options.js'
import {
  FALLBACK_MOUNT, ICECAST_25_MOUNT_RELAY, ICECAST_25_UPSTREAMS_RELAY, ICECAST_25_URI, icecast25Upstreams, KH_HOST, khShortened
} from './failover-snippets.js'

test('Icecast 2.5: normal <upstream>s in their order, their missing fields from <upstream type="default">; no failback', () => {
  const { options, warnings } = readIcecastConfig(icecast25Upstreams())
  assert.deepEqual(options.relays, [ICECAST_25_UPSTREAMS_RELAY])
  assert.deepEqual(warnings, [])
  const [relay] = resolveOptions(options).relays
  assert.deepEqual(relay!.upstreams.map((upstream) => upstream.kind === 'http' && upstream.url.href), [
    'http://127.0.0.2:8000/example.ogg', 'http://127.0.0.3:8000/example.ogg', 'http://127.0.0.4:8080/example.ogg'
  ])
})

test('Icecast 2.5: <uri> gives server, port, mount and credentials; true/false switches; no port is 80 (443 for https)', () => {
  assert.deepEqual(readIcecastConfig(ICECAST_25_URI).options.relays, [{
    localMount: '/different.ogg',
    onDemand: false,
    upstreams: [{ server: 'localhost', port: 8080, mount: '/example.ogg', relayShoutcastMetadata: false }]
  }])
  const { options } = readIcecastConfig(`<relay>
    <upstream><uri>http://u:p%40ss@127.0.0.2/a.mp3</uri></upstream>
    <upstream><uri>https://[::1]/b?x=1</uri><username>v</username></upstream>
    <upstream><uri>http://127.0.0.3:80/c</uri></upstream>
  </relay>`)
  assert.deepEqual(options.relays, [{
    upstreams: [
      { server: '127.0.0.2', port: 80, mount: '/a.mp3', username: 'u', password: 'p@ss' },
      { server: '::1', port: 443, mount: '/b?x=1', tls: true, username: 'v' },
      { server: '127.0.0.3', port: 80, mount: '/c' }
    ],
    failback: false
  }])
  // without a <local-mount>, the first upstream's path, as in the single form
  assert.equal(resolveOptions(options).relays[0]!.localMount, '/a.mp3')
})

test('Icecast 2.5: a <relay> in a <mount type="normal"> serves the mount\'s name', () => {
  const { options, warnings } = readIcecastConfig(ICECAST_25_MOUNT_RELAY)
  assert.deepEqual(options.relays, [{
    localMount: '/relay_example.ogg',
    upstreams: [{ server: '127.0.0.2', port: 8000, mount: '/example.ogg' }]
  }])
  assert.deepEqual(warnings, [])
})

test('icecast-kh: <host>s ordered by priority, their missing fields the relay\'s own; tls per host; failback', () => {
  const { options, warnings } = readIcecastConfig(KH_HOST)
  assert.deepEqual(options.relays, [{
    localMount: '/different.ogg',
    onDemand: true,
    upstreams: [
      { server: '127.0.0.2', port: 8000, mount: '/joe', tls: true, username: 'joe', password: 'soap', relayShoutcastMetadata: false },
      { server: '127.0.0.3', port: 8001, mount: '/example.ogg', username: 'joe', password: 'soap', relayShoutcastMetadata: false }
    ],
    failback: true
  }])
  assert.deepEqual(warnings, ['<relay> <http-headers> ignored: no extra request headers are sent to upstreams'])
  const [relay] = resolveOptions(options).relays
  assert.deepEqual(relay!.upstreams.map((upstream) => upstream.kind === 'http' && upstream.url.href),
    ['https://127.0.0.2:8000/joe', 'http://127.0.0.3:8001/example.ogg'])
})

test('icecast-kh: the shortened listing; priority 1 first, then 3, then the host that states none; retry-delay warned', () => {
  const { options, warnings } = readIcecastConfig(khShortened(8000, ['127.0.0.2', '127.0.0.3', '127.0.0.4'], [3, undefined, 1]))
  assert.deepEqual(options.relays, [{
    localMount: '/stream',
    upstreams: [
      { server: '127.0.0.4', port: 8000, mount: '/feed' },
      { server: '127.0.0.2', port: 8000, mount: '/feed' },
      { server: '127.0.0.3', port: 8000, mount: '/feed' }
    ],
    failback: true
  }])
  assert.deepEqual(warnings, [
    '<relay> <retry-delay> ignored: a relay retries (and probes the upstreams before the one it plays) with its backoff, capped by limits.maxBackoff'
  ])
  // the doc's listing, without priorities: the file's order
  assert.deepEqual(readIcecastConfig(khShortened()).options.relays?.[0]?.upstreams?.map((u) => 'server' in u && u.server),
    ['127.0.0.2', '127.0.0.3', '127.0.0.4'])
})

test('kh\'s host order: before the first host of a greater priority; one without goes last, as the last plus one', () => {
  const order = (priorities: number[]): number[] => khOrder(priorities.map((priority, i) => ({ priority, i }))).map((host) => host.i)
  assert.deepEqual(order([2, 1]), [1, 0])
  // the first two get priorities 1 and 2: a later 1 goes between them
  assert.deepEqual(order([0, 0, 1]), [0, 2, 1])
  assert.deepEqual(order([1, 1, 1]), [0, 1, 2])
  // the second gets priority 6 (5 + 1): a later 5 goes before it
  assert.deepEqual(order([5, 0, 5]), [0, 2, 1])
  assert.deepEqual(order([3, 0, -1]), [2, 0, 1])
})

test('icecast-kh: per-host <timeout>, <bind>, <run-on> are warned; <enable>0 keeps the relay out; <master> is a <host>', () => {
  const { options, warnings } = readIcecastConfig(`<relay>
    <port>8000</port><run-on>30</run-on>
    <master><server>127.0.0.2</server><timeout>9</timeout></master>
    <host><server>127.0.0.3</server><bind>127.0.0.1</bind><ssl>1</ssl></host>
  </relay>
  <relay><port>8000</port><local-mount>/off</local-mount><enable>0</enable></relay>`)
  assert.deepEqual(options.relays, [{
    upstreams: [{ server: '127.0.0.2', port: 8000 }, { server: '127.0.0.3', port: 8000, tls: true }],
    failback: true
  }])
  assert.deepEqual(warnings, [
    '<relay> #1 <run-on> ignored: an on-demand relay keeps its upstream limits.onDemandLinger seconds after its last listener',
    '<relay> #1 <master> <timeout> ignored: one connect timeout (limits.connectTimeout, 10 s by default) serves every upstream',
    '<relay> #1 <host> <bind> ignored: upstream connections are not bound to a local address',
    '<relay> #2 ignored: its <enable> is 0 (icecast-kh keeps such a relay stopped)'
  ])
})

test('<fallback-mount> and <fallback-override> of a relay\'s <mount>; its settings by its name; <fallback-when-full> warned', () => {
  const { options, warnings } = readIcecastConfig(ICECAST_25_URI + FALLBACK_MOUNT +
    '<relay><port>8000</port><mount>/example2.ogg</mount></relay>')
  assert.deepEqual(options.relays?.[0], {
    localMount: '/different.ogg',
    onDemand: false,
    upstreams: [{ server: 'localhost', port: 8080, mount: '/example.ogg', relayShoutcastMetadata: false }],
    fallbackMount: '/example2.ogg',
    fallbackOverride: true
  })
  assert.deepEqual(options.mounts, { '/different.ogg': { maxListeners: 1 } })
  assert.deepEqual(warnings, [
    '<mount> <fallback-when-full> ignored: a listener over max-listeners gets 403; it is not sent to the fallback'
  ])
})

test('a fallback that no relay serves is a file of the <webroot>, played by a relay of its own at that mount', () => {
  const { options } = readIcecastConfig(`<paths><webroot>/srv/web</webroot><logdir>/var/log</logdir></paths>
    <relay><port>8000</port><mount>/live.mp3</mount></relay>
    <relay><port>8000</port><mount>/talk.mp3</mount></relay>
    <mount><mount-name>/live.mp3</mount-name><fallback-mount>/jingle.mp3</fallback-mount></mount>
    <mount><mount-name>/talk.mp3</mount-name><fallback-mount>/live.mp3</fallback-mount><fallback-override>own</fallback-override></mount>`)
  assert.deepEqual(options.relays, [
    { server: '127.0.0.1', port: 8000, mount: '/live.mp3', fallbackMount: '/jingle.mp3' },
    { server: '127.0.0.1', port: 8000, mount: '/talk.mp3', fallbackMount: '/live.mp3', fallbackOverride: true },
    { localMount: '/jingle.mp3', upstreams: [{ file: '/srv/web/jingle.mp3' }] }
  ])
})

test('without a <webroot>, a fallback no relay serves is a mount by that name; kh\'s <fallback-mount><mount>; 2.5\'s none', () => {
  const { options, warnings } = readIcecastConfig(`<paths><webroot>web</webroot></paths>
    <relay><port>8000</port><mount>/a</mount></relay><relay><port>8000</port><mount>/b</mount></relay>
    <mount><mount-name>/a</mount-name><fallback-mount><mount>/later</mount><rate>128000</rate></fallback-mount></mount>
    <mount><mount-name>/b</mount-name><fallback-mount>/a</fallback-mount><fallback-override>none</fallback-override></mount>
    <mount><mount-name>/nobody</mount-name><fallback-mount>/a</fallback-mount></mount>
    <mount type="default"><fallback-mount>/a</fallback-mount></mount>`)
  assert.deepEqual(options.relays, [
    { server: '127.0.0.1', port: 8000, mount: '/a', fallbackMount: '/later' },
    { server: '127.0.0.1', port: 8000, mount: '/b', fallbackMount: '/a', fallbackOverride: false }
  ])
  assert.deepEqual(warnings, [
    '<paths> <webroot> ignored: not an absolute path: fallback files are not looked for in it',
    '<mount> #1 <fallback-mount> <rate> ignored: a fallback is played at its own rate',
    '<mount> #3 <fallback-mount> ignored: a fallback is set only by the <mount> of a relay of this config',
    '<mount> #4 <fallback-mount> ignored: a fallback is set only by the <mount> of a relay of this config'
  ])
})

test('what cannot be read fails naming the element', () => {
  const cases: Array<[string, RegExp]> = [
    ['<relay><upstream><server>a</server></upstream><host><server>b</server></host></relay>',
      /^<relay>: <upstream> \(Icecast 2\.5\) and <host> \(icecast-kh\) cannot be mixed in one relay$/],
    ['<relay><host><server>127.0.0.2</server></host><host><server>127.0.0.3</server><port>1</port></host></relay>',
      /^<relay> <host> #1 <port>: required/],
    ['<relay><upstream><uri>ftp://127.0.0.2/a</uri></upstream></relay>', /^<relay> <upstream> <uri>: "ftp:\/\/127\.0\.0\.2\/a" is not an http:\/\/ or https:\/\/ URI$/],
    ['<relay><upstream><uri>nothing</uri></upstream></relay>', /^<relay> <upstream> <uri>: "nothing" is not a URI$/],
    ['<relay><upstream><uri>http://u:%E0%A4%A@h/</uri></upstream></relay>', /^<relay> <upstream> <uri>: bad percent-encoding in its password$/],
    ['<relay><upstream><port>0</port></upstream></relay>', /^<relay> <upstream> <port>: "0" is not an integer/],
    ['<relay><host><port>1</port><priority>first</priority></host></relay>', /^<relay> <host> <priority>: "first" is not an integer/],
    ['<relay><upstream type="normal"><mount>nolead</mount></upstream><upstream><mount>/x</mount></upstream></relay>',
      /^<relay> <upstream> #1 <mount>: /],
    ['<relay><port>1</port><mount>/a</mount></relay><mount><mount-name>/a</mount-name><fallback-mount>nolead</fallback-mount></mount>',
      /^<mount> <fallback-mount>: /],
    ['<relay><port>1</port><on-demand>maybe</on-demand></relay>', /^<relay> <on-demand>: "maybe" is not an integer/]
  ]
  for (const [xml, message] of cases) {
    assert.throws(() => readIcecastConfig(xml), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FST_ICECAST_RELAY_INVALID_CONFIG', xml)
      assert.match(error.message, message, xml)
      return true
    })
  }
})

test('an <upstream> of an unknown type is ignored with a warning, as Icecast 2.5 does', () => {
  const { options, warnings } = readIcecastConfig('<relay><port>8000</port><upstream type="backup"><server>x</server></upstream></relay>')
  assert.deepEqual(options.relays, [{ server: '127.0.0.1', port: 8000 }])
  assert.deepEqual(warnings, ['<relay> <upstream> ignored: type "backup" is neither "normal" nor "default"'])
})
