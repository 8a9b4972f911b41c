import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'

/** Per-listener framing of the shared audio, e.g. ICY metadata interleaving: the bytes to write. */
export interface Framer {
  /** `chunk` framed as one buffer, which listeners at the same place share */
  frame (chunk: Buffer): Buffer
  /** `chunk` framed as slices appended to `out`, nothing joined: for writes that are corked anyway */
  slices (chunk: Buffer, out: Buffer[]): void
}

export type EndReason = 'client' | 'slow' | 'error' | 'stopped' | 'gap' | 'removed' | 'kicked' | 'closing' | 'duration'

export interface ListenerInit {
  id: number
  socket: Socket
  ip: string
  userAgent: string
  queueSize: number
  framer?: Framer | undefined
  /** what it gets before its first start (an intro), shared by every listener; not again on another mount */
  intro?: Buffer | undefined
  /** seconds after connecting at which the listener is ended, with reason `'duration'` (Icecast's max-listener-duration) */
  maxDuration?: number | undefined
  onEnd: (listener: Listener, reason: EndReason) => void
  /**
   * Where an ended listener waits while it is flushed, until its socket closes: shared by every listener
   * of an app, so that closing the app can cut them off at once.
   */
  ending: Set<Listener>
  // Many machines
  /** a slave's relay connection: served as any listener, counted apart (never a listener of the stats or the limits) */
  relay?: boolean
}

/** The listener of each socket, for the socket's event handlers, which are shared by every listener. */
const listenerOfSocket = new WeakMap<Socket, Listener>()

function onSocketGone (this: Socket): void {
  listenerOfSocket.get(this)?.end('client')
}

function onSocketClosed (this: Socket): void {
  const listener = listenerOfSocket.get(this)
  if (listener === undefined) return
  listener.end('client')
  listener.ending.delete(listener)
}

function onSocketError (this: Socket): void {
  listenerOfSocket.get(this)?.end('error')
}

/**
 * How long an ended listener may go without reading what it is still owed before its socket is
 * destroyed. A player that stopped reading (paused, or gone without a word) would otherwise keep its
 * socket, and what waits in it, for as long as the connection lasts: Node waits for the peer to close.
 * Node's idle timeout lets a write that moved since the last check count as progress once, so the cut
 * comes after one to two times this.
 */
const END_IDLE_TIMEOUT_MS = 3000

function destroySocket (this: Socket): void {
  this.destroy()
}

/** Node's timers take at most this many milliseconds (a longer delay fires at once): longer limits take several. */
const MAX_TIMER_MS = 2 ** 31 - 1

function onDurationTimer (listener: Listener): void {
  listener.checkDuration()
}

/** The most bytes one TLS record carries (RFC 8446, 5.1). */
export const TLS_RECORD_BYTES = 16384

/**
 * `slices` in order as pieces of at most `size` bytes: neighbours joined while they fit, a larger slice cut
 * (without a copy); every byte is in one piece, in order.
 */
export function piecesOf (slices: Buffer[], size = TLS_RECORD_BYTES): Buffer[] {
  const pieces: Buffer[] = []
  let group: Buffer[] = []
  let bytes = 0
  for (const slice of slices) {
    for (let from = 0; from < slice.length;) {
      const part = slice.subarray(from, from + size - bytes)
      group.push(part)
      bytes += part.length
      from += part.length
      if (bytes < size) continue
      pieces.push(joined(group, bytes))
      group = []
      bytes = 0
    }
  }
  if (group.length > 0) pieces.push(joined(group, bytes))
  return pieces
}

/** `group` as one buffer: a lone slice as it is, without a copy. */
function joined (group: Buffer[], bytes: number): Buffer {
  return group.length === 1 ? group[0]! : Buffer.concat(group, bytes)
}

/**
 * Ends a socket and closes it once what it was sent is written: Node's server sockets allow half-open
 * connections, so `end()` alone keeps one open until the client ends its half too, which some never do.
 */
export function endAndClose (socket: Socket, last?: Buffer): void {
  socket.once('finish', destroySocket)
  if (last === undefined) socket.end()
  else socket.end(last)
}

/**
 * One listener's socket. The shared chunks are written as they are; backpressure is read from the
 * socket's own queue (`writableLength`) instead of a `drain` listener per write, and a listener whose
 * queue passes `queueSize` is dropped: the queue holds references to shared chunks, so memory is bounded.
 * Thousands of listeners are alive at once, so one holds no closures of its own: its socket's handlers
 * are shared, and `onEnd` should be too.
 */
export class Listener {
  readonly id: number
  readonly ip: string
  readonly userAgent: string
  readonly relay: boolean
  /** its socket is a TLS socket: the mount writes to it less often (see Mount) */
  readonly encrypted: boolean
  readonly connectedAt = Date.now()
  /** bytes sent since it joined its current mount */
  bytesSent = 0
  ended = false
  readonly #socket: Socket
  readonly #queueSize: number
  readonly #framer: Framer | undefined
  #intro: Buffer | undefined
  readonly #onEnd: ListenerInit['onEnd']
  /** when (`Date.now()`) a limited listener is ended with reason `'duration'` */
  readonly #endsAt: number | undefined
  /** Node keeps timers of the same delay in one list, so a timer per limited listener costs no sweep. */
  #durationTimer: NodeJS.Timeout | undefined
  readonly ending: Set<Listener>
  /** a TLS listener's start still to be written, and what was sent after it meanwhile (see #pace) */
  #paced: Buffer[] | undefined
  #pacedBytes = 0

  constructor (init: ListenerInit) {
    this.id = init.id
    this.ip = init.ip
    this.userAgent = init.userAgent
    this.relay = init.relay === true
    this.encrypted = (init.socket as Partial<TLSSocket>).encrypted === true
    this.#socket = init.socket
    this.#queueSize = init.queueSize
    this.#framer = init.framer
    this.#intro = init.intro
    this.#onEnd = init.onEnd
    this.ending = init.ending
    listenerOfSocket.set(init.socket, this)
    init.socket.on('close', onSocketClosed)
    init.socket.on('end', onSocketGone)
    init.socket.on('error', onSocketError)
    // an infinite (or NaN) limit is none; the end is never called from here, before the listener is attached
    if (init.maxDuration !== undefined && Number.isFinite(init.maxDuration)) {
      this.#endsAt = this.connectedAt + Math.max(0, init.maxDuration * 1000)
      this.#armDuration(this.#endsAt - this.connectedAt)
    }
  }

  /** Ends a listener past its `maxDuration`, or waits again until it is. */
  checkDuration (): void {
    if (this.#endsAt === undefined || this.ended) return
    const left = this.#endsAt - Date.now()
    if (left <= 0) this.end('duration')
    else this.#armDuration(left)
  }

  /** unref'd: a limited listener keeps no process alive */
  #armDuration (ms: number): void {
    this.#durationTimer = setTimeout(onDurationTimer, Math.min(ms, MAX_TIMER_MS), this).unref()
  }

  send (chunk: Buffer): void {
    if (this.#droppedAsSlow()) return
    const bytes = this.#framer === undefined ? chunk : this.#framer.frame(chunk)
    if (this.encrypted && (this.#paced !== undefined || bytes.length > TLS_RECORD_BYTES)) this.#pace([bytes])
    else this.#socket.write(bytes)
    this.bytesSent += chunk.length
  }

  /**
   * Sends what a listener starts with (its intro, codec headers, the burst) as one corked write. Its framing is
   * written as slices: the chunks of a burst are old, so no other listener stands at the same place in
   * them, and joining them would make a new buffer per listener for the garbage collector. Over TLS it is written in
   * pieces instead (see #pace).
   */
  start (chunks: Buffer[]): void {
    if (this.#droppedAsSlow()) return
    const framer = this.#framer
    const slices: Buffer[] = []
    const intro = this.#intro
    this.#intro = undefined
    // the intro is framed as audio: an ICY listener's interval counts its bytes
    for (const chunk of intro === undefined ? chunks : [intro, ...chunks]) {
      if (framer === undefined) slices.push(chunk)
      else framer.slices(chunk, slices)
      this.bytesSent += chunk.length
    }
    if (this.encrypted) {
      this.#pace(slices)
      return
    }
    const socket = this.#socket
    socket.cork()
    for (const slice of slices) socket.write(slice)
    socket.uncork()
  }

  /**
   * Writes to a TLS listener in pieces of a TLS record at most, each once the last is written, until none is
   * left; what is sent meanwhile waits behind them. Its start goes so, and any larger write. Node encrypts a
   * write (a corked one joined first) as one buffer, and its TLS stream keeps a buffer as large as the largest
   * write it had for the rest of the connection: a start of 64 KiB in one write kept some 35–40 KiB more per HTTPS
   * listener (docs/performance.md).
   */
  #pace (slices: Buffer[]): void {
    const pieces = piecesOf(slices)
    for (const piece of pieces) this.#pacedBytes += piece.length
    if (this.#paced !== undefined) {
      this.#paced.push(...pieces)
      return
    }
    this.#paced = pieces
    this.#writePiece()
  }

  #writePiece (): void {
    // undefined: the listener ended, and what waited was written at once (see #flushPaced)
    const piece = this.#paced?.shift()
    if (piece === undefined) {
      this.#unpace()
      return
    }
    this.#pacedBytes -= piece.length
    this.#socket.write(piece, (error) => {
      // a socket that failed is destroyed: what is sent after it goes nowhere either way
      if (error == null) this.#writePiece()
      else this.#unpace()
    })
  }

  #unpace (): void {
    this.#paced = undefined
    this.#pacedBytes = 0
  }

  /** What waits behind a piece goes at once, as a plain socket's would: the connection closes, and its buffers with it. */
  #flushPaced (): void {
    const paced = this.#paced
    this.#unpace()
    for (const piece of paced ?? []) this.#socket.write(piece)
  }

  /** Ends a listener whose unsent queue passed `queueSize`: true when it did. */
  #droppedAsSlow (): boolean {
    if (this.#socket.writableLength + this.#pacedBytes <= this.#queueSize) return false
    this.end('slow')
    return true
  }

  /**
   * Ends the listener once; a listener that stopped reading is cut off instead of flushed, and one
   * that reads nothing for END_IDLE_TIMEOUT_MS (to twice that) is cut off then.
   */
  end (reason: EndReason): void {
    if (this.ended) return
    this.ended = true
    clearTimeout(this.#durationTimer)
    this.#onEnd(this, reason)
    const socket = this.#socket
    if (socket.destroyed) return
    if (reason === 'slow' || reason === 'error' || reason === 'closing' || reason === 'kicked') {
      socket.destroy()
    } else {
      this.ending.add(this)
      socket.setTimeout(END_IDLE_TIMEOUT_MS, destroySocket)
      this.#flushPaced()
      endAndClose(socket)
    }
  }

  /** Cuts off an ended listener that is still being flushed. */
  destroy (): void {
    this.#socket.destroy()
  }
}
