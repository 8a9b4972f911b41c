/**
 * The first segment numbers of a mount's streams, so that a number never names two segments of one mount
 * name: not after the mount is removed and added again in this process (at least one past the last number given
 * here), nor after a restart (the clock in ms: a segment lasts at least a frame, over 8 ms, so an earlier run's
 * numbers stay below its clock). A cache in front then never serves an old stream's segment for a new one.
 */
export class SequenceStarts {
  /** mount → the number after the last one its ended streams gave */
  readonly #next = new Map<string, number>()

  first (localMount: string, now: number): number {
    return Math.max(now, this.#next.get(localMount) ?? 0)
  }

  /** A stream of `localMount` ended before giving number `next`. */
  ended (localMount: string, next: number): void {
    this.#next.set(localMount, Math.max(next, this.#next.get(localMount) ?? 0))
  }
}
