// npm run bench [-- --n 500,2000,5000 --mode plain,icy --seconds 30 --tree]
// A real Icecast 2 master with an ezstream 128 kbit/s MP3 source; on its mount, in turn, an Icecast 2
// slave and the plugin relay a flash crowd of listeners from a separate load process. Prints a table
// with both servers and the ratios, and writes the results to bench/results/<time>.json.
import { mkdirSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import type { Icecast } from '../test/helpers/icecast.js'
import { measure, type MeasureOptions } from './measure.js'
import { pinRelay, splitCores } from './cores.js'
import { ensureFileLimit } from './proc.js'
import { figuresOf, tables, type FanoutRun, type Mode, type TreeRun } from './report.js'
import { MEASURE_FLAGS, measureOptionsOf, resultsFile, startMaster, versions } from './setup.js'
import { MOUNT, startFloorRelay, startIcecastRelay, startPluginRelay, type RelayUnderTest } from './servers.js'

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '500,2000,5000' },
    mode: { type: 'string', default: 'plain,icy' },
    servers: { type: 'string', default: 'icecast,plugin' },
    ...MEASURE_FLAGS,
    'load-processes': { type: 'string', default: '1' },
    tree: { type: 'boolean', default: false },
    'tree-only': { type: 'boolean', default: false },
    'tree-n': { type: 'string', default: '4000' },
    backlog: { type: 'string' },
    'write-interval': { type: 'string' },
    workers: { type: 'string' },
    'node-options': { type: 'string', default: '' },
    profile: { type: 'boolean', default: false },
    'memory-log': { type: 'boolean', default: false },
    'split-cores': { type: 'boolean', default: false },
    label: { type: 'string' },
    help: { type: 'boolean', default: false }
  }
})

if (args.help) {
  console.log(`npm run bench -- [options]
  --n 500,2000,5000        listener counts
  --mode plain,icy         plain listeners, ICY listeners (Icy-MetaData: 1)
  --servers icecast,plugin the relays to measure, in turn; also floor (bench/floor-app.ts: a bare
                           Node relay, plain listeners only, for what Node and the kernel cost)
  --seconds 30             steady window per run
  --warmup 30              seconds between the last admission and the window (V8 keeps the heap it
                           grew for a crowd for ~15-25 s, as it keeps start-up memory: see --settle)
  --settle 30              seconds a relay idles before its baseline RSS is read, over the last 5 s
                           (V8 gives start-up memory back in steps, the last ~16-24 s after start)
  --admission-timeout 60   seconds the crowd may take to get in (then the rest get in, one every 5 ms)
  --samples 20             listeners per run whose latency is measured
  --load-processes 1       processes the load's crowd is spread over (the samples have one of their own)
  --tree / --tree-only     also / only the relay trees (master → 2 plugins; master → plugin → plugin)
  --tree-n 4000            listeners of a tree run, split evenly over its two relays
  --backlog N              the plugin app's listen backlog (default: Node's, 511)
  --write-interval S       the plugin's limits.writeInterval (default: the plugin's, 0.005)
  --workers N              the plugin as N apps in a node:cluster, as icecast-relay --workers N runs it;
                           CPU and RSS are those of all its processes
  --node-options '--optimize-for-size'
                           Node options of the plugin's and the floor's processes (default: none)
  --label NAME             appended to the results file name (what the run changes)
  --profile                CPU profiles of the plugin relays over each window, in bench/results/profiles/
                           (summarize one with: node --import tsx bench/profile.ts FILE)
  --memory-log             the plugin relays' memory every second (RSS, heap, external, each V8 heap
                           space), a line of JSON each, in bench/results/memory/
  --split-cores            the relay under test alone on core 0; everything else, and loopback's receive
                           processing of its listeners (RPS on lo), on the other cores: as if the
                           listeners were on other hosts (root; lo's RPS mask is restored on exit)`)
  process.exit(0)
}

const list = (value: string): string[] => value.split(',').map((s) => s.trim()).filter((s) => s !== '')
const ns = list(args.n).map(Number)
const modes = list(args.mode) as Mode[]
const servers = list(args.servers) as Array<RelayUnderTest['server']>
const RESULTS = fileURLToPath(new URL('results/', import.meta.url))
const PROFILES = RESULTS + 'profiles/'
const MEMORY = RESULTS + 'memory/'
const STARTED = new Date().toISOString().replace(/[:.]/g, '-')
const optionalNumber = (value: string | undefined): number | undefined => (value === undefined ? undefined : Number(value))
const plugin = {
  backlog: optionalNumber(args.backlog),
  writeInterval: optionalNumber(args['write-interval']),
  workers: optionalNumber(args.workers),
  nodeOptions: args['node-options'].split(/\s+/).filter((option) => option !== '')
}

// N listeners are N sockets in the relay and N in the load process: children inherit the limit
ensureFileLimit(Math.max(...ns, Number(args['tree-n'])) + 1000)
process.once('SIGINT', () => process.exit(130)) // the exit hook of test/helpers/procs.ts kills every child
if (args['split-cores']) {
  if (args.tree || args['tree-only'] || (plugin.workers ?? 1) > 1) throw new Error('--split-cores measures one relay process: not with --tree or --workers')
  splitCores()
}

function profileOf (name: string): string | undefined {
  if (!args.profile) return undefined
  mkdirSync(PROFILES, { recursive: true })
  return PROFILES + name
}

function memoryLogOf (name: string): string | undefined {
  if (!args['memory-log']) return undefined
  mkdirSync(MEMORY, { recursive: true })
  return `${MEMORY}${STARTED}-${name}.jsonl`
}

/** A relay under test, on the relay's core when the cores are split. */
function placed (relay: RelayUnderTest): RelayUnderTest {
  if (args['split-cores']) pinRelay(relay.pid)
  return relay
}

async function startRelay (server: RelayUnderTest['server'], master: Icecast, n: number, name: string): Promise<RelayUnderTest> {
  if (server === 'icecast') return placed(await startIcecastRelay(master, n + 100))
  if (server === 'floor') return placed(await startFloorRelay(master.url(MOUNT), plugin.nodeOptions))
  return placed(await startPluginRelay(master.url(MOUNT), { ...plugin, memoryLog: memoryLogOf(name) }))
}

async function stopAll (relays: RelayUnderTest[]): Promise<void> {
  await Promise.all(relays.map(async (r) => { await r.stop() }))
}

async function fanout (master: Icecast, options: MeasureOptions): Promise<FanoutRun[]> {
  const runs: FanoutRun[] = []
  for (const n of ns) {
    for (const mode of modes) {
      for (const server of servers) {
        console.error(`${server}: ${n} ${mode} listeners`)
        const name = `${server}-${n}-${mode}`
        const relay = await startRelay(server, master, n, name)
        try {
          const measured = await measure([relay], [{ label: server, url: relay.url, n, icy: mode === 'icy' }],
            { ...options, profile: profileOf(name) })
          runs.push({ server, n, mode, measured })
          console.error(JSON.stringify(figuresOf(runs.at(-1)!)))
        } finally {
          await stopAll([relay])
        }
      }
    }
  }
  return runs
}

/** master → two plugin relays (fan), and master → plugin → plugin (chain); the listeners split evenly. */
async function trees (master: Icecast, options: MeasureOptions): Promise<TreeRun[]> {
  const n = Number(args['tree-n'])
  const half = Math.floor(n / 2)
  const runs: TreeRun[] = []
  const shapes = {
    fan: async () => [await startPluginRelay(master.url(MOUNT), plugin), await startPluginRelay(master.url(MOUNT), plugin)],
    chain: async () => {
      const first = await startPluginRelay(master.url(MOUNT), plugin)
      return [first, await startPluginRelay(first.url, plugin)]
    }
  }
  for (const [shape, start] of Object.entries(shapes) as Array<[TreeRun['shape'], () => Promise<RelayUnderTest[]>]>) {
    console.error(`tree ${shape}: ${n} listeners`)
    const labels = shape === 'fan' ? ['relay A', 'relay B'] : ['tier 1', 'tier 2']
    const relays = await start()
    try {
      const groups = relays.map((r, i) => ({ label: labels[i]!, url: r.url, n: half, icy: false }))
      runs.push({ shape, labels, measured: await measure(relays, groups, { ...options, profile: profileOf(`tree-${shape}-${n}`) }) })
    } finally {
      await stopAll(relays)
    }
  }
  return runs
}

async function main (): Promise<void> {
  const { master, stop } = await startMaster()
  const options = measureOptionsOf(args, master)
  try {
    const runs = args['tree-only'] ? [] : await fanout(master, options)
    const treeRuns = args.tree || args['tree-only'] ? await trees(master, options) : []
    const machine = await versions()
    const file = resultsFile(args.label)
    writeFileSync(file, JSON.stringify({ machine, args, runs, trees: treeRuns }, null, 2) + '\n')
    console.log(tables(runs, treeRuns) + '\n')
    console.log(`${machine.cores} × ${machine.cpu}, Node ${machine.node}, ${machine.icecast2}; results in ${file}`)
  } finally {
    await stop()
  }
}

await main()
