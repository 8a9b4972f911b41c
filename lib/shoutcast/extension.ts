import type { IncomingHttpHeaders } from 'node:http'
import type { Framer } from '../mount/listener.js'
import type {
  ListenerFraming, ListenerPlace, RelayExtension, RelayMetadata, RelayView, Stage
} from '../relay/extension.js'
import type { ResponseHead } from '../upstream/head.js'
import { IcyDemuxer } from './demux.js'
import { EMPTY_TITLE_BLOCK, buildMetadataBlock, parseMetadata, titleFields, toListenerBlock } from './metadata.js'
import { BadMetaintError } from '../errors.js'
import { listenerMetaint } from './metaint.js'
import { IcyMuxer, SharedFrames } from './mux.js'

/** The upstream's `icy-metaint`, or undefined when it sent none. Throws on a value that is no interval. */
export function upstreamMetaint (head: ResponseHead | undefined): number | undefined {
  const value = head?.headers['icy-metaint']
  if (value === undefined) return undefined
  const metaint = Number(value)
  // the error shows the header as sent: `-16000`, not NaN; 9007199254740993, not the nearest double
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(metaint) || metaint < 1) throw new BadMetaintError(JSON.stringify(value))
  return metaint
}

/** Icecast's test: any value that reads as a positive number asks for metadata. */
export function wantsMetadata (headers: IncomingHttpHeaders): boolean {
  const value = headers['icy-metadata']
  return typeof value === 'string' && Number.parseInt(value, 10) > 0
}

/**
 * An ICY listener's framing: the interval and its place in it are the listener's for good; the titles
 * are those of the relay it is on now. An object rather than a closure, as thousands are alive at once.
 */
class IcyListenerFramer implements Framer {
  readonly #muxer: IcyMuxer
  readonly #place: Readonly<ListenerPlace>
  readonly #shared: SharedFrames
  readonly #currentBlock: (relay: RelayView) => Buffer

  constructor (metaint: number, place: Readonly<ListenerPlace>, shared: SharedFrames, currentBlock: (relay: RelayView) => Buffer) {
    this.#muxer = new IcyMuxer(metaint)
    this.#place = place
    this.#shared = shared
    this.#currentBlock = currentBlock
  }

  frame (chunk: Buffer): Buffer {
    return this.#muxer.frame(chunk, this.#currentBlock(this.#place.relay), this.#shared)
  }

  slices (chunk: Buffer, out: Buffer[]): void {
    this.#muxer.interleave(chunk, this.#currentBlock(this.#place.relay), out)
  }
}

/**
 * The shoutcast extension of every relay of an app: asks upstreams for ICY metadata, strips it from the
 * audio (always: a server may send it unasked), keeps the current title on the relay, and interleaves it
 * for the listeners that ask, at the relay's `metaint`, else the upstream's when it is a sane one, else
 * 16000: the upstream's blocks are framed anew at the listener's interval, never passed on at the
 * upstream's. It adds no route, hook or decorator to the app, so it is no Fastify plugin: the main plugin
 * installs it on the registry it builds.
 */
export function shoutcastExtension (): RelayExtension {
  // One block per metadata object: its identity is what tells a listener's muxer it changed. A title
  // from the upstream keeps the upstream's own bytes; any other is built from its title and URL.
  const blocks = new WeakMap<RelayMetadata, Buffer>()

  function currentBlock (relay: RelayView): Buffer {
    const metadata = relay.metadata
    if (metadata === undefined) return EMPTY_TITLE_BLOCK
    let block = blocks.get(metadata)
    if (block === undefined) {
      block = buildMetadataBlock(metadata)
      blocks.set(metadata, block)
    }
    return block
  }

  /** `titles`: whether the upstream's titles are the relay's (its `relayShoutcastMetadata`), else its blocks are dropped. */
  function demuxer (relay: RelayView, metaint: number, next: Stage, titles: boolean): Stage {
    let last: Buffer | undefined
    return new IcyDemuxer(metaint, {
      audio: (chunk) => next.push(chunk),
      metadata: (block) => {
        if (!titles || last?.equals(block) === true) return
        last = block
        const { fields, title, url } = parseMetadata(block, relay.def.charset)
        const metadata: RelayMetadata = {
          fields,
          ...(title !== undefined && { title }),
          ...(url !== undefined && { url }),
          source: 'icy',
          updatedAt: new Date().toISOString()
        }
        // set before the relay has it: a listener framed from then on gets the upstream's bytes
        blocks.set(metadata, toListenerBlock(block, relay.def.charset))
        relay.setMetadata(metadata)
      },
      malformed: (reason) => { relay.damaged(`malformed ICY metadata block dropped: ${reason}`) }
    })
  }

  // one per interval: listeners of another interval never stand at the same place
  const frames = new Map<number, SharedFrames>()
  function sharedFrames (metaint: number): SharedFrames {
    let shared = frames.get(metaint)
    if (shared === undefined) {
      shared = new SharedFrames()
      frames.set(metaint, shared)
    }
    return shared
  }

  function framing (place: Readonly<ListenerPlace>, headers: IncomingHttpHeaders): ListenerFraming | undefined {
    const { relay } = place
    // Ogg carries its titles in its comment headers, and ICY blocks would break its pages (Icecast does not frame Ogg either)
    if (!wantsMetadata(headers) || relay.container === 'ogg') return undefined
    const metaint = listenerMetaint(relay.def.metaint, upstreamMetaint(relay.head))
    return {
      headers: { 'icy-metaint': String(metaint) },
      framer: new IcyListenerFramer(metaint, place, sharedFrames(metaint), currentBlock)
    }
  }

  return {
    requestHeaders: (_relay, upstream): Record<string, string> => (upstream.relayShoutcastMetadata ? { 'Icy-MetaData': '1' } : {}),
    upstreamStage: (relay, head, next, upstream) => {
      const metaint = upstreamMetaint(head)
      return metaint === undefined ? undefined : demuxer(relay, metaint, next, upstream.kind === 'http' && upstream.relayShoutcastMetadata)
    },
    listenerFraming: framing,
    manualFields: titleFields
  }
}
