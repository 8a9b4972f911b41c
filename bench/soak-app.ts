// The relay under soak (`npm run soak` starts it): a Fastify app with the plugin, in a process of its own so
// that the RSS, file descriptors and event-loop delay it reports are the relay's alone. It prints one JSON
// line when it listens and one every SAMPLE_MS, and exits when its parent goes (stdin closes).
import { readdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import Fastify from 'fastify'
import fastifyIcecastRelay from '../lib/index.js'

const SAMPLE_MS = 10_000

export interface SoakSample {
  type: 'sample'
  /** ms since the app started listening */
  at: number
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  fds: number
  /** event-loop delay over the sample's window, in ms */
  delay: { p50: number, p99: number, max: number }
  state: string
  listeners: number
  reconnects: number
  slowDrops: number
  bytesOut: number
  /** listeners that left since the start, by the reason the relay gives (`client`, `gap`, `slow`, ...) */
  leaves: Record<string, number>
}

export type SoakMessage = { type: 'ready', port: number } | SoakSample

const NS_PER_MS = 1e6
const RESOLUTION_MS = 10

/** The histogram holds the whole sampling interval (10.1 ms on an idle loop): the delay is what exceeds it. */
function delayOf (histogram: IntervalHistogram): SoakSample['delay'] {
  const delay = (ns: number): number => Math.max(0, ns / NS_PER_MS - RESOLUTION_MS)
  return { p50: delay(histogram.percentile(50)), p99: delay(histogram.percentile(99)), max: delay(histogram.max) }
}

function send (message: SoakMessage): void {
  process.stdout.write(JSON.stringify(message) + '\n')
}

async function main (upstreamUrl: string, mount: string, gracePeriod: number): Promise<void> {
  const app = Fastify()
  await app.register(fastifyIcecastRelay, {
    relays: [{ url: upstreamUrl, localMount: mount }],
    // room for the long listeners and the churn; the grace period is the one the flaps are timed against
    limits: { clients: 5000, gracePeriod }
  })
  const leaves: Record<string, number> = {}
  app.relay.on('listener', ({ action, reason }) => {
    if (action === 'leave') leaves[reason ?? 'unknown'] = (leaves[reason ?? 'unknown'] ?? 0) + 1
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const started = Date.now()
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  delay.enable()
  const timer = setInterval(() => {
    const memory = process.memoryUsage()
    const status = app.relay.get(mount)!
    send({
      type: 'sample',
      at: Date.now() - started,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      fds: readdirSync('/proc/self/fd').length,
      delay: delayOf(delay),
      state: status.state,
      listeners: status.listeners,
      reconnects: status.reconnects,
      slowDrops: status.slowDrops,
      bytesOut: status.bytesOut,
      leaves
    })
    delay.reset()
  }, SAMPLE_MS)
  send({ type: 'ready', port: (app.server.address() as AddressInfo).port })

  const stop = (): void => {
    clearInterval(timer)
    // listeners are ended by preClose; a stuck close must not outlive the soak
    setTimeout(() => process.exit(0), 2000).unref()
    app.close().then(() => process.exit(0), () => process.exit(1))
  }
  // The parent holds our stdin: when it ends, however it ends, so do we.
  process.stdin.on('end', stop).resume()
  process.once('SIGTERM', stop)
}

const [url, mount, grace] = process.argv.slice(2)
if (url === undefined || mount === undefined || grace === undefined) {
  process.stderr.write('usage: soak-app.ts UPSTREAM_URL LOCAL_MOUNT GRACE_SECONDS\n')
  process.exit(2)
}
await main(url, mount, Number(grace))
