import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { InvalidOptionError } from './errors.js'
import { isSupportedCharset } from './shoutcast/metadata.js'

/** A local mount name: an absolute path, no control characters, no query, no dot segments. */
export const MOUNT_PATTERN = '^/[^\\x00-\\x20\\x7f?#]*$'
const MAX_MOUNT_LENGTH = 1024

export const Mount = Type.String({ pattern: MOUNT_PATTERN, maxLength: MAX_MOUNT_LENGTH })

const Port = Type.Integer({ minimum: 1, maximum: 65535 })
const Host = Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\s/?#@]+$' })
const Secret = Type.String({ maxLength: 1024 })
/** Upstream paths may carry a query string (`/;`, `/stream?type=http`). */
const UpstreamPath = Type.String({ pattern: '^/[^\\x00-\\x20\\x7f#]*$', maxLength: 2048 })

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
  maxListeners: Type.Optional(Type.Integer({ minimum: 0 })),
  metaint: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_048_576 })),
  charset: Type.Optional(Type.String({ minLength: 1, maxLength: 64 }))
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
  writeInterval: Type.Number({ minimum: 0, maximum: 10, default: 0.005 })
}, { additionalProperties: false, default: {} })
export type Limits = Static<typeof LimitsSchema>

export const PluginOptionsSchema = Type.Object({
  relays: Type.Array(RelayDefinitionSchema, { default: [] }),
  limits: LimitsSchema,
  prefix: Type.String({ pattern: '^(/[^\\x00-\\x20\\x7f?#]*[^/\\x00-\\x20\\x7f?#])?$', default: '' }),
  userAgent: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\r\\n]*$' }))
}, { additionalProperties: true }) // Fastify's own register options (logLevel, …) arrive here too

/** What a user passes: every key with a default may be left out. */
export interface RelayPluginOptions {
  relays?: RelayDefinition[]
  limits?: Partial<Limits>
  prefix?: string
  userAgent?: string
}

export interface ResolvedOptions {
  relays: ResolvedRelay[]
  limits: Limits
  prefix: string
  userAgent: string
}

/** A relay definition with every default applied and the upstream as one URL. */
export interface ResolvedRelay {
  localMount: string
  url: URL
  username?: string
  password?: string
  relayShoutcastMetadata: boolean
  onDemand: boolean
  maxListeners?: number
  metaint?: number
  charset?: string
}

function describePath (path: string): string {
  return path.replace(/^\//, '').replace(/\//g, '.').replace(/\.(\d+)(?=\.|$)/g, '[$1]') || '(root)'
}

function firstSchemaError (schema: TSchema, value: unknown, at: string): string | undefined {
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
  const scheme = def.tls === true ? 'https' : 'http'
  const host = def.server.includes(':') ? `[${def.server}]` : def.server
  return new URL(`${scheme}://${host}:${def.port}${def.mount ?? '/'}`)
}

function credentials (def: RelayDefinition, url: URL): Pick<ResolvedRelay, 'username' | 'password'> {
  const username = def.username ?? (url.username !== '' ? decodeURIComponent(url.username) : undefined)
  const password = def.password ?? (url.password !== '' ? decodeURIComponent(url.password) : undefined)
  url.username = ''
  url.password = ''
  return {
    ...(username !== undefined && { username }),
    ...(password !== undefined && { password })
  }
}

/**
 * Validates one relay definition and applies Icecast's defaults: mount `/`, local mount = the upstream
 * path, shoutcast metadata relayed. `at` names the definition in error messages (`relays[2]`).
 */
export function resolveRelay (def: unknown, at = 'relay'): ResolvedRelay {
  assertSchema(RelayDefinitionSchema, def, at)
  const relay = def as RelayDefinition
  const url = upstreamUrl(relay, at)
  const localMount = relay.localMount ?? decodeURIComponent(url.pathname)
  assertSchema(Mount, localMount, `${at}.localMount`)
  assertNoDotSegments(localMount, `${at}.localMount`)
  if (relay.charset !== undefined && !isSupportedCharset(relay.charset)) {
    throw new InvalidOptionError(`${at}.charset: ${relay.charset} is not an ASCII-compatible encoding TextDecoder knows`)
  }
  return {
    localMount,
    url,
    ...credentials(relay, url),
    relayShoutcastMetadata: relay.relayShoutcastMetadata ?? true,
    onDemand: relay.onDemand ?? false,
    ...(relay.maxListeners !== undefined && { maxListeners: relay.maxListeners }),
    ...(relay.metaint !== undefined && { metaint: relay.metaint }),
    ...(relay.charset !== undefined && { charset: relay.charset })
  }
}

const DEFAULT_USER_AGENT = 'fastify-icecast-relay'

/** Validates the plugin's options once, at register time; errors name the offending field. */
export function resolveOptions (input: unknown): ResolvedOptions {
  const withDefaults = Value.Default(PluginOptionsSchema, Value.Clone(input ?? {}))
  assertSchema(PluginOptionsSchema, withDefaults, '')
  const options = withDefaults as Static<typeof PluginOptionsSchema>
  const relays = options.relays.map((def, i) => resolveRelay(def, `relays[${i}]`))
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
    userAgent: options.userAgent ?? DEFAULT_USER_AGENT
  }
}
