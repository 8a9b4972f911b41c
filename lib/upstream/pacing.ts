import type { Timed } from '../formats/timeline.js'

/**
 * Sends timed audio at the rate it plays: at `elapsed` seconds after the start, every unit that begins
 * before `elapsed + lead` has been handed on. The lead is what a live server's burst gives a new listener:
 * that much audio at once, then real time. Time is the audio's own (frame and granule durations), so a VBR
 * file goes at its real rate, and the clock is the caller's: pure, no timers.
 *
 * A caller that comes back late (the event loop blocked, the machine suspended) gets at most `maxLate` seconds
 * of overdue audio beyond the lead; the rest of the delay moves the clock on instead, so that a long stall is not
 * paid for with a flood that fills every listener's queue at once.
 */
export class Pacer {
  readonly #lead: number
  readonly #maxLate: number
  /** seconds of the caller's clock skipped after stalls */
  #skipped = 0
  #segment: Timed | undefined
  /** seconds of audio in the segments before the current one */
  #base = 0
  /** the next unit of the current segment to hand on */
  #next = 0

  constructor (lead: number, maxLate: number) {
    this.#lead = lead
    this.#maxLate = maxLate
  }

  /** The segment played after the current one: its audio starts where the current one's ends. */
  load (segment: Timed): void {
    if (this.#segment !== undefined) this.#base += this.#segment.timeline.duration
    this.#segment = segment
    this.#next = 0
  }

  /**
   * Hands on (to `send`, as few subarrays of the segment as its units allow) what is due at `elapsed`
   * seconds; returns the seconds until the next unit is due, or undefined when the segment is all handed
   * on and the next must be loaded.
   */
  take (elapsed: number, send: (bytes: Buffer) => void): number | undefined {
    const segment = this.#segment
    if (segment === undefined) return undefined
    const { starts, ends, times } = segment.timeline
    // the caller's clock in the segment's own seconds, held back to at most maxLate behind the next unit
    let at = elapsed - this.#skipped - this.#base
    const next = times[this.#next] ?? segment.timeline.duration
    if (at - next > this.#maxLate) {
      this.#skipped += at - next - this.#maxLate
      at = next + this.#maxLate
    }
    const due = dueUnits(times, at + this.#lead)
    for (const [start, end] of contiguousRuns(starts, ends, this.#next, due)) send(segment.bytes.subarray(start, end))
    this.#next = Math.max(this.#next, due)
    if (this.#next === starts.length) return undefined
    return times[this.#next]! - (at + this.#lead)
  }
}

/** How many units begin at or before `at` seconds, for the units' start times `times` (in order). */
export function dueUnits (times: readonly number[], at: number): number {
  let low = 0
  let high = times.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (times[middle]! <= at) low = middle + 1
    else high = middle
  }
  return low
}

/** The byte ranges of units `from` to `to` (excluded), units that follow each other joined into one. */
export function contiguousRuns (starts: readonly number[], ends: readonly number[], from: number, to: number): Array<[number, number]> {
  const runs: Array<[number, number]> = []
  for (let i = from; i < to; i++) {
    const last = runs.at(-1)
    if (last !== undefined && last[1] === starts[i]) last[1] = ends[i]!
    else runs.push([starts[i]!, ends[i]!])
  }
  return runs
}
