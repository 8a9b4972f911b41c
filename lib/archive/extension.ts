import type { RelayExtension } from '../relay/extension.js'
import { Dump } from './dump.js'

/** The archive extension, and what the plugin waits for as the app closes: every dump file written and closed. */
export interface Archive {
  extension: RelayExtension
  settled: () => Promise<void>
}

/**
 * Dump files (Icecast's `<dump-file>`): a tap on the stream of every relay with a `dumpFile`. It adds no
 * route, hook or decorator to the app, so it is no Fastify plugin: the main plugin installs it on the
 * registry, and waits for its files in `onClose`.
 */
export function archive (): Archive {
  const dumps = new Set<Dump>()
  return {
    extension: {
      streamTap: (relay) => {
        const def = relay.def.dumpFile
        if (def === undefined) return undefined
        const dump = new Dump(def, relay.log, (ended) => dumps.delete(ended))
        dumps.add(dump)
        return dump
      }
    },
    settled: async () => { await Promise.all([...dumps].map(async (dump) => { await dump.settled() })) }
  }
}
