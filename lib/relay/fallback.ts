import { InvalidOptionError } from '../errors.js'

/** A mount's fallback mount, or undefined when it names none (or there is no such mount). */
export type FallbackOf = (mount: string) => string | undefined

/**
 * The mounts down the fallback chain of `mount`, in order, `mount` excluded: its fallback, that one's
 * fallback... up to a mount that names none, or to the first mount seen before (a loop).
 */
export function fallbackChain (mount: string, fallbackOf: FallbackOf): string[] {
  const chain: string[] = []
  const seen = new Set([mount])
  for (let next = fallbackOf(mount); next !== undefined && !seen.has(next); next = fallbackOf(next)) {
    chain.push(next)
    seen.add(next)
  }
  return chain
}

/** The loop the fallback chain of `mount` runs into, its first mount again at its end (`/a → /b → /a`), if any. */
export function fallbackLoop (mount: string, fallbackOf: FallbackOf): string[] | undefined {
  const chain = [mount, ...fallbackChain(mount, fallbackOf)]
  const last = fallbackOf(chain.at(-1)!)
  if (last === undefined) return undefined
  return [...chain.slice(chain.indexOf(last)), last]
}

/** Refuses a mount whose fallbacks lead back to a mount of theirs; `field` names its `fallbackMount`. */
export function assertNoFallbackLoop (mount: string, fallbackOf: FallbackOf, field: string): void {
  const loop = fallbackLoop(mount, fallbackOf)
  if (loop !== undefined) throw new InvalidOptionError(field, `the fallbacks make a loop: ${loop.join(' → ')}`)
}
