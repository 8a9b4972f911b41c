import type { IncomingHttpHeaders } from 'node:http'
import type { Framer } from '../mount/listener.js'
import type { ResponseHead } from '../upstream/head.js'
import type { ListenerPlace } from './registry.js'
import type { Relay } from './relay.js'

/** One stage of a relay's byte path: it hands chunks on to the next stage. */
export interface Stage {
  push (chunk: Buffer): void
}

export interface ListenerFraming {
  /** Extra response header lines for this listener, e.g. `icy-metaint`. */
  headers: Record<string, string>
  framer: Framer
}

/**
 * What a sub-plugin can add to every relay through the registry (`app.relay.extend`): headers for the
 * upstream request, a stage in the upstream byte path, and per-listener framing. This is how the
 * shoutcast sub-plugin adds ICY metadata without the relay room knowing about ICY.
 */
export interface RelayExtension {
  requestHeaders? (relay: Relay): Record<string, string>
  upstreamStage? (relay: Relay, head: ResponseHead, next: Stage): Stage | undefined
  /** `place.relay` is the listener's relay at each chunk: it changes when the listener is moved. */
  listenerFraming? (place: ListenerPlace, requestHeaders: IncomingHttpHeaders): ListenerFraming | undefined
}
