/** joins within one window that make a crowd: far above the few a second of a mount's ordinary life */
export const CROWD_JOINS = 100

export const CROWD_WINDOW_MS = 1000

/**
 * Whether listeners are joining a mount in a crowd now, from the times of their joins. While one does, the
 * stream is gathered longer (`limits.crowdWriteInterval`) for the listeners already in: each round of
 * writes costs a system call per listener, and a crowd keeps the relay's one thread busy accepting and
 * starting newcomers; half a second of gathering cuts the fan-out's CPU to about a third
 * (docs/performance.md). Those listeners hold the seconds of burst they started with, so the delay is not heard.
 */
export class Crowd {
  #windowStart = -Infinity
  #joins = 0
  /** a crowd lasts until a window passes with fewer joins */
  #until = -Infinity

  joined (now = performance.now()): void {
    if (now - this.#windowStart >= CROWD_WINDOW_MS) {
      this.#windowStart = now
      this.#joins = 0
    }
    if (++this.#joins >= CROWD_JOINS) this.#until = now + CROWD_WINDOW_MS
  }

  /** Whether a crowd joins now: a window with CROWD_JOINS joins ended less than a window ago, or runs. */
  active (now = performance.now()): boolean {
    return now < this.#until
  }
}

/**
 * The interval a mount's stream is gathered for: `base` (`limits.writeInterval`), or `gathered` when longer
 * while it `gathers` (`limits.crowdWriteInterval` while a crowd joins, `limits.busyWriteInterval` while its
 * writes keep the thread busy).
 */
export function gatheredInterval (base: number, gathered: number, gathers: boolean): number {
  return gathers ? Math.max(base, gathered) : base
}

/** The share of a second a mount's writes would take at `writeInterval` before its stream is gathered longer. */
export const BUSY_SHARE = 0.4
/** …and the share under which it is written at `writeInterval` again (5,000 listeners foresee about 27 %). */
export const CALM_SHARE = 0.3

/** What a mount's rounds have done so far (Mount.writeBusyMs, Mount.writes) and the listeners they write to now. */
export interface WriteWork {
  busyMs: number
  writes: number
  audience: number
}

/**
 * Whether a mount's writes would keep the relay's thread busy at `writeInterval`: each upstream read costs a
 * write per listener (a system call, about 15 µs on loopback), so a mount of 10,000 whose upstream sends four
 * reads a second would spend more than half of a core writing them one by one. While it would, the stream is
 * gathered for `limits.busyWriteInterval`: two reads go out in one write, at about half the cost, for the
 * latency icecast-kh's listeners have anyway (docs/performance.md). A mount of 5,000 stays under it. The share is
 * foreseen from the last window (a second or more): the ms a write took, times the listeners, times the rounds
 * `writeInterval` would have made of its reads (reads closer than it go out together: Icecast sends a read in
 * two pieces half a millisecond apart), so that gathering, which makes the writes fewer, does not end it while
 * the same listeners and reads are there.
 */
export class BusyWrites {
  #windowStart: number | undefined
  /** the mount's ms of writes and writes when the window began */
  #busyMsAtStart = 0
  #writesAtStart = 0
  /** the rounds `writeInterval` would have made of the reads so far, and when the last began */
  #rounds = 0
  #roundsAtStart = 0
  #roundAt = -Infinity
  /** ms a write took, from the last window that wrote */
  #msPerWrite = 0
  #busy = false

  /**
   * An upstream read was pushed at `now`: counted, and the last window judged once a second has passed. While a
   * crowd joins (`crowded`), its writes cost more than they will, on a thread busy with newcomers: a window of it
   * turns nothing busy.
   */
  read (work: WriteWork, writeIntervalMs: number, crowded: boolean, now = performance.now()): void {
    // more than a second without a read is calm, whatever came before it in the window
    const quiet = now - this.#roundAt > CROWD_WINDOW_MS
    if (now - this.#roundAt >= writeIntervalMs) {
      this.#rounds++
      this.#roundAt = now
    }
    if (this.#windowStart === undefined) {
      this.#start(work, now)
      return
    }
    const elapsed = now - this.#windowStart
    if (elapsed < CROWD_WINDOW_MS) return
    const writes = work.writes - this.#writesAtStart
    if (writes > 0) this.#msPerWrite = (work.busyMs - this.#busyMsAtStart) / writes
    const share = quiet ? 0 : this.#msPerWrite * work.audience * (this.#rounds - this.#roundsAtStart) / elapsed
    if (share >= BUSY_SHARE && !crowded) this.#busy = true
    else if (share < CALM_SHARE) this.#busy = false
    this.#start(work, now)
  }

  #start (work: WriteWork, now: number): void {
    this.#windowStart = now
    this.#busyMsAtStart = work.busyMs
    this.#writesAtStart = work.writes
    this.#roundsAtStart = this.#rounds
  }

  get busy (): boolean {
    return this.#busy
  }
}
