import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { expandName, unknownConversion, withSequence } from '../../../lib/archive/name.js'
import { rotationCut } from '../../../lib/archive/rotation.js'

const dates = fc.date({ min: new Date(1971, 0, 1), max: new Date(2999, 11, 31), noInvalidDate: true })

test('a name\'s conversions are the date and time in local time, as strftime makes them', () => {
  const date = new Date(2025, 1, 3, 4, 5, 6)
  assert.equal(expandName('/srv/%Y/%m/%d/live-%H%M%S.mp3', date), '/srv/2025/02/03/live-040506.mp3')
  assert.equal(expandName('/srv/%F_%T-%y-%j-%%.mp3', date), '/srv/2025-02-03_04:05:06-25-034-%.mp3')
  assert.equal(expandName('/srv/%s.mp3', date), `/srv/${Math.floor(date.getTime() / 1000)}.mp3`)
  fc.assert(fc.property(dates, (d) => {
    const [y, m, day, h, min, s] = expandName('%Y %m %d %H %M %S', d).split(' ').map(Number)
    assert.deepEqual([y, m, day, h, min, s], [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()])
    assert.equal(Number(expandName('%j', d)), Math.round((new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime() - new Date(d.getFullYear(), 0, 1).getTime()) / 86_400_000) + 1)
  }))
})

test('a conversion a name may not hold is found; text without % is the name itself', () => {
  assert.equal(unknownConversion('/srv/%Y-%q.mp3'), '%q')
  assert.equal(unknownConversion('/srv/%D.mp3'), '%D', '%D would make a slash')
  assert.equal(unknownConversion('/srv/100%'), '%')
  assert.equal(unknownConversion('/srv/%%q-%Y.mp3'), undefined, '%% is a percent sign')
  fc.assert(fc.property(fc.string().filter((s) => !s.includes('%')), dates, (name, date) => {
    assert.equal(unknownConversion(name), undefined)
    assert.equal(expandName(name, date), name)
  }))
})

test('a name taken gets a sequence number before the extension of its last segment', () => {
  assert.equal(withSequence('/srv/live.mp3', 0), '/srv/live.mp3')
  assert.equal(withSequence('/srv/live.mp3', 2), '/srv/live-2.mp3')
  assert.equal(withSequence('/srv/a.b/live', 1), '/srv/a.b/live-1')
  assert.equal(withSequence('/srv/.hidden', 1), '/srv/.hidden-1')
  fc.assert(fc.property(fc.stringMatching(/^(\/[a-z.]{1,8}){1,3}$/), fc.integer({ min: 1, max: 999 }), (name, n) => {
    const next = withSequence(name, n)
    assert.notEqual(next, name)
    assert.equal(next.replace(`-${n}`, ''), name, 'the name with the number taken out')
    assert.equal(next.slice(0, next.lastIndexOf('/')), name.slice(0, name.lastIndexOf('/')), 'in the same directory')
  }))
})

test('rotation: at the chunk\'s place to start once the file would pass rotateBytes or is rotateSeconds old; never an empty file', () => {
  const file = { bytes: 1000, openedAt: 0 }
  assert.equal(rotationCut({ rotateBytes: 1500 }, file, 0, 400, 100), undefined, 'room left')
  assert.equal(rotationCut({ rotateBytes: 1500 }, file, 0, 600, 100), 100, 'cut at the frame start')
  assert.equal(rotationCut({ rotateBytes: 1500 }, file, 0, 600, undefined), undefined, 'no place to start: written on')
  assert.equal(rotationCut({ rotateSeconds: 2 }, file, 1999, 10, 0), undefined)
  assert.equal(rotationCut({ rotateSeconds: 2 }, file, 2000, 10, 0), 0)
  assert.equal(rotationCut({}, file, 1e12, 1e9, 0), undefined, 'no rule: one file')
  assert.equal(rotationCut({ rotateBytes: 16384 }, { bytes: 0, openedAt: 0 }, 0, 1e6, 0), undefined, 'a file gets at least one chunk')
  const rule = fc.record({ rotateBytes: fc.option(fc.integer({ min: 1, max: 1e6 }), { nil: undefined }), rotateSeconds: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }) })
  fc.assert(fc.property(rule, fc.nat(1e6), fc.nat(2e5), fc.integer({ min: 1, max: 1e5 }), fc.option(fc.nat(1e5), { nil: undefined }), (r, bytes, now, length, start) => {
    const cut = rotationCut(r, { bytes, openedAt: 0 }, now, length, start)
    if (cut === undefined) return
    assert.equal(cut, start, 'only at the place to start')
    assert.ok(bytes + cut > 0, 'the file ends with something in it')
    assert.ok((r.rotateBytes !== undefined && bytes + length > r.rotateBytes) || (r.rotateSeconds !== undefined && now >= r.rotateSeconds * 1000))
  }))
})
