import { Counter, Gauge, Registry } from 'prom-client'
import type { RelayState } from '../relay/extension.js'
import type { RelayStatus } from '../relay/relay.js'
import type { SlaveStatus } from '../relay/decorator.js'
import { networkListeners } from '../stats/icestats.js'
import type { StatusView } from '../stats/view.js'

const STATES: readonly RelayState[] = ['idle', 'connecting', 'live', 'retrying', 'stopped']

interface PerMount {
  name: string
  help: string
  kind: typeof Gauge | typeof Counter
  /** undefined: the mount has no such value (no HLS), and no sample */
  value: (status: RelayStatus) => number | undefined
}

const PER_MOUNT: readonly PerMount[] = [
  { name: 'icecast_relay_listeners', help: 'Listeners connected to the mount', kind: Gauge, value: (s) => s.listeners },
  { name: 'icecast_relay_listener_peak', help: 'Most listeners connected at once', kind: Gauge, value: (s) => s.peakListeners },
  { name: 'icecast_relay_bytes_in_total', help: 'Bytes received from the upstream', kind: Counter, value: (s) => s.bytesIn },
  { name: 'icecast_relay_bytes_out_total', help: 'Audio bytes sent to listeners', kind: Counter, value: (s) => s.bytesOut },
  { name: 'icecast_relay_reconnects_total', help: 'Upstream reconnection attempts', kind: Counter, value: (s) => s.reconnects },
  { name: 'icecast_relay_slow_listener_drops_total', help: 'Listeners dropped for falling behind', kind: Counter, value: (s) => s.slowDrops },
  { name: 'icecast_relay_upstream_switches_total', help: 'Switches from one upstream to another (failover and failback)', kind: Counter, value: (s) => s.switches },
  { name: 'icecast_relay_fallback_listeners', help: 'Listeners of the mount that its fallback mount serves now', kind: Gauge, value: (s) => s.fallbackListeners },
  // Many machines
  { name: 'icecast_relay_relay_connections', help: 'Slaves\' relay connections to the mount, not counted as listeners', kind: Gauge, value: (s) => s.relays },
  // HLS
  { name: 'icecast_relay_hls_listeners', help: 'HLS sessions of the mount, not counted as listeners', kind: Gauge, value: (s) => s.hlsListeners },
  { name: 'icecast_relay_active_upstream', help: 'The index in the relay\'s upstreams of the one it plays or tries (0: the first)', kind: Gauge, value: (s) => s.activeUpstream }
]

/** The Prometheus text of the relays' metrics, and its content type. */
export interface RelayMetrics {
  contentType: string
  scrape: () => Promise<string>
}

/**
 * A Prometheus registry of its own (never prom-client's global one, which the host app may use) whose
 * values are read from the relays' statuses at each scrape, so nothing on the byte path counts twice.
 * The statuses are read once per scrape: every metric of it speaks of the same moment.
 */
export function relayMetrics (view: StatusView, slaves: () => readonly SlaveStatus[], mountPrefix = ''): RelayMetrics {
  const metrics = new Registry()
  let statuses: RelayStatus[] = []
  for (const { name, help, kind: Metric, value } of PER_MOUNT) {
    // a counter cannot be set: it is reset and raised to the status's total at each scrape
    const metric: Gauge | Counter = new Metric({
      name,
      help,
      labelNames: ['mount'],
      registers: [metrics],
      collect () {
        metric.reset()
        for (const status of statuses) {
          const sample = value(status)
          if (sample !== undefined) metric.inc({ mount: status.localMount }, sample)
        }
      }
    })
  }
  const state: Gauge = new Gauge({
    name: 'icecast_relay_state',
    help: 'The relay\'s state: 1 for the state it is in, 0 for the others',
    labelNames: ['mount', 'state'],
    registers: [metrics],
    collect () {
      state.reset()
      for (const status of statuses) {
        for (const name of STATES) state.set({ mount: status.localMount, state: name }, Number(status.state === name))
      }
    }
  })
  // Many machines: what the registered slaves report, so that a master's scrape gives the network's totals
  const slaveListeners: Gauge = new Gauge({
    name: 'icecast_relay_slave_listeners',
    help: 'Listeners of the mount on the registered slaves, as they reported them at their last poll',
    labelNames: ['mount'],
    registers: [metrics],
    collect () {
      slaveListeners.reset()
      for (const [mount, listeners] of networkListeners(slaves(), mountPrefix)?.byMount ?? []) slaveListeners.set({ mount }, listeners)
    }
  })
  return {
    contentType: metrics.contentType,
    scrape: async () => {
      statuses = await view.list()
      return await metrics.metrics()
    }
  }
}
