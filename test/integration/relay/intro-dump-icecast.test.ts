// `<intro>` and `<dump-file>` from an Icecast XML config, relaying a real Icecast 2 mount fed by ezstream: the
// listener's first bytes are the intro's whole frames, then the live stream, and mpg123 decodes it all; the
// dump files (rotated by size and by time) each decode alone and, in order, are one contiguous run that holds
// what a listener got meanwhile.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { copyFileSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { relayApp, waitForState, type RelayApp } from '../../helpers/app.js'
import {
  assertTools, demuxIcy, makeFixtures, makeTempDir, openListener, runMpg123, sleep, startIcecast, startSource,
  type Fixtures, type Icecast, type Source
} from '../../helpers/icecast.js'
import { readIcecastConfig } from '../../../lib/config/icecast.js'
import { clipOf, type Clip } from '../../../lib/formats/clip.js'

let fixtures: Fixtures
let icecast: Icecast
let source: Source
let relay: RelayApp | undefined
let web: string
let dumps: string

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123', 'ffprobe', 'sox', 'lame')
  fixtures = await makeFixtures()
  icecast = await startIcecast()
  source = await startSource({ icecast, mount: '/main.mp3', files: [fixtures.mp3.long], format: 'mp3' })
  web = makeTempDir('web')
  dumps = makeTempDir('dumps')
  copyFileSync(fixtures.mp3.tracks[0]!.file, join(web, 'intro.mp3'))
})

after(async () => {
  await relay?.app.close()
  await source?.stop()
  await icecast?.stop()
})

/** Files of one dump, oldest first (by the time in the name, then its sequence number). */
function dumpFiles (prefix: string): string[] {
  const key = (name: string): string => {
    const match = /-(\d{14})(?:-(\d+))?\.mp3$/.exec(name)!
    return `${match[1]!}-${(match[2] ?? '0').padStart(4, '0')}`
  }
  return readdirSync(dumps).filter((name) => name.startsWith(prefix)).sort((a, b) => key(a).localeCompare(key(b))).map((name) => join(dumps, name))
}

function ffprobeFrames (file: string): number {
  const out = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'a:0', '-show_entries', 'stream=codec_name,nb_read_frames', '-of', 'csv=p=0', file]).toString().trim()
  const [codec, frames] = out.split(',')
  assert.equal(codec, 'mp3')
  return Number(frames)
}

test('intro and dump files from an Icecast config: the intro first, then the stream; dumps rotated by size and time, each playable, together contiguous', async () => {
  const upstream = `<server>${icecast.host}</server><port>${icecast.port}</port><mount>/main.mp3</mount>`
  const { options, warnings } = readIcecastConfig(`<icecast>
    <paths><webroot>${web}</webroot></paths>
    <relay>${upstream}<local-mount>/size.mp3</local-mount></relay>
    <relay>${upstream}<local-mount>/time.mp3</local-mount></relay>
    <mount><mount-name>/size.mp3</mount-name><intro>/intro.mp3</intro><dump-file>${dumps}/size-%Y%m%d%H%M%S.mp3</dump-file></mount>
    <mount><mount-name>/time.mp3</mount-name><dump-file>${dumps}/time-%Y%m%d%H%M%S.mp3</dump-file></mount>
  </icecast>`)
  assert.deepEqual(warnings, [])
  const [size, time] = options.relays!
  assert.equal(size!.intro, join(web, 'intro.mp3'))
  // rotation is the relay's own (Icecast 2.5's limits stop a dump instead): set beside the config
  size!.dumpFile = { path: size!.dumpFile as string, rotateBytes: 65536 }
  time!.dumpFile = { path: time!.dumpFile as string, rotateSeconds: 2 }
  relay = await relayApp(options)
  const { app, url } = relay
  await Promise.all([waitForState(app, '/size.mp3', 'live'), waitForState(app, '/time.mp3', 'live')])
  await sleep(1500)

  const clip = clipOf(readFileSync(join(web, 'intro.mp3'))) as Clip
  assert.equal(clip.container, 'mpeg')
  const plain = openListener(url('/size.mp3'))
  const icy = openListener(url('/size.mp3'), { icy: true })
  const playing = runMpg123(url('/size.mp3'), { ms: 6000 })
  await sleep(6000)
  const [heard, icyHeard, played] = await Promise.all([plain.close(), icy.close(), playing])
  await sleep(500)
  await relay.app.close()
  relay = undefined

  assert.ok(heard.body.subarray(0, clip.bytes.length).equals(clip.bytes), 'the listener\'s first bytes are the intro\'s whole frames')
  assert.ok(readFileSync(join(web, 'intro.mp3')).includes(clip.bytes), 'as they are in the file')
  const metaint = Number(icyHeard.headers['icy-metaint'])
  assert.ok(demuxIcy(icyHeard.body, metaint).audio.subarray(0, clip.bytes.length).equals(clip.bytes), 'an ICY listener too, framed as audio')
  assert.ok(played.ok, `mpg123 decodes the intro and the stream after it: ${played.problems.join('; ')}`)
  assert.ok(played.seconds > 5, `mpg123 decoded ${played.seconds} s`)
  const whole = await runMpg123(heard.body)
  assert.ok(whole.ok, `what the listener got decodes: ${whole.problems.join('; ')}`)

  for (const [prefix, least] of [['size-', 2], ['time-', 3]] as const) {
    const files = dumpFiles(prefix)
    assert.ok(files.length >= least, `${prefix}: ${files.length} files`)
    for (const file of files) {
      const bytes = readFileSync(file)
      assert.deepEqual([bytes[0], bytes[1]! & 0xe0], [0xff, 0xe0], `${file} starts on a frame`)
      if (prefix === 'size-') assert.ok(bytes.length <= 65536, `${file}: ${bytes.length} bytes`)
      assert.ok(ffprobeFrames(file) > 0, `ffprobe reads ${file}`)
      const decoded = await runMpg123(file)
      assert.ok(decoded.ok, `${file} decodes alone: ${decoded.problems.join('; ')}`)
    }
    const joined = Buffer.concat(files.map((file) => readFileSync(file)))
    const decoded = await runMpg123(joined)
    assert.ok(decoded.ok && decoded.seconds > 6, `${prefix} files in order are one stream: ${decoded.seconds} s, ${decoded.problems.join('; ')}`)
    const stream = heard.body.subarray(clip.bytes.length)
    assert.ok(joined.includes(stream.subarray(0, stream.length - 4096)), `${prefix}: what a listener got of the stream is a run of the dump`)
  }
})
