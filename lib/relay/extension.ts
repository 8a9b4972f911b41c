import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'
import type { OggCodec } from '../formats/sink.js'
import type { Framer } from '../mount/listener.js'
import type { ResolvedHttpUpstream, ResolvedRelay, ResolvedUpstream } from '../options.js'
import type { ResponseHead } from '../upstream/head.js'

export type RelayState = 'idle' | 'connecting' | 'live' | 'retrying' | 'stopped'

/** Whether a new listener may join now, must wait for the upstream, or is turned away. */
export type Admission = 'join' | 'wait' | 'unavailable'

export interface RelayMetadata {
  title?: string
  /** from Vorbis comments / OpusTags (`ARTIST`); ICY titles carry the artist inside the title */
  artist?: string
  url?: string
  fields: Record<string, string>
  /** `icy`, `manual`, or the Ogg codec whose comments it came from */
  source: 'icy' | 'manual' | OggCodec
  updatedAt: string
}

/**
 * What an extension (and the master's stream list) may see and do of a relay: read its definition,
 * state, upstream head and title, set its title, report damaged upstream data. Its mount, listeners and
 * upstream connection are not in it: those are the relay room's own.
 */
export interface RelayView {
  readonly localMount: string
  readonly def: Readonly<ResolvedRelay>
  /** the relay's logger: its lines name the mount */
  readonly log: FastifyBaseLogger
  /** the upstream the relay plays, or tries now: one of `def.upstreams` */
  readonly upstream: ResolvedUpstream
  readonly state: RelayState
  /** the response head of the current (or last) upstream connection */
  readonly head: ResponseHead | undefined
  readonly metadata: RelayMetadata | undefined
  /** the container a listener's player decodes (`mpeg`, `aac`, `ogg`, or the media type), when known */
  readonly container: string | undefined
  /** when the last connection (or attempt) failed; undefined while none has failed since the last success */
  readonly failedAt: number | undefined
  admission (): Admission
  /**
   * Makes `metadata` the relay's title, kept as given: its identity is what tells it from the previous
   * one, so an extension may key what it derives from it (e.g. the ICY block) by the object.
   */
  setMetadata (metadata: RelayMetadata): void
  /** Notes damage in the upstream's data; the relay logs it, a line at most every few seconds. */
  damaged (reason: string): void
}

/** Where a listener is now: its relay changes when an admin moves it (moveclients). */
export interface ListenerPlace<R extends RelayView = RelayView> {
  relay: R
}

/**
 * What a relay's listeners get, as its mount gets it from the format reader (without ICY framing), for an
 * extension that keeps the stream (the dump file). Called on the hot path: it must only queue.
 */
export interface StreamTap {
  /** A new stream: what comes next does not carry on what came before (no listener rode over to it). */
  begin (): void
  /** See FormatSink.chunk: `sync` is where in `bytes` a listener may start. */
  chunk (bytes: Buffer, sync: number): void
  /** See FormatSink.headers: the codec headers a listener starting from now on gets first. */
  headers (pages: Buffer[]): void
  /** The relay stops: nothing more comes. */
  end (): void
  /** The (on-demand) relay went idle: nothing comes until it is wanted again, and then as a new stream. */
  idle? (): void
}

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
 * What the library can add to every relay through the registry's `extend`: headers for the upstream
 * request, a stage in the upstream byte path, a tap on the stream listeners get, per-listener framing, what
 * a new listener gets first, and the fields a title set by hand carries. This is how the shoutcast extension
 * adds ICY metadata without the relay room knowing about ICY, and the archive and intro extensions their files.
 */
export interface RelayExtension {
  /** Headers of the request to `upstream`: the active one, or one tried in the background. */
  requestHeaders? (relay: RelayView, upstream: ResolvedHttpUpstream): Record<string, string>
  /** A stage for the body of `upstream`, which answered with `head`. */
  upstreamStage? (relay: RelayView, head: ResponseHead, next: Stage, upstream: ResolvedUpstream): Stage | undefined
  /** `place.relay` is the listener's relay at each chunk: it changes when the listener is moved. */
  listenerFraming? (place: Readonly<ListenerPlace>, requestHeaders: IncomingHttpHeaders): ListenerFraming | undefined
  /** A tap on the relay's stream, made once as the relay starts and ended as it stops. */
  streamTap? (relay: RelayView): StreamTap | undefined
  /**
   * What a new listener of `relay` gets before anything of the stream (its intro): one buffer, shared by every
   * listener. Not for listeners moved to the relay.
   */
  listenerPrelude? (relay: RelayView): Promise<Buffer | undefined>
  /** The `fields` of a title set by hand (`app.relay.setMetadata`), named as this extension's format names them. */
  manualFields? (metadata: Pick<RelayMetadata, 'title' | 'url'>): Record<string, string>
}
