import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { mountUrlOf, nameAfterSlash } from '../../../lib/hls/paths.js'
import { percentDecoded } from '../../../lib/http.js'

/** The path the listener route gives for a URL: every %XX decoded. */
function decoded (url: string): string {
  return percentDecoded(url.split('?')[0]!)!
}

test('an HLS name after a slash of the URL, whatever the mount\'s encoding; after %2F it is not', () => {
  for (const url of ['/live/index.m3u8', '/radio%2Flive/index.m3u8?session=x', '/live/%69ndex.m3u8', '/a%20b/7.aac']) {
    assert.equal(nameAfterSlash(url, decoded(url)), true, url)
  }
  for (const url of ['/live%2Findex.m3u8', '/live%2f0.mp3', '/a%2Fb%2Findex.m3u8?x=/y']) {
    assert.equal(nameAfterSlash(url, decoded(url)), false, url)
  }
})

test('nameAfterSlash (property): true for any mount written with its segments encoded, false once the last slash is %2F', () => {
  const segment = fc.string({ minLength: 1, maxLength: 8, unit: 'grapheme' })
  fc.assert(fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), fc.constantFrom('index.m3u8', '0.mp3', '12.aac'), (mount, name) => {
    const written = mount.map(encodeURIComponent).join('/')
    const url = `/${written}/${name}`
    assert.equal(nameAfterSlash(url, decoded(url)), true)
    const hidden = `/${written}%2F${name}`
    assert.equal(nameAfterSlash(hidden, decoded(hidden)), false)
  }))
})

test('mountUrlOf: a playlist URL names its mount as a listener\'s URL would, query kept, encoding untouched', () => {
  assert.equal(mountUrlOf('/live/index.m3u8'), '/live')
  assert.equal(mountUrlOf('/live/index.m3u8?token=a/b'), '/live?token=a/b', 'a slash in the query is no segment')
  assert.equal(mountUrlOf('/radio%2Flive/index.m3u8?x=1&y'), '/radio%2Flive?x=1&y')
  fc.assert(fc.property(fc.array(fc.webSegment(), { minLength: 1, maxLength: 4 }), fc.option(fc.webQueryParameters(), { nil: undefined }), (segments, query) => {
    const mount = '/' + segments.join('/')
    const tail = query === undefined ? '' : '?' + query
    assert.equal(mountUrlOf(`${mount}/index.m3u8${tail}`), mount + tail)
  }))
})
