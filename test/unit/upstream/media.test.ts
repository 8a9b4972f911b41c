import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { streamTypeRefusal } from '../../../lib/upstream/media.js'

test('media types real stations send are relayed, and an answer without a Content-Type too', () => {
  const relayed = [
    undefined, '', '  ',
    'audio/mpeg', 'audio/aacp', 'audio/aac', 'audio/x-aac', 'audio/ogg', 'audio/ogg; codecs=opus', 'Audio/MPEG',
    'audio/webm', 'audio/flac', 'audio/x-flac', 'video/ogg', 'video/webm', 'video/ogg; codecs="theora, vorbis"',
    'application/ogg', 'application/x-ogg', 'application/octet-stream', 'audio/mpeg;', 'audio/mpeg; charset=ISO-8859-1'
  ]
  for (const type of relayed) assert.equal(streamTypeRefusal(type), undefined, JSON.stringify(type))
})

test('anything a browser renders or runs is refused, and so are lists of types and playlists', () => {
  const notStream = /^not an audio or video stream \(relayed: audio\/\*, video\/\*, application\/ogg, application\/octet-stream\)$/
  const refused: Array<[string, RegExp]> = [
    ['text/html', notStream],
    ['Text/HTML; charset=utf-8', notStream],
    ['image/svg+xml', notStream],
    ['application/xhtml+xml', notStream],
    ['text/xml', notStream],
    ['application/xml', notStream],
    ['application/javascript', notStream],
    ['text/javascript', notStream],
    ['text/plain', notStream],
    ['application/pdf', notStream],
    ['image/png', notStream],
    ['multipart/x-mixed-replace; boundary=x', notStream],
    ['audio', notStream],
    ['audio/', notStream],
    ['audio/mp eg', notStream],
    // two Content-Type lines arrive joined so; a browser takes the last one
    ['audio/mpeg, text/html', /^more than one media type$/],
    ['audio/mpeg; x="a", text/html', /^more than one media type$/],
    ['audio/x-scpls', /^a playlist, not a stream: relay one of the stream URLs it lists$/],
    ['audio/x-mpegurl', /playlist/],
    ['audio/mpegurl', /playlist/]
  ]
  for (const [type, why] of refused) assert.match(streamTypeRefusal(type) ?? 'relayed', why, type)
})

test('whatever the parameters, the media type decides; a comma outside quotes is always refused', () => {
  const params = fc.string({ unit: fc.constantFrom('a', '=', ';', ' ', '"', '\\', 'x') })
  fc.assert(fc.property(fc.constantFrom('audio/mpeg', 'video/webm', 'application/ogg'), params, (type, rest) => {
    const value = `${type}; ${rest}`
    const quotedOnly = streamTypeRefusal(value)
    assert.equal(quotedOnly, undefined)
    assert.equal(streamTypeRefusal(`${value.replaceAll('"', '')}, text/html`), 'more than one media type')
  }))
  fc.assert(fc.property(fc.constantFrom('text/html', 'image/svg+xml', 'application/xhtml+xml'), params, (type, rest) => {
    assert.notEqual(streamTypeRefusal(`${type}; ${rest}`), undefined)
  }))
})
