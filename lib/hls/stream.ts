import type { RelayMetadata, RelayView, StreamTap } from '../relay/extension.js'
import type { ResolvedHlsSettings } from '../options.js'
import type { ResponseHead } from '../upstream/head.js'
import { Segmenter } from './segmenter.js'
import type { SequenceStarts } from './sequence.js'

/**
 * A relay's HLS: a tap on the stream its listeners get, cut into segments as it comes. A new upstream
 * connection (a reconnect, a failover) is a new stream even when listeners rode over to it: the relay calls
 * `begin` only when none did, so the tap also watches the head's identity. Titles are read from the relay
 * as the chunks come: a new metadata object is a new title.
 */
export class HlsStream implements StreamTap {
  readonly settings: ResolvedHlsSettings
  /** this stream's: a new one after the relay went idle, so that an old window is never served as live */
  segmenter: Segmenter
  readonly #relay: RelayView
  readonly #live: Map<RelayView, HlsStream>
  readonly #starts: SequenceStarts
  #head: ResponseHead | undefined
  /** begin() has just been called: the next head is that stream's */
  #fresh = false
  #metadata: RelayMetadata | undefined
  /** the title last given to the segmenter */
  #title: string | undefined
  /** ended (the relay went idle): the next stream is cut by a segmenter of its own */
  #ended = false

  constructor (relay: RelayView, settings: ResolvedHlsSettings, live: Map<RelayView, HlsStream>, starts: SequenceStarts) {
    this.settings = settings
    this.#relay = relay
    this.#live = live
    this.#starts = starts
    this.segmenter = this.#newSegmenter()
  }

  /** Numbered from above every number the mount's earlier streams gave (SequenceStarts). */
  #newSegmenter (): Segmenter {
    return new Segmenter(this.settings, this.#starts.first(this.#relay.localMount, Date.now()))
  }

  begin (): void {
    if (this.#ended) {
      this.segmenter = this.#newSegmenter()
      this.#ended = false
    }
    this.segmenter.begin(Date.now())
    this.#fresh = true
    this.#live.set(this.#relay, this)
  }

  chunk (bytes: Buffer): void {
    const now = Date.now()
    const head = this.#relay.head
    if (head !== this.#head) {
      if (!this.#fresh) this.segmenter.begin(now)
      this.#head = head
    }
    this.#fresh = false
    // a new metadata object may carry the same title (a StreamUrl change, the same title set again): no new title
    const metadata = this.#relay.metadata
    if (metadata !== this.#metadata) {
      this.#metadata = metadata
      const title = metadata?.title
      if (title !== undefined && title !== this.#title) {
        this.#title = title
        this.segmenter.title(title)
      }
    }
    this.segmenter.push(bytes, now)
  }

  /** Ogg codec headers: packed audio has no Ogg, so an Ogg relay has no segments to give them to. */
  headers (): void {}

  end (): void {
    this.segmenter.end(Date.now())
    this.#starts.ended(this.#relay.localMount, this.segmenter.nextSequence)
    this.#live.delete(this.#relay)
    this.#ended = true
  }

  /** An idle relay's window is of long ago: players get 503 until the next stream's first segment. */
  idle (): void {
    this.end()
  }
}
