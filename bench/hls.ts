// npm run bench:hls [-- --n 2000 --segment 6 --seconds 30]
// What HLS costs the relay beside progressive listening, in one run of one relay process: a real Icecast 2
// master with an ezstream 128 kbit/s MP3 source, the plugin relaying its mount with HLS on (bench/relay-app.ts
// --hls); first N progressive listeners (bench/load.ts, as `npm run bench` measures them), then, once they
// are gone, N HLS sessions polling at hls.js's rate (bench/hls-load.ts). Prints the relay's CPU and memory
// for each and writes them to bench/results/<time>-hls.json.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, release } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { makeFixtures, startIcecast, startSource } from '../test/helpers/icecast.js'
import { httpGet, sleep, spawnTracked, waitFor } from '../test/helpers/procs.js'
import { measure, type Memory } from './measure.js'
import { ensureFileLimit, treeCpuSeconds, treeRssBytes } from './proc.js'
import { MOUNT, startPluginRelay, type RelayUnderTest } from './servers.js'
import { summarize, type Summary } from './stats.js'

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '2000' },
    segment: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '20' },
    settle: { type: 'string', default: '20' },
    ramp: { type: 'string', default: '30' },
    help: { type: 'boolean', default: false }
  }
})
if (args.help) {
  console.log(`npm run bench:hls -- [options]
  --n 2000        progressive listeners, then as many HLS sessions
  --segment 6     HLS segment seconds (the window is the default 6 segments)
  --seconds 30    steady window of each
  --warmup 20     seconds between the last arrival and the window
  --settle 20     seconds the relay idles before its baseline RSS is read
  --ramp 30       seconds over which the HLS sessions start (players arrive; the progressive crowd
                  comes at once, as in npm run bench)`)
  process.exit(0)
}

const n = Number(args.n)
const segmentSeconds = Number(args.segment)
const windowMs = Number(args.seconds) * 1000
const warmupMs = Number(args.warmup) * 1000
const rampSeconds = Number(args.ramp)
const BENCH = fileURLToPath(new URL('.', import.meta.url))
const RESULTS = fileURLToPath(new URL('results/', import.meta.url))

interface HlsLoadSummary {
  sessions: number
  bytes: number
  segments: number
  playlistRequests: number
  segmentRequests: number
  errors: number
  firstErrors: string[]
  missed: number
  stalls: number
  sessionsWithoutSegments: number
}

interface HlsFigures {
  cpu: number
  rss: Summary
  memory: Memory | undefined
  load: HlsLoadSummary
  /** the load process's CPU seconds per second: near 1.0, the load and not the relay would limit */
  loadCpu: number
  requestsPerSecond: number
}

/** N HLS sessions of bench/hls-load.ts on `playlist`; the relay's CPU and RSS over the steady window. */
async function measureHls (relay: RelayUnderTest, playlist: string): Promise<HlsFigures> {
  const seconds = rampSeconds + (warmupMs + windowMs) / 1000 + 2
  const load = spawnTracked(process.execPath, ['--import', 'tsx', BENCH + 'hls-load.ts', '--url', playlist,
    '--sessions', String(n), '--seconds', String(seconds), '--ramp', String(rampSeconds)], { keepAlive: true })
  await sleep(rampSeconds * 1000 + warmupMs)
  const cpuBefore = treeCpuSeconds(relay.pid)
  const loadBefore = treeCpuSeconds(load.pid)
  const start = performance.now()
  const readings: number[] = []
  while (performance.now() - start < windowMs) {
    readings.push(treeRssBytes(relay.pid))
    await sleep(1000)
  }
  const elapsed = (performance.now() - start) / 1000
  const cpu = (treeCpuSeconds(relay.pid) - cpuBefore) / elapsed
  const loadCpu = (treeCpuSeconds(load.pid) - loadBefore) / elapsed
  const memory = await relay.ask?.<{ type: 'memory' } & Memory>({ type: 'memory' })
  const exit = await load.exited
  if (exit.code !== 0) throw new Error(`hls-load exited (${exit.code ?? exit.signal})\n${load.output()}`)
  const summary = JSON.parse(load.output().trim().split('\n').at(-1)!) as HlsLoadSummary
  return {
    cpu,
    rss: summarize(readings),
    memory: memory === undefined ? undefined : { before: memory.before, spaces: memory.spaces, after: memory.after },
    load: summary,
    loadCpu,
    requestsPerSecond: (summary.playlistRequests + summary.segmentRequests) / seconds
  }
}

const mb = (bytes: number): string => (bytes / 1048576).toFixed(1)

ensureFileLimit(2 * n + 1024)
const fixtures = await makeFixtures()
const master = await startIcecast({ clients: n + 100, logLevel: 2 })
const source = await startSource({ icecast: master, mount: MOUNT, files: [fixtures.mp3.long], format: 'mp3', bitrate: 128 })
const relay = await startPluginRelay(master.url(MOUNT), { hlsSegmentSeconds: segmentSeconds })
try {
  const playlist = `${relay.url}/index.m3u8`
  // HLS cuts its first segments while the relay settles: its memory is in the idle baseline
  await waitFor(async () => (await httpGet(playlist)).status === 200, { timeoutMs: 30000, intervalMs: 500, message: 'the relay\'s HLS' })
  console.error(`progressive: ${n} listeners`)
  const progressive = await measure([relay], [{ label: 'progressive', url: relay.url, n, icy: false }], {
    reference: master.url(MOUNT), samples: 20, admissionTimeoutMs: 60000, warmupMs, windowMs, settleMs: Number(args.settle) * 1000
  })
  console.error(`hls: ${n} sessions over ${rampSeconds} s`)
  const hls = await measureHls(relay, playlist)
  const p = progressive.relays[0]!
  const rows = [
    ['', 'CPU (of a core)', 'RSS p50', 'over idle, per listener', 'heap after GC', 'load CPU', 'problems'],
    ['idle', '', `${mb(p.idleRssBytes)} MB`, '', p.idleMemory === undefined ? '' : `${mb(p.idleMemory.after.heapUsed)} MB`, '', ''],
    [`${n} progressive`, `${(p.cpu * 100).toFixed(1)} %`, `${mb(p.rssBytes)} MB`, `${((p.rssBytes - p.idleRssBytes) / n / 1024).toFixed(1)} KiB`,
      p.memory === undefined ? '' : `${mb(p.memory.after.heapUsed)} MB`, `${(progressive.loadCpu * 100).toFixed(0)} %`,
      `${progressive.window[0]!.starved} starved, ${progressive.window[0]!.dropped} dropped`],
    [`${n} HLS sessions`, `${(hls.cpu * 100).toFixed(1)} %`, `${mb(hls.rss.p50)} MB`, `${((hls.rss.p50 - p.idleRssBytes) / n / 1024).toFixed(1)} KiB`,
      hls.memory === undefined ? '' : `${mb(hls.memory.after.heapUsed)} MB`, `${(hls.loadCpu * 100).toFixed(0)} %`,
      `${hls.load.errors} errors, ${hls.load.missed} missed, ${hls.load.stalls} stalls; ${hls.requestsPerSecond.toFixed(0)} requests/s`]
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  console.log(`HLS (${segmentSeconds} s segments) against progressive, ${n} each, one relay process; Node ${process.version}, ${cpus().length} cores, Linux ${release()}`)
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd())
  if (hls.load.firstErrors.length > 0) console.log(`first HLS errors: ${hls.load.firstErrors.join('; ')}`)
  mkdirSync(RESULTS, { recursive: true })
  const file = `${RESULTS}${new Date().toISOString().replace(/[:.]/g, '-')}-hls-${n}.json`
  writeFileSync(file, JSON.stringify({ n, segmentSeconds, windowMs, warmupMs, rampSeconds, progressive, hls }, null, 2) + '\n')
  console.log(`results: ${file}`)
} finally {
  await relay.stop()
  await source.stop()
  await master.stop()
}
