import { NO_SYNC } from '../formats/sink.js'
import { BurstRing } from './burst.js'
import type { EndReason, Listener } from './listener.js'
import { Round, type Defer } from './round.js'
import { Tier } from './tier.js'

/**
 * The bytes a mount gathers at most before it writes them (one read more may go past it), from
 * `limits.queueSize`: a quarter of it. A listener is dropped as slow when its socket's queue passes
 * `queueSize` before a write, and Node counts a write in that queue whole until the kernel took its last
 * byte, so a listener that keeps pace still holds most of a large write when the next one comes. With
 * writes of a quarter, a healthy listener can lag three writes behind (a pause of the machine, a crowd
 * keeping the thread busy) before it nears the limit, however long the stream is gathered and however
 * fast it comes. A round of writes (round.ts) still carries all a listener is owed: bounded per write, a
 * mount of thousands with a small `queueSize` fell behind its stream for good (test/unit/mount/round.test.ts).
 */
export function gatherBound (queueSize: number): number {
  return Math.floor(queueSize / 4)
}

export interface MountInit {
  burstSize: number
  /** a flush comes early once this many bytes were gathered for a tier (see gatherBound); none unless given */
  gatherBound?: number
  onLeave: (listener: Listener, reason: EndReason) => void
  /** when the next slice of a round of writes runs (see Round); setImmediate unless given */
  defer?: Defer
}

/**
 * A mountpoint's fan-out: the same chunk objects go to every listener. A new listener starts at a
 * place the format allows: codec headers first (Ogg: those of the chain the burst starts in), then a burst
 * of recent bytes from a frame or page start; when the burst holds no such place it waits for the next one
 * in the live stream.
 *
 * Chunks pushed since the last `flush()` reach each listener as one write: the relay flushes after an
 * upstream read (whose pieces the ICY demuxer cuts at each metadata block) or once per
 * `limits.writeInterval`. A write to a socket costs a system call whatever its size, and with
 * thousands of listeners those calls are the relay's CPU. With more listeners than a slice, the writes of a
 * flush are a `Round` cut into slices with the event loop's turns between them, which later flushes join.
 * A listener that joins is sent its burst and streams from the next flush on (see Tier): joining forces no
 * flush. Listeners over TLS are a tier of their own,
 * flushed less often (`flushEncrypted`, once per `limits.tlsWriteInterval`): each of their writes is a
 * TLS record encrypted apart and a round through Node's TLS stream, so fewer, larger writes cost less.
 */
export class Mount {
  /** every listener, streaming or waiting for a place to start */
  readonly listeners = new Set<Listener>()
  readonly burst: BurstRing
  peakListeners = 0
  slowDrops = 0
  /** how many of `listeners` are slaves' relay connections */
  relays = 0
  #headers: Buffer[] = []
  /** the streaming listeners not over TLS */
  readonly #live = new Tier()
  /** the streaming listeners over TLS */
  readonly #encrypted = new Tier()
  readonly #waiting = new Set<Listener>()
  #bytesOutOfEnded = 0
  readonly #onLeave: MountInit['onLeave']
  /** the writes to the streaming listeners not over TLS, in slices */
  readonly #round: Round
  readonly #gatherBound: number

  constructor (init: MountInit) {
    this.burst = new BurstRing(init.burstSize)
    this.#gatherBound = init.gatherBound ?? Infinity
    this.#onLeave = init.onLeave
    this.#round = new Round((listener) => this.#live.listeners.has(listener), init.defer)
  }

  /** the listeners that are no slave's relay connection: what the stats and the limits count */
  get audience (): number {
    return this.listeners.size - this.relays
  }

  get bytesOut (): number {
    let total = this.#bytesOutOfEnded
    for (const listener of this.listeners) total += listener.bytesSent
    return total
  }

  /**
   * `sync`: where in `chunk` a listener may start (see FormatSink.chunk). Sent on at the next flush, which
   * comes at once when a tier gathered `gatherBound` bytes.
   */
  push (chunk: Buffer, sync: number): void {
    if (chunk.length === 0) return
    this.burst.push(chunk, sync)
    this.#live.push(chunk)
    this.#encrypted.push(chunk)
    if (this.#waiting.size > 0 && sync !== NO_SYNC) this.#startWaiting(chunk.subarray(Math.max(0, sync)))
    if (this.#live.gathered >= this.#gatherBound) this.flushLive()
    if (this.#encrypted.gathered >= this.#gatherBound) this.flushEncrypted()
  }

  /** ms the rounds of writes to the listeners not over TLS took so far, and their writes (see BusyWrites) */
  get writeBusyMs (): number {
    return this.#round.busyMs
  }

  get writes (): number {
    return this.#round.writes
  }

  /** the listeners the rounds write to: streaming, not over TLS */
  get roundAudience (): number {
    return this.#live.listeners.size
  }

  /** whether listeners over TLS stream here: the relay flushes them on a timer of their own */
  get hasEncrypted (): boolean {
    return this.#encrypted.wanted
  }

  /** Sends what was pushed since the last flush to every streaming listener, as one chunk per tier, before it returns. */
  flush (): void {
    this.flushLive()
    this.#round.finish()
    this.flushEncrypted()
  }

  /**
   * Sends what was pushed since their last flush to the streaming listeners that are not over TLS: in a round
   * that a mount of many listeners writes in slices, which a flush during it joins (see Round).
   */
  flushLive (): void {
    const live = this.#live
    // those who joined since come in after the round began: it goes on to them with its later parts
    live.flush((chunk) => { this.#round.add(chunk, live.listeners) }, (listener) => { this.#round.enlist(listener) })
  }

  /** Sends what was pushed since their last flush to the streaming listeners over TLS. */
  flushEncrypted (): void {
    const encrypted = this.#encrypted
    encrypted.flush((chunk) => { for (const listener of encrypted.listeners) listener.send(chunk) })
  }

  /**
   * The codec headers a listener gets before the bytes pushed from now on; a listener whose burst starts
   * in an earlier chain gets that chain's headers.
   */
  setHeaders (pages: Buffer[]): void {
    this.#headers = pages
    this.burst.setHeaders(pages)
  }

  attach (listener: Listener): void {
    this.listeners.add(listener)
    if (listener.relay) this.relays++
    this.peakListeners = Math.max(this.peakListeners, this.audience)
    const burst = this.burst.recent()
    if (burst === undefined) {
      this.#waiting.add(listener)
      return
    }
    this.#start(listener, burst.headers, burst.chunks)
  }

  #startWaiting (from: Buffer): void {
    for (const listener of this.#waiting) this.#start(listener, this.#headers, [from])
    this.#waiting.clear()
  }

  #start (listener: Listener, headers: Buffer[], chunks: Buffer[]): void {
    listener.start([...headers, ...chunks])
    if (!listener.ended) (listener.encrypted ? this.#encrypted : this.#live).join(listener)
  }

  /** Called through the listener's `onEnd`, exactly once per listener. */
  detach (listener: Listener, reason: EndReason): void {
    if (!this.listeners.delete(listener)) return
    if (listener.relay) this.relays--
    this.#forget(listener)
    this.#bytesOutOfEnded += listener.bytesSent
    if (reason === 'slow') this.slowDrops++
    this.#onLeave(listener, reason)
  }

  /**
   * Lets a listener go without ending it, to join another mount (Icecast's moveclients). What it was
   * sent here stays counted here; it starts from zero on the next mount.
   */
  release (listener: Listener): boolean {
    if (!this.listeners.has(listener)) return false
    // what it is owed of this mount goes before the other mount's bytes
    this.flush()
    this.listeners.delete(listener)
    if (listener.relay) this.relays--
    this.#forget(listener)
    this.#bytesOutOfEnded += listener.bytesSent
    listener.bytesSent = 0
    return true
  }

  #forget (listener: Listener): void {
    this.#live.forget(listener)
    this.#encrypted.forget(listener)
    this.#waiting.delete(listener)
  }

  endAll (reason: EndReason): void {
    // the listeners over TLS are owed up to a tlsWriteInterval of stream
    this.flush()
    for (const listener of this.listeners) listener.end(reason)
  }

  /**
   * A new upstream connection: called before its bytes show whether they carry the stream on (an Ogg chain
   * resumed after a reconnect) or are another stream, so old starts and headers are void; a resumed chain's
   * reader publishes its headers anew.
   */
  resetStream (): void {
    this.flush()
    this.burst.clear()
    this.#headers = []
  }
}
