// node --import tsx bench/table.ts bench/results/FILE.json
// Prints the tables of a bench run again from its JSON, e.g. to compare two runs or to update docs/performance.md.
import { readFileSync } from 'node:fs'
import { tables, type FanoutRun, type TreeRun } from './report.js'

for (const file of process.argv.slice(2)) {
  const { machine, runs, trees } = JSON.parse(readFileSync(file, 'utf8')) as { machine: Record<string, string>, runs: FanoutRun[], trees: TreeRun[] }
  console.log(`${file}: ${machine.cores} × ${machine.cpu}, Node ${machine.node}, ${machine.icecast2}\n\n${tables(runs, trees)}\n`)
}
