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
