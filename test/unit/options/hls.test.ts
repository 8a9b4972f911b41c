import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HLS_DEFAULTS, relayHls, resolveOptions } from '../../../lib/options.js'

const relay = { url: 'http://127.0.0.1:8000/a' }

test('hls: absent everywhere is no HLS; the app\'s true or settings turn it on for every relay; a relay\'s own win', () => {
  assert.equal(resolveOptions({ relays: [relay] }).hls, undefined)
  assert.deepEqual(resolveOptions({ hls: true }).hls, { enabled: true, settings: HLS_DEFAULTS })
  assert.deepEqual(HLS_DEFAULTS, { segmentSeconds: 6, windowSegments: 6, cors: '*' })
  const app = resolveOptions({ hls: { segmentSeconds: 2 } }).hls!
  assert.deepEqual(app, { enabled: true, settings: { segmentSeconds: 2, windowSegments: 6, cors: '*' } })
  assert.deepEqual(relayHls({}, app), app.settings)
  assert.equal(relayHls({ hls: false }, app), undefined)
  assert.deepEqual(relayHls({ hls: { windowSegments: 3, cors: false } }, app), { segmentSeconds: 2, windowSegments: 3, cors: false })
  const off = resolveOptions({ hls: false, relays: [relay] }).hls!
  assert.equal(relayHls({}, off), undefined, 'false: only relays that ask')
  assert.deepEqual(relayHls({ hls: true }, off), HLS_DEFAULTS)
  const asked = resolveOptions({ relays: [relay, { ...relay, localMount: '/b', hls: { segmentSeconds: 4 } }] }).hls
  assert.deepEqual(asked, { enabled: false, settings: HLS_DEFAULTS }, 'a relay that asks is enough to serve HLS')
})

test('hls: a wrong setting names its field, in the app\'s options and in a relay\'s', () => {
  const cases: Array<[object, string]> = [
    [{ hls: { segmentSeconds: 0 } }, 'hls.segmentSeconds'],
    [{ hls: { segmentSeconds: 2.5 } }, 'hls.segmentSeconds'],
    [{ hls: { windowSegments: 1 } }, 'hls.windowSegments'],
    [{ hls: { windowSegments: 2 } }, 'hls.windowSegments'],
    [{ hls: { cors: 'a\r\nset-cookie: x' } }, 'hls.cors'],
    [{ hls: { cors: true } }, 'hls.cors'],
    [{ hls: { segmentsSeconds: 6 } }, 'hls.segmentsSeconds'],
    [{ relays: [{ ...relay, hls: { windowSegments: 1000 } }] }, 'relays[0].hls.windowSegments'],
    [{ relays: [{ ...relay, hls: 'yes' }] }, 'relays[0].hls']
  ]
  for (const [options, field] of cases) {
    assert.throws(() => resolveOptions(options), (error: Error & { field?: string }) => {
      assert.equal(error.field, field, JSON.stringify(options))
      return true
    })
  }
})
