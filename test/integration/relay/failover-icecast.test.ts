// Failover between two real Icecast 2 servers, main and backup, each fed by ezstream with audio of its own
// (the main plays a tone, the backup other tones), and the plugin relaying the main with the backup behind
// it. A listener records through the main's source going away (the switch to the backup), the source
// coming back (the failback), and through the main server killed outright; real players judge the
// recording, and the MP3 recording is compared with what each server sent its own listeners.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { relayApp, waitUntil, waitForState, type RelayApp } from '../../helpers/app.js'
import {
  assertTools, makeFixtures, openListener, runMpg123, runOgginfo, startIcecast, startSource,
  type Fixtures, type Icecast, type OpenListener, type Source
} from '../../helpers/icecast.js'

let fixtures: Fixtures
let main: Icecast
let backup: Icecast
const running: Source[] = []

before(async () => {
  assertTools('icecast2', 'ezstream', 'mpg123', 'ogginfo')
  fixtures = await makeFixtures()
  ;[main, backup] = await Promise.all([startIcecast(), startIcecast()])
})

after(async () => {
  await Promise.all(running.map(async (source) => await source.stop()))
  await Promise.all([main?.stop(), backup?.stop()])
})

async function source (icecast: Icecast, mount: string, format: 'mp3' | 'ogg', files: string[]): Promise<Source> {
  const started = await startSource({ icecast, mount, files, format })
  running.push(started)
  return started
}

/** A relay of `mount` on the main server with the backup's `mount` behind it (kept connected with `standby`), quick to fail back. */
async function failoverRelay (mount: string, standby = false): Promise<RelayApp> {
  const relay = await relayApp({
    relays: [{ localMount: mount, upstreams: [{ url: main.url(mount) }, { url: backup.url(mount) }], standby }],
    limits: { gracePeriod: 10, maxBackoff: 1, burstSize: 16384 }
  })
  await waitForState(relay.app, mount, 'live')
  return relay
}

async function switchedTo (relay: RelayApp, mount: string, index: number, switches: number): Promise<void> {
  await waitUntil(() => {
    const status = relay.app.relay.get(mount)!
    return status.activeUpstream === index && status.switches >= switches && status.state === 'live'
  }, 15000, `${mount} to play upstream ${index}`)
}

/** Waits for `seconds` more of a listener's audio at about `bytesPerSecond`. */
async function more (listener: OpenListener, seconds: number, bytesPerSecond: number): Promise<void> {
  await listener.waitForBytes(listener.received().length + seconds * bytesPerSecond, (seconds + 10) * 1000)
}

/**
 * A listener of the relay through a failover and a failback: it plays the main a while, `kill` takes the
 * main away, the backup plays a while, `restart` brings the main back, the relay fails back, and it plays
 * on a while. Resolves with what the listener got, and whether the relay ever ended it.
 */
async function listenThrough (
  relay: RelayApp, mount: string, bytesPerSecond: number, kill: () => Promise<unknown>, restart: () => Promise<unknown>
): Promise<{ body: Buffer, ended: boolean }> {
  const listener = openListener(relay.url(mount))
  await listener.head
  await more(listener, 2, bytesPerSecond)
  await kill()
  await switchedTo(relay, mount, 1, 1)
  await more(listener, 2, bytesPerSecond)
  await restart()
  await switchedTo(relay, mount, 0, 2)
  await more(listener, 2, bytesPerSecond)
  return await listener.close()
}

interface Run {
  source: number
  length: number
  /** whether the run goes on to its recording's last byte: then the stream may go on in a later recording */
  toEnd: boolean
}

/**
 * What a listener got, as runs of the recordings' bytes: each run a contiguous piece of one recording.
 * Where two sources share a few bytes (MP3 frame headers), a run may take some of the next one's: the
 * next run is then found a few bytes earlier, and the previous one cut there.
 */
function runsOf (got: Buffer, recordings: Buffer[]): Run[] {
  const runs: Run[] = []
  let at = 0
  while (at < got.length) {
    let found: { source: number, start: number, back: number } | undefined
    for (let back = 0; back <= 8 && found === undefined && back <= at; back++) {
      const piece = got.subarray(at - back, at - back + 256)
      const index = recordings.findIndex((bytes) => bytes.includes(piece))
      if (index >= 0) found = { source: index, start: recordings[index]!.indexOf(piece), back }
    }
    assert.ok(found !== undefined, `the ${got.length - at} bytes from ${at} on are in no recording`)
    if (found.back > 0) runs.at(-1)!.length -= found.back
    at -= found.back
    const bytes = recordings[found.source]!
    let length = 0
    while (at + length < got.length && found.start + length < bytes.length && got[at + length] === bytes[found.start + length]) length++
    runs.push({ source: found.source, length, toEnd: found.start + length === bytes.length })
    at += length
  }
  return runs
}

/**
 * The runs with the main's two recordings taken as one: the restarted main plays the same file from its start,
 * so its first bytes are also in the first recording, and a run of it found there goes on in the second
 * once the first recording ends.
 */
function mainRuns (runs: Run[]): Run[] {
  const merged: Run[] = []
  for (const run of runs) {
    const last = merged.at(-1)
    if (last !== undefined && last.toEnd && last.source !== 1 && run.source !== 1 && run.source !== last.source) {
      merged[merged.length - 1] = { ...run, length: last.length + run.length }
    } else merged.push(run)
  }
  return merged
}

test('MP3: main source killed, backup plays at once, main back, failback; one listener throughout, decodable, runs of A, B, A', async () => {
  const mount = '/fo.mp3'
  let mainSource = await source(main, mount, 'mp3', [fixtures.mp3.long.file])
  await source(backup, mount, 'mp3', fixtures.mp3.tracks.map((track) => track.file))
  // each server's own listener records what it sends, to compare the relay's output with
  const recordings = [openListener(main.url(mount)), openListener(backup.url(mount))]
  await Promise.all(recordings.map(async (listener) => await listener.head))
  const relay = await failoverRelay(mount)
  try {
    const got = await listenThrough(relay, mount, 16000, async () => await mainSource.stop(), async () => {
      mainSource = await source(main, mount, 'mp3', [fixtures.mp3.long.file])
      const again = openListener(main.url(mount))
      await again.head
      recordings.push(again)
    })
    assert.equal(got.ended, false, 'the listener was never disconnected')
    const sent = await Promise.all(recordings.map(async (recording) => (await recording.close()).body))
    const runs = runsOf(got.body, sent)
    // the main's two recordings hold the same file: either may hold a run of the main
    const named = mainRuns(runs).map((run) => (run.source === 1 ? 'B' : 'A'))
    assert.deepEqual(named, ['A', 'B', 'A'], `runs ${JSON.stringify(runs)}`)
    const decoded = await runMpg123(got.body, { icy: false })
    assert.ok(decoded.ok, decoded.problems.join('\n') + decoded.stderr)
    assert.ok(decoded.seconds > 5, `decoded ${decoded.seconds} s`)
    assert.deepEqual(relay.app.relay.get(mount)!.upstreams.map((u) => u.state), ['active', 'idle'])
  } finally {
    await relay.app.close()
  }
})

test('Ogg Vorbis: through a failover and a failback the listener gets new chains, headers first, that ogginfo reads', async () => {
  const mount = '/fo.ogg'
  let mainSource = await source(main, mount, 'ogg', [fixtures.vorbis.long.file])
  await source(backup, mount, 'ogg', fixtures.vorbis.tracks.map((track) => track.file))
  const relay = await failoverRelay(mount)
  try {
    const got = await listenThrough(relay, mount, 8000, async () => await mainSource.stop(), async () => {
      mainSource = await source(main, mount, 'ogg', [fixtures.vorbis.long.file])
    })
    assert.equal(got.ended, false, 'the listener was never disconnected')
    const info = await runOgginfo(got.body)
    assert.ok(info.ok, info.output)
    assert.ok(info.streams.length >= 3, `a chain per upstream played: ${info.streams.length}`)
    assert.ok(info.streams.every((stream) => stream.type === 'vorbis'))
  } finally {
    await relay.app.close()
  }
})

test('the main server killed outright: the backup takes over, and the relay fails back once the main runs again', async () => {
  const mount = '/killed.mp3'
  await source(main, mount, 'mp3', [fixtures.mp3.long.file])
  await source(backup, mount, 'mp3', fixtures.mp3.tracks.map((track) => track.file))
  const relay = await failoverRelay(mount)
  try {
    const port = main.port
    const got = await listenThrough(relay, mount, 16000, async () => await main.stop({ signal: 'SIGKILL' }), async () => {
      main = await startIcecast({ port })
      await source(main, mount, 'mp3', [fixtures.mp3.long.file])
    })
    assert.equal(got.ended, false, 'the listener was never disconnected')
    const decoded = await runMpg123(got.body, { icy: false })
    assert.ok(decoded.ok, decoded.problems.join('\n') + decoded.stderr)
    assert.ok(decoded.seconds > 4, `decoded ${decoded.seconds} s`)
  } finally {
    await relay.app.close()
  }
})

test('standby: the backup, connected while the main plays, takes over with no new connection; runs of A then B, decodable', async () => {
  const mount = '/standby.mp3'
  const mainSource = await source(main, mount, 'mp3', [fixtures.mp3.long.file])
  await source(backup, mount, 'mp3', fixtures.mp3.tracks.map((track) => track.file))
  const recordings = [openListener(main.url(mount)), openListener(backup.url(mount))]
  await Promise.all(recordings.map(async (listener) => await listener.head))
  const relay = await failoverRelay(mount, true)
  // the backup's clients on the mount, by Icecast's connection ids
  const backupClients = async (): Promise<string[]> =>
    [...(await backup.admin(`/admin/listclients?mount=${mount}`)).body.toString().matchAll(/<ID>(\d+)<\/ID>/g)].map((m) => m[1]!)
  try {
    await waitUntil(() => relay.app.relay.get(mount)!.upstreams[1]!.state === 'standby', 10000, 'the standby')
    const before = await backupClients()
    assert.equal(before.length, 2, 'the backup serves its recording and the relay\'s standby')
    const listener = openListener(relay.url(mount))
    await listener.head
    await more(listener, 2, 16000)
    await mainSource.stop()
    await switchedTo(relay, mount, 1, 1)
    await more(listener, 2, 16000)
    assert.deepEqual(await backupClients(), before, 'no new connection to the backup: its standby took over')
    const got = await listener.close()
    assert.equal(got.ended, false, 'the listener was never disconnected')
    const sent = await Promise.all(recordings.map(async (recording) => (await recording.close()).body))
    assert.deepEqual(runsOf(got.body, sent).map((run) => run.source), [0, 1], 'a run of A, then a run of B')
    const decoded = await runMpg123(got.body, { icy: false })
    assert.ok(decoded.ok, decoded.problems.join('\n') + decoded.stderr)
  } finally {
    await relay.app.close()
  }
})
