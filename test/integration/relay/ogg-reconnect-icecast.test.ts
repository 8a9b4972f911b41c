// Ogg listeners across upstream reconnects, judged by real players: a real Icecast 2 with ezstream sources
// (Vorbis and Opus), the plugin relaying them, and a listener recording through a reconnect to the same
// running source (`relay.restart`) and through a source that restarts with another stream (an encoder
// started anew: another serial). The recording must satisfy ogginfo, ffmpeg and VLC (run as nobody: VLC
// refuses root). A third case keeps the relay away from the same running source for longer than the
// server's burst: the listeners lose pages, and the stream carries on across the hole.
//
// Each source plays one long track and the listener joins at its start, so that what the players report
// is the relay's doing: VLC 3.0 drops the first seconds of an Opus stream joined mid-stream, and ffmpeg 5.1
// reports non-monotonic timestamps at the track changes of a Vorbis stream joined mid-stream, both with
// Icecast's own output alike.
import assert from 'node:assert/strict'
import { createConnection, createServer, type Server } from 'node:net'
import { once } from 'node:events'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { relayApp, waitForState, waitUntil, type RelayApp } from '../../helpers/app.js'
import { runOk } from '../../helpers/procs.js'
import {
  LONG_TAGS, assertTools, makeFixtures, makeTempDir, openListener, runFfmpegDecode, runOgginfo, runVlc, sleep,
  startIcecast, startSource, type Fixtures, type Icecast, type Source
} from '../../helpers/icecast.js'

let icecast: Icecast
let fixtures: Fixtures
let relay: RelayApp
/** the long track encoded anew, as an encoder started again would send it: another serial, another title */
const restarted = { vorbis: '', opus: '' }
const RESTARTED_TITLE = 'Started Again'

before(async () => {
  assertTools('icecast2', 'ezstream', 'ogginfo', 'oggenc', 'opusenc', 'ffmpeg', 'cvlc')
  fixtures = await makeFixtures()
  const wav = join(fixtures.dir, 'long.wav')
  const dir = makeTempDir('restarted')
  restarted.vorbis = join(dir, 'long.ogg')
  restarted.opus = join(dir, 'long.opus')
  await runOk('oggenc', ['-Q', '-q', '3', '--serial', '4242', '-t', RESTARTED_TITLE, '-o', restarted.vorbis, wav])
  await runOk('opusenc', ['--quiet', '--bitrate', '96', '--serial', '4242', '--title', RESTARTED_TITLE, wav, restarted.opus])
  icecast = await startIcecast()
  relay = await relayApp({ relays: [], limits: { gracePeriod: 10 } })
})

after(async () => {
  await relay?.app.close()
  await icecast?.stop()
})

/** Waits until the relay has reconnected `count` times in all and is live again. */
async function reconnected (mount: string, count: number): Promise<void> {
  await waitUntil(() => {
    const status = relay.app.relay.get(mount)!
    return status.reconnects >= count && status.state === 'live'
  }, 12000, `${mount} to reconnect (${count})`)
}

/** A TCP gate to Icecast on loopback: while shut, connections are refused, so the relay's upstream gap lasts as long as we like. */
async function gateTo (target: Icecast): Promise<{ server: Server, port: number, shut: boolean }> {
  const gate = { server: createServer(), port: 0, shut: false }
  gate.server.on('connection', (client) => {
    if (gate.shut) {
      client.destroy()
      return
    }
    const upstream = createConnection({ host: target.host, port: target.port })
    client.pipe(upstream).pipe(client)
    client.on('error', () => upstream.destroy()).on('close', () => upstream.destroy())
    upstream.on('error', () => client.destroy()).on('close', () => client.destroy())
  })
  gate.server.listen(0, '127.0.0.1')
  await once(gate.server, 'listening')
  gate.port = (gate.server.address() as { port: number }).port
  return gate
}

// Each case waits on the players' clocks, not the CPU: two at a time halve the file's time.
describe('Ogg listeners across upstream reconnects', { concurrency: 2 }, () => {
  for (const codec of ['vorbis', 'opus'] as const) {
    test(`${codec}: a listener recording through a reconnect to the same source and a source restart gets a stream ogginfo, ffmpeg and VLC play through`, async (t) => {
      const mount = `/${codec}.ogg`
      let source: Source = await startSource({ icecast, mount, files: [fixtures[codec].long], format: 'ogg' })
      t.after(async () => { await source.stop() })
      relay.app.relay.add({ server: icecast.host, port: icecast.port, mount })
      await waitForState(relay.app, mount, 'live')
      const listener = openListener(relay.url(mount))
      await listener.head
      await sleep(3000)

      // the relay reconnects to the same running source: Icecast sends the same header pages and its burst
      relay.app.relay.restart(mount)
      await reconnected(mount, 1)
      await sleep(3000)

      // the source restarts with another stream: the relay's upstream ends, and it reconnects within the grace period
      await source.stop()
      source = await startSource({ icecast, mount, files: [restarted[codec]], format: 'ogg' })
      await reconnected(mount, 2)
      await sleep(4000)

      const { body, ended } = await listener.close()
      assert.equal(ended, false, 'the listener rode both gaps')

      // every judge first, so that a failure shows what each of them found
      const [info, ffmpeg, vlc] = await Promise.all([runOgginfo(body), runFfmpegDecode(body), runVlc(body)])
      assert.deepEqual({ ogginfo: info.warnings, ffmpeg: ffmpeg.errors, vlc: vlc.problems }, {
        ogginfo: ['WARNING: EOS not set on stream 2'], // the recording ends inside the second stream
        ffmpeg: [],
        vlc: []
      })
      assert.ok(info.ok, info.output)
      // the reconnect to the same source carried the first logical stream on: no new chain, no sequence gap
      assert.deepEqual(info.streams.map((s) => s.comments.find((c) => c.startsWith('title='))), [`title=${LONG_TAGS.title}`, `title=${RESTARTED_TITLE}`], info.output)
      for (const stream of info.streams) assert.equal(stream.type.toLowerCase(), codec)
      assert.ok(vlc.ok, vlc.log.slice(-3000))
      assert.equal(vlc.headers, 2, 'VLC started both chains')
    })
  }

  for (const codec of ['vorbis', 'opus'] as const) {
    test(`${codec}: away from the same running source for longer than its burst, a listener gets the stream carried on across the hole (no second stream under the same serial), which ffmpeg and VLC play through`, async (t) => {
      // a 16 KB burst: one or two seconds of either stream, well within the five-second gap
      const server = await startIcecast({ burstSize: 16384 })
      t.after(async () => { await server.stop() })
      const mount = `/${codec}-hole.ogg`
      const source = await startSource({ icecast: server, mount, files: [fixtures[codec].long], format: 'ogg' })
      t.after(async () => { await source.stop() })
      const gate = await gateTo(server)
      t.after(() => { gate.server.close() })
      relay.app.relay.add({ server: '127.0.0.1', port: gate.port, mount })
      await waitForState(relay.app, mount, 'live')
      const listener = openListener(relay.url(mount))
      await listener.head
      await sleep(3000)

      gate.shut = true
      relay.app.relay.restart(mount)
      await sleep(5000)
      gate.shut = false
      await waitForState(relay.app, mount, 'live', 3000)
      await sleep(3000)

      const { body, ended } = await listener.close()
      assert.equal(ended, false, 'the listener rode the gap')
      const [info, ffmpeg, vlc] = await Promise.all([runOgginfo(body), runFfmpegDecode(body), runVlc(body)])
      assert.equal(info.streams.length, 1, info.output)
      assert.match(info.warnings[0] ?? '', /^WARNING: sequence number gap in stream 1\. Got page \d+ when expecting page \d+\. Indicates missing data\.$/, 'pages were lost in the gap')
      // Icecast's burst to a relay that joins mid-stream may start past the page after the headers (a gap at page
      // 2, which ogginfo reports as the stream's one gap): one discontinuity more, before the hole's own
      const startGap = /when expecting page 2\./.test(info.warnings[0] ?? '')
      const discontinuities = Array(startGap ? 2 : 1).fill('WARNING: discontinuity in stream (1)')
      assert.deepEqual(info.warnings.slice(1), [...discontinuities, 'WARNING: EOS not set on stream 1'], info.output)
      assert.deepEqual(ffmpeg.errors, [])
      // VLC plays on; at the hole its clock jumps, and it drops what came "too late" for it (well under a second)
      const dropped = vlc.problems.filter((line) => /^main audio output warning: buffer too late \(-\d+ us\): dropped$/.test(line))
      assert.deepEqual(vlc.problems.filter((line) => !dropped.includes(line)), [], vlc.log.slice(-3000))
      assert.ok(dropped.length < 60, `${dropped.length} buffers dropped`)
      assert.equal(vlc.exitCode, 0, 'VLC played to the end')
      assert.equal(vlc.headers, 1, 'one logical stream')
    })
  }
})
