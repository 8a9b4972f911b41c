import { InvalidConfigError, InvalidOptionError } from '../errors.js'
import { resolveOptions, type Credentials, type RelayDefinition, type RelayPluginOptions } from '../options.js'
import { childrenOf, flagOf, integerOf, parseXml, textOf, type XmlChild, type XmlNode } from './xml.js'

export interface Listen {
  port: number
  /** Icecast listens on every address unless told a `<bind-address>` */
  host: string
}

export interface IcecastConfig {
  options: RelayPluginOptions
  listen: Listen
  /** elements that were ignored, and why */
  warnings: string[]
}

const MAX_INT = 2_147_483_647

/** Icecast elements with no meaning for a relay (files, logs, sources, users): read without a word. */
const UNUSED = new Set([
  'paths', 'logging', 'security', 'fileserve', 'directory', 'http-headers', 'shoutcast-mount', 'icelogin', 'mime-types',
  'source-password', 'sources', 'threadpool', 'client-timeout', 'header-timeout', 'shoutcast-compat', 'so-sndbuf'
])

/** Icecast elements this relay does not do: ignored with a warning that says so. */
const UNSUPPORTED: Record<string, string> = {
  mount: 'per-mount settings are not applied to relays',
  bind: 'upstream connections are not bound to a local address',
  ssl: 'the CLI serves plain HTTP: put a TLS proxy in front, or register the plugin in an HTTPS Fastify app'
}

/** Option names as the config's elements name them, for errors found once the options are put together. */
const ELEMENT_OF: Record<string, string> = {
  localMount: 'local-mount',
  relayShoutcastMetadata: 'relay-shoutcast-metadata',
  onDemand: 'on-demand',
  queueSize: 'queue-size',
  burstSize: 'burst-size',
  sourceTimeout: 'source-timeout',
  adminEmail: 'admin',
  serverId: 'server-id',
  updateInterval: 'master-update-interval'
}

/** Reads one config; remembers which element set each option, so that any error names the element. */
class Reader {
  readonly warnings: string[] = []
  /** an option (`relays[0].port`) and the element it came from (`<relay> #1 <port>`) */
  readonly origins = new Map<string, string>()

  set<T> (target: Record<string, unknown>, key: string, field: string, child: XmlChild, value: T): void {
    target[key] = value
    this.origins.set(field, child.path)
  }

  skip (child: XmlChild): void {
    if (UNUSED.has(child.name)) return
    const why = UNSUPPORTED[child.name]
    this.warnings.push(`${child.path} ignored: ${why ?? 'not an element this relay knows'}`)
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

const text = textOf
const port = (child: XmlChild): number => integerOf(child, 1, 65535)
const count = (child: XmlChild): number => integerOf(child, 0, MAX_INT)

function readRelay (reader: Reader, relay: XmlChild, index: number): RelayDefinition {
  const at = `relays[${index}]`
  reader.origins.set(at, relay.path)
  // Icecast's defaults: an upstream on this host, at /
  const def: Record<string, unknown> = { server: '127.0.0.1' }
  for (const child of childrenOf(relay.node, `${relay.path} `)) {
    const set = (key: string, value: unknown): void => reader.set(def, key, `${at}.${key}`, child, value)
    switch (child.name) {
      case 'server': set('server', text(child)); break
      case 'port': set('port', port(child)); break
      case 'mount': set('mount', text(child)); break
      case 'local-mount': set('localMount', text(child)); break
      case 'username': set('username', text(child)); break
      case 'password': set('password', text(child)); break
      case 'relay-shoutcast-metadata': set('relayShoutcastMetadata', flagOf(child)); break
      case 'on-demand': set('onDemand', flagOf(child)); break
      default: reader.skip(child)
    }
  }
  if (def['port'] === undefined) {
    throw new InvalidConfigError(`${relay.path} <port>: required (Icecast has no default port for a relay either)`)
  }
  return def as RelayDefinition
}

function readLimits (reader: Reader, limits: XmlChild, options: Record<string, unknown>): void {
  const out: Record<string, unknown> = {}
  let burstOnConnect = true
  for (const child of childrenOf(limits.node, `${limits.path} `)) {
    const set = (key: string, value: unknown): void => reader.set(out, key, `limits.${key}`, child, value)
    switch (child.name) {
      case 'clients': set('clients', count(child)); break
      case 'queue-size': set('queueSize', count(child)); break
      case 'burst-size': set('burstSize', count(child)); break
      case 'source-timeout': set('sourceTimeout', count(child)); break
      case 'burst-on-connect': burstOnConnect = flagOf(child); break
      default: reader.skip(child)
    }
  }
  if (!burstOnConnect) out['burstSize'] = 0
  options['limits'] = out
}

function readAuthentication (reader: Reader, authentication: XmlChild, options: Record<string, unknown>): void {
  const into: Partial<Record<'adminUser' | 'adminPassword' | 'relayUser' | 'relayPassword', string>> = {}
  reader.origins.set('admin', authentication.path)
  reader.origins.set('relayAuth', authentication.path)
  for (const child of childrenOf(authentication.node, `${authentication.path} `)) {
    switch (child.name) {
      case 'admin-user': reader.set(into, 'adminUser', 'admin.username', child, text(child)); break
      case 'admin-password': reader.set(into, 'adminPassword', 'admin.password', child, text(child)); break
      case 'relay-user': reader.set(into, 'relayUser', 'relayAuth.username', child, text(child)); break
      case 'relay-password': reader.set(into, 'relayPassword', 'relayAuth.password', child, text(child)); break
      default: reader.skip(child)
    }
  }
  // Icecast's default user names; without a password there is no such account (and no default password)
  const credentials = (username: string, password: string | undefined): Credentials | undefined =>
    password === undefined ? undefined : { username, password }
  const admin = credentials(into.adminUser ?? 'admin', into.adminPassword)
  const relayAuth = credentials(into.relayUser ?? 'relay', into.relayPassword)
  if (admin !== undefined) options['admin'] = admin
  if (relayAuth !== undefined) options['relayAuth'] = relayAuth
}

function readListenSocket (reader: Reader, socket: XmlChild, listen: Partial<Listen>): void {
  for (const child of childrenOf(socket.node, `${socket.path} `)) {
    if (child.name === 'port') listen.port = port(child)
    else if (child.name === 'bind-address') listen.host = text(child)
    else reader.skip(child)
  }
}

const MASTER_FIELDS: Record<string, [key: string, read: (child: XmlChild) => unknown]> = {
  'master-server': ['server', text],
  'master-server-port': ['port', port],
  'master-update-interval': ['updateInterval', (child) => integerOf(child, 1, MAX_INT)],
  'master-username': ['username', text],
  'master-password': ['password', text]
}

/** The master-slave settings as the `master` option takes them; undefined without `<master-server>`. */
function masterOf (reader: Reader, fields: XmlChild[], onDemand: boolean | undefined): Record<string, unknown> | undefined {
  const master: Record<string, unknown> = {}
  for (const child of fields) {
    const [key, read] = MASTER_FIELDS[child.name]!
    reader.set(master, key, `master.${key}`, child, read(child))
  }
  if (master['server'] === undefined) {
    for (const child of fields) reader.warnings.push(`${child.path} ignored: there is no <master-server>`)
    return undefined
  }
  if (master['port'] === undefined) throw new InvalidConfigError('<master-server-port>: required with <master-server>')
  return { ...master, ...(onDemand !== undefined && { onDemand }) }
}

/** The options, listen address and warnings of one config's `<icecast>` element, before validation. */
function readIcecast (reader: Reader, root: XmlNode): { options: Record<string, unknown>, listen: Listen } {
  const options: Record<string, unknown> = {}
  const listen: Partial<Listen> = {}
  const sockets: Array<Partial<Listen>> = []
  const relays: RelayDefinition[] = []
  const masterFields: XmlChild[] = []
  let onDemand: boolean | undefined
  for (const child of childrenOf(root, '')) {
    const set = (key: string, value: unknown): void => reader.set(options, key, key, child, value)
    switch (child.name) {
      case 'location': set('location', text(child)); break
      case 'admin': set('adminEmail', text(child)); break
      case 'hostname': set('hostname', text(child)); break
      case 'server-id': set('serverId', text(child)); break
      case 'port': listen.port = port(child); break
      case 'bind-address': listen.host = text(child); break
      case 'relays-on-demand': onDemand = flagOf(child); break
      case 'relay': relays.push(readRelay(reader, child, relays.length)); break
      case 'limits': readLimits(reader, child, options); break
      case 'authentication': readAuthentication(reader, child, options); break
      case 'listen-socket': sockets.push({}); readListenSocket(reader, child, sockets.at(-1)!); break
      default:
        if (child.name in MASTER_FIELDS) masterFields.push(child)
        else reader.skip(child)
    }
  }
  if (sockets.length > 1) reader.warnings.push(`<listen-socket> #2 and later ignored: the relay listens on the first one only (${sockets.length} given)`)
  // as Icecast, relays without their own <on-demand> follow <relays-on-demand> (wherever it stands)
  options['relays'] = relays.map((relay) => ({ ...(onDemand !== undefined && { onDemand }), ...relay }))
  const master = masterOf(reader, masterFields, onDemand)
  if (master !== undefined) options['master'] = master
  const first = { ...listen, ...sockets[0] }
  return { options, listen: { port: first.port ?? 8000, host: first.host ?? '0.0.0.0' } }
}

/**
 * An Icecast XML config (or a snippet of one, as in Icecast's docs) as the plugin's options, validated as
 * the plugin validates them. Throws `InvalidConfigError` naming the element at fault; elements that are not
 * used are reported in `warnings`.
 */
export function readIcecastConfig (xml: string): IcecastConfig {
  const reader = new Reader()
  const { options, listen } = readIcecast(reader, parseXml(xml))
  try {
    resolveOptions(options)
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error
    throw new InvalidConfigError(`${reader.elementOf(error.field)}: ${error.reason}`, { cause: error })
  }
  return { options: options as RelayPluginOptions, listen, warnings: reader.warnings }
}
