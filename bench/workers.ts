// npm run bench:workers [-- --loads 5000:plain --servers cli,cli-w2 --seconds 30 --save]
// Issue 18: `icecast-relay --workers 2` against one process, as users run the CLI (an XML config relaying
// a real Icecast 2 master mount), at 5000 listeners in the same run: listeners admitted per second, CPU
// per listener and the speed-up, and the relay connections the master counts (one per mount per machine).
// `--help` lists every flag (bench/compare.ts).
import { compare } from './compare.js'

await compare({
  command: 'npm run bench:workers',
  about: 'The CLI with --workers 2 against one process, relaying a real Icecast 2 master mount.',
  loads: '5000:plain',
  servers: 'cli,cli-w2'
})
