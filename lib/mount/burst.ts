/**
 * The recent bytes of a stream, kept as the chunks that arrived (shared, never copied), so that a new
 * listener can start with up to `size` bytes at once instead of waiting for the live edge.
 */
export class BurstRing {
  readonly size: number
  #chunks: Buffer[] = []
  #bytes = 0

  constructor (size: number) {
    this.size = size
  }

  get bytes (): number {
    return this.#bytes
  }

  push (chunk: Buffer): void {
    if (this.size === 0) return
    this.#chunks.push(chunk)
    this.#bytes += chunk.length
    this.#trim()
  }

  /** Drops whole chunks from the front while the rest still covers `size` bytes. */
  #trim (): void {
    while (this.#chunks.length > 1 && this.#bytes - this.#chunks[0]!.length >= this.size) {
      this.#bytes -= this.#chunks.shift()!.length
    }
  }

  /** The last `size` bytes (or fewer, if fewer arrived) as shared slices, oldest first. */
  recent (): Buffer[] {
    const excess = this.#bytes - this.size
    if (excess <= 0) return this.#chunks.slice()
    const [first, ...rest] = this.#chunks
    return [first!.subarray(excess), ...rest]
  }

  clear (): void {
    this.#chunks = []
    this.#bytes = 0
  }
}
