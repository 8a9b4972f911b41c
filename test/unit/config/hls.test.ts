// `<hls>`: the CLI's element of its own for HLS, at the top level (the `hls` option) and in a `<mount>` (the
// `hls` of the relay serving it), read into the options the plugin takes.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { readIcecastConfig } from '../../../lib/config/icecast.js'
import { InvalidConfigError } from '../../../lib/errors.js'
import { relayHls, resolveOptions } from '../../../lib/options.js'

const RELAYS = '<relay><port>8000</port><mount>/a.mp3</mount></relay><relay><port>8000</port><mount>/b.aac</mount></relay>'

function mount (name: string, hls: string): string {
  return `<mount><mount-name>${name}</mount-name>${hls}</mount>`
}

/** Each relay's HLS settings once resolved, by its mount (undefined: none). */
function resolvedHls (xml: string): Record<string, unknown> {
  const resolved = resolveOptions(readIcecastConfig(xml).options)
  return Object.fromEntries(resolved.relays.map((relay) => [relay.localMount, resolved.hls === undefined ? undefined : relayHls(relay, resolved.hls)]))
}

test('<hls> at the top level is the hls option: a switch, or its settings; <cors> takes an origin or a switch word for none', () => {
  const { options, warnings } = readIcecastConfig(`${RELAYS}<hls><segment-seconds>2</segment-seconds><window-segments>10</window-segments><cors>https://player.example</cors></hls>`)
  assert.deepEqual(warnings, [])
  assert.deepEqual(options.hls, { segmentSeconds: 2, windowSegments: 10, cors: 'https://player.example' })
  assert.equal(readIcecastConfig(`${RELAYS}<hls>1</hls>`).options.hls, true)
  assert.equal(readIcecastConfig(`${RELAYS}<hls/>`).options.hls, true)
  assert.equal(readIcecastConfig(`${RELAYS}<hls>yes</hls>`).options.hls, true)
  assert.equal(readIcecastConfig(`${RELAYS}<hls>0</hls>`).options.hls, false)
  for (const off of ['0', 'off', 'false', 'No']) {
    assert.deepEqual(readIcecastConfig(`${RELAYS}<hls><cors>${off}</cors></hls>`).options.hls, { cors: false })
  }
  assert.equal(readIcecastConfig(RELAYS).options.hls, undefined, 'none without <hls>')
})

test('<hls> in a <mount> is the hls of the relay serving it, over the top level\'s; <hls>0</hls> turns it off there', () => {
  const top = '<hls><segment-seconds>2</segment-seconds></hls>'
  assert.deepEqual(resolvedHls(`${RELAYS}${top}${mount('/b.aac', '<hls>0</hls>')}`), {
    '/a.mp3': { segmentSeconds: 2, windowSegments: 6, cors: '*' },
    '/b.aac': undefined
  })
  assert.deepEqual(resolvedHls(`${RELAYS}${top}${mount('/b.aac', '<hls><window-segments>3</window-segments></hls>')}`), {
    '/a.mp3': { segmentSeconds: 2, windowSegments: 6, cors: '*' },
    '/b.aac': { segmentSeconds: 2, windowSegments: 3, cors: '*' }
  })
  const own = readIcecastConfig(`${RELAYS}${mount('/a.mp3', '<hls><cors>0</cors></hls>')}`)
  assert.deepEqual(own.options.relays?.map((relay) => relay.hls), [{ cors: false }, undefined])
  assert.deepEqual(resolvedHls(`${RELAYS}${mount('/a.mp3', '<hls>1</hls>')}`), { '/a.mp3': { segmentSeconds: 6, windowSegments: 6, cors: '*' }, '/b.aac': undefined })
})

test('<hls> in a <mount> no relay of the config serves, and unknown elements in <hls>, are warned', () => {
  const { options, warnings } = readIcecastConfig(`${RELAYS}<hls><segment-secs>2</segment-secs></hls>${mount('/c.mp3', '<hls>1</hls>')}`)
  assert.deepEqual(options.hls, {})
  assert.equal(warnings.length, 2)
  assert.match(warnings[0]!, /<hls> <segment-secs> ignored: not an element this relay knows/)
  assert.match(warnings[1]!, /<mount> <hls> ignored: set only by the <mount> of a relay of this config/)
})

test('a bad <hls> value fails naming its element', () => {
  const cases: Array<[string, RegExp]> = [
    [`${RELAYS}<hls><segment-seconds>0</segment-seconds></hls>`, /<hls> <segment-seconds>/],
    [`${RELAYS}<hls><segment-seconds>-1</segment-seconds></hls>`, /<hls> <segment-seconds>: "-1" is not an integer/],
    [`${RELAYS}<hls><window-segments>1000</window-segments></hls>`, /<hls> <window-segments>/],
    [`${RELAYS}<hls><cors>a\u0001b</cors></hls>`, /<hls> <cors>/],
    [`${RELAYS}<hls>maybe</hls>`, /<hls>: "maybe" is not an integer/],
    [`${RELAYS}${mount('/a.mp3', '<hls><segment-seconds>31</segment-seconds></hls>')}`, /<mount> <hls> <segment-seconds>/]
  ]
  for (const [xml, message] of cases) {
    assert.throws(() => readIcecastConfig(xml), (error: unknown) => error instanceof InvalidConfigError && message.test(error.message), xml)
  }
})

test('any valid settings read back as the option gives them', () => {
  const settings = fc.record({
    segmentSeconds: fc.integer({ min: 1, max: 30 }),
    windowSegments: fc.integer({ min: 3, max: 100 }),
    cors: fc.oneof(fc.constant(false as const), fc.stringMatching(/^[a-z][a-z0-9:/.*-]{0,40}$/).filter((origin) => !/^(?:no|off|false)$/.test(origin)))
  }, { requiredKeys: [] }).filter((hls) => Object.keys(hls).length > 0)
  fc.assert(fc.property(settings, (hls) => {
    const elements = Object.entries(hls).map(([key, value]) => {
      const name = key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)
      return `<${name}>${value === false ? 'off' : String(value)}</${name}>`
    }).join('')
    const xml = `${RELAYS}<hls>${elements}</hls>`
    assert.deepEqual(readIcecastConfig(xml).options.hls, { ...hls })
  }))
})
