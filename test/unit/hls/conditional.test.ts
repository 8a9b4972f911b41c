import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { httpDate, notModified, playlistValidators, rangeOf, segmentValidators } from '../../../lib/hls/conditional.js'

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)
const SEGMENT = segmentValidators('"7-abc"', T0 + 400)

test('If-None-Match: * and any listed tag, weak or strong, are current; another tag is not', () => {
  for (const match of ['*', '"7-abc"', 'W/"7-abc"', '"x", "7-abc"', '"x",W/"7-abc" ,"y"']) {
    assert.equal(notModified({ 'if-none-match': match }, SEGMENT), true, match)
  }
  for (const match of ['"x"', '"x", "y"', '7-abc', '"7-ab"', '']) {
    assert.equal(notModified({ 'if-none-match': match }, SEGMENT), false, match)
  }
  assert.equal(notModified({}, SEGMENT), false, 'an unconditional request')
  assert.equal(notModified({ 'if-none-match': '"7-abc"', 'cache-control': 'no-cache', pragma: 'no-cache' }, SEGMENT), true, 'as fetch() sends it')
})

test('If-Modified-Since is ignored when If-None-Match is sent (RFC 9110 §13.1.3); alone, whole seconds count', () => {
  const later = httpDate(T0 + 5000)
  assert.equal(notModified({ 'if-none-match': '"x"', 'if-modified-since': later }, SEGMENT), false)
  assert.equal(notModified({ 'if-modified-since': later }, SEGMENT), true)
  assert.equal(notModified({ 'if-modified-since': httpDate(T0) }, SEGMENT), true, 'its own Last-Modified, of its second')
  assert.equal(notModified({ 'if-modified-since': httpDate(T0 - 1000) }, SEGMENT), false)
  assert.equal(notModified({ 'if-modified-since': 'yesterday' }, SEGMENT), false, 'no date')
})

test('a playlist cut twice within a second: its Last-Modified does not prove a copy current, a later date does', () => {
  const twice = playlistValidators('"p"', [T0 - 3000, T0 + 100, T0 + 800])
  assert.equal(twice.lastModified, T0)
  assert.equal(notModified({ 'if-modified-since': httpDate(T0) }, twice), false, 'the copy may be of the cut at T0 + 100')
  assert.equal(notModified({ 'if-modified-since': httpDate(T0 + 1000) }, twice), true)
  const once = playlistValidators('"p"', [T0 - 3000, T0 + 800])
  assert.equal(notModified({ 'if-modified-since': httpDate(T0) }, once), true)
  const first = playlistValidators('"p"', [T0 + 800])
  assert.equal(notModified({ 'if-modified-since': httpDate(T0) }, first), false, 'the cuts before may have left the window')
})

test('playlist dates (property): no 304 by date to a copy of an older window, whatever the cuts and the window', () => {
  const cuts = fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 40 })
    .map((gaps) => gaps.reduce<number[]>((times, gap) => [...times, (times.at(-1) ?? T0) + gap], []))
  fc.assert(fc.property(cuts, fc.integer({ min: 2, max: 8 }), fc.nat(), (times, size, pick) => {
    const windowAt = (last: number): number[] => times.slice(Math.max(0, last - size + 1), last + 1)
    const now = times.length - 1
    const copy = pick % times.length
    // the client's copy of the window then: its Last-Modified is its If-Modified-Since now
    const since = httpDate(playlistValidators('"p"', windowAt(copy)).lastModified)
    const current = notModified({ 'if-modified-since': since }, playlistValidators('"p"', windowAt(now)))
    if (current) assert.equal(times[copy], times[now], 'a 304 only to a copy of the newest cut')
    const alone = now > 0 && Math.floor(times[now - 1]! / 1000) < Math.floor(times[now]! / 1000)
    if (copy === now && alone) assert.ok(current, 'a copy of the newest, alone in its second, is current')
  }))
})

test('Range: one range of a segment; several, malformed or another unit give the whole; past the end is unsatisfiable', () => {
  assert.deepEqual(rangeOf({ range: 'bytes=0-99' }, 1000, SEGMENT), { start: 0, end: 99 })
  assert.deepEqual(rangeOf({ range: 'bytes=900-' }, 1000, SEGMENT), { start: 900, end: 999 })
  assert.deepEqual(rangeOf({ range: 'bytes=-10' }, 1000, SEGMENT), { start: 990, end: 999 })
  assert.deepEqual(rangeOf({ range: 'bytes=990-5000' }, 1000, SEGMENT), { start: 990, end: 999 })
  assert.deepEqual(rangeOf({ range: 'bytes=0-9,5-19' }, 1000, SEGMENT), { start: 0, end: 19 }, 'overlapping ranges are one')
  for (const range of ['bytes=0-9,20-29', 'bytes=abc', 'items=0-9', 'bytes', '']) assert.deepEqual(rangeOf({ range }, 1000, SEGMENT), { whole: true }, range)
  assert.deepEqual(rangeOf({ range: 'bytes=1000-' }, 1000, SEGMENT), { unsatisfiable: true })
  assert.deepEqual(rangeOf({}, 1000, SEGMENT), { whole: true })
})

test('If-Range: the range only while the strong ETag or the exact date names the segment', () => {
  const range = 'bytes=0-9'
  assert.deepEqual(rangeOf({ range, 'if-range': '"7-abc"' }, 100, SEGMENT), { start: 0, end: 9 })
  assert.deepEqual(rangeOf({ range, 'if-range': httpDate(T0) }, 100, SEGMENT), { start: 0, end: 9 })
  for (const ifRange of ['"8-abc"', 'W/"7-abc"', httpDate(T0 + 1000), 'garbage']) {
    assert.deepEqual(rangeOf({ range, 'if-range': ifRange }, 100, SEGMENT), { whole: true }, ifRange)
  }
})
