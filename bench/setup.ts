// What every fan-out bench sets up alike: the flags of a measured run, the master with its source, the
// machine's description and the results file.
import { mkdirSync } from 'node:fs'
import { cpus, release } from 'node:os'
import { fileURLToPath } from 'node:url'
import { ICECAST_BIN, makeFixtures, startIcecast, startSource, type Icecast } from '../test/helpers/icecast.js'
import { runOk } from '../test/helpers/procs.js'
import type { MeasureOptions } from './measure.js'
import { MOUNT } from './servers.js'

/** parseArgs options of a measured run (see --help of bench/run.ts and bench/compare.ts) */
export const MEASURE_FLAGS = {
  seconds: { type: 'string', default: '30' },
  warmup: { type: 'string', default: '30' },
  settle: { type: 'string', default: '30' },
  'admission-timeout': { type: 'string', default: '60' },
  samples: { type: 'string', default: '20' }
} as const

export function measureOptionsOf (args: Record<keyof typeof MEASURE_FLAGS | 'load-processes', string>, master: Icecast): MeasureOptions {
  return {
    reference: master.url(MOUNT),
    samples: Number(args.samples),
    loadProcesses: Number(args['load-processes']),
    admissionTimeoutMs: Number(args['admission-timeout']) * 1000,
    warmupMs: Number(args.warmup) * 1000,
    windowMs: Number(args.seconds) * 1000,
    settleMs: Number(args.settle) * 1000
  }
}

/** A real Icecast 2 master with an ezstream 128 kbit/s MP3 source on MOUNT; `stop` ends both. */
export async function startMaster (): Promise<{ master: Icecast, stop: () => Promise<void> }> {
  const fixtures = await makeFixtures()
  const master = await startIcecast({ clients: 1000, logLevel: 2 })
  const source = await startSource({ icecast: master, mount: MOUNT, files: [fixtures.mp3.long], format: 'mp3', bitrate: 128, name: 'bench' })
  return {
    master,
    async stop () {
      await source.stop()
      await master.stop()
    }
  }
}

export async function versions (): Promise<Record<string, string>> {
  const icecast = (await runOk(ICECAST_BIN, ['-v'])).toString().trim()
  return { node: process.version, icecast2: icecast, kernel: release(), cpu: cpus()[0]?.model ?? '?', cores: String(cpus().length) }
}

/** bench/results/<time>[-label].json, the folder made if needed. */
export function resultsFile (label: string | undefined): string {
  const results = fileURLToPath(new URL('results/', import.meta.url))
  mkdirSync(results, { recursive: true })
  return `${results}${new Date().toISOString().replace(/[:.]/g, '-')}${label === undefined ? '' : '-' + label}.json`
}
