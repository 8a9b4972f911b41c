import { integerOf, textOf, type XmlChild } from './xml.js'

export const MAX_INT = 2_147_483_647

const LOGS_TO_STDOUT = 'the CLI logs to stdout with Fastify\'s logger'

/**
 * Icecast elements with no meaning for a relay (files, logs, sources, users): read without a warning, and
 * listed by `--check` with the reason.
 */
const UNUSED: Record<string, string> = {
  fileserve: 'the relay serves no files',
  'mime-types': 'the relay serves no files',
  directory: 'no directory (YP) listing',
  'http-headers': 'no extra headers are sent to listeners',
  'shoutcast-mount': 'a relay takes no source clients',
  icelogin: 'a relay takes no source clients',
  'source-password': 'a relay takes no source clients',
  sources: 'a relay takes no source clients',
  'shoutcast-compat': 'a relay takes no source clients',
  threadpool: 'Node has no thread pool of Icecast\'s kind to size',
  'client-timeout': 'a listener is dropped when its queue passes queue-size, not after a time',
  'header-timeout': 'give the host app Fastify\'s requestTimeout (the CLI uses Node\'s default)',
  'so-sndbuf': 'listener sockets keep the system\'s send buffer size',
  'so-mss': 'listener sockets keep the system\'s segment size',
  'listen-backlog': 'every socket listens with a backlog of 4096 (capped by net.core.somaxconn)',
  'queue-len': 'every socket listens with a backlog of 4096 (capped by net.core.somaxconn)',
  // in <security>, whose <tls-context> is read (2.5's certificate)
  chroot: 'run the CLI as the user it should run as',
  changeowner: 'run the CLI as the user it should run as',
  // in <paths>, whose <webroot> is read (fallback files)
  basedir: 'Icecast\'s own files: the relay reads none',
  logdir: LOGS_TO_STDOUT,
  // in <logging>, whose <loglevel> is read
  accesslog: 'no access log file: every request is logged on stdout at <loglevel> 4 (debug)',
  errorlog: LOGS_TO_STDOUT,
  playlistlog: LOGS_TO_STDOUT,
  logsize: LOGS_TO_STDOUT,
  logarchive: LOGS_TO_STDOUT,
  memorybacklog: LOGS_TO_STDOUT,
  pidfile: 'the CLI writes no pid file',
  adminroot: 'the admin pages are the plugin\'s own',
  alias: 'no paths are aliased',
  'allow-ip': 'no IP lists: filter in the host app (an onRequest hook) or a firewall',
  'deny-ip': 'no IP lists: filter in the host app (an onRequest hook) or a firewall'
}

/** Icecast elements this relay does not do: ignored with a warning that says so. */
const UNSUPPORTED: Record<string, string> = {
  bind: 'upstream connections are not bound to a local address',
  'master-bind': 'upstream connections are not bound to a local address'
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
  updateInterval: 'master-update-interval',
  dumpFile: 'dump-file'
}

/** Reads one config; remembers which element set each option, so that any error names the element. */
export class Reader {
  /** elements ignored that a user may have meant to be used, and why */
  readonly warnings: string[] = []
  /** every element ignored, and why: the warnings and the elements with no meaning for a relay */
  readonly ignored: string[] = []
  /** an option (`relays[0].port`) and the element it came from (`<relay> #1 <port>`) */
  readonly origins = new Map<string, string>()

  set<T> (target: Record<string, unknown>, key: string, field: string, child: XmlChild, value: T): void {
    target[key] = value
    this.origins.set(field, child.path)
  }

  /** An element read but not used (or elements, named by text), with the reason the relay does not use it. */
  ignore (child: XmlChild | string, why: string): void {
    const warning = `${typeof child === 'string' ? child : child.path} ignored: ${why}`
    this.warnings.push(warning)
    this.ignored.push(warning)
  }

  /** An element that is not read: one with no meaning for a relay is only listed, any other is warned. */
  skip (child: XmlChild): void {
    const unused = UNUSED[child.name]
    if (unused !== undefined) this.ignored.push(`${child.path} ignored: ${unused}`)
    else this.ignore(child, UNSUPPORTED[child.name] ?? 'not an element this relay knows')
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
