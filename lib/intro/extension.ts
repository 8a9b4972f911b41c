import type { RelayExtension, RelayView } from '../relay/extension.js'
import { IntroFile } from './file.js'

/**
 * Intros (Icecast's `<intro>`): what a new listener of a relay with an `intro` gets before the stream.
 * `maxBytes`: the largest intro sent; the listener's queue holds it, and the live stream that comes while
 * it plays, so a larger one would get the listener dropped as slow.
 */
export function introExtension (maxBytes: number): RelayExtension {
  const intros = new WeakMap<RelayView, IntroFile>()
  return {
    listenerPrelude: async (relay) => {
      const path = relay.def.intro
      if (path === undefined) return undefined
      let intro = intros.get(relay)
      if (intro?.path !== path) {
        intro = new IntroFile(path, maxBytes, relay.log)
        intros.set(relay, intro)
      }
      return await intro.clipFor(relay.container)
    }
  }
}
