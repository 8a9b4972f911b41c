// `<mount>` elements: their settings by mount name (lib/config/mount-settings.ts), what a relay takes from the one
// of its local mount (`<fallback-mount>`, `<fallback-override>`), and the relays Icecast 2.5 lets a
// `<mount type="normal">` hold (`<relay>` in it serves the mount's name).
import path from 'node:path'
import type { RelayDefinition } from '../options.js'
import { readMountSetting } from './mount-settings.js'
import { Reader, text } from './reader.js'
import { readRelay } from './relay.js'
import { DUMP_LIMIT_IGNORED, dumpFilePattern, introPath } from './archive.js'
import { readListenerAuth } from './authentication.js'
import { readHls } from './hls.js'
import { attributeOf, childrenOf, flagOf, type XmlChild } from './xml.js'

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

export interface MountContext extends FallbackContext {
  /** the options read so far: `mounts` and `mountDefaults` are set in them */
  options: Record<string, unknown>
  /** whether a master is configured, whose mounts a `<mount>` of no relay of the config may name */
  hasMaster: boolean
}

/**
 * Applies the `<mount>` elements as Icecast does, the first one of a name (or the first nameless default) winning:
 * their settings to the `mounts` entry of their name (or `mountDefaults`), which apply to whatever relay serves
 * that name; their fallback to the relay of this config serving their name.
 */
export function applyMounts (reader: Reader, mounts: readonly MountElement[], ctx: MountContext): void {
  // entries, not a record: a `<mount-name>` of `__proto__` must be an entry (which fails as no mount), not a prototype
  const byMount: Array<[string, Record<string, unknown>]> = []
  const seen = new Set<string>()
  for (const mount of mounts) {
    if (mount.isDefault && mount.name !== undefined) {
      reader.ignore(mount.child, DEFAULT_PATTERN)
      continue
    }
    if (!mount.isDefault && mount.name === undefined) {
      reader.ignore(mount.child, 'it has no <mount-name>')
      continue
    }
    const name = mount.name === undefined ? undefined : text(mount.name)
    const key = name ?? ''
    if (seen.has(key)) {
      reader.ignore(mount.child, `an earlier <mount> ${name === undefined ? 'type="default"' : `of ${name}`} applies (Icecast takes the first)`)
      continue
    }
    seen.add(key)
    const settings = applyMount(reader, mount, name, ctx)
    if (Object.keys(settings).length === 0) continue
    if (name !== undefined && !ctx.hasMaster && !ctx.relays.some((relay) => localMountOf(relay) === name)) {
      reader.warnings.push(`${mount.child.path} (${name}): no relay of this config serves it; its settings wait for a relay of that name`)
    }
    if (name === undefined) ctx.options['mountDefaults'] = settings
    else byMount.push([name, settings])
  }
  if (byMount.length > 0) ctx.options['mounts'] = Object.fromEntries(byMount)
}

const DEFAULT_PATTERN = 'a <mount-name> in a <mount type="default"> is a pattern of names, which is not read: only a default without one, for every mount, applies'
const FALLBACK_OF_RELAYS = 'a fallback is set only by the <mount> of a relay of this config'
const OF_RELAYS = 'set only by the <mount> of a relay of this config (not by mount name for a master\'s mounts)'

/** `<intro>`, `<dump-file>` and `<authentication>`: what the relay reads or writes of local files, or asks of an auth server. */
function readRelayFiles (reader: Reader, child: XmlChild, relay: Record<string, unknown>, at: string, webroot: string | undefined): void {
  const value = child.name === 'intro'
    ? introPath(reader, child, webroot)
    : child.name === 'dump-file' ? dumpFilePattern(reader, child) : readListenerAuth(reader, child, `${at}.listenerAuth`)
  const key = child.name === 'intro' ? 'intro' : child.name === 'dump-file' ? 'dumpFile' : 'listenerAuth'
  if (value !== undefined) reader.set(relay, key, `${at}.${key}`, child, value)
}

/** One `<mount>`'s settings (`name` undefined: the default mount's); its fallback goes to the relay serving `name`. */
function applyMount (reader: Reader, mount: MountElement, name: string | undefined, ctx: MountContext): Record<string, unknown> {
  const settings: Record<string, unknown> = {}
  const settingsAt = name === undefined ? 'mountDefaults' : `mounts[${JSON.stringify(name)}]`
  reader.origins.set(settingsAt, (mount.name ?? mount.child).path)
  const served = name === undefined ? -1 : ctx.relays.findIndex((relay) => localMountOf(relay) === name)
  const relay = served < 0 ? undefined : ctx.relays[served] as Record<string, unknown>
  const at = `relays[${served}]`
  for (const child of childrenOf(mount.child.node, `${mount.child.path} `)) {
    switch (child.name) {
      case 'mount-name': case 'relay': break
      case 'fallback-mount': case 'fallback': {
        if (relay === undefined) {
          reader.ignore(child, FALLBACK_OF_RELAYS)
          break
        }
        const fallback = fallbackName(reader, child)
        reader.set(relay, 'fallbackMount', `${at}.fallbackMount`, fallback, fallbackTarget(reader, fallback, ctx))
        break
      }
      case 'fallback-override':
        if (relay === undefined) reader.ignore(child, FALLBACK_OF_RELAYS)
        else reader.set(relay, 'fallbackOverride', `${at}.fallbackOverride`, child, overrideOf(child))
        break
      // a relay's own, read from the file of this config: set by the <mount> of a relay of this config only
      case 'intro': case 'dump-file': case 'authentication':
        if (relay === undefined) reader.ignore(child, OF_RELAYS)
        else readRelayFiles(reader, child, relay, at, ctx.webroot)
        break
      case 'dump-file-size-limit': case 'dump-file-time-limit': reader.ignore(child, DUMP_LIMIT_IGNORED); break
      case 'hls':
        if (relay === undefined) reader.ignore(child, OF_RELAYS)
        else reader.set(relay, 'hls', `${at}.hls`, child, readHls(reader, child, `${at}.hls`))
        break
      default: readMountSetting(reader, child, settings, settingsAt)
    }
  }
  return settings
}

/** `<paths><webroot>` if it is an absolute path (a relative one is Icecast's working directory's: not guessed). */
export function readWebroot (reader: Reader, paths: XmlChild): string | undefined {
  const webroot = childrenOf(paths.node, `${paths.path} `).find((child) => child.name === 'webroot')
  if (webroot === undefined) return undefined
  if (path.isAbsolute(text(webroot))) return text(webroot)
  reader.ignore(webroot, 'not an absolute path: fallback files are not looked for in it')
  return undefined
}
