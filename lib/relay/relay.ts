import type { FastifyBaseLogger } from 'fastify'
import { ProbeUnprovenError, RestartedError, toRelayError, UpstreamStalledError, type RelayError } from '../errors.js'
import { containerOf } from '../formats/clip.js'
import { FormatDetector } from '../formats/detect.js'
import type { AudioInfo, OggCodec } from '../formats/sink.js'
import { overriddenStreamHeaders, streamHeaders, streamInfo, type StreamInfo } from '../mount/headers.js'
import { gatherBound, Mount } from '../mount/mount.js'
import type { EndReason, Listener } from '../mount/listener.js'
import { upstreamName, type Limits, type ResolvedRelay, type ResolvedUpstream } from '../options.js'
import { openUpstream, refusalStatus, type UpstreamConnection, type UpstreamSink } from '../upstream/client.js'
import { openFileUpstream } from '../upstream/file.js'
import { mediaTypeEssence } from '../upstream/media.js'
import type { ResponseHead } from '../upstream/head.js'
import { backoffDelay } from './backoff.js'
import { BusyWrites, Crowd, gatheredInterval } from './crowd.js'
import type { Admission, RelayExtension, RelayMetadata, RelayState, RelayView, Stage, StreamTap } from './extension.js'
import { Standby } from './standby.js'
import { UpstreamSet, type UpstreamState } from './upstreams.js'

/** An upstream's refusal of the relay for want of the right credentials, while every upstream refuses it. */
export interface Refusal {
  /** 401: credentials wanted; 403: the ones sent are refused */
  status: 401 | 403
  /** when the refusals began */
  since: string
  /** when the relay asks again */
  retryAt: string
}

export interface RelayStatus {
  localMount: string
  /** who added it: `options`, `api`, or the master it mirrors (`master:host:port`) */
  origin: string
  /** the active upstream (the one playing, or the one tried last): its URL without credentials, or `file:` and its path */
  upstream: string
  /** the index of that upstream in `upstreams` */
  activeUpstream: number
  upstreams: UpstreamStatus[]
  /** switches from one upstream to another, failover and failback */
  switches: number
  state: RelayState
  stateSince: string
  connectedSince: string | null
  lastError: RelayError | null
  onDemand: boolean
  relayShoutcastMetadata: boolean
  listeners: number
  peakListeners: number
  // Many machines
  /** slaves' relay connections to the mount, served but not counted in `listeners` */
  relays: number
  // HLS (issue 19)
  /** HLS sessions of the mount, not counted in `listeners`; absent when the mount has no HLS */
  hlsListeners?: number
  maxListeners: number | null
  /** left out of the public status pages and the stream list slaves read (Icecast's `<hidden>`) */
  hidden: boolean
  bytesIn: number
  bytesOut: number
  reconnects: number
  slowDrops: number
  contentType: string | null
  /** the upstream's response headers, as received */
  headers: Record<string, string>
  /**
   * name, genre, bitrate... from the upstream's `icy-*`, `ice-*` or Icecast 1.x `x-audiocast-*` headers, or
   * the relay's own `streamName`, `streamDescription`, `streamUrl`, `genre` and `public`
   */
  stream: StreamInfo
  /** codec, bitrate, sample rate and channels read from the stream itself */
  audio: AudioInfo | null
  metadata: RelayMetadata | null
  /** where listeners go while this relay has no live upstream (Icecast's `<fallback-mount>`), or null */
  fallbackMount: string | null
  /** whether they come back once it is live again (`<fallback-override>`) */
  fallbackOverride: boolean
  /** listeners of this mount served by a fallback now (moved there, or sent there as they came) */
  fallbackListeners: number
}

/** How one upstream of a relay fares. */
export interface UpstreamStatus {
  /** its URL without credentials, or `file:` and its path */
  url: string
  state: UpstreamState
  lastError: RelayError | null
}

export type { UpstreamState }

export interface RelayEvents {
  state: { localMount: string, state: RelayState, previous: RelayState, error?: RelayError }
  /**
   * A listener joins or leaves a mount. Moves say why: `moved` (moveclients), `fallback` (to the fallback of
   * a mount that went down: the join names the mount it is moved to, the leave the one it leaves) and
   * `override` (back to its own mount, live again).
   */
  listener: { localMount: string, action: 'join' | 'leave', id: number, ip: string, reason?: EndReason | MoveReason }
  metadata: { localMount: string, metadata: RelayMetadata }
  /** the relay plays another of its upstreams (indexes into `upstreams`); `reason` is why it left `from` */
  failover: { localMount: string, from: number, to: number, reason: string }
}

/** Why a listener changes mounts without being ended. */
export type MoveReason = 'moved' | 'fallback' | 'override'

export interface RelayContext {
  limits: Limits
  userAgent: string
  extensions: readonly RelayExtension[]
  log: FastifyBaseLogger
  emit: <E extends keyof RelayEvents>(event: E, payload: RelayEvents[E]) => void
  onListenerLeave: (listener: Listener) => void
  /**
   * The relay's listeners have lost their stream (`gap`: no live upstream after the grace period) or the
   * relay stops: the registry moves them to a fallback, or ends them with `reason`.
   */
  orphaned: (relay: Relay, reason: EndReason) => void
  /** An upstream connection has proven to be a stream (STREAM_PROOF_BYTES): the relay is live again. */
  streaming: (relay: Relay) => void
}

/** A connection that stayed up this long was a success: the next failure starts the backoff anew. */
const STABLE_MS = 5000
/**
 * Bytes a connection must send before it counts as a stream (a quarter second at 128 kbit/s; one frame of
 * MP3 at 320 kbit/s is a quarter of it), for the grace period and for newcomers after a reconnect.
 */
const STREAM_PROOF_BYTES = 4096
/** The longest wait between retries while listeners ride an upstream gap. */
const GRACE_RETRY_MS = 1000
/**
 * The least a hot standby keeps of its upstream's latest bytes (4 s at 128 kbit/s, more than the default
 * stallTimeout), or the burst size if larger: what came of it after the active upstream's last byte.
 */
const STANDBY_RING_BYTES = 64 * 1024
/** Why listeners left an upstream that still worked: a higher one answered again. */
const FAILBACK = 'failback'
/** Corrupt-stream log lines are summed up over this long, so a broken upstream cannot flood the log. */
const CORRUPT_LOG_MS = 10000

/** The containers of the MPEG and AAC media types stations send (any `…/ogg` is Ogg), so that a label compares with what the stream showed. */
const CONTAINER_OF_TYPE = new Map([
  ['audio/mpeg', 'mpeg'],
  ['audio/mp3', 'mpeg'],
  ['audio/mpeg3', 'mpeg'],
  ['audio/x-mpeg', 'mpeg'],
  ['audio/aac', 'aac'],
  ['audio/aacp', 'aac'],
  ['audio/x-aac', 'aac']
])

/** A connection to a higher upstream, opened in the background to see whether it is back (failback). */
interface Probe {
  index: number
  abort: AbortController
  connection?: UpstreamConnection
  /** its bytes until it proves a stream: they go to the listeners if it becomes the active connection */
  kept: Buffer[]
  bytes: number
  /** where its bytes go once it is the active connection */
  sink?: UpstreamSink
  /** it is let go unless it proves a stream by then */
  deadline?: NodeJS.Timeout
}

/**
 * One relay's life: idle → connecting → live → retrying → … → stopped. It owns the upstream connection
 * and the mount, moves on to the next upstream at once when one fails, backs off when all have failed in
 * a row, returns to a higher upstream when it answers again (failback), keeps listeners through a short
 * gap (the grace period) and, on demand, connects only while someone listens.
 */
/** A flush of some of a mount's listeners: at once, or once per interval after the bytes it is to send came. */
class FlushTimer {
  #timer: NodeJS.Timeout | undefined
  readonly #flush: () => void

  constructor (flush: () => void) {
    this.#flush = flush
  }

  soon (seconds: number): void {
    if (seconds === 0) {
      this.#flush()
      return
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined
      this.#flush()
    }, seconds * 1000).unref()
  }

  clear (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }
}

export class Relay implements RelayView {
  #def: ResolvedRelay
  readonly mount: Mount
  readonly log: FastifyBaseLogger
  /** listeners of this mount served by a fallback now: moved there, or sent there as they came */
  readonly away = new Set<Listener>()
  #state: RelayState = 'idle'
  #head: ResponseHead | undefined
  #metadata: RelayMetadata | undefined
  #stateSince = new Date()
  #connectedSince: Date | undefined
  #lastError: RelayError | undefined
  #failedAt: number | undefined
  #refusal: Refusal | undefined
  #bytesIn = 0
  #reconnects = 0
  #upstreams: UpstreamSet
  /** the upstream whose audio listeners got last; undefined while none has played since the relay was idle */
  #playing: number | undefined
  /** why listeners left the upstream they played (an error code, or `failback`) */
  #leftBecause = ''
  #probe: Probe | undefined
  #probeTimer: NodeJS.Timeout | undefined
  #probeAttempt = 0
  #standby: Standby | undefined
  #stallTimer: NodeJS.Timeout | undefined
  #lastDataAt = 0
  #everLive = false
  #audio: AudioInfo | undefined
  #corruptSince = 0
  #corruptCount = 0
  #gapSince: number | undefined
  /** body bytes of the current upstream connection, counted up to STREAM_PROOF_BYTES */
  #connectionBytes = 0
  #connection: UpstreamConnection | undefined
  /** the format reader of the current (or last) upstream connection */
  #formats: FormatDetector | undefined
  #abort: AbortController | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #graceTimer: NodeJS.Timeout | undefined
  #lingerTimer: NodeJS.Timeout | undefined
  /** ms since the epoch until which someone who is no listener of the stream wants the upstream (HLS players) */
  #wantedUntil = 0
  #wantTimer: NodeJS.Timeout | undefined
  readonly #liveFlush = new FlushTimer(() => this.mount.flushLive())
  readonly #tlsFlush = new FlushTimer(() => this.mount.flushEncrypted())
  /** listeners joining fast: the stream is gathered longer for those already in */
  readonly #crowd = new Crowd()
  /** its writes keep the thread busy: the stream is gathered longer too */
  readonly #busyWrites = new BusyWrites()
  #streamHeaders: { upstream: Record<string, string> | undefined, def: ResolvedRelay, headers: Readonly<Record<string, string>> } | undefined
  readonly #waiters = new Set<(live: boolean) => void>()
  readonly #ctx: RelayContext
  /** the extensions' taps on the stream, made as the relay starts */
  #taps: StreamTap[] = []

  constructor (def: ResolvedRelay, ctx: RelayContext) {
    this.#def = def
    this.#ctx = ctx
    this.#upstreams = new UpstreamSet(def.upstreams.length)
    this.log = ctx.log
    this.mount = new Mount({
      burstSize: this.#burstSize,
      gatherBound: gatherBound(ctx.limits.queueSize),
      onLeave: (listener, reason) => this.#listenerLeft(listener, reason)
    })
  }

  get def (): ResolvedRelay {
    return this.#def
  }

  get localMount (): string {
    return this.def.localMount
  }

  get state (): RelayState {
    return this.#state
  }

  /** The upstream the relay plays, or tries now. */
  get upstream (): ResolvedUpstream {
    return this.def.upstreams[this.#upstreams.active]!
  }

  get head (): ResponseHead | undefined {
    return this.#head
  }

  /**
   * The stream headers listeners get: the upstream's, with the relay's own overrides. Kept until the head or the
   * definition changes, as every listener of a crowd asks; frozen, as the same object answers them all.
   */
  streamHeaders (): Readonly<Record<string, string>> {
    const memo = this.#streamHeaders
    const upstream = this.#head?.headers
    if (memo !== undefined && memo.upstream === upstream && memo.def === this.#def) return memo.headers
    const headers = Object.freeze(overriddenStreamHeaders(streamHeaders(upstream ?? {}), this.#def))
    this.#streamHeaders = { upstream, def: this.#def, headers }
    return headers
  }

  /** Bytes of recent stream a new listener gets: the relay's own setting, else the server's. */
  get #burstSize (): number {
    return this.def.burstSize ?? this.#ctx.limits.burstSize
  }

  get metadata (): RelayMetadata | undefined {
    return this.#metadata
  }

  /**
   * The container a listener's player decodes: read from the stream when known (a label may lie), else
   * from the media type. Ogg is one format whatever the codec inside, since a moved listener gets the
   * destination's headers first.
   */
  get container (): string | undefined {
    const codec = this.#audio?.codec
    if (codec !== undefined) return containerOf(codec)
    const header = this.#head?.headers['content-type']
    const type = header === undefined ? undefined : mediaTypeEssence(header)
    return type === undefined ? undefined : CONTAINER_OF_TYPE.get(type) ?? (type.endsWith('/ogg') ? 'ogg' : type)
  }

  start (): void {
    if (this.#state !== 'idle') return
    if (this.#taps.length === 0) this.#taps = this.#ctx.extensions.flatMap((ext) => ext.streamTap?.(this) ?? [])
    if (!this.def.onDemand) this.#connect()
  }

  stop (reason: EndReason = 'stopped'): void {
    if (this.#state === 'stopped') return
    this.#clearTimers()
    this.#disconnect()
    this.#setState('stopped')
    this.#wakeWaiters(false)
    this.#ctx.orphaned(this, reason)
    for (const tap of this.#taps) tap.end()
  }

  /**
   * Ends the upstream connection now, and the relay reconnects as after any upstream end; a relay
   * waiting to retry, or still connecting (to a host that may never answer), connects anew at once. An
   * idle (on-demand) or stopped relay is left as it is.
   */
  restart (): void {
    if (this.#connection !== undefined) {
      this.#connection.close()
      this.#upstreamEnded(new RestartedError())
    } else if (this.#state === 'retrying' || this.#state === 'connecting') {
      this.#abort?.abort()
      this.#connect()
    }
  }

  /**
   * A new list of upstreams, and who brought it (a master started or stopped listing the mount): the upstream
   * playing goes on if it is still the one to play; else the relay goes on from the new list as after an
   * upstream end, its listeners riding the gap.
   */
  setUpstreams (upstreams: ResolvedUpstream[], origin: string): void {
    const names = this.def.upstreams.map(upstreamName)
    const from = upstreams.map((upstream) => names.indexOf(upstreamName(upstream)))
    const active = from.indexOf(this.#upstreams.active)
    const playing = this.#playing === undefined ? -1 : from.indexOf(this.#playing)
    // a probe's or a standby's index is one of the old list
    this.#dropProbe()
    this.#dropStandby()
    this.#def = { ...this.#def, upstreams, origin }
    this.#upstreams = this.#upstreams.renumbered(from, Math.max(active, 0))
    this.#playing = playing < 0 ? undefined : playing
    if (active >= 0) {
      // the stall watch is for relays with a backup: the list may have gained or lost one
      clearTimeout(this.#stallTimer)
      if (this.#connection !== undefined) this.#watchStall(this.#connection)
      // a higher upstream may have come: it is probed for a failback; the next one may be another
      this.#scheduleProbe()
      if (this.#state === 'live') this.#keepStandby()
      return
    }
    if (this.#state === 'idle' || this.#state === 'stopped') return
    // the upstream it played or tried is gone: on at once with the first of the new list, listeners riding the gap
    if (this.#connection !== undefined) {
      this.#connection.close()
      this.#letGo()
    }
    this.#abort?.abort()
    this.#reconnects++
    this.#connect()
  }

  get failedAt (): number | undefined {
    return this.#failedAt
  }

  /** Since when every upstream refuses the relay (401, 403), and when it asks again; undefined once it plays. */
  get refusal (): Refusal | undefined {
    return this.#refusal
  }

  admission (): Admission {
    if (this.#state === 'stopped') return 'unavailable'
    if (this.#streaming() || this.#inGrace()) return 'join'
    // a reconnect has answered but is no stream yet: it may hang up at once, as a broken upstream does
    if (this.#state === 'live' || this.def.onDemand) return 'wait'
    // a relay that never played waits while any of its upstreams is still untried
    return this.#state === 'connecting' && !this.#everLive && this.#upstreams.row < this.#upstreams.count ? 'wait' : 'unavailable'
  }

  /**
   * Resolves true as soon as the upstream is live (a reconnect: once it sent STREAM_PROOF_BYTES), false
   * after `ms`, when the relay stops, or when a reconnect ends before that.
   */
  waitLive (ms: number): Promise<boolean> {
    if (this.#streaming()) return Promise.resolve(true)
    return new Promise((resolve) => {
      const done = (live: boolean): void => {
        clearTimeout(timer)
        this.#waiters.delete(done)
        resolve(live)
        // a waiter that got the upstream may still not stay (a HEAD request, a client gone meanwhile):
        // the linger is started, and the listener who does stay stops it as it attaches
        this.#maybeLinger()
      }
      const timer = setTimeout(() => done(false), ms).unref()
      this.#waiters.add(done)
      this.#wantUpstream()
    })
  }

  /**
   * Someone who is no listener of the stream (an HLS player) wants the upstream for `ms` more: an idle
   * on-demand relay connects, and lets go once nobody wanted it for that long and its linger is over.
   */
  wantFor (ms: number): void {
    if (!this.def.onDemand || this.#state === 'stopped') return
    this.#wantedUntil = Math.max(this.#wantedUntil, Date.now() + ms)
    this.#wantUpstream()
    if (this.#wantTimer === undefined) this.#armWant()
  }

  /** Checks again when the want is over (it is pushed on by each call, and the timer follows it). */
  #armWant (): void {
    this.#wantTimer = setTimeout(() => {
      if (Date.now() < this.#wantedUntil) this.#armWant()
      else {
        this.#wantTimer = undefined
        this.#maybeLinger()
      }
    }, Math.max(0, this.#wantedUntil - Date.now())).unref()
  }

  /** `reason`: why a listener of another mount comes (moved, or served as that mount's fallback). */
  attach (listener: Listener, reason?: MoveReason): void {
    clearTimeout(this.#lingerTimer)
    this.mount.attach(listener)
    this.#crowd.joined()
    this.#ctx.emit('listener', {
      localMount: this.localMount, action: 'join', id: listener.id, ip: listener.ip, ...(reason && { reason })
    })
  }

  /** Lets a listener go to another relay: it leaves this one without being ended. */
  release (listener: Listener, reason: MoveReason): boolean {
    if (!this.mount.release(listener)) return false
    this.#ctx.emit('listener', { localMount: this.localMount, action: 'leave', id: listener.id, ip: listener.ip, reason })
    this.#maybeLinger()
    return true
  }

  setMetadata (metadata: RelayMetadata): void {
    // the audio pushed before the new title goes out with the title that was current
    this.mount.flush()
    this.#metadata = metadata
    this.#ctx.emit('metadata', { localMount: this.localMount, metadata: { ...metadata } })
  }

  status (): RelayStatus {
    return {
      localMount: this.localMount,
      origin: this.def.origin,
      upstream: upstreamName(this.upstream),
      activeUpstream: this.#upstreams.active,
      upstreams: this.def.upstreams.map((upstream, i) => ({
        url: upstreamName(upstream),
        state: this.#upstreams.state(i),
        lastError: this.#upstreams.lastError(i) ?? null
      })),
      switches: this.#upstreams.switches,
      state: this.#state,
      stateSince: this.#stateSince.toISOString(),
      connectedSince: this.#connectedSince?.toISOString() ?? null,
      lastError: this.#lastError ?? null,
      onDemand: this.def.onDemand,
      relayShoutcastMetadata: this.upstream.kind === 'http' && this.upstream.relayShoutcastMetadata,
      listeners: this.mount.audience,
      relays: this.mount.relays,
      peakListeners: this.mount.peakListeners,
      maxListeners: this.def.maxListeners ?? null,
      hidden: this.def.hidden === true,
      bytesIn: this.#bytesIn,
      bytesOut: this.mount.bytesOut,
      reconnects: this.#reconnects,
      slowDrops: this.mount.slowDrops,
      contentType: this.#head?.headers['content-type'] ?? null,
      headers: { ...this.#head?.headers },
      stream: streamInfo(this.streamHeaders()),
      audio: this.#audio ?? null,
      metadata: this.#metadata === undefined ? null : { ...this.#metadata },
      fallbackMount: this.def.fallbackMount ?? null,
      fallbackOverride: this.def.fallbackOverride,
      fallbackListeners: this.away.size
    }
  }

  /**
   * The upstream is live and trusted to send audio: a first connection at once (a live stream sends at
   * once, and a listener may be there before it does), a reconnect once it has sent STREAM_PROOF_BYTES.
   */
  #streaming (): boolean {
    return this.#state === 'live' && (this.#hadData() || this.#upstreams.row === 0)
  }

  /** The current connection has sent enough to be a stream: only then is its end a gap worth riding. */
  #hadData (): boolean {
    return this.#connectionBytes >= STREAM_PROOF_BYTES
  }

  /**
   * Counts a connection's first bytes. The gap ends with a stream, not with an answer or a byte: an
   * upstream that answers (and sends a byte) and hangs up, again and again, must not restart the grace
   * period of listeners who have been getting nothing all along.
   */
  #proving (bytes: number): void {
    this.#connectionBytes += bytes
    if (!this.#hadData()) return
    if (this.#gapSince !== undefined) this.#endGap()
    this.#wakeWaiters(true)
    this.#ctx.streaming(this)
  }

  /** Who wants the upstream: an on-demand relay keeps trying while listeners wait on a fallback to come back. */
  #demand (): number {
    const wanted = Date.now() < this.#wantedUntil ? 1 : 0
    return this.mount.listeners.size + this.#waiters.size + wanted + (this.def.fallbackOverride ? this.away.size : 0)
  }

  #inGrace (): boolean {
    return this.#gapSince !== undefined && Date.now() - this.#gapSince < this.#ctx.limits.gracePeriod * 1000
  }

  #wantUpstream (): void {
    clearTimeout(this.#lingerTimer)
    if (this.#state === 'idle') this.#connect()
  }

  #setState (state: RelayState, error?: RelayError): void {
    const previous = this.#state
    if (previous === state) return
    this.#state = state
    this.#stateSince = new Date()
    this.log.info({ state, previous, ...(error && { err: error.message }) }, `relay ${state}`)
    this.#ctx.emit('state', { localMount: this.localMount, state, previous, ...(error && { error }) })
  }

  /** Connects to the active upstream; `error`: why the one before it failed, when this is a switch. */
  #connect (error?: RelayError): void {
    clearTimeout(this.#retryTimer)
    this.#setState('connecting', error)
    const abort = new AbortController()
    this.#abort = abort
    this.#open(this.upstream, abort.signal).then(
      (connection) => this.#connected(connection, abort),
      (failure: unknown) => { if (this.#abort === abort) this.#failed(failure, false) }
    )
  }

  /** Opens one upstream: its response head is in, its body waits for `start`. */
  async #open (upstream: ResolvedUpstream, signal: AbortSignal): Promise<UpstreamConnection> {
    if (upstream.kind === 'file') return await openFileUpstream({ path: upstream.path, signal })
    const { limits, userAgent, extensions } = this.#ctx
    const headers = Object.assign({}, ...extensions.map((ext) => ext.requestHeaders?.(this, upstream)))
    return await openUpstream({
      url: upstream.url,
      ...(upstream.username !== undefined && { username: upstream.username }),
      ...(upstream.password !== undefined && { password: upstream.password }),
      headers,
      userAgent,
      redirects: upstream.redirects,
      publicOnly: upstream.publicOnly === true,
      ...(upstream.tlsOptions !== undefined && { tlsOptions: upstream.tlsOptions }),
      connectTimeout: limits.connectTimeout * 1000,
      sourceTimeout: limits.sourceTimeout * 1000,
      signal,
      label: upstream.url.href
    })
  }

  #connected (connection: UpstreamConnection, abort: AbortController): void {
    if (this.#abort !== abort) {
      connection.close()
      return
    }
    this.#abort = undefined
    const sink = this.#adopt(connection, this.#inGrace())
    if (sink !== undefined) connection.start(sink)
  }

  /**
   * Makes `connection` (of the active upstream) the one listeners get: its bytes go through a pipeline
   * built for its head. `riding`: the listeners there are carried over from the previous connection (a
   * gap, a switch), so the splice is made where their decoders can follow. Returns where its bytes go, or
   * undefined when its head is unusable (then it is closed and counted as a failure).
   */
  #adopt (connection: UpstreamConnection, riding: boolean): UpstreamSink | undefined {
    let pipeline: Stage
    try {
      pipeline = this.#pipeline(connection.head, this.upstream, riding)
    } catch (error) {
      connection.close()
      this.#failed(error, false)
      return undefined
    }
    this.#connection = connection
    this.#head = connection.head
    this.#connectedSince = new Date()
    this.#failedAt = undefined
    this.#refusal = undefined
    this.#everLive = true
    this.#connectionBytes = 0
    this.mount.resetStream()
    this.#audio = undefined
    this.#setState('live')
    this.#played()
    if (this.#streaming()) this.#wakeWaiters(true)
    this.#watchStall(connection)
    this.#scheduleProbe()
    this.#keepStandby()
    return {
      data: (chunk) => {
        this.#lastDataAt = Date.now()
        this.#standby?.mark()
        if (this.#connectionBytes < STREAM_PROOF_BYTES) this.#proving(chunk.length)
        this.#bytesIn += chunk.length
        pipeline.push(chunk)
        this.#flushSoon()
      },
      end: (error) => {
        if (this.#connection === connection) this.#upstreamEnded(error)
      }
    }
  }

  /** Listeners get the active upstream's audio now: a switch when they got another one's before. */
  #played (): void {
    const to = this.#upstreams.active
    const from = this.#playing
    this.#playing = to
    if (from === undefined || from === to) return
    this.#upstreams.switched()
    this.log.info({ from, to, reason: this.#leftBecause, upstream: upstreamName(this.upstream) }, 'relay switched upstream')
    this.#ctx.emit('failover', { localMount: this.localMount, from, to, reason: this.#leftBecause })
  }

  /**
   * A relay with a backup does not wait `sourceTimeout` for a silent upstream: no byte for `stallTimeout`
   * ends the connection, and the next upstream takes over.
   */
  #watchStall (connection: UpstreamConnection): void {
    if (this.def.upstreams.length < 2) return
    const ms = this.def.stallTimeout * 1000
    this.#lastDataAt = Date.now()
    const check = (): void => {
      if (this.#connection !== connection) return
      const quiet = Date.now() - this.#lastDataAt
      if (quiet < ms) {
        this.#stallTimer = setTimeout(check, ms - quiet).unref()
        return
      }
      connection.close()
      this.#upstreamEnded(new UpstreamStalledError(upstreamName(this.upstream), ms))
    }
    this.#stallTimer = setTimeout(check, ms).unref()
  }

  /** While a lower upstream plays, the higher ones are tried in the background, a round per backoff delay. */
  #scheduleProbe (): void {
    if (!this.def.failback || this.#upstreams.active === 0 || this.#probe !== undefined || this.#probeTimer !== undefined) return
    const delay = backoffDelay(this.#probeAttempt++, this.#ctx.limits.maxBackoff * 1000)
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined
      this.#probeRound(this.#upstreams.higher())
    }, delay).unref()
  }

  /** Tries `candidates` (best first) one after the other until one proves a stream; the next round waits. */
  #probeRound (candidates: number[]): void {
    const [index, ...rest] = candidates
    if (this.#state !== 'live') return
    if (index === undefined) {
      this.#scheduleProbe()
      return
    }
    const probe: Probe = { index, abort: new AbortController(), kept: [], bytes: 0 }
    this.#probe = probe
    this.#upstreams.probing(index)
    this.#open(this.def.upstreams[index]!, probe.abort.signal).then((connection) => {
      if (this.#probe !== probe) {
        connection.close()
        return
      }
      probe.connection = connection
      const refusal = this.#headRefusal(connection.head, this.def.upstreams[index]!)
      if (refusal !== undefined) {
        connection.close()
        this.#probeFailed(probe, refusal, rest)
        return
      }
      probe.deadline = this.#probeDeadline(probe, rest)
      connection.start({
        data: (chunk) => { if (probe.sink !== undefined) probe.sink.data(chunk); else this.#probed(probe, chunk) },
        end: (error) => {
          if (probe.sink !== undefined) probe.sink.end(error)
          else if (this.#probe === probe) this.#probeFailed(probe, error, rest)
        }
      })
    }, (error: unknown) => { if (this.#probe === probe) this.#probeFailed(probe, error, rest) })
  }

  /**
   * A probe must prove a stream within sourceTimeout: one that trickles a byte now and then never ends on
   * its own, and would hold the only probe slot, so that no failback ever happens again.
   */
  #probeDeadline (probe: Probe, rest: number[]): NodeJS.Timeout {
    const ms = this.#ctx.limits.sourceTimeout * 1000
    return setTimeout(() => {
      if (this.#probe !== probe || probe.sink !== undefined) return
      probe.connection!.close()
      this.#probeFailed(probe, new ProbeUnprovenError(upstreamName(this.def.upstreams[probe.index]!), ms), rest)
    }, ms).unref()
  }

  #probed (probe: Probe, chunk: Buffer): void {
    probe.kept.push(chunk)
    probe.bytes += chunk.length
    if (probe.bytes >= STREAM_PROOF_BYTES) this.#failBack(probe)
  }

  #probeFailed (probe: Probe, error: unknown, rest: number[]): void {
    this.#probe = undefined
    clearTimeout(probe.deadline)
    this.#upstreams.probeFailed(probe.index, toRelayError(error))
    this.#probeRound(rest)
  }

  /**
   * A higher upstream proved a stream: its connection becomes the active one, the lower one is closed.
   * Listeners get the lower one's audio up to its last whole frame (or page), then the higher one's from
   * its first, its bytes so far included.
   */
  #failBack (probe: Probe): void {
    this.#probe = undefined
    clearTimeout(probe.deadline)
    clearTimeout(this.#stallTimer)
    this.#connection?.close()
    this.#connection = undefined
    this.#leftBecause = FAILBACK
    this.#upstreams.failBack(probe.index)
    const sink = this.#adopt(probe.connection!, true)
    if (sink === undefined) return
    probe.sink = sink
    for (const chunk of probe.kept) sink.data(chunk)
  }

  /** With `standby`, the upstream after the active one is kept connected and read while the relay is live. */
  #keepStandby (): void {
    const index = this.#upstreams.active + 1
    if (this.#standby?.index === index) return
    this.#dropStandby()
    if (!this.def.standby || index >= this.def.upstreams.length) return
    this.#standby = new Standby({
      index,
      open: async (signal) => await this.#open(this.def.upstreams[index]!, signal),
      ringBytes: Math.max(STANDBY_RING_BYTES, this.#burstSize),
      maxBackoffMs: this.#ctx.limits.maxBackoff * 1000,
      state: (state, error) => {
        if (state === 'standby') this.#upstreams.standingBy(index)
        else this.#upstreams.probeFailed(index, error!)
      }
    })
  }

  #dropStandby (): void {
    const standby = this.#standby
    if (standby === undefined) return
    this.#standby = undefined
    standby.drop()
    this.#upstreams.released(standby.index)
  }

  /**
   * The standby of upstream `index` becomes the active connection at once, listeners riding over to it
   * from where the upstream before it stopped. False when there is none (or it is not connected).
   */
  #takeOver (index: number): boolean {
    const standby = this.#standby
    if (standby?.index !== index) return false
    this.#standby = undefined
    const handover = standby.takeOver()
    if (handover === undefined) return false
    this.#reconnects++
    handover.attach(this.#adopt(handover.connection, this.#inGrace()))
    return true
  }

  /** Lets a probe go (its connection, or its opening). */
  #dropProbe (): void {
    clearTimeout(this.#probeTimer)
    this.#probeTimer = undefined
    const probe = this.#probe
    if (probe === undefined) return
    this.#probe = undefined
    clearTimeout(probe.deadline)
    probe.abort.abort()
    probe.connection?.close()
    this.#upstreams.released(probe.index)
  }

  /**
   * The stages between the upstream body and the mount, built for this connection's response head:
   * the extensions' stages (ICY demux), then the format reader, which finds frames, pages, codec
   * headers, tags and audio info. Throws when an extension finds the head unusable (e.g. an
   * `icy-metaint` that is no number).
   */
  #pipeline (head: ResponseHead, upstream: ResolvedUpstream, riding: boolean): Stage {
    // Listeners riding the gap are in the previous connection's stream: its open Ogg chain is handed on,
    // to be ended or carried on, and after MPEG frames they get this connection's from its first frame.
    // Nobody else is: a stream joined anew keeps its whole burst.
    const riders = riding ? [...this.mount.listeners] : []
    const container = riders.length > 0 ? this.container : undefined
    const previous = riders.length > 0 ? this.#formats : undefined
    const taps = this.#taps
    if (previous === undefined) for (const tap of taps) tap.begin()
    this.#formats = new FormatDetector({
      chunk: taps.length === 0
        ? (bytes, sync) => this.mount.push(bytes, sync)
        : (bytes, sync) => {
            this.mount.push(bytes, sync)
            for (const tap of taps) tap.chunk(bytes, sync)
          },
      headers: (pages) => {
        this.mount.setHeaders(pages)
        for (const tap of taps) tap.headers(pages)
      },
      info: (info) => {
        this.#audio = info
        if (container !== undefined && riders.length > 0) this.#containerShown(container, riders.splice(0))
      },
      tags: (codec, fields) => this.#tagsRead(codec, fields),
      corrupt: (reason) => this.damaged(reason)
    }, previous?.end(), previous?.format === 'mpeg')
    return this.#extensionStages(head, upstream, this.#formats)
  }

  /** The extensions' stages an upstream's bytes go through before `next`; throws on a head they refuse. */
  #extensionStages (head: ResponseHead, upstream: ResolvedUpstream, next: Stage): Stage {
    let stage = next
    for (const ext of [...this.#ctx.extensions].reverse()) {
      stage = ext.upstreamStage?.(this, head, stage, upstream) ?? stage
    }
    return stage
  }

  /**
   * Why a probe's head could not be played (a bad `icy-metaint`), or undefined: found before the failback,
   * which would otherwise close the working connection for one that fails at once. Building stages has no
   * effect until bytes come, so these are let go.
   */
  #headRefusal (head: ResponseHead, upstream: ResolvedUpstream): unknown {
    try {
      this.#extensionStages(head, upstream, { push: () => {} })
      return undefined
    } catch (error) {
      return error
    }
  }

  /**
   * Listeners who rode the gap decode the container they were sent (their answer's `Content-Type`): when
   * the new connection shows another, what they got so far (an Ogg chain ends with its EOS pages) is sent,
   * and they are ended, to come back for the new one, as Icecast moves listeners only between mounts of
   * one format.
   */
  #containerShown (container: string, riders: Listener[]): void {
    if (this.container === container) return
    this.mount.flush()
    for (const listener of riders) if (this.mount.listeners.has(listener)) listener.end('gap')
  }

  /**
   * Sends the mount's pending bytes to its listeners: at once, or with `limits.writeInterval` once per
   * interval, which trades that much latency for fewer writes (each is a system call per listener); to its
   * listeners over TLS once per `limits.tlsWriteInterval` (0: as the others); to the others once per `limits.crowdWriteInterval` while a crowd joins (see Crowd), and once per `limits.busyWriteInterval` while the mount's writes keep the thread busy (see BusyWrites), whichever is longest.
   * Whatever the interval, the mount writes early once a quarter of `limits.queueSize` was gathered (see gatherBound).
   */
  #flushSoon (): void {
    const { writeInterval, tlsWriteInterval, crowdWriteInterval, busyWriteInterval } = this.#ctx.limits
    const mount = this.mount
    const crowded = this.#crowd.active()
    this.#busyWrites.read({ busyMs: mount.writeBusyMs, writes: mount.writes, audience: mount.roundAudience }, writeInterval * 1000, crowded)
    const forCrowd = gatheredInterval(writeInterval, crowdWriteInterval, crowded)
    this.#liveFlush.soon(gatheredInterval(forCrowd, busyWriteInterval, this.#busyWrites.busy))
    if (this.mount.hasEncrypted) this.#tlsFlush.soon(tlsWriteInterval === 0 ? writeInterval : tlsWriteInterval)
  }

  #tagsRead (codec: OggCodec, fields: Record<string, string>): void {
    const { TITLE: title, ARTIST: artist } = fields
    this.setMetadata({
      fields,
      ...(title !== undefined && { title }),
      ...(artist !== undefined && { artist }),
      source: codec,
      updatedAt: new Date().toISOString()
    })
  }

  /**
   * Notes damage in the upstream's data (a corrupt page, a malformed ICY block), so that a broken upstream
   * cannot flood the log: a line at the first, then at most one per CORRUPT_LOG_MS, written when damage
   * comes again after that time and counting what came since the last line.
   */
  damaged (reason: string): void {
    this.#corruptCount++
    const now = Date.now()
    if (now - this.#corruptSince < CORRUPT_LOG_MS) return
    this.log.warn({ reason, count: this.#corruptCount }, 'damaged upstream stream data')
    this.#corruptSince = now
    this.#corruptCount = 0
  }

  #upstreamEnded (error: Error): void {
    this.#failed(error, this.#letGo())
  }

  /**
   * The active connection is gone: listeners ride the gap if it was a stream. Returns whether it played long
   * enough to count as a success.
   */
  #letGo (): boolean {
    const liveFor = Date.now() - (this.#connectedSince?.getTime() ?? 0)
    this.#connection = undefined
    this.#connectedSince = undefined
    clearTimeout(this.#stallTimer)
    this.#dropProbe()
    if (this.#gapSince === undefined) {
      // A connection that ended before it was a stream (STREAM_PROOF_BYTES) is no stream that paused:
      // newcomers get 503 until one comes, and those who joined it are ended, not kept for a grace period.
      if (this.#hadData()) this.#startGap()
      else this.#ctx.orphaned(this, 'gap')
    }
    if (!this.#hadData()) this.#wakeWaiters(false)
    return liveFor >= STABLE_MS
  }

  /** Listeners stay through an upstream gap for the grace period; ended if no audio came by then. */
  #startGap (): void {
    this.#gapSince = Date.now()
    this.#graceTimer = setTimeout(() => {
      this.#gapSince = undefined
      this.#ctx.orphaned(this, 'gap')
    }, this.#ctx.limits.gracePeriod * 1000).unref()
  }

  #endGap (): void {
    this.#gapSince = undefined
    clearTimeout(this.#graceTimer)
  }

  /**
   * The active upstream failed (to connect, or as it played; `stable`: after long enough to count as a
   * success): the next one is tried at once, or after a backoff when every upstream has failed in a row.
   */
  #failed (error: unknown, stable: boolean): void {
    this.#abort = undefined
    if (this.#state === 'stopped') return
    this.#lastError = toRelayError(error)
    this.#failedAt = Date.now()
    this.log.warn({ code: this.#lastError.code, upstream: upstreamName(this.upstream) }, this.#lastError.message)
    if (this.def.onDemand && this.#demand() === 0) {
      // nobody rides the gap, and the next listener must wait for a new connection, not join a dead one
      this.#endGap()
      this.#goIdle(this.#lastError)
      return
    }
    if (this.#upstreams.active === this.#playing) this.#leftBecause = this.#lastError.code
    // Failback probes slow down until a connection holds: one that proves a stream and dies at once
    // (a flapping main) would otherwise win a failback every half second, forever.
    if (stable) this.#probeAttempt = 0
    const next = this.#upstreams.failed(this.#lastError, stable)
    this.#upstreams.activate(next.next)
    if (next.now && this.#takeOver(next.next)) return
    // the standby is for the upstream after the one that plays next
    this.#dropStandby()
    if (next.now) {
      this.#reconnects++
      this.#connect(this.#lastError)
      return
    }
    const delay = this.#retryDelay(next.attempt, refusalStatus(error))
    this.#setState('retrying', this.#lastError)
    this.#retryTimer = setTimeout(() => {
      this.#reconnects++
      this.#connect()
    }, delay).unref()
  }

  /**
   * How long to wait once every upstream failed in a row. Listeners riding a gap are worth a retry every
   * second: a backoff grown in an earlier outage must not outlast their grace period. But an upstream that
   * refused the relay (`refused`: 401, 403) will refuse again until someone changes a password: with a
   * `refusedRetry` it is asked at that pace, listeners or not.
   */
  #retryDelay (attempt: number, refused: 401 | 403 | undefined): number {
    const backoff = backoffDelay(attempt, this.#ctx.limits.maxBackoff * 1000)
    const { refusedRetry } = this.def
    if (refused === undefined || refusedRetry === undefined) {
      this.#refusal = undefined
      return this.#inGrace() && this.mount.listeners.size > 0 ? Math.min(backoff, GRACE_RETRY_MS) : backoff
    }
    const delay = Math.max(backoff, refusedRetry * 1000)
    const now = Date.now()
    this.#refusal = { status: refused, since: this.#refusal?.since ?? new Date(now).toISOString(), retryAt: new Date(now + delay).toISOString() }
    return delay
  }

  /** Nobody listens to an on-demand relay: it lets its upstreams go, and starts from the first one next time. */
  #goIdle (error?: RelayError): void {
    this.#dropStandby()
    this.#upstreams.rest(error)
    this.#playing = undefined
    this.#setState('idle', error)
    for (const tap of this.#taps) tap.idle?.()
  }

  #listenerLeft (listener: Listener, reason: EndReason): void {
    this.#ctx.onListenerLeave(listener)
    this.#ctx.emit('listener', {
      localMount: this.localMount, action: 'leave', id: listener.id, ip: listener.ip, reason
    })
    this.#maybeLinger()
  }

  /** Someone who counted as demand for this relay elsewhere (a listener away on a fallback) is gone. */
  demandChanged (): void {
    this.#maybeLinger()
  }

  /** On demand, the upstream is let go a little after the last listener left. */
  #maybeLinger (): void {
    if (!this.def.onDemand || this.#demand() > 0 || this.#state === 'stopped' || this.#state === 'idle') return
    clearTimeout(this.#lingerTimer)
    this.#lingerTimer = setTimeout(() => {
      if (this.#demand() > 0 || this.#state === 'stopped') return
      this.#clearTimers()
      this.#disconnect()
      this.#endGap()
      this.#goIdle()
    }, this.#ctx.limits.onDemandLinger * 1000).unref()
  }

  #disconnect (): void {
    this.#dropProbe()
    this.#dropStandby()
    this.#abort?.abort()
    this.#abort = undefined
    this.#connection?.close()
    this.#connection = undefined
    this.#connectedSince = undefined
  }

  #wakeWaiters (live: boolean): void {
    for (const wake of [...this.#waiters]) wake(live)
  }

  #clearTimers (): void {
    this.#liveFlush.clear()
    this.#tlsFlush.clear()
    clearTimeout(this.#retryTimer)
    clearTimeout(this.#graceTimer)
    clearTimeout(this.#lingerTimer)
    clearTimeout(this.#stallTimer)
    clearTimeout(this.#wantTimer)
    this.#wantTimer = undefined
  }
}
