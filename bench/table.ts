// node --import tsx bench/table.ts bench/results/FILE.json
// Prints the tables of a bench run again from its JSON (npm run bench's, or bench:workers' and
// bench:peers'), e.g. to compare two runs or to update docs/performance.md.
import { readFileSync } from 'node:fs'
import { comparisonTables, type ComparisonRun } from './compare-report.js'
import { tables, type FanoutRun, type TreeRun } from './report.js'

/** bench:workers and bench:peers record the upstream connections of each run; npm run bench does not. */
const isComparison = (runs: Array<FanoutRun | ComparisonRun>): runs is ComparisonRun[] => runs.some((run) => 'upstream' in run)

for (const file of process.argv.slice(2)) {
  const { machine, runs, trees = [] } = JSON.parse(readFileSync(file, 'utf8')) as { machine: Record<string, string>, runs: Array<FanoutRun | ComparisonRun>, trees?: TreeRun[] }
  const text = isComparison(runs) ? comparisonTables(runs) : tables(runs as FanoutRun[], trees)
  console.log(`${file}: ${machine.cores} × ${machine.cpu}, Node ${machine.node}, ${machine.icecast2}\n\n${text}\n`)
}
