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

  /** `base` (`limits.writeInterval`), or `crowd` when longer while a crowd joins */
  writeInterval (base: number, crowd: number, now = performance.now()): number {
    return this.active(now) ? Math.max(base, crowd) : base
  }
}

/** The share of a second a mount's rounds of writes may take before its stream is gathered longer. */
export const BUSY_SHARE = 0.4
/** …and the share under which it is written at `writeInterval` again (gathered, the same listeners cost about half). */
export const CALM_SHARE = 0.15

/**
 * Whether a mount's writes keep the relay's thread busy: the share of the last window (a second or more) its
 * rounds of writes took. Each write is a system call per listener (about 15 µs on loopback): a mount of 10,000
 * whose upstream sends four reads a second spends more than half of a core writing them one by one. Gathered
 * for `limits.crowdWriteInterval`, two reads go out in one write, at half the cost, and the latency that costs
 * is what icecast-kh's listeners have anyway (docs/performance.md). A mount of a few thousand stays well under it.
 */
export class BusyWrites {
  #windowStart: number | undefined
  #busyAtStart = 0
  #busy = false

  /** `busyMs`: the mount's ms of writes so far (Mount.writeBusyMs) */
  observe (busyMs: number, now = performance.now()): void {
    if (this.#windowStart === undefined) {
      this.#windowStart = now
      this.#busyAtStart = busyMs
      return
    }
    const elapsed = now - this.#windowStart
    if (elapsed < CROWD_WINDOW_MS) return
    const share = (busyMs - this.#busyAtStart) / elapsed
    if (share >= BUSY_SHARE) this.#busy = true
    else if (share < CALM_SHARE) this.#busy = false
    this.#windowStart = now
    this.#busyAtStart = busyMs
  }

  get busy (): boolean {
    return this.#busy
  }
}
