// npm run bench:peers [-- --loads 10000:plain,10000:icy,2000:https --servers icecast,kh,cli,cli-w2 --save]
// Issue 20: the relay against Debian's Icecast 2.4.4 and icecast-kh, each relaying the same master mount,
// in the same run: plain and ICY listeners, and HTTPS listeners (a self-signed certificate; every server
// with its own TLS listen socket). Admission, steady CPU and RSS per listener, starved listeners and the
// added latency p50/p99, with the ratio of the CLI against each peer. `--help` lists every flag
// (bench/compare.ts).
import { compare } from './compare.js'

await compare({
  command: 'npm run bench:peers',
  about: 'The CLI (one process and --workers 2) against Icecast 2.4.4 and icecast-kh on the same master mount.',
  loads: '10000:plain,10000:icy,2000:https',
  servers: 'icecast,kh,cli,cli-w2'
})
