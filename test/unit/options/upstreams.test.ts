import assert from 'node:assert/strict'
import { test } from 'node:test'
import { resolveOptions, resolveRelay, upstreamName } from '../../../lib/options.js'

const invalid = (pattern: RegExp) => (err: Error): boolean =>
  pattern.test(err.message) && (err as Error & { code: string }).code === 'FST_ICECAST_RELAY_INVALID_OPTION'

test('the single-upstream form is one upstream; the relay-level fields get their defaults', () => {
  const relay = resolveRelay({ url: 'http://u:p@h:8000/live', onDemand: true })
  assert.deepEqual(relay.upstreams, [{
    kind: 'http', url: new URL('http://h:8000/live'), username: 'u', password: 'p', relayShoutcastMetadata: true, redirects: 'same-server'
  }])
  assert.equal(relay.localMount, '/live')
  assert.equal(relay.failback, true)
  assert.equal(relay.stallTimeout, 2)
  assert.equal(relay.standby, false)
  assert.equal(relay.fallbackOverride, false)
  assert.equal(relay.fallbackMount, undefined)
})

test('an upstreams list keeps its order and each upstream its own fields; the local mount is the first one\'s path', () => {
  const relay = resolveRelay({
    upstreams: [
      { server: '127.0.0.2', port: 8000, mount: '/main.mp3', username: 'a', password: 'b', relayShoutcastMetadata: false },
      { url: 'https://127.0.0.3:8443/backup.mp3', rejectUnauthorized: false, redirects: 'any' },
      { file: '/srv/audio/loop.mp3' }
    ],
    failback: false,
    stallTimeout: 0.5,
    standby: true,
    fallbackMount: '/other.mp3',
    fallbackOverride: true
  })
  assert.equal(relay.localMount, '/main.mp3')
  assert.deepEqual(relay.upstreams.map(upstreamName),
    ['http://127.0.0.2:8000/main.mp3', 'https://127.0.0.3:8443/backup.mp3', 'file:/srv/audio/loop.mp3'])
  assert.deepEqual(relay.upstreams[0], {
    kind: 'http', url: new URL('http://127.0.0.2:8000/main.mp3'), username: 'a', password: 'b', relayShoutcastMetadata: false, redirects: 'same-server'
  })
  assert.deepEqual(relay.upstreams[1], {
    kind: 'http', url: new URL('https://127.0.0.3:8443/backup.mp3'), relayShoutcastMetadata: true, redirects: 'any', tlsOptions: { rejectUnauthorized: false }
  })
  assert.deepEqual(relay.upstreams[2], { kind: 'file', path: '/srv/audio/loop.mp3' })
  assert.deepEqual([relay.failback, relay.stallTimeout, relay.standby, relay.fallbackMount, relay.fallbackOverride],
    [false, 0.5, true, '/other.mp3', true])
})

test('errors in an upstreams list name the upstream and its field', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ upstreams: [{ server: 'h', port: 1 }, { server: 'h' }] }, /relays\[0\]\.upstreams\[1\]\.port: required/],
    [{ upstreams: [{ server: 'h', port: 1 }, { server: 'h', port: 70000 }] }, /relays\[0\]\.upstreams\[1\]\.port/],
    [{ upstreams: [{ url: 'http://h:1/a', bogus: 1 }] }, /relays\[0\]\.upstreams\[0\]/],
    [{ upstreams: [{ url: 'http://h:1/a', server: 'h' }] }, /relays\[0\]\.upstreams\[0\]\.url: give either/],
    [{ upstreams: [{ url: 'http://h:1/a' }, { file: 'relative.mp3' }] }, /relays\[0\]\.upstreams\[1\]\.file/],
    [{ upstreams: [{ url: 'http://h:1/a' }, { file: '/a/../etc/passwd' }] }, /relays\[0\]\.upstreams\[1\]\.file: must not contain/],
    [{ upstreams: [{ file: '/a.mp3', url: 'http://h:1/a' }] }, /relays\[0\]\.upstreams\[0\]/],
    [{ upstreams: [] }, /relays\[0\]\.upstreams/],
    [{ upstreams: Array.from({ length: 17 }, (_, i) => ({ url: `http://h:1/${i}` })) }, /relays\[0\]\.upstreams/],
    [{ upstreams: [{ url: 'http://h:1/a' }], url: 'http://h:1/b' }, /relays\[0\]\.url: give either upstreams or the single-upstream fields/],
    [{ upstreams: [{ url: 'http://h:1/a' }], password: 'x' }, /relays\[0\]\.password: give either upstreams/],
    [{ upstreams: [{ file: '/a.mp3' }] }, /relays\[0\]\.localMount: required when the first upstream is a file/],
    [{ url: 'http://h:1/a', stallTimeout: 0 }, /relays\[0\]\.stallTimeout/],
    [{ url: 'http://h:1/a', failback: 'no' }, /relays\[0\]\.failback/],
    [{ url: 'http://h:1/a', standby: 1 }, /relays\[0\]\.standby/],
    [{ url: 'http://h:1/a', fallbackMount: 'x' }, /relays\[0\]\.fallbackMount/],
    [{ url: 'http://h:1/a', fallbackMount: '/a/../b' }, /relays\[0\]\.fallbackMount: must not contain/],
    [{ url: 'http://h:1/a', fallbackOverride: 'yes' }, /relays\[0\]\.fallbackOverride/]
  ]
  for (const [relay, pattern] of cases) {
    assert.throws(() => resolveOptions({ relays: [relay] }), invalid(pattern), JSON.stringify(relay))
  }
})

test('a file upstream first needs a local mount; after a network one it takes that one\'s path', () => {
  assert.equal(resolveRelay({ upstreams: [{ file: '/a.mp3' }], localMount: '/x' }).localMount, '/x')
  assert.equal(resolveRelay({ upstreams: [{ url: 'http://h:1/live' }, { file: '/a.mp3' }] }).localMount, '/live')
})
