import { listenerHead, type ListenerHeadInit } from '../mount/headers.js'

interface KeptHead {
  stream: ListenerHeadInit['stream']
  head: Buffer
}

/** A mount's heads of one second, by variant. */
interface KeptHeads {
  second: number
  heads: Map<string, KeptHead>
}

/** What sets a head apart on one mount besides its stream headers and its date. */
function variantOf (init: ListenerHeadInit): string {
  let key = `${init.server}\n${init.contentType}`
  for (const [name, value] of Object.entries(init.extra)) key += `\n${name}: ${value}`
  return key
}

/**
 * Listeners' response heads, built once per mount, variant (framing asked, content type) and second of the
 * `Date` they name: a crowd of thousands joins a mount within seconds, and each would otherwise have its head
 * built line by line into a `Buffer` of its own, all alike. A head is kept while its mount's stream headers
 * are the same object (`Relay.streamHeaders()` keeps theirs until the upstream's head or the relay changes),
 * and sent as it is: a listener socket never changes what it is given to write.
 */
export class ListenerHeads {
  readonly #byMount = new WeakMap<object, KeptHeads>()

  /** The head `listenerHead(init)` would build at `now`, from the mount's kept ones when it has it. */
  of (mount: object, init: ListenerHeadInit, now = Date.now()): Buffer {
    const second = Math.floor(now / 1000)
    let kept = this.#byMount.get(mount)
    // the heads of an earlier second name another Date: none is of use any more
    if (kept?.second !== second) {
      kept = { second, heads: new Map() }
      this.#byMount.set(mount, kept)
    }
    const variant = variantOf(init)
    const head = kept.heads.get(variant)
    if (head?.stream === init.stream) return head.head
    const built = listenerHead({ ...init, date: new Date(second * 1000) })
    kept.heads.set(variant, { stream: init.stream, head: built })
    return built
  }
}
