// `<mount>` elements: what a relay takes from the one of its local mount (`<fallback-mount>`, `<fallback-override>`),
// and the relays Icecast 2.5 lets a `<mount type="normal">` hold (`<relay>` in it serves the mount's name).
import path from 'node:path'
import type { RelayDefinition } from '../options.js'
import { Reader, text } from './reader.js'
import { readRelay } from './relay.js'
import { DUMP_LIMIT_IGNORED, dumpFilePattern, introPath } from './archive.js'
import { readListenerAuth } from './authentication.js'
import { attributeOf, childrenOf, flagOf, type XmlChild } from './xml.js'

const NOT_FOR_RELAYS = 'per-mount settings are not applied to relays'
const FALLBACK_ONLY = 'of a relay\'s <mount>, only <fallback-mount> and <fallback-override> are applied'

/** A `<mount>` as far as relays go: its name, the relays in it, the rest to read once every relay is known. */
export interface MountElement {
  child: XmlChild
  name: XmlChild | undefined
  /** a `<mount type="default">` (2.5: settings for every mount) */
  isDefault: boolean
}

export function mountElement (child: XmlChild): MountElement {
  const name = childrenOf(child.node, `${child.path} `).find((element) => element.name === 'mount-name')
  return { child, name, isDefault: attributeOf(child, 'type') === 'default' }
}

/** The relays a 2.5 `<mount type="normal">` holds, serving its name; numbered from `first` in the options. */
export function readMountRelays (reader: Reader, mount: MountElement, first: number): RelayDefinition[] {
  if (mount.isDefault || mount.name === undefined) return []
  const relays: RelayDefinition[] = []
  for (const child of childrenOf(mount.child.node, `${mount.child.path} `)) {
    if (child.name !== 'relay') continue
    const relay = readRelay(reader, child, first + relays.length, mount.name)
    if (relay !== undefined) relays.push(relay)
  }
  return relays
}

/** The local mount a relay definition read from a config serves, as the options will default it. */
function localMountOf (def: RelayDefinition): string {
  const first = def.upstreams?.[0] ?? def
  return def.localMount ?? ('mount' in first ? first.mount : undefined) ?? '/'
}

/** `<fallback-mount>`'s mount: its text, or kh's `<fallback-mount><mount>` (its `<rate>` is not applied). */
function fallbackName (reader: Reader, fallback: XmlChild): XmlChild {
  const children = childrenOf(fallback.node, `${fallback.path} `)
  if (children.length === 0) return fallback
  for (const child of children) if (child.name !== 'mount') reader.ignore(child, 'a fallback is played at its own rate')
  return children.find((child) => child.name === 'mount') ?? fallback
}

/** 2.5's `none`, `all`, `own`, or a switch (2.4, kh). Both `all` and `own` bring back the listeners the relay lost. */
function overrideOf (child: XmlChild): boolean {
  const value = text(child).toLowerCase()
  if (value === 'none') return false
  if (value === 'all' || value === 'own') return true
  return flagOf(child)
}

export interface FallbackContext {
  relays: RelayDefinition[]
  /** Icecast's `<paths><webroot>`, where a fallback that is no mount is looked for as a file */
  webroot: string | undefined
}

/**
 * The fallback of a relay: another relay of the config by its local mount; else, with a `<webroot>`, the file of
 * that name in it (as Icecast plays a fallback file from its webroot), served by a relay of its own at that
 * mount (one per file); else a mount by that name, which a master or the API may bring later.
 */
function fallbackTarget (reader: Reader, name: XmlChild, ctx: FallbackContext): string {
  const mount = text(name)
  if (ctx.webroot === undefined || ctx.relays.some((relay) => localMountOf(relay) === mount)) return mount
  const at = `relays[${ctx.relays.length}]`
  reader.origins.set(at, name.path)
  reader.origins.set(`${at}.localMount`, name.path)
  reader.origins.set(`${at}.upstreams`, name.path)
  ctx.relays.push({ localMount: mount, upstreams: [{ file: path.join(ctx.webroot, mount) }] })
  return mount
}

function setDefined (reader: Reader, target: Record<string, unknown>, key: string, field: string, child: XmlChild, value: string | undefined): void {
  if (value !== undefined) reader.set(target, key, field, child, value)
}

/** Applies a `<mount>` to the relay serving its name; warns that it is ignored if none does. */
export function applyMount (reader: Reader, mount: MountElement, ctx: FallbackContext): void {
  const served = mount.name === undefined ? -1 : ctx.relays.findIndex((relay) => localMountOf(relay) === text(mount.name!))
  if (mount.isDefault || served < 0) {
    reader.ignore(mount.child, NOT_FOR_RELAYS)
    return
  }
  const relay = ctx.relays[served] as Record<string, unknown>
  const at = `relays[${served}]`
  for (const child of childrenOf(mount.child.node, `${mount.child.path} `)) {
    switch (child.name) {
      case 'mount-name': case 'relay': break
      case 'fallback-mount': case 'fallback': {
        const name = fallbackName(reader, child)
        reader.set(relay, 'fallbackMount', `${at}.fallbackMount`, name, fallbackTarget(reader, name, ctx))
        break
      }
      case 'fallback-override': reader.set(relay, 'fallbackOverride', `${at}.fallbackOverride`, child, overrideOf(child)); break
      case 'intro': setDefined(reader, relay, 'intro', `${at}.intro`, child, introPath(reader, child, ctx.webroot)); break
      case 'dump-file': setDefined(reader, relay, 'dumpFile', `${at}.dumpFile`, child, dumpFilePattern(reader, child)); break
      case 'dump-file-size-limit': case 'dump-file-time-limit': reader.ignore(child, DUMP_LIMIT_IGNORED); break
      case 'authentication': {
        const auth = readListenerAuth(reader, child, `${at}.listenerAuth`)
        if (auth !== undefined) relay['listenerAuth'] = auth
        break
      }
      default: reader.ignore(child, FALLBACK_ONLY)
    }
  }
}

/** `<paths><webroot>` if it is an absolute path (a relative one is Icecast's working directory's: not guessed). */
export function readWebroot (reader: Reader, paths: XmlChild): string | undefined {
  const webroot = childrenOf(paths.node, `${paths.path} `).find((child) => child.name === 'webroot')
  if (webroot === undefined) return undefined
  if (path.isAbsolute(text(webroot))) return text(webroot)
  reader.ignore(webroot, 'not an absolute path: fallback files are not looked for in it')
  return undefined
}
