import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isLocalMount } from '../../../lib/options.js'
import { formatStreamlist, parseStreamlist } from '../../../lib/master/streamlist.js'

const MASTER = new URL('http://master.example:8000/')

const mountArb = fc.array(fc.oneof(
  fc.stringMatching(/^[a-z0-9._-]{1,12}$/),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 })
), { minLength: 1, maxLength: 3 }).map((segments) => '/' + segments.join('/')).filter(isLocalMount)

const mountsArb = fc.uniqueArray(mountArb, { maxLength: 8 })

test('Icecast\'s list: one mount a line, \\r\\n, each on the master under its own name', () => {
  const { entries, ignored } = parseStreamlist('/live.mp3\r\n/jazz/late.ogg\r\n', MASTER)
  assert.equal(ignored, 0)
  assert.deepEqual(entries.map((e) => [e.localMount, e.upstream.href]), [
    ['/live.mp3', 'http://master.example:8000/live.mp3'],
    ['/jazz/late.ogg', 'http://master.example:8000/jazz/late.ogg']
  ])
})

test('absolute URL lines keep their server; credentials and fragments in them are dropped', () => {
  const { entries } = parseStreamlist('http://other:9000/a.mp3\nHTTPS://u:p@secure.example/b?x=1#f\n', MASTER)
  assert.deepEqual(entries.map((e) => [e.localMount, e.upstream.href]), [
    ['/a.mp3', 'http://other:9000/a.mp3'],
    ['/b', 'https://secure.example/b?x=1']
  ])
})

test('garbage lines are ignored and counted; blank lines are not counted; repeats count as ignored', () => {
  const text = [
    '', '   ', '/ok', 'no-slash', 'ftp://h/x', 'http://', '/a/../b', '/bad%zz', '/q%3Fx', '/x'.repeat(1100),
    'http://h:1/has space', '/nul\u0000', '/bad-utf8-\uFFFD', '/ok', ' /trimmed \t', '//evil.example/x'
  ].join('\r\n')
  const { entries, ignored } = parseStreamlist(text, MASTER)
  assert.deepEqual(entries.map((e) => e.localMount), ['/ok', '/trimmed', '//evil.example/x'])
  assert.equal(entries[2]!.upstream.host, 'master.example:8000', 'a line starting // is a path on the master')
  assert.equal(ignored, 11)
})

test('property: format then parse gives back the mounts, in order, with \\r\\n or \\n endings', () => {
  fc.assert(fc.property(mountsArb, fc.boolean(), (mounts, bareNewlines) => {
    let text = formatStreamlist(mounts)
    if (bareNewlines) text = text.replaceAll('\r\n', '\n')
    const { entries, ignored } = parseStreamlist(text, MASTER)
    assert.deepEqual(entries.map((e) => e.localMount), mounts)
    assert.equal(ignored, 0)
    for (const entry of entries) assert.equal(entry.upstream.origin, MASTER.origin)
  }))
})

test('property: every parsed mount is a valid local mount, and entries + ignored never exceed the non-blank lines', () => {
  const lineArb = fc.oneof(mountArb, fc.string({ maxLength: 40 }), fc.constant(''), fc.webUrl().map((u) => u))
  fc.assert(fc.property(fc.array(lineArb, { maxLength: 20 }), fc.constantFrom('\r\n', '\n'), (lines, eol) => {
    const { entries, ignored } = parseStreamlist(lines.join(eol), MASTER)
    const nonBlank = lines.flatMap((l) => l.split(/\r?\n/)).filter((l) => l.trim() !== '').length
    assert.equal(entries.length + ignored, nonBlank)
    assert.equal(new Set(entries.map((e) => e.localMount)).size, entries.length)
    for (const entry of entries) assert.ok(isLocalMount(entry.localMount), entry.localMount)
  }))
})

test('past maxEntries mounts the lines are only counted, whatever they hold', () => {
  const { entries, ignored, unread } = parseStreamlist('/a\r\ngarbage\r\n/a\r\n/b\r\n/c\r\n\r\nmore garbage\r\n/d\r\n', MASTER, 2)
  assert.deepEqual(entries.map((e) => e.localMount), ['/a', '/b'])
  assert.equal(ignored, 2)
  assert.equal(unread, 3)
  assert.equal(parseStreamlist('/a\n/b\n', MASTER, 2).unread, 0)
})
