// <logging>: Icecast's <loglevel> as the CLI logger's level; its log files are listed as ignored.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { readIcecastConfig } from '../../../lib/config/icecast.js'

const LEVELS: Array<[string, string]> = [
  ['1', 'error'], ['2', 'warn'], ['3', 'info'], ['4', 'debug'],
  // Icecast 2.5's and icecast-kh's names
  ['error', 'error'], ['EROR', 'error'], ['Warn', 'warn'], ['warning', 'warn'],
  ['INFO', 'info'], ['information', 'info'], ['debug', 'debug'], ['DBUG', 'debug']
]

test('<loglevel>: Icecast\'s 1 to 4 and the names 2.5 and kh take, as the logger\'s level', () => {
  for (const [text, level] of LEVELS) {
    assert.equal(readIcecastConfig(`<logging><loglevel>${text}</loglevel></logging>`).logLevel, level, text)
  }
})

test('no <loglevel>: no level from the config (the CLI takes Icecast\'s default, info)', () => {
  assert.equal(readIcecastConfig('<icecast/>').logLevel, undefined)
  assert.equal(readIcecastConfig('<logging><errorlog>error.log</errorlog></logging>').logLevel, undefined)
})

test('<logging>: the log files are listed as ignored with the reason, without a warning', () => {
  const config = readIcecastConfig(`<logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog>
    <playlistlog>playlist.log</playlistlog><loglevel>2</loglevel><logsize>10000</logsize><logarchive>1</logarchive></logging>`)
  assert.equal(config.logLevel, 'warn')
  assert.deepEqual(config.warnings, [])
  assert.deepEqual(config.ignored, [
    '<logging> <accesslog> ignored: no access log file: every request is logged on stdout at <loglevel> 4 (debug)',
    '<logging> <errorlog> ignored: the CLI logs to stdout with Fastify\'s logger',
    '<logging> <playlistlog> ignored: the CLI logs to stdout with Fastify\'s logger',
    '<logging> <logsize> ignored: the CLI logs to stdout with Fastify\'s logger',
    '<logging> <logarchive> ignored: the CLI logs to stdout with Fastify\'s logger'
  ])
  assert.deepEqual(readIcecastConfig('<logging><colour>red</colour></logging>').warnings,
    ['<logging> <colour> ignored: not an element this relay knows'])
})

test('any other <loglevel> is an error that names the element; the last <logging> with a level wins', () => {
  const known = new Set(LEVELS.map(([text]) => text.toLowerCase()))
  fc.assert(fc.property(fc.string({ maxLength: 12 }).filter((text) => !known.has(text.trim().toLowerCase()) && !/[<&]/.test(text)), (text) => {
    assert.throws(() => readIcecastConfig(`<logging><loglevel>${text}</loglevel></logging>`), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FST_ICECAST_RELAY_INVALID_CONFIG')
      assert.match(error.message, /^<logging> <loglevel>: ".*" is not a log level: 1 \(error\), 2 \(warn\), 3 \(info\) or 4 \(debug\)$/s)
      return true
    })
  }))
  for (const text of ['0', '5', '-1', '3.0', '', 'verbose']) {
    assert.throws(() => readIcecastConfig(`<logging><loglevel>${text}</loglevel></logging>`), /is not a log level/, text)
  }
  assert.equal(readIcecastConfig('<logging><loglevel>4</loglevel></logging><logging><accesslog>a</accesslog></logging>').logLevel, 'debug')
})
