// node --import tsx bench/profile.ts FILE.cpuprofile [--top 25]
// Summarizes a V8 CPU profile (`npm run bench -- --profile` writes them to bench/results/profiles/):
// self time per function, largest first, as a share of the profile's busy (non-idle) time.
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  hitCount?: number
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
}

/** Frames that are no work of the process: waiting in epoll, or the profiler itself. */
const NOT_BUSY = new Set(['(idle)', '(program)', '(garbage collector)'])

function selfTimes (profile: Profile): { busy: number, total: number, gc: number, frames: Array<[string, number]> } {
  const byFrame = new Map<string, number>()
  let total = 0
  let busy = 0
  let gc = 0
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0
    const { functionName, url, lineNumber } = node.callFrame
    total += hits
    if (functionName === '(garbage collector)') gc += hits
    if (NOT_BUSY.has(functionName)) continue
    busy += hits
    const where = url === '' ? '' : ` ${relative(process.cwd(), url.replace(/^file:\/\//, ''))}:${lineNumber + 1}`
    const key = `${functionName || '(anonymous)'}${where}`
    byFrame.set(key, (byFrame.get(key) ?? 0) + hits)
  }
  return { busy, total, gc, frames: [...byFrame].sort((a, b) => b[1] - a[1]) }
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } })
for (const file of positionals) {
  const { busy, total, gc, frames } = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as Profile)
  const pct = (hits: number, of: number): string => `${(100 * hits / of).toFixed(1)} %`
  console.log(`${file}: busy ${pct(busy, total)} of samples, garbage collector ${pct(gc, total)}`)
  for (const [frame, hits] of frames.slice(0, Number(values.top))) console.log(`${pct(hits, busy).padStart(7)}  ${frame}`)
}
