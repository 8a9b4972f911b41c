import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readIcecastConfig } from '../../../lib/config/icecast.js'

const config = (mount: string, paths = '<paths><webroot>/srv/web</webroot></paths>'): string => `<icecast>${paths}
  <relay><server>127.0.0.1</server><port>8000</port><mount>/live</mount></relay>
  <mount><mount-name>/live</mount-name>${mount}</mount></icecast>`

test('<intro> is read from the webroot, as Icecast opens webroot/intro; <dump-file> as the dumpFile pattern', () => {
  const { options, warnings } = readIcecastConfig(config('<intro>/intro.mp3</intro><dump-file>/var/dump/live-%Y%m%d.mp3</dump-file>'))
  assert.equal(options.relays![0]!.intro, '/srv/web/intro.mp3')
  assert.equal(options.relays![0]!.dumpFile, '/var/dump/live-%Y%m%d.mp3')
  assert.deepEqual(warnings, [])
  assert.equal(readIcecastConfig(config('<intro>jingles/intro.ogg</intro>')).options.relays![0]!.intro, '/srv/web/jingles/intro.ogg')
})

test('2.5\'s interpolation="none" keeps the name\'s % as they are; the dump limits are told to be ignored', () => {
  const { options, warnings } = readIcecastConfig(config(
    '<dump-file interpolation="none">/var/dump/100%.mp3</dump-file><dump-file-size-limit>1000</dump-file-size-limit><dump-file-time-limit>60</dump-file-time-limit>'))
  assert.equal(options.relays![0]!.dumpFile, '/var/dump/100%%.mp3')
  assert.equal(warnings.length, 2)
  for (const warning of warnings) assert.match(warning, /dump-file-(size|time)-limit> ignored: Icecast 2.5 stops its dump/)
})

test('an intro without a webroot, or out of it, and a dump file that is relative or of another interpolation are ignored with a reason', () => {
  const { options, warnings } = readIcecastConfig(config(
    '<intro>/intro.mp3</intro><dump-file interpolation="uuid">/var/%u.mp3</dump-file>', ''))
  assert.equal(options.relays![0]!.intro, undefined)
  assert.equal(options.relays![0]!.dumpFile, undefined)
  assert.match(warnings[0]!, /<intro> ignored: .*no absolute one/)
  assert.match(warnings[1]!, /<dump-file> ignored: interpolation="uuid"/)
  assert.match(readIcecastConfig(config('<intro>../etc/passwd</intro>')).warnings[0]!, /outside the webroot/)
  assert.match(readIcecastConfig(config('<dump-file>dump.mp3</dump-file>')).warnings[0]!, /not an absolute path/)
})

test('a dump file name with a conversion the relay does not make fails the config, naming the element', () => {
  assert.throws(() => readIcecastConfig(config('<dump-file>/var/%a.mp3</dump-file>')), /<dump-file>: %a is no conversion/)
})
