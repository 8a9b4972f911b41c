// One `<relay>` of an Icecast config, in the three ways Icecast servers write one:
// - Icecast 2.4: the upstream's elements in the relay itself (`<server>`, `<port>`, `<mount>`, ...);
// - Icecast 2.5 (src/cfgfile.c `_parse_relay`): `<upstream type="normal">` elements, tried in their order, whose
//   missing fields come from `<upstream type="default">` (or from the relay's own elements, which 2.5 still reads
//   as the default one); the default upstream is the only one when there is no normal one; port 80 by default;
// - icecast-kh (src/cfgfile.c `_parse_relay`, `_relay_host`): `<host>` (or `<master>`) elements ordered by
//   `<priority>`, whose missing `<server>`, `<port>` and `<mount>` are the relay's own.
import { InvalidConfigError } from '../errors.js'
import { percentDecoded } from '../http.js'
import type { RelayDefinition } from '../options.js'
import { Reader, text, port, MAX_INT } from './reader.js'
import { attributeOf, childrenOf, flagOf, integerOf, type XmlChild } from './xml.js'

/** One upstream's fields as elements give them, each with the element it came from (for error messages). */
type Fields = Map<string, { value: unknown, child: XmlChild }>

/** The elements that give an upstream's fields, wherever they stand: in the relay, an `<upstream>`, a `<host>`. */
const UPSTREAM_FIELDS: Record<string, [key: string, read: (child: XmlChild) => unknown]> = {
  server: ['server', text],
  ip: ['server', text],
  port: ['port', port],
  mount: ['mount', text],
  username: ['username', text],
  password: ['password', text],
  'relay-shoutcast-metadata': ['relayShoutcastMetadata', flagOf],
  'relay-icy-metadata': ['relayShoutcastMetadata', flagOf],
  tls: ['tls', flagOf],
  ssl: ['tls', flagOf]
}

/** Elements of 2.5 and kh read, but with no per-relay equivalent here: ignored with a warning saying why. */
export const NOT_PER_RELAY: Record<string, string> = {
  timeout: 'one connect timeout (limits.connectTimeout, 10 s by default) serves every upstream',
  'retry-delay': 'a relay retries (and probes the upstreams before the one it plays) with its backoff, capped by limits.maxBackoff',
  'run-on': 'an on-demand relay keeps its upstream limits.onDemandLinger seconds after its last listener',
  'http-headers': 'no extra request headers are sent to upstreams'
}

/** A relay's default upstream port in Icecast 2.5 (CONFIG_DEFAULT_RELAY_PORT), and the one of its https URIs. */
const ICECAST_25_PORT = 80
const ICECAST_25_TLS_PORT = 443

/**
 * Icecast 2.5's `<uri>`: `http://user:password@host:port/mount` gives those fields (2.5 takes http only; an https
 * URI is read as a TLS upstream here). A URI without a port leaves the port to the other elements.
 */
function uriFields (child: XmlChild): Array<[string, unknown]> {
  const uri = text(child)
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw new InvalidConfigError(`${child.path}: "${uri}" is not a URI`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidConfigError(`${child.path}: "${uri}" is not an http:// or https:// URI`)
  }
  const fields: Array<[string, unknown]> = [['server', url.hostname.replace(/^\[(.*)\]$/, '$1')], ['mount', url.pathname + url.search]]
  // an explicit default port (:80) is still a port given: the URL parser would drop it
  const explicit = /^[a-z]+:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#]*):(\d+)/i.exec(uri)?.[1]
  if (explicit !== undefined) fields.push(['port', Number(explicit)])
  for (const key of ['username', 'password'] as const) {
    if (url[key] === '') continue
    const decoded = percentDecoded(url[key])
    if (decoded === undefined) throw new InvalidConfigError(`${child.path}: bad percent-encoding in its ${key}`)
    fields.push([key, decoded])
  }
  if (url.protocol === 'https:') fields.push(['tls', true])
  return fields
}

/** Reads an upstream field into `fields` if the element gives one; false if it is no upstream element. */
function readField (fields: Fields, child: XmlChild): boolean {
  if (child.name === 'uri') {
    for (const [key, value] of uriFields(child)) if (!fields.has(key)) fields.set(key, { value, child })
    return true
  }
  const field = UPSTREAM_FIELDS[child.name]
  if (field === undefined) return false
  // an element says more than a <uri>'s part of the same field, wherever it stands
  fields.set(field[0], { value: field[1](child), child })
  return true
}

/** The fields of an `<upstream>` or `<host>`; its other elements are ignored with a warning. */
function readEntry (reader: Reader, entry: XmlChild, fields: Fields, other: (child: XmlChild) => boolean): Fields {
  for (const child of childrenOf(entry.node, `${entry.path} `)) {
    if (!readField(fields, child) && !other(child)) warnUnused(reader, child)
  }
  return fields
}

/** An upstream listed in a relay, and its element. */
interface Listed {
  fields: Fields
  child: XmlChild
}

interface KhHost extends Listed {
  priority: number
}

/**
 * kh's order of hosts (`_relay_host`): each is put before the first one of a greater priority, and one that
 * states none goes last with the priority before it plus one; so priority 1 comes first, equal ones keep the
 * file's order, and hosts that state none keep theirs.
 */
export function khOrder<T extends { priority: number }> (hosts: readonly T[]): T[] {
  const list: Array<{ priority: number, host?: T }> = [{ priority: 0 }]
  for (const host of hosts) {
    let at = 1
    while (at < list.length && !(host.priority !== 0 && list[at]!.priority > host.priority)) at++
    list.splice(at, 0, { priority: host.priority !== 0 ? host.priority : list[at - 1]!.priority + 1, host })
  }
  return list.slice(1).map((entry) => entry.host!)
}

function readHost (reader: Reader, child: XmlChild): KhHost {
  let priority = 0
  const fields = readEntry(reader, child, new Map(), (element) => {
    if (element.name !== 'priority') return false
    priority = integerOf(element, -MAX_INT, MAX_INT)
    return true
  })
  return { fields, priority, child }
}

/** What a relay's elements say, sorted out: the default upstream, the listed ones, the relay's own settings. */
interface RelayElements {
  /** whose syntax: 2.5 when it has an `<upstream>`, kh when it has a `<host>` */
  dialect: '2.4' | '2.5' | 'kh'
  defaults: Fields
  /** the upstreams listed (`<upstream>`, `<host>`), in the order they are tried */
  listed: Listed[]
  /** `local-mount`, `on-demand` */
  own: XmlChild[]
}

function warnUnused (reader: Reader, child: XmlChild): void {
  const why = NOT_PER_RELAY[child.name]
  if (why === undefined) reader.skip(child)
  else reader.ignore(child, why)
}

function sortRelayElements (reader: Reader, relay: XmlChild): RelayElements | undefined {
  const defaults: Fields = new Map()
  const own: XmlChild[] = []
  const normal: XmlChild[] = []
  const byDefault: XmlChild[] = []
  const hosts: KhHost[] = []
  let enabled = true
  for (const child of childrenOf(relay.node, `${relay.path} `)) {
    if (readField(defaults, child)) continue
    switch (child.name) {
      case 'local-mount': case 'on-demand': own.push(child); break
      case 'enable': enabled = flagOf(child); break
      case 'host': case 'master': hosts.push(readHost(reader, child)); break
      case 'upstream': {
        const type = attributeOf(child, 'type') ?? 'normal'
        if (type === 'normal') normal.push(child)
        else if (type === 'default') byDefault.push(child)
        else reader.ignore(child, `type "${type}" is neither "normal" nor "default"`)
        break
      }
      default: warnUnused(reader, child)
    }
  }
  if (!enabled) {
    reader.ignore(relay, 'its <enable> is 0 (icecast-kh keeps such a relay stopped)')
    return undefined
  }
  const is25 = normal.length + byDefault.length > 0
  if (is25 && hosts.length > 0) {
    throw new InvalidConfigError(`${relay.path}: <upstream> (Icecast 2.5) and <host> (icecast-kh) cannot be mixed in one relay`)
  }
  // 2.5's <upstream type="default"> says more than the relay's own elements, which it reads as the same
  for (const child of byDefault) readEntry(reader, child, defaults, () => false)
  const listed = hosts.length > 0
    ? khOrder(hosts)
    : normal.map((child) => ({ fields: readEntry(reader, child, new Map(), () => false), child }))
  return { dialect: is25 ? '2.5' : hosts.length > 0 ? 'kh' : '2.4', defaults, listed, own }
}

/** An upstream's fields over the defaults, on this host by default (as Icecast), each field's element remembered under `at`. */
function upstreamOf (reader: Reader, fields: Fields, defaults: Fields, at: string): Record<string, unknown> {
  const upstream: Record<string, unknown> = { server: '127.0.0.1' }
  for (const [key, { value, child }] of new Map([...defaults, ...fields])) reader.set(upstream, key, `${at}.${key}`, child, value)
  return upstream
}

/**
 * Icecast 2.5's default port (kh's, the server's own port, would relay the relay itself: there it stays
 * required, as in 2.4): 80, or 443 for an https URI.
 */
function withDefaultPort (relay: XmlChild, fields: Fields, defaults: Fields): Fields {
  if (fields.has('port') || defaults.has('port')) return fields
  const tls = (fields.get('tls') ?? defaults.get('tls'))?.value === true
  return new Map([...fields, ['port', { value: tls ? ICECAST_25_TLS_PORT : ICECAST_25_PORT, child: relay }]])
}

/**
 * One `<relay>` as a relay definition; undefined for a relay kh would keep stopped. `localMount` is given when
 * the relay stands in a 2.5 `<mount>`, whose name it takes.
 */
export function readRelay (reader: Reader, relay: XmlChild, index: number, localMount?: XmlChild): RelayDefinition | undefined {
  const at = `relays[${index}]`
  reader.origins.set(at, relay.path)
  const elements = sortRelayElements(reader, relay)
  if (elements === undefined) return undefined
  const { dialect, defaults, own } = elements
  const def: Record<string, unknown> = {}
  for (const child of own) {
    if (child.name === 'on-demand') reader.set(def, 'onDemand', `${at}.onDemand`, child, flagOf(child))
    else if (localMount !== undefined) reader.ignore(child, `the relay serves its <mount>'s name, ${text(localMount)}`)
    else reader.set(def, 'localMount', `${at}.localMount`, child, text(child))
  }
  if (localMount !== undefined) reader.set(def, 'localMount', `${at}.localMount`, localMount, text(localMount))
  const portOf = (fields: Fields): Fields => dialect === '2.5' ? withDefaultPort(relay, fields, defaults) : fields
  // no upstream listed: the default one is the only one, in the single-upstream form
  if (elements.listed.length === 0) return { ...def, ...upstreamOf(reader, portOf(new Map()), defaults, at) } as RelayDefinition
  const mount = defaults.get('mount')
  // as Icecast, the local mount is the relay's default mount; else (here) the first upstream's
  if (def['localMount'] === undefined && mount !== undefined) reader.set(def, 'localMount', `${at}.localMount`, mount.child, mount.value)
  reader.origins.set(`${at}.upstreams`, relay.path)
  def['upstreams'] = elements.listed.map(({ fields, child }, i) => {
    reader.origins.set(`${at}.upstreams[${i}]`, child.path)
    return upstreamOf(reader, portOf(fields), defaults, `${at}.upstreams[${i}]`)
  })
  // kh probes the hosts before the one it plays and goes back to one that answers; 2.5 stays on one that works
  if (elements.listed.length > 1) def['failback'] = dialect === 'kh'
  return def as RelayDefinition
}
