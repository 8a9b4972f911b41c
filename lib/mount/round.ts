import type { Listener } from './listener.js'

/**
 * Listeners a slice of a round writes to before the event loop takes a turn: about 2.5 ms at 10 µs a write.
 * A mount with no more listeners than this is written to in one go, as before rounds were cut.
 */
export const SLICE = 256

/** Runs the next slice of a round later: `setImmediate`, so that the upstream's reads come in between. */
export type Defer = (next: () => void) => void

const afterIo: Defer = (next) => { setImmediate(next) }

/**
 * A round of writes of the stream to a mount's listeners, cut into slices. A single thread writes to
 * thousands of sockets in turn (50 ms and more for 5000); a round written in one go keeps the upstream's
 * next read waiting in the kernel until it ends, and that read's own round then makes the last listener
 * wait about two rounds. Between slices the event loop reads the upstream, and what it brings joins the
 * round: each listener's write carries everything it lacks so far, and the listeners the round passed
 * before it came get it in a pass of their own at the round's end. So nothing waits much more than one
 * round, with fewer writes, and every listener gets every part once, in order.
 */
export class Round {
  /** what the round carries: one chunk per flush since it began, in order */
  #parts: Buffer[] = []
  /** the listeners of this pass, in order, and how many of `#parts` each has had */
  readonly #order: Listener[] = []
  readonly #had: number[] = []
  /** the listeners in `#order` */
  readonly #inRound = new Set<Listener>()
  #next = 0
  /** `#parts` joined from an index to its end, for the listeners that had as many */
  readonly #joined = new Map<number, Buffer>()
  #scheduled = false
  /** ms spent writing slices, and the writes, since the round's mount began: how busy its writes keep the thread */
  #busyMs = 0
  #writes = 0
  /** a slice is being written: a listener's leaving can call back into the mount from inside it */
  #writing = false
  readonly #defer: Defer
  readonly #slice: number
  readonly #streaming: (listener: Listener) => boolean

  /** `streaming`: whether a listener still gets the stream (it may leave between slices) */
  constructor (streaming: (listener: Listener) => boolean, defer: Defer = afterIo, slice = SLICE) {
    this.#streaming = streaming
    this.#defer = defer
    this.#slice = slice
  }

  get running (): boolean {
    return this.#parts.length > 0
  }

  get busyMs (): number {
    return this.#busyMs
  }

  get writes (): number {
    return this.#writes
  }

  /**
   * Sends `chunk` after what the round carries already: a round begins with `listeners`, in their order,
   * and writes its first slice at once; a running round takes it along.
   */
  add (chunk: Buffer, listeners: Iterable<Listener>): void {
    this.#parts.push(chunk)
    this.#joined.clear()
    if (this.#parts.length > 1) return
    for (const listener of listeners) {
      this.#inRound.add(listener)
      this.#order.push(listener)
      this.#had.push(0)
    }
    this.#step()
  }

  /**
   * A listener that has everything the round carries so far (its burst held it): a running round takes it
   * along for the parts that come later; the next round begins with it anyway.
   */
  enlist (listener: Listener): void {
    if (!this.running) return
    if (this.#inRound.has(listener)) {
      // one that left and came back within the round (hooks run from inside a slice): its burst held it all
      this.#had[this.#order.indexOf(listener)] = this.#parts.length
      return
    }
    this.#inRound.add(listener)
    this.#order.push(listener)
    this.#had.push(this.#parts.length)
  }

  /**
   * Writes the rest of the round now: after it, every listener of the round has every part. Called from
   * inside a slice (a listener that left, through the hooks it runs), it leaves the round to that slice.
   */
  finish (): void {
    if (this.#writing) return
    while (this.running) this.#write()
  }

  #step (): void {
    this.#write()
    if (!this.running || this.#scheduled) return
    this.#scheduled = true
    this.#defer(() => {
      this.#scheduled = false
      if (this.running) this.#step()
    })
  }

  /** Writes the next slice of the pass: `#slice` writes, past the listeners that have every part. */
  #write (): void {
    const order = this.#order
    let i = this.#next
    this.#writing = true
    const start = performance.now()
    let written = 0
    try {
      for (; i < order.length && written < this.#slice; i++) {
        const listener = order[i]!
        const had = this.#had[i]!
        const total = this.#parts.length
        if (had === total || !this.#streaming(listener)) continue
        // counted before the write: a part that a hook run from inside it adds is still owed
        this.#had[i] = total
        listener.send(this.#from(had))
        written++
      }
    } finally {
      this.#writing = false
      this.#busyMs += performance.now() - start
    }
    this.#writes += written
    this.#next = i
    if (i === order.length) this.#nextPass()
  }

  /**
   * The listeners the round passed before its last parts came get them in another pass, and those that have
   * every part stay in it for the parts still to come; none owed anything: the round is over.
   */
  #nextPass (): void {
    const total = this.#parts.length
    let kept = 0
    let least = total
    for (let i = 0; i < this.#order.length; i++) {
      if (!this.#streaming(this.#order[i]!)) {
        this.#inRound.delete(this.#order[i]!)
        continue
      }
      const had = this.#had[i]!
      this.#order[kept] = this.#order[i]!
      this.#had[kept++] = had
      least = Math.min(least, had)
    }
    if (least === total) {
      kept = 0
      this.#inRound.clear()
    }
    this.#order.length = kept
    this.#had.length = kept
    this.#next = 0
    // the parts every listener left has had are kept no longer
    this.#parts = this.#parts.slice(least)
    for (let i = 0; i < kept; i++) this.#had[i] = this.#had[i]! - least
    this.#joined.clear()
  }

  #from (had: number): Buffer {
    const parts = this.#parts
    if (had === parts.length - 1) return parts[had]!
    let joined = this.#joined.get(had)
    if (joined === undefined) {
      joined = Buffer.concat(had === 0 ? parts : parts.slice(had))
      this.#joined.set(had, joined)
    }
    return joined
  }
}
