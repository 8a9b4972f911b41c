import { integerOf, textOf, type XmlChild } from './xml.js'

export const MAX_INT = 2_147_483_647

/** Icecast elements with no meaning for a relay (files, logs, sources, users): read without a word. */
const UNUSED = new Set([
  'paths', 'logging', 'security', 'fileserve', 'directory', 'http-headers', 'shoutcast-mount', 'icelogin', 'mime-types',
  'source-password', 'sources', 'threadpool', 'client-timeout', 'header-timeout', 'shoutcast-compat', 'so-sndbuf'
])

/** Icecast elements this relay does not do: ignored with a warning that says so. */
const UNSUPPORTED: Record<string, string> = {
  mount: 'per-mount settings are not applied to relays',
  bind: 'upstream connections are not bound to a local address'
}

/** Option names as the config's elements name them, for errors found once the options are put together. */
const ELEMENT_OF: Record<string, string> = {
  localMount: 'local-mount',
  relayShoutcastMetadata: 'relay-shoutcast-metadata',
  onDemand: 'on-demand',
  fallbackMount: 'fallback-mount',
  fallbackOverride: 'fallback-override',
  queueSize: 'queue-size',
  burstSize: 'burst-size',
  sourceTimeout: 'source-timeout',
  adminEmail: 'admin',
  serverId: 'server-id',
  updateInterval: 'master-update-interval'
}

/** Reads one config; remembers which element set each option, so that any error names the element. */
export class Reader {
  readonly warnings: string[] = []
  /** an option (`relays[0].port`) and the element it came from (`<relay> #1 <port>`) */
  readonly origins = new Map<string, string>()

  set<T> (target: Record<string, unknown>, key: string, field: string, child: XmlChild, value: T): void {
    target[key] = value
    this.origins.set(field, child.path)
  }

  /** An element read but not used, with the reason the relay does not use it. */
  ignore (child: XmlChild, why: string): void {
    this.warnings.push(`${child.path} ignored: ${why}`)
  }

  skip (child: XmlChild): void {
    if (UNUSED.has(child.name)) return
    this.ignore(child, UNSUPPORTED[child.name] ?? 'not an element this relay knows')
  }

  /** `relays[0].port` as the config names it: `<relay> #1 <port>`, from the nearest option it knows. */
  elementOf (field: string): string {
    for (let prefix = field; prefix !== ''; prefix = prefix.replace(/\.?[^.]*$/, '')) {
      const origin = this.origins.get(prefix)
      if (origin === undefined) continue
      const rest = field.slice(prefix.length + 1)
      return rest === '' ? origin : `${origin} <${rest.split('.').map((name) => ELEMENT_OF[name] ?? name).join('> <')}>`
    }
    return field
  }
}

export const text = textOf
export const port = (child: XmlChild): number => integerOf(child, 1, 65535)
export const count = (child: XmlChild): number => integerOf(child, 0, MAX_INT)
