// Relays side by side in one run, as operators run them: Debian's Icecast 2.4.4 and icecast-kh as slaves
// of the same master mount, and the plugin through its CLI (`icecast-relay --config icecast.xml`, one
// process or `--workers N`), each in turn under the same loads of plain, ICY or HTTPS listeners.
// bench/workers.ts (issue 18) and bench/peers.ts (issue 20) are this with their own defaults; `--help`
// lists the flags. Nothing is written unless `--save` is given: only the runs the docs cite are kept.
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { Icecast } from '../test/helpers/icecast.js'
import { comparisonTables, crowdLine, parseLoads, type ComparisonRun, type LoadMode } from './compare-report.js'
import { measure } from './measure.js'
import { ensureFileLimit } from './proc.js'
import { MEASURE_FLAGS, measureOptionsOf, resultsFile, startMaster, versions } from './setup.js'
import { benchCertificate, listenersByProcess, MOUNT, startCliRelay, startFloorRelay, startIcecastRelay, startKhRelay, upstreamConnections, type RelayUnderTest } from './servers.js'

export interface Preset {
  /** how the script is run, for --help: `npm run bench:workers` */
  command: string
  /** what the defaults measure, for --help */
  about: string
  loads: string
  servers: string
}

/** icecast, kh, cli (one process), cli-w2 (`--workers 2`), cli-wN…, floor (plain listeners only) */
function checkServer (server: string): string {
  if (!/^(icecast|kh|floor|cli(-w[1-9]\d*)?)$/.test(server)) throw new Error(`--servers: '${server}' is not icecast, kh, floor, cli or cli-wN`)
  return server
}

const workersOf = (server: string): number => Number(/^cli-w(\d+)$/.exec(server)?.[1] ?? 1)

function help (preset: Preset): string {
  return `${preset.command} -- [options]
${preset.about}
  --loads ${preset.loads.padEnd(22)} listener counts and kinds, in turn: N:plain, N:icy (Icy-MetaData: 1),
                                 N:https (plain listeners over TLS; a self-signed certificate made by
                                 openssl for the run; Icecast and kh with an <ssl> listen socket, the CLI
                                 with its TLS <listen-socket>)
  --servers ${preset.servers.padEnd(20)} in turn on each load: icecast (Debian's 2.4.4), kh (icecast-kh, built
                                 from ../shared/peers on first use: minutes), cli (icecast-relay
                                 --config, one process), cli-wN (the same with --workers N),
                                 floor (bench/floor-app.ts: a bare Node relay, what Node and the
                                 kernel cost; plain loads only)
  --seconds 30                   steady window per run
  --warmup 30                    seconds between the last admission and the window
  --settle 30                    seconds a relay idles before its baseline RSS is read
  --admission-timeout 60         seconds the crowd may take to get in (then the rest, one every 5 ms)
  --samples 20                   listeners per run whose latency is measured
  --load-processes 2             processes the crowd is spread over; the table shows the load's CPU,
                                 all of it and its busiest process's (near 1.0: the load limits)
  --node-options ''              Node options of the CLI (default none: as a user runs it), e.g.
                                 --node-options=--optimize-for-size
  --busy-write-interval S        the CLI's <limits><busy-write-interval> (default: the CLI's, 0.5); 0
                                 compares one process with --workers N at the same latency
  --save                         write bench/results/<time>[-label].json (the runs the docs cite)
  --label NAME                   appended to the results file name
It needs what the integration tests need (icecast2, ezstream, openssl, and gcc and friends for kh's
build), and dist/ built (npm run build).`
}

const OPTIONS = {
  ...MEASURE_FLAGS,
  'load-processes': { type: 'string', default: '2' },
  'node-options': { type: 'string', default: '' },
  'busy-write-interval': { type: 'string' },
  save: { type: 'boolean', default: false },
  label: { type: 'string' },
  help: { type: 'boolean', default: false }
} as const

export async function compare (preset: Preset): Promise<void> {
  const { values: args } = parseArgs({
    options: { ...OPTIONS, loads: { type: 'string', default: preset.loads }, servers: { type: 'string', default: preset.servers } }
  })
  if (args.help) {
    console.log(help(preset))
    return
  }
  console.error(`${preset.command}: loads ${args.loads}, servers ${args.servers} (${preset.command} -- --help: every flag)`)
  const loads = parseLoads(args.loads)
  const servers = args.servers.split(',').map((s) => s.trim()).filter((s) => s !== '').map(checkServer)
  if (servers.includes('floor') && loads.some((l) => l.mode !== 'plain')) throw new Error('--servers floor: plain loads only')
  const nodeOptions = args['node-options'].split(/\s+/).filter((option) => option !== '')
  const busy = args['busy-write-interval']
  if (busy !== undefined && !/^\d+(\.\d+)?$/.test(busy)) throw new Error(`--busy-write-interval: '${busy}' is not a number of seconds such as 0.5`)
  const busyWriteInterval = busy === undefined ? undefined : Number(busy)
  // N listeners are N sockets in the relay and N in the load: children inherit the limit
  ensureFileLimit(Math.max(...loads.map((l) => l.n)) + 1000)
  process.once('SIGINT', () => process.exit(130)) // the exit hook of test/helpers/procs.ts kills every child

  const pem = loads.some((l) => l.mode === 'https') ? benchCertificate() : undefined
  const start = async (server: string, master: Icecast, n: number, mode: LoadMode): Promise<RelayUnderTest> => {
    const serving = { tlsPem: mode === 'https' ? pem : undefined }
    if (server === 'icecast') return await startIcecastRelay(master, n + 100, serving)
    if (server === 'kh') return await startKhRelay(master, n + 100, serving)
    if (server === 'floor') return await startFloorRelay(master.url(MOUNT), nodeOptions)
    return await startCliRelay(master, n + 100, { ...serving, workers: workersOf(server), nodeOptions, busyWriteInterval })
  }

  const { master, stop } = await startMaster()
  const options = measureOptionsOf(args, master)
  const runs: ComparisonRun[] = []
  try {
    for (const { n, mode } of loads) {
      for (const server of servers) {
        console.error(`${server}: ${n} ${mode} listeners`)
        const relay = await start(server, master, n, mode)
        try {
          // the relay's connections to the master, read while the crowd listens (the window's end)
          let upstream = Number.NaN
          let split: number[] | undefined
          const measured = await measure([relay], [{ label: server, url: relay.url, n, icy: mode === 'icy' }], {
            ...options,
            beforeClose: async () => {
              upstream = await upstreamConnections(master)
              if (workersOf(server) > 1) split = listenersByProcess(relay.url)
            }
          })
          runs.push({ server, n, mode, measured, upstream, ...(split !== undefined && { split }) })
          if (measured.crowd !== undefined) console.error(`  ${crowdLine(measured.crowd)}`)
        } finally {
          await relay.stop()
        }
      }
    }
  } finally {
    await stop()
  }
  const machine = await versions()
  console.log(comparisonTables(runs) + '\n')
  console.log(`${machine.cores} × ${machine.cpu}, Node ${machine.node}, ${machine.icecast2}`)
  if (args.save) {
    const file = resultsFile(args.label)
    writeFileSync(file, JSON.stringify({ machine, args, runs }, null, 2) + '\n')
    console.log(`results in ${file}`)
  }
}
