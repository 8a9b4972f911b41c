// Self-test of the integration harness (test/helpers/icecast.ts): a real Icecast, real ezstream sources,
// real clients. Everything that listens starts at once so the whole file takes ~12 s.
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import {
  INTEGRATION_TOOLS, TRACK_TAGS, listen, makeFixtures, assertTools, runMpg123, runOgginfo, startIcecast, startSource,
  waitFor, type Fixtures, type Icecast, type ListenResult, type Mpg123Result, type Source
} from '../../helpers/icecast.js'

const TITLES = TRACK_TAGS.map((t) => t.title)

/** `seen` (consecutive repeats dropped) follows `cycle` in order, wrapping around, from any starting point. */
function assertCyclicOrder (seen: string[], cycle: string[]): void {
  const s = seen.filter((t, i) => i === 0 || t !== seen[i - 1])
  for (let i = 1; i < s.length; i++) {
    const prev = cycle.indexOf(s[i - 1])
    assert.notEqual(prev, -1, `unexpected title ${JSON.stringify(s[i - 1])}`)
    assert.equal(s[i], cycle[(prev + 1) % cycle.length], `titles out of order: ${JSON.stringify(s)}`)
  }
}

/** pids of live processes whose command line mentions `needle` */
function processesMentioning (needle: string): number[] {
  const pids: number[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8')
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1]
      if (cmd.includes(needle) && state !== 'Z') pids.push(Number(d))
    } catch {}
  }
  return pids
}

const isAlive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch { return false }
}

assertTools(...INTEGRATION_TOOLS)

describe('integration harness', { timeout: 60_000 }, () => {
  let fx: Fixtures
  let ice: Icecast
  let mp3: Source
  let ogg: Source
  let oggCapture: Promise<ListenResult>
  let rawMp3: Promise<ListenResult>
  let icyMp3: Promise<ListenResult>
  let mpg123Live: Promise<Mpg123Result>

  before(async () => {
    fx = await makeFixtures()
    ice = await startIcecast()
    ;[mp3, ogg] = await Promise.all([
      startSource({ icecast: ice, mount: '/harness.mp3', files: fx.mp3.tracks, format: 'mp3', name: 'Harness MP3', genre: 'Test', bitrate: 128 }),
      startSource({ icecast: ice, mount: '/harness.ogg', files: fx.vorbis.tracks, format: 'ogg', name: 'Harness Ogg' })
    ])
    // everything listens at once, right after the mounts went live (the burst holds the streams' starts)
    oggCapture = listen(ice.url('/harness.ogg'), { ms: 2000 })
    rawMp3 = listen(ice.url('/harness.mp3'), { bytes: 64000 })
    // 3 tracks of ~3.05 s: 9 s from the start of the stream shows all three titles (and the first again when a
    // loaded machine starts the listener late, the source's clock running on meanwhile)
    icyMp3 = listen(ice.url('/harness.mp3'), { icy: true, ms: 9000 })
    mpg123Live = runMpg123(ice.url('/harness.mp3'), { ms: 9000 })
    for (const p of [oggCapture, rawMp3, icyMp3, mpg123Live]) p.catch(() => {})
  })

  after(async () => {
    await Promise.allSettled([mp3?.stop(), ogg?.stop()])
    await ice?.stop()
  })

  test('fixtures are generated with their tags', async () => {
    assert.equal(fx.mp3.tracks.length, 3)
    for (const f of [...fx.mp3.tracks, ...fx.vorbis.tracks, ...fx.opus.tracks, fx.mp3.long, fx.vorbis.long, fx.opus.long]) {
      assert.ok(existsSync(f.file), f.file)
    }
    const d = await runMpg123(fx.mp3.tracks[0].file)
    assert.ok(d.ok, d.stderr)
    assert.deepEqual(d.format && { rate: d.format.rate, bitrate: d.format.bitrate, channels: d.format.channels }, { rate: 44100, bitrate: 'cbr128', channels: 2 })
    assert.match(d.stderr, /Title:\s+Track One/)
    const o = await runOgginfo(fx.opus.tracks[2].file)
    assert.ok(o.ok, o.output)
    assert.equal(o.streams[0].type, 'Opus')
    assert.ok(o.streams[0].comments.includes('title=Café Ünïcode'), o.output)
  })

  test('Icecast starts and lists both mounts', async () => {
    const status = await ice.status()
    assert.match(String(status.icestats.server_id), /^Icecast 2\./)
    const mounts = (await ice.sources()).map((s) => s.mount).sort()
    assert.deepEqual(mounts, ['/harness.mp3', '/harness.ogg'])
  })

  test('a raw listener gets audio/mpeg that mpg123 decodes', async () => {
    const r = await rawMp3
    assert.equal(r.statusLine, 'HTTP/1.0 200 OK')
    assert.equal(r.headers['content-type'], 'audio/mpeg')
    assert.equal(r.headers['icy-name'], 'Harness MP3')
    assert.equal(r.headers['icy-metaint'], undefined)
    assert.equal(r.body.length, 64000)
    const d = await runMpg123(r.body)
    assert.ok(d.ok, `${d.problems.join('\n')}\n${d.stderr}`)
    assert.ok(d.frames >= 140, `decoded only ${d.frames} frames`)
  })

  test('an Icy-MetaData listener sees the playlist titles in order', async () => {
    const r = await icyMp3
    assert.equal(r.headers['icy-metaint'], '16000')
    assert.ok(r.icy, 'demuxed')
    assert.deepEqual(r.icy.titles.slice(0, TITLES.length), TITLES, `titles: ${JSON.stringify(r.icy.titles)}`)
    assertCyclicOrder(r.icy.titles, TITLES)
    // Icecast converts MP3 metadata to ISO-8859-1 for ICY blocks
    const cafe = r.icy.blocks.find((b) => b.text.includes('Café'))
    assert.ok(cafe?.raw.includes(Buffer.from('Café', 'latin1')), 'the ICY block is in ISO-8859-1')
    const d = await runMpg123(r.icy.audio)
    assert.ok(d.ok, d.stderr)
  })

  test('mpg123 on the live URL prints the ICY titles', async () => {
    const m = await mpg123Live
    assert.ok(m.ok, m.stderr)
    assert.equal(m.icyName, 'Harness MP3')
    assert.deepEqual(m.titles.slice(0, TITLES.length), TITLES, m.stderr)
    assertCyclicOrder(m.titles, TITLES)
  })

  test('ogginfo accepts an Ogg capture from the start of the stream', async () => {
    const r = await oggCapture
    assert.equal(r.headers['content-type'], 'application/ogg')
    assert.ok(r.body.length > 4000, `only ${r.body.length} bytes`)
    const o = await runOgginfo(r.body)
    assert.ok(o.ok, o.output)
    assert.equal(o.streams[0].type, 'vorbis')
    assert.ok(o.streams[0].comments.includes('title=Track One'), o.output)
  })

  test('stop() leaves no icecast2 or ezstream process behind', async () => {
    const pids = [ice.pid, mp3.pid, ogg.pid]
    assert.ok(pids.every(isAlive))
    await Promise.all([mp3.stop(), ogg.stop()])
    await ice.waitForMount('/harness.mp3', { gone: true })
    await ice.waitForMount('/harness.ogg', { gone: true })
    const { configFile, dir } = ice
    await ice.stop()
    assert.deepEqual(pids.filter(isAlive), [])
    assert.deepEqual(processesMentioning(configFile), [])
    assert.equal(existsSync(dir), false)
    assert.match(ice.logs(), /Source from 127\.0\.0\.1 at "\/harness\.mp3" exiting/)
    // the watchdogs go with their children
    await waitFor(() => processesMentioning(`harness-watchdog\0${process.pid}\0`).length === 0, { timeoutMs: 2000, message: 'watchdogs to exit' })
  })
})
