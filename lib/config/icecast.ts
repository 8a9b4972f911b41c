import { InvalidConfigError, InvalidOptionError } from '../errors.js'
import { MAX_REDIRECT_SLAVES, resolveOptions, type Credentials, type RelayDefinition, type RelayPluginOptions } from '../options.js'
import { applyMounts, mountElement, readMountRelays, readWebroot, type MountElement } from './mount.js'
import { count, MAX_INT, port, Reader, text } from './reader.js'
import { readRelay } from './relay.js'
import { readMasterBlock } from './master-block.js'
import { readHls } from './hls.js'
import { readLogging, type LogLevel } from './logging.js'
import { listenSockets, readListenSocket, readTlsSettings, tlsFilesOf, type ListenSocket, type SocketElements, type TlsFiles } from './listen.js'
import { childrenOf, decimalOf, flagOf, integerOf, parseXml, type XmlChild, type XmlNode } from './xml.js'

export interface IcecastConfig {
  options: RelayPluginOptions
  /** every socket to listen on, in the config's order */
  listen: ListenSocket[]
  /** the certificate of the TLS sockets; only when one asks for TLS */
  tls?: TlsFiles
  /** the CLI's log level, from `<logging> <loglevel>`; only when the config has one */
  logLevel?: LogLevel
  /** elements that were ignored and may have been meant to be used, and why */
  warnings: string[]
  /** every element that was ignored, and why: the warnings and the elements with no meaning for a relay */
  ignored: string[]
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
      // the relay's own, in seconds (Icecast has no such limits and reads past them)
      case 'write-interval': set('writeInterval', decimalOf(child)); break
      case 'tls-write-interval': set('tlsWriteInterval', decimalOf(child)); break
      case 'crowd-write-interval': set('crowdWriteInterval', decimalOf(child)); break
      case 'busy-write-interval': set('busyWriteInterval', decimalOf(child)); break
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

const MASTER_FIELDS: Record<string, [key: string, read: (child: XmlChild) => unknown]> = {
  'master-server': ['server', text],
  'master-server-port': ['port', port],
  'master-update-interval': ['updateInterval', (child) => integerOf(child, 1, MAX_INT)],
  'master-username': ['username', text],
  'master-password': ['password', text],
  // icecast-kh's: register with the master for its redirects (kh's <hostname> and port are the app's own)
  'master-redirect': ['redirect', flagOf],
  // icecast-kh's: the master's HTTPS port, used instead of <master-server-port> for the list and the relays
  'master-ssl-port': ['sslPort', port]
}

/** kh's `<master-ssl-port>` as the `master` option says it: that port, over TLS. */
function withSslPort (master: Record<string, unknown>): Record<string, unknown> {
  const { sslPort, ...rest } = master
  return sslPort === undefined ? rest : { ...rest, port: sslPort, tls: true }
}

/** icecast-kh's most slaves kept for redirects: `redirect.maxSlaves`; kh's 0 (its default) keeps none. */
function readMaxRedirectSlaves (reader: Reader, child: XmlChild, options: Record<string, unknown>): void {
  const maxSlaves = integerOf(child, 0, MAX_REDIRECT_SLAVES)
  if (maxSlaves === 0) reader.ignore(child, '0 keeps no slave (kh\'s default): no redirects')
  else reader.set(options, 'redirect', 'redirect', child, { maxSlaves })
}

/** The master-slave settings as the `master` option takes them; undefined without `<master-server>`. */
function masterOf (reader: Reader, fields: XmlChild[], onDemand: boolean | undefined): Record<string, unknown> | undefined {
  const master: Record<string, unknown> = {}
  for (const child of fields) {
    const [key, read] = MASTER_FIELDS[child.name]!
    reader.set(master, key, `master.${key}`, child, read(child))
  }
  if (master['server'] === undefined) {
    for (const child of fields) reader.ignore(child, 'there is no <master-server>')
    return undefined
  }
  if (master['port'] === undefined && master['sslPort'] === undefined) throw new InvalidConfigError('<master-server-port>: required with <master-server>')
  return { ...withSslPort(master), ...(onDemand !== undefined && { onDemand }) }
}

interface ReadConfig {
  options: Record<string, unknown>
  listen: ListenSocket[]
  tls: TlsFiles | undefined
  logLevel: LogLevel | undefined
}

/** The options, listen sockets and warnings of one config's `<icecast>` element, before validation. */
function readIcecast (reader: Reader, root: XmlNode): ReadConfig {
  const options: Record<string, unknown> = {}
  const listen: SocketElements = {}
  const sockets: SocketElements[] = []
  const tlsSettings: Partial<TlsFiles> = {}
  const relays: RelayDefinition[] = []
  const mounts: MountElement[] = []
  const masterFields: XmlChild[] = []
  let onDemand: boolean | undefined
  let webroot: string | undefined
  let logLevel: LogLevel | undefined
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
      case 'relay': {
        const relay = readRelay(reader, child, relays.length)
        if (relay !== undefined) relays.push(relay)
        break
      }
      case 'mount': mounts.push(mountElement(child)); break
      case 'paths':
        webroot = readWebroot(reader, child)
        readTlsSettings(reader, child, tlsSettings)
        break
      case 'security': readTlsSettings(reader, child, tlsSettings); break
      case 'limits': readLimits(reader, child, options); break
      case 'authentication': readAuthentication(reader, child, options); break
      case 'listen-socket': sockets.push(readListenSocket(reader, child)); break
      case 'max-redirect-slaves': readMaxRedirectSlaves(reader, child, options); break
      case 'hls': set('hls', readHls(reader, child, 'hls')); break
      case 'logging': logLevel = readLogging(reader, child) ?? logLevel; break
      case 'master': {
        const block = readMasterBlock(reader, child)
        masterFields.push(...block.fields)
        onDemand = block.onDemand ?? onDemand
        break
      }
      default:
        if (child.name in MASTER_FIELDS) masterFields.push(child)
        else reader.skip(child)
    }
  }
  for (const mount of mounts) relays.push(...readMountRelays(reader, mount, relays.length))
  applyMounts(reader, mounts, { relays, webroot, options, hasMaster: masterFields.some((child) => child.name === 'master-server') })
  // as Icecast, relays without their own <on-demand> follow <relays-on-demand> (wherever it stands)
  options['relays'] = relays.map((relay) => ({ ...(onDemand !== undefined && { onDemand }), ...relay }))
  const master = masterOf(reader, masterFields, onDemand)
  if (master !== undefined) options['master'] = master
  if (options['redirect'] !== undefined && options['relayAuth'] === undefined) {
    throw new InvalidConfigError(`${reader.elementOf('redirect')}: needs <authentication> <relay-password>: kh's slaves register on their stream list requests, which need the relay credentials`)
  }
  return { options, listen: listenSockets(sockets, listen), tls: tlsFilesOf(reader, sockets, tlsSettings), logLevel }
}

/**
 * An Icecast XML config (or a snippet of one, as in Icecast's docs) as the plugin's options, validated as
 * the plugin validates them. Throws `InvalidConfigError` naming the element at fault; elements that are not
 * used are reported in `warnings`.
 */
export function readIcecastConfig (xml: string): IcecastConfig {
  const reader = new Reader()
  const { options, listen, tls, logLevel } = readIcecast(reader, parseXml(xml))
  try {
    resolveOptions(options)
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error
    throw new InvalidConfigError(`${reader.elementOf(error.field)}: ${error.reason}`, { cause: error })
  }
  return {
    options: options as RelayPluginOptions,
    listen,
    ...(tls !== undefined && { tls }),
    ...(logLevel !== undefined && { logLevel }),
    warnings: reader.warnings,
    ignored: reader.ignored
  }
}
