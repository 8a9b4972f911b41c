// The HLS listeners of bench/hls.ts, in a process of their own so that their CPU is not the relay's:
// `--sessions` players (test/helpers/hls-load.ts: each polls the playlist at hls.js's rate and fetches each
// new segment once) start evenly over `--ramp` seconds and stop after `--seconds`; then one line of JSON
// on stdout sums up what they got.
import { parseArgs } from 'node:util'
import { hlsLoad } from '../test/helpers/hls-load.js'
import { ensureFileLimit } from './proc.js'

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    sessions: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '60' },
    ramp: { type: 'string', default: '10' }
  }
})
if (values.url === undefined) throw new Error('--url PLAYLIST is required')
const sessions = Number(values.sessions)
ensureFileLimit(sessions + 256)
const results = await hlsLoad(values.url, { sessions, seconds: Number(values.seconds), rampSeconds: Number(values.ramp) })

const total = (pick: (session: (typeof results)[number]) => number): number => results.reduce((sum, session) => sum + pick(session), 0)
console.log(JSON.stringify({
  sessions: results.length,
  bytes: total((s) => s.bytes),
  segments: total((s) => s.segments.length),
  playlistRequests: total((s) => s.playlistRequests),
  segmentRequests: total((s) => s.segmentRequests),
  errors: total((s) => s.errors.length),
  firstErrors: results.flatMap((s) => s.errors).slice(0, 5),
  missed: total((s) => s.missed.length),
  stalls: total((s) => s.stalls),
  sessionsWithoutSegments: results.filter((s) => s.segments.length === 0).length
}))
