/** Relays a master's new list brings are started this many at a time... */
export const START_BATCH = 25
/** ...at most this often: a list of a thousand mounts opens its connections over two seconds, not at once. */
export const START_GAP_MS = 50

/**
 * Starts items a batch at a time, a gap apart, the first batch at once. A new plan replaces what is still
 * waiting (a later poll knows better), and `cancel` drops it (the app closes).
 */
export class StaggeredStarts<T> {
  readonly #start: (item: T) => void
  #waiting: T[] = []
  #timer: NodeJS.Timeout | undefined

  constructor (start: (item: T) => void) {
    this.#start = start
  }

  plan (items: readonly T[]): void {
    this.#waiting = [...items]
    if (this.#timer === undefined) this.#next()
  }

  cancel (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#waiting = []
  }

  #next (): void {
    this.#timer = undefined
    if (this.#waiting.length === 0) return
    for (const item of this.#waiting.splice(0, START_BATCH)) this.#start(item)
    // the gap is kept after the last batch too, so that a plan coming right after it waits its turn
    this.#timer = setTimeout(() => this.#next(), START_GAP_MS).unref()
  }
}
