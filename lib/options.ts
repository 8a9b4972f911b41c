import { X509Certificate } from 'node:crypto'
import net from 'node:net'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { InvalidOptionError } from './errors.js'
import { isSupportedCharset } from './charset.js'
import { bracketedHost, percentDecoded, SERVER_NAME } from './http.js'

/** A local mount name: an absolute path, no control characters, no query, no dot segments. */
export const MOUNT_PATTERN = '^/[^\\x00-\\x20\\x7f?#]*$'
const MAX_MOUNT_LENGTH = 1024

export const Mount = Type.String({ pattern: MOUNT_PATTERN, maxLength: MAX_MOUNT_LENGTH })

const Port = Type.Integer({ minimum: 1, maximum: 65535 })
const Host = Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\s/?#@]+$' })
const Secret = Type.String({ maxLength: 1024 })
/** Upstream paths may carry a query string (`/;`, `/stream?type=http`). */
const UpstreamPath = Type.String({ pattern: '^/[^\\x00-\\x20\\x7f#]*$', maxLength: 2048 })

/** Which redirects an upstream may send the relay to: see lib/upstream/redirects.ts. */
const Redirects = Type.Unsafe<'same-server' | 'public' | 'any'>(Type.String({ pattern: '^(same-server|public|any)$' }))
export type RedirectPolicy = Static<typeof Redirects>

/** The upstream's redirect policy and TLS settings, the same for a relay and a master. */
const UpstreamTrustFields = {
  redirects: Type.Optional(Redirects),
  /** PEM certificate(s) of a private CA trusted for the upstream */
  ca: Type.Optional(Type.Union([Type.String({ maxLength: 1_048_576 }), Type.Array(Type.String({ maxLength: 1_048_576 }), { minItems: 1, maxItems: 100 })])),
  /** the name the upstream's certificate is checked against when it differs from `server` (an IP address) */
  servername: Type.Optional(Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$' })),
  rejectUnauthorized: Type.Optional(Type.Boolean())
}

export const RelayDefinitionSchema = Type.Object({
  url: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 2048 })),
  server: Type.Optional(Host),
  port: Type.Optional(Port),
  mount: Type.Optional(UpstreamPath),
  localMount: Type.Optional(Mount),
  username: Type.Optional(Secret),
  password: Type.Optional(Secret),
  relayShoutcastMetadata: Type.Optional(Type.Boolean()),
  onDemand: Type.Optional(Type.Boolean()),
  tls: Type.Optional(Type.Boolean()),
  ...UpstreamTrustFields,
  maxListeners: Type.Optional(Type.Integer({ minimum: 0 })),
  metaint: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_048_576 })),
  charset: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  /** every connection of the relay, to its server and wherever it redirects, goes to public addresses only */
  publicOnly: Type.Optional(Type.Boolean())
}, { additionalProperties: false })
export type RelayDefinition = Static<typeof RelayDefinitionSchema>

export const LimitsSchema = Type.Object({
  clients: Type.Integer({ minimum: 0, default: 100 }),
  burstSize: Type.Integer({ minimum: 0, maximum: 16_777_216, default: 65535 }),
  queueSize: Type.Integer({ minimum: 4096, maximum: 268_435_456, default: 524288 }),
  sourceTimeout: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 10 }),
  connectTimeout: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 10 }),
  gracePeriod: Type.Number({ minimum: 0, maximum: 3600, default: 10 }),
  onDemandLinger: Type.Number({ minimum: 0, maximum: 3600, default: 5 }),
  maxBackoff: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 30 }),
  /**
   * seconds the bytes of upstream reads are gathered before a write to the listeners (0: each read at
   * once). The default gathers the pieces an upstream sends in a row (Icecast sends 1400-byte blocks)
   * into one write per listener.
   */
  writeInterval: Type.Number({ minimum: 0, maximum: 10, default: 0.005 }),
  /** wrong Basic credentials a client address may send to the admin routes or the stream list within `authWindow` */
  authFailures: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10 }),
  /** seconds over which `authFailures` are counted; an address past them gets 429 until its window ends */
  authWindow: Type.Number({ minimum: 1, maximum: 86400, default: 60 })
}, { additionalProperties: false, default: {} })
export type Limits = Static<typeof LimitsSchema>

/** Basic-auth user names cannot hold a colon: it separates the user from the password. */
const UserName = Type.String({ maxLength: 1024, pattern: '^[^:\\x00-\\x1f\\x7f]*$' })
const Password = Type.String({ minLength: 1, maxLength: 1024, pattern: '^[^\\x00-\\x1f\\x7f]*$' })

/** Icecast's `<master-server>` and friends: a server whose every mount this app mirrors. */
export const MasterDefinitionSchema = Type.Object({
  server: Host,
  port: Port,
  ...UpstreamTrustFields,
  updateInterval: Type.Optional(Type.Number({ minimum: 0.1, maximum: 86400 })),
  username: Type.Optional(UserName),
  password: Password,
  onDemand: Type.Optional(Type.Boolean()),
  tls: Type.Optional(Type.Boolean()),
  /** the most relays this master's list may bring: a longer list is cut, so that no master can exhaust the app */
  maxRelays: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 }))
}, { additionalProperties: false })
export type MasterDefinition = Static<typeof MasterDefinitionSchema>

/** Icecast's `<relay-user>`/`<relay-password>`: who may read `/admin/streamlist.txt`. No default password. */
export const RelayAuthSchema = Type.Object({
  username: Type.Optional(UserName),
  password: Password
}, { additionalProperties: false })
export type RelayAuth = Static<typeof RelayAuthSchema>

/** Admin credentials: both required, since there is no default admin password. */
export const CredentialsSchema = Type.Object({
  username: Type.String({ ...UserName, minLength: 1 }),
  password: Password
}, { additionalProperties: false })
export type Credentials = Static<typeof CredentialsSchema>

const Text = Type.String({ maxLength: 256, pattern: '^[^\\x00-\\x1f\\x7f]*$' })

export const PluginOptionsSchema = Type.Object({
  relays: Type.Array(RelayDefinitionSchema, { default: [] }),
  limits: LimitsSchema,
  prefix: Type.String({ pattern: '^(/[^\\x00-\\x20\\x7f?#]*[^/\\x00-\\x20\\x7f?#])?$', default: '' }),
  userAgent: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\r\\n]*$' })),
  admin: Type.Optional(CredentialsSchema),
  stats: Type.Boolean({ default: true }),
  hostname: Type.Optional(Host),
  location: Type.String({ ...Text, default: 'Earth' }),
  adminEmail: Type.String({ ...Text, default: 'icemaster@localhost' }),
  serverId: Type.String({ ...Text, minLength: 1, default: SERVER_NAME })
}, { additionalProperties: true }) // Fastify's own register options (logLevel, …) arrive here too

/** What a user passes: every key with a default may be left out. */
export interface RelayPluginOptions {
  relays?: RelayDefinition[]
  limits?: Partial<Limits>
  prefix?: string
  userAgent?: string
  /** mirror every mount of these servers (Icecast's master-slave relay) */
  master?: MasterDefinition | MasterDefinition[]
  /** serve `/admin/streamlist.txt` to slaves that give these credentials */
  relayAuth?: RelayAuth
  /** enables the `/admin/*` routes, behind Basic auth with these credentials (there is no default) */
  admin?: Credentials
  /** false: no public `/status-json.xsl`, `/status.xsl` and `/7.html` (default true) */
  stats?: boolean
  /** the host name in the stats and listen URLs (default: the Host each request names) */
  hostname?: string
  location?: string
  adminEmail?: string
  serverId?: string
}

/** What the stats say about this server (Icecast's `<hostname>`, `<location>`, `<admin>`, `server_id`). */
export interface ServerInfo {
  hostname: string | undefined
  location: string
  adminEmail: string
  serverId: string
}

export interface ResolvedOptions {
  relays: ResolvedRelay[]
  limits: Limits
  prefix: string
  userAgent: string
  masters: ResolvedMaster[]
  relayAuth: Required<RelayAuth> | undefined
  admin: Credentials | undefined
  stats: boolean
  server: ServerInfo
}

export interface ResolvedMaster {
  /** `server:port`, for logs and messages */
  name: string
  /** `http(s)://server:port/`, no credentials */
  url: URL
  updateInterval: number
  username: string
  password: string
  onDemand: boolean
  /** the most relays its stream list may bring; later mounts of a longer list are not relayed */
  maxRelays: number
  /** the `origin` of the relays this master brings: `master:server:port` */
  origin: string
  redirects: RedirectPolicy
  tlsOptions?: UpstreamTls
}

/** The TLS settings given for an upstream with a certificate of its own CA. */
export type UpstreamTls = Pick<RelayDefinition, 'ca' | 'servername' | 'rejectUnauthorized'>

/** A relay definition with every default applied and the upstream as one URL. */
export interface ResolvedRelay {
  localMount: string
  /** who added the relay: `options`, `api` (app.relay.add), or the master it mirrors (`master:host:port`) */
  origin: string
  url: URL
  username?: string
  password?: string
  relayShoutcastMetadata: boolean
  onDemand: boolean
  redirects: RedirectPolicy
  tlsOptions?: UpstreamTls
  /** its server too must be on public addresses: a URL someone else chose (a master's list, a user) */
  publicOnly?: true
  maxListeners?: number
  metaint?: number
  charset?: string
}

function describePath (path: string): string {
  return path.replace(/^\//, '').replace(/\//g, '.').replace(/\.(\d+)(?=\.|$)/g, '[$1]') || '(root)'
}

/** The first way `value` fails `schema`, naming the field (`at.field: message`), or undefined when it fits. */
export function firstSchemaError (schema: TSchema, value: unknown, at: string): string | undefined {
  const error = Value.Errors(schema, value).First()
  if (error === undefined) return undefined
  const field = [at, describePath(error.path)].filter((s) => s !== '' && s !== '(root)').join('.')
  return `${field || at || '(root)'}: ${error.message}`
}

function assertSchema (schema: TSchema, value: unknown, at: string): void {
  const message = firstSchemaError(schema, value, at)
  if (message !== undefined) throw new InvalidOptionError(message)
}

function hasDotSegment (path: string): boolean {
  return path.split('/').some((segment) => segment === '.' || segment === '..')
}

/** Whether a path may name a local mount: the rule every `localMount` follows. */
export function isLocalMount (path: string): boolean {
  return Value.Check(Mount, path) && !hasDotSegment(path)
}

function assertNoDotSegments (path: string | undefined, field: string): void {
  if (path !== undefined && hasDotSegment(path)) {
    throw new InvalidOptionError(`${field}: must not contain "." or ".." segments`)
  }
}

function upstreamUrl (def: RelayDefinition, at: string): URL {
  if (def.url !== undefined) {
    if (def.server !== undefined || def.port !== undefined || def.mount !== undefined) {
      throw new InvalidOptionError(`${at}.url: give either url or server/port/mount, not both`)
    }
    let url: URL
    try {
      url = new URL(def.url)
    } catch {
      throw new InvalidOptionError(`${at}.url: not a valid URL`)
    }
    if (url.hash !== '') throw new InvalidOptionError(`${at}.url: must not carry a #fragment`)
    return url
  }
  if (def.server === undefined) {
    throw new InvalidOptionError(`${at}.server: required (the upstream host name or address)`)
  }
  if (def.port === undefined) {
    throw new InvalidOptionError(`${at}.port: required (Icecast has no default port for a relay either)`)
  }
  return serverUrl(def.server, def.port, def.tls === true, def.mount ?? '/', at)
}

/**
 * `http(s)://server:port/path`, an IPv6 server in brackets. The schema only keeps URL syntax out of `server`;
 * a name the URL parser still refuses (`'1.2`, `a^b`) is an invalid option, named by `at`, not a TypeError.
 */
function serverUrl (server: string, port: number, tls: boolean, path: string, at: string): URL {
  try {
    return new URL(`${tls ? 'https' : 'http'}://${hostPort(server, port)}${path}`)
  } catch {
    throw new InvalidOptionError(`${at}.server: ${JSON.stringify(server)} is not a host name or address`)
  }
}

function hostPort (server: string, port: number): string {
  return `${bracketedHost(server)}:${port}`
}

/** A percent-encoded part of an upstream URL, decoded; bad encoding is an invalid option (the part is not shown: it may be a password). */
function decodedPart (part: string, field: string): string {
  const decoded = percentDecoded(part)
  if (decoded === undefined) throw new InvalidOptionError(`${field}: bad percent-encoding`)
  return decoded
}

function credentials (def: RelayDefinition, url: URL, at: string): Pick<ResolvedRelay, 'username' | 'password'> {
  const username = def.username ?? (url.username !== '' ? decodedPart(url.username, `${at}.url`) : undefined)
  const password = def.password ?? (url.password !== '' ? decodedPart(url.password, `${at}.url`) : undefined)
  url.username = ''
  url.password = ''
  return {
    ...(username !== undefined && { username }),
    ...(password !== undefined && { password })
  }
}

function isCertificate (pem: string): boolean {
  try {
    return new X509Certificate(pem).raw.length > 0
  } catch {
    return false
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g

/** Node would ignore text that is no certificate and fail later with an unhelpful verify error: say so now. */
function assertCertificates (ca: string | string[], field: string): void {
  for (const [i, pem] of (Array.isArray(ca) ? ca : [ca]).entries()) {
    const at = Array.isArray(ca) ? `${field}[${i}]` : field
    const blocks = pem.match(PEM_CERTIFICATE) ?? []
    if (blocks.length === 0) throw new InvalidOptionError(`${at}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it`)
    if (!blocks.every(isCertificate)) throw new InvalidOptionError(`${at}: a PEM certificate in it does not parse`)
  }
}

/** The redirect policy (default `same-server`) and the TLS settings of a relay or master definition. */
function upstreamTrust (def: Pick<RelayDefinition, 'redirects' | keyof UpstreamTls>, at: string): Pick<ResolvedRelay, 'redirects' | 'tlsOptions'> {
  if (def.ca !== undefined) assertCertificates(def.ca, `${at}.ca`)
  if (def.servername !== undefined && net.isIP(def.servername) !== 0) {
    throw new InvalidOptionError(`${at}.servername: must be a DNS name, not an IP address (TLS sends names only)`)
  }
  const tlsOptions = {
    ...(def.ca !== undefined && { ca: def.ca }),
    ...(def.servername !== undefined && { servername: def.servername }),
    ...(def.rejectUnauthorized !== undefined && { rejectUnauthorized: def.rejectUnauthorized })
  }
  return { redirects: def.redirects ?? 'same-server', ...(Object.keys(tlsOptions).length > 0 && { tlsOptions }) }
}

/**
 * Validates one relay definition and applies Icecast's defaults: mount `/`, local mount = the upstream
 * path, shoutcast metadata relayed. `at` names the definition in error messages (`relays[2]`).
 */
export function resolveRelay (def: unknown, at = 'relay', origin = 'api'): ResolvedRelay {
  assertSchema(RelayDefinitionSchema, def, at)
  const relay = def as RelayDefinition
  const url = upstreamUrl(relay, at)
  const localMount = relay.localMount ?? decodedPart(url.pathname, `${at}.${relay.url === undefined ? 'mount' : 'url'}`)
  assertSchema(Mount, localMount, `${at}.localMount`)
  assertNoDotSegments(localMount, `${at}.localMount`)
  if (relay.charset !== undefined && !isSupportedCharset(relay.charset)) {
    throw new InvalidOptionError(`${at}.charset: ${relay.charset} is not an ASCII-compatible encoding TextDecoder knows`)
  }
  return {
    localMount,
    origin,
    url,
    ...credentials(relay, url, at),
    relayShoutcastMetadata: relay.relayShoutcastMetadata ?? true,
    onDemand: relay.onDemand ?? false,
    ...upstreamTrust(relay, at),
    ...(relay.publicOnly === true && { publicOnly: true }),
    ...(relay.maxListeners !== undefined && { maxListeners: relay.maxListeners }),
    ...(relay.metaint !== undefined && { metaint: relay.metaint }),
    ...(relay.charset !== undefined && { charset: relay.charset })
  }
}

/** Validates the plugin's options once, at register time; errors name the offending field. */
export function resolveOptions (input: unknown): ResolvedOptions {
  const withDefaults = Value.Default(PluginOptionsSchema, Value.Clone(input ?? {}))
  assertSchema(PluginOptionsSchema, withDefaults, '')
  const options = withDefaults as Static<typeof PluginOptionsSchema>
  const relays = options.relays.map((def, i) => resolveRelay(def, `relays[${i}]`, 'options'))
  const seen = new Set<string>()
  for (const [i, relay] of relays.entries()) {
    if (seen.has(relay.localMount)) {
      throw new InvalidOptionError(`relays[${i}].localMount: ${relay.localMount} is already used by another relay`)
    }
    seen.add(relay.localMount)
  }
  return {
    relays,
    limits: options.limits,
    prefix: options.prefix,
    userAgent: options.userAgent ?? SERVER_NAME,
    masters: resolveMasters((withDefaults as RelayPluginOptions).master),
    relayAuth: resolveRelayAuth((withDefaults as RelayPluginOptions).relayAuth),
    admin: options.admin,
    stats: options.stats,
    server: {
      hostname: options.hostname,
      location: options.location,
      adminEmail: options.adminEmail,
      serverId: options.serverId
    }
  }
}

const DEFAULT_RELAY_USER = 'relay'
/** Far more mounts than a real master has, far fewer relays than it takes to run the app out of sockets. */
const DEFAULT_MAX_RELAYS = 1000

/** A clearer word than the schema's for the one field users leave out because Icecast has defaults elsewhere. */
function assertPassword (def: unknown, at: string): void {
  if (typeof def === 'object' && def !== null && !('password' in def)) {
    throw new InvalidOptionError(`${at}.password: required (there is no default relay password)`)
  }
}

function resolveMaster (def: unknown, at: string): ResolvedMaster {
  assertPassword(def, at)
  assertSchema(MasterDefinitionSchema, def, at)
  const master = def as MasterDefinition
  const name = hostPort(master.server, master.port)
  return {
    name,
    url: serverUrl(master.server, master.port, master.tls === true, '/', at),
    updateInterval: master.updateInterval ?? 120,
    username: master.username ?? DEFAULT_RELAY_USER,
    password: master.password,
    onDemand: master.onDemand ?? false,
    maxRelays: master.maxRelays ?? DEFAULT_MAX_RELAYS,
    origin: `master:${name}`,
    ...upstreamTrust(master, at)
  }
}

/** One master or a list of them; in a list the first one that lists a mount serves it. */
function resolveMasters (input: unknown): ResolvedMaster[] {
  if (input === undefined) return []
  const list = Array.isArray(input) ? input : [input]
  const masters = list.map((def, i) => resolveMaster(def, Array.isArray(input) ? `master[${i}]` : 'master'))
  for (const [i, master] of masters.entries()) {
    if (masters.findIndex((other) => other.origin === master.origin) !== i) {
      throw new InvalidOptionError(`master[${i}]: ${master.name} is already listed`)
    }
  }
  return masters
}

function resolveRelayAuth (input: unknown): Required<RelayAuth> | undefined {
  if (input === undefined) return undefined
  assertPassword(input, 'relayAuth')
  assertSchema(RelayAuthSchema, input, 'relayAuth')
  const auth = input as RelayAuth
  return { username: auth.username ?? DEFAULT_RELAY_USER, password: auth.password }
}
