import type { RelayError } from '../errors.js'

/**
 * `active`: the one the relay plays or tries now; `probing`: tried in the background for a failback;
 * `standby`: connected and read, ready for a switch; `failed`: its last try failed; `idle`: none of these.
 */
export type UpstreamState = 'idle' | 'active' | 'probing' | 'standby' | 'failed'

/** What the relay does once its active upstream failed: try `next`, at once or after backoff `attempt`. */
export type NextTry = { next: number, now: true } | { next: number, now: false, attempt: number }

/**
 * The decisions of a relay's ordered upstreams, kept apart from sockets and timers: which upstream is
 * active, which to try after a failure and whether to back off first, which to probe for a failback.
 * A failure moves on to the next upstream at once; only when every upstream has failed in a row does the
 * relay wait (the backoff, growing with each such round) and start again from the first.
 */
export class UpstreamSet {
  readonly count: number
  #active = 0
  /** failures in a row, across upstreams, since a connection last stayed up long enough to count as a success */
  #row = 0
  #switches = 0
  readonly #states: UpstreamState[]
  readonly #errors: Array<RelayError | undefined>

  constructor (count: number) {
    this.count = count
    this.#states = Array.from({ length: count }, (_, i) => (i === 0 ? 'active' : 'idle'))
    this.#errors = Array.from({ length: count }, () => undefined)
  }

  get active (): number {
    return this.#active
  }

  /** Failures in a row: 0 while none has come since the last success (or ever). */
  get row (): number {
    return this.#row
  }

  /** Times the relay went on with another upstream than the one it played. */
  get switches (): number {
    return this.#switches
  }

  state (index: number): UpstreamState {
    return this.#states[index]!
  }

  lastError (index: number): RelayError | undefined {
    return this.#errors[index]
  }

  /**
   * The active upstream failed; `stable`: it had played long enough first to count as a success, so the
   * failures in a row start anew with this one. A single upstream backs off at each failure, as before.
   */
  failed (error: RelayError, stable: boolean): NextTry {
    if (stable) this.#row = 0
    this.#row++
    this.#mark(this.#active, 'failed', error)
    if (this.#row % this.count === 0) return { next: 0, now: false, attempt: this.#row / this.count - 1 }
    return { next: (this.#active + 1) % this.count, now: true }
  }

  /**
   * Nobody listens any more (on demand): the relay lets its upstreams go, and starts from the first one
   * next time. A failure that came as it did (`error`) is the active one's, but not one of a row: nobody
   * waited for it.
   */
  rest (error?: RelayError): void {
    if (error !== undefined) this.#mark(this.#active, 'failed', error)
    this.activate(0)
  }

  /** The relay tries `index` now; the one it leaves keeps its state (failed, or idle when it is let go). */
  activate (index: number): void {
    if (this.#states[this.#active] === 'active') this.#states[this.#active] = 'idle'
    this.#active = index
    this.#states[index] = 'active'
  }

  /**
   * A higher upstream answered with audio while a lower one played: it becomes the active one, and since
   * the one it replaces was working, no failure is in a row any more.
   */
  failBack (index: number): void {
    this.activate(index)
    this.#row = 0
  }

  /** Listeners get another upstream's audio than before. */
  switched (): void {
    this.#switches++
  }

  /** The upstreams a failback would return to, best first: those above the active one. */
  higher (): number[] {
    return Array.from({ length: this.#active }, (_, i) => i)
  }

  probing (index: number): void {
    this.#mark(index, 'probing')
  }

  /** Connected and read, ready to take over at a switch. */
  standingBy (index: number): void {
    this.#mark(index, 'standby')
  }

  /** A background connection (a probe, a standby) failed. */
  probeFailed (index: number, error: RelayError): void {
    this.#mark(index, 'failed', error)
  }

  /** A background connection (a probe, a standby) was let go without failing. */
  released (index: number): void {
    if (index !== this.#active && this.#states[index] !== 'failed') this.#states[index] = 'idle'
  }

  /**
   * The same decisions over a new list of upstreams (a master started or stopped listing a mount): `from[i]` is
   * the index upstream `i` had, or -1 for a new one; `active` is the one the relay plays or tries in the new
   * list. Each upstream keeps its state and last error, and the switches go on; the failures in a row start
   * anew, since they counted places in the old order (a round of the new list must try every upstream).
   */
  renumbered (from: readonly number[], active: number): UpstreamSet {
    const next = new UpstreamSet(from.length)
    next.#switches = this.#switches
    from.forEach((old, i) => {
      next.#states[i] = old < 0 ? 'idle' : this.#states[old]!
      next.#errors[i] = old < 0 ? undefined : this.#errors[old]
    })
    next.activate(active)
    return next
  }

  #mark (index: number, state: UpstreamState, error?: RelayError): void {
    this.#states[index] = state
    if (error !== undefined) this.#errors[index] = error
  }
}
