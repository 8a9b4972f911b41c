import { X509Certificate } from 'node:crypto'
import net from 'node:net'
import { Type, type Static, type TObject, type TOptional, type TProperties, type TSchema } from '@sinclair/typebox'
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value'
import type { FastifyRequest } from 'fastify'
import { InvalidOptionError } from './errors.js'
import { isSupportedCharset } from './charset.js'
import { bracketedHost, percentDecoded, SERVER_NAME } from './http.js'
import { NAME_CONVERSIONS, unknownConversion } from './archive/name.js'

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

/** Everything that names one network upstream: a relay's single-upstream shorthand, or one entry of `upstreams`. */
const NetworkUpstreamFields = {
  url: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 2048 })),
  server: Type.Optional(Host),
  port: Type.Optional(Port),
  mount: Type.Optional(UpstreamPath),
  username: Type.Optional(Secret),
  password: Type.Optional(Secret),
  relayShoutcastMetadata: Type.Optional(Type.Boolean()),
  tls: Type.Optional(Type.Boolean()),
  ...UpstreamTrustFields,
  /** every connection of the relay, to its server and wherever it redirects, goes to public addresses only */
  publicOnly: Type.Optional(Type.Boolean())
}
const SHORTHAND_FIELDS = Object.keys(NetworkUpstreamFields)

export const NetworkUpstreamSchema = Type.Object(NetworkUpstreamFields, { additionalProperties: false })
export type NetworkUpstreamDefinition = Static<typeof NetworkUpstreamSchema>

/** A local MP3/AAC/Ogg file, played in a loop at its real bit rate. */
export const FileUpstreamSchema = Type.Object({
  file: Type.String({ pattern: '^/[^\\x00-\\x1f\\x7f]*$', maxLength: 4096 })
}, { additionalProperties: false })
export type FileUpstreamDefinition = Static<typeof FileUpstreamSchema>

export const UpstreamDefinitionSchema = Type.Union([NetworkUpstreamSchema, FileUpstreamSchema])
export type UpstreamDefinition = Static<typeof UpstreamDefinitionSchema>

/** Basic-auth user names cannot hold a colon: it separates the user from the password. */
const UserName = Type.String({ maxLength: 1024, pattern: '^[^:\\x00-\\x1f\\x7f]*$' })

// Listener authentication: the `authenticate` function, Icecast's URL and htpasswd authenticators.
/** Whether a listener of `mount` (its local mount) may listen; false answers 401, a throw is logged and refused. */
export type Authenticate = (request: FastifyRequest, mount: string) => boolean | Promise<boolean>
const AuthenticateSchema = Type.Unsafe<Authenticate>(Type.Function([Type.Unknown(), Type.String()], Type.Unknown()))
/** An HTTP token: what a header name may hold (and nothing a form body would have to escape: `&`, `=`, `%`). */
const HeaderToken = Type.String({ minLength: 1, maxLength: 256, pattern: "^[A-Za-z0-9!#$'*+.^_`|~-]+$" })
const HeaderLine = Type.String({ minLength: 1, maxLength: 1024, pattern: '^[^\\x00-\\x1f\\x7f]*$' })
const AuthUrl = Type.String({ pattern: '^https?://', maxLength: 2048 })

/** Icecast's `<authentication type="url">`: the listener_add/listener_remove calls to an auth server. */
export const UrlAuthSchema = Type.Object({
  listenerAdd: AuthUrl,
  /** told when a listener admitted by listenerAdd leaves, with how long it listened */
  listenerRemove: Type.Optional(AuthUrl),
  /** Basic credentials for the auth server (or in the URLs, `http://user:pass@host/`) */
  username: Type.Optional(UserName),
  password: Type.Optional(Secret),
  /** the header line that admits a listener (default `icecast-auth-user: 1`) */
  authHeader: Type.Optional(HeaderLine),
  /** the header that limits the listener to so many seconds (default `icecast-auth-timelimit`) */
  timelimitHeader: Type.Optional(HeaderLine),
  /** request headers of the listener passed on in listenerAdd's body, each as `<headerPrefix><name>=<value>` */
  headers: Type.Optional(Type.Array(HeaderToken, { maxItems: 64 })),
  headerPrefix: Type.Optional(Type.String({ maxLength: 64, pattern: "^[A-Za-z0-9!#$'*+.^_`|~-]*$" })),
  /** seconds an auth server has to answer (default 5) */
  timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 60 })),
  /** what a listener gets when the auth server cannot be asked: refused (default) or admitted */
  onError: Type.Optional(Type.Unsafe<'refuse' | 'admit'>(Type.String({ pattern: '^(refuse|admit)$' })))
}, { additionalProperties: false })
export type UrlAuthDefinition = Static<typeof UrlAuthSchema>

/** Icecast's `<authentication>` of a mount: one authenticator, `htpasswd` or `url`. */
export const ListenerAuthSchema = Type.Object({
  /** a file of `user:md5hex(password)` lines, as Icecast writes it; re-read when it changes */
  htpasswd: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, pattern: '^[^\\x00-\\x1f\\x7f]*$' })),
  url: Type.Optional(UrlAuthSchema),
  /** one user name may listen to a mount more than once at a time (default false, as Icecast) */
  allowDuplicateUsers: Type.Optional(Type.Boolean())
}, { additionalProperties: false })
export type ListenerAuthDefinition = Static<typeof ListenerAuthSchema>

/** The listener authentication a relay or the whole app may set. */
const ListenerAuthFields = {
  authenticate: Type.Optional(AuthenticateSchema),
  listenerAuth: Type.Optional(ListenerAuthSchema)
}

/** Most upstreams one relay may name: far more than anyone has backups, few enough to probe them all. */
export const MAX_UPSTREAMS = 16

// intro and dump-file (issue 17)
/** The least a dump file may hold before it is rotated: a file a chunk or two long is no archive. */
export const MIN_ROTATE_BYTES = 16384
const DumpName = FileUpstreamSchema.properties.file
export const DumpFileSchema = Type.Object({
  /** the file name: an absolute path, strftime's date and time conversions in it (`%Y-%m-%d_%H%M%S`) */
  path: DumpName,
  /** a new file once this one would pass this many bytes */
  rotateBytes: Type.Optional(Type.Integer({ minimum: MIN_ROTATE_BYTES, maximum: Number.MAX_SAFE_INTEGER })),
  /** a new file once this one is this many seconds old */
  rotateSeconds: Type.Optional(Type.Number({ minimum: 1, maximum: 31_536_000 }))
}, { additionalProperties: false })
export type DumpFileDefinition = Static<typeof DumpFileSchema>
// HLS (issue 19)
export const MAX_WINDOW_SEGMENTS = 100
export const HlsSettingsSchema = Type.Object({
  /** the longest a segment lasts, in whole seconds: 6 for the widest compatibility, 2 for low latency */
  segmentSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 })),
  /**
   * the playlist's sliding window in target durations: it keeps at least this many segmentSeconds of segments
   * (RFC 8216 §6.2.2 asks three), within bounds of count and bytes (lib/hls/windowing.ts)
   */
  windowSegments: Type.Optional(Type.Integer({ minimum: 3, maximum: MAX_WINDOW_SEGMENTS })),
  /** the Access-Control-Allow-Origin of the HLS routes, or false for none (default `*`) */
  cors: Type.Optional(Type.Union([HeaderLine, Type.Literal(false)]))
}, { additionalProperties: false })
export type HlsSettings = Static<typeof HlsSettingsSchema>
/** true: on with the app's settings; false: off; an object: on, with these settings over the app's */
const HlsOptionSchema = Type.Union([Type.Boolean(), HlsSettingsSchema])
export type HlsOption = Static<typeof HlsOptionSchema>
// Per-mount settings (Icecast's `<mount>`): a relay's own, or those of `mounts` / `mountDefaults` for its local mount
/** What listeners and the stats are told about a stream instead of the upstream's word; no control characters (header values). */
const StreamText = Type.String({ maxLength: 1024, pattern: '^[^\\x00-\\x1f\\x7f]*$' })
/** Icecast reads the duration as a C int of seconds (68 years): longer is no duration anyone means. */
const MAX_LISTENER_DURATION = 2_147_483_647
const MountSettingsFields = {
  maxListeners: Type.Optional(Type.Integer({ minimum: 0 })),
  /** seconds a listener may stay; it is then ended (Icecast's max-listener-duration) */
  maxListenerDuration: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: MAX_LISTENER_DURATION })),
  /** left out of the public status pages and of `/admin/streamlist.txt`; still served, still in the admin routes */
  hidden: Type.Optional(Type.Boolean()),
  /** the `icy-pub` listeners get and the stats' `public`, instead of the upstream's */
  public: Type.Optional(Type.Boolean()),
  /** `icy-name`, `icy-description`, `icy-url`, `icy-genre` and the stats' names for them, instead of the upstream's */
  streamName: Type.Optional(StreamText),
  streamDescription: Type.Optional(StreamText),
  streamUrl: Type.Optional(StreamText),
  genre: Type.Optional(StreamText),
  /** bytes of recent stream a new listener of this mount gets at once, instead of limits.burstSize */
  burstSize: Type.Optional(Type.Integer({ minimum: 0, maximum: 16_777_216 })),
  metaint: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_048_576 })),
  charset: Type.Optional(Type.String({ minLength: 1, maxLength: 64 }))
}
export const MOUNT_SETTING_KEYS = Object.keys(MountSettingsFields) as Array<keyof MountSettings>
export const MountSettingsSchema = Type.Object(MountSettingsFields, { additionalProperties: false })
export type MountSettings = Static<typeof MountSettingsSchema>

export const RelayDefinitionSchema = Type.Object({
  ...NetworkUpstreamFields,
  /** the upstreams in priority order, instead of the single-upstream fields */
  upstreams: Type.Optional(Type.Array(UpstreamDefinitionSchema, { minItems: 1, maxItems: MAX_UPSTREAMS })),
  localMount: Type.Optional(Mount),
  onDemand: Type.Optional(Type.Boolean()),
  ...MountSettingsFields,
  /** back to a higher upstream as soon as it answers with audio again (default true) */
  failback: Type.Optional(Type.Boolean()),
  /** seconds without a byte after which the active upstream of a relay with several counts as failed (default 2) */
  stallTimeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3600 })),
  /** the next upstream is kept connected and read, so that a switch costs no connect time (default false) */
  standby: Type.Optional(Type.Boolean()),
  /** the local mount listeners are moved to when this relay has no live upstream */
  fallbackMount: Type.Optional(Mount),
  /** listeners moved to the fallback come back once this relay is live again (default false) */
  fallbackOverride: Type.Optional(Type.Boolean()),
  // intro and dump-file (issue 17)
  /** an MP3, AAC (ADTS) or Ogg file each new listener gets before the stream (its whole frames or pages) */
  intro: Type.Optional(FileUpstreamSchema.properties.file),
  /** the stream as listeners get it, written to files: a name pattern, or one with rotation */
  dumpFile: Type.Optional(Type.Union([DumpName, DumpFileSchema])),
  // HLS (issue 19)
  /** HLS of this relay: over the app's `hls` (false turns it off, true or settings on) */
  hls: Type.Optional(HlsOptionSchema),
  // Listener authentication: each replaces the app's own for this relay
  ...ListenerAuthFields
}, { additionalProperties: false })
export type RelayDefinition = Static<typeof RelayDefinitionSchema>

/**
 * A key users may leave out, then `value`: the schema carries it (`default`, which `Value.Default` applies)
 * and so does its type, so that `WithDefaults` knows the key is there once defaults are in.
 */
type TDefaulted<T extends TSchema> = TOptional<T> & { default: Static<T> }

function defaulted<T extends TSchema> (schema: T, value: Static<T>): TDefaulted<T> {
  // Type.Optional's return type is conditional on T; for a T that is not optional yet it is TOptional<T>
  return Object.assign(Type.Optional(schema) as TOptional<T>, { default: value })
}

type DefaultedKeys<P extends TProperties> = { [K in keyof P]: P[K] extends { default: unknown } ? K : never }[keyof P]

/** What an object schema's values are once `Value.Default` has run: its keys with a default are there. */
type WithDefaults<S extends TObject> = Static<S> & Required<Pick<Static<S>, DefaultedKeys<S['properties']> & keyof Static<S>>>

export const LimitsSchema = Type.Object({
  /** listeners over all mounts; above it a listener gets 403 */
  clients: defaulted(Type.Integer({ minimum: 0 }), 100),
  /** bytes of recent stream a new listener gets at once */
  burstSize: defaulted(Type.Integer({ minimum: 0, maximum: 16_777_216 }), 65535),
  /** a listener whose unsent backlog passes this many bytes is dropped (counted as slow) */
  queueSize: defaulted(Type.Integer({ minimum: 4096, maximum: 268_435_456 }), 524288),
  /** seconds without upstream data before the connection counts as dead */
  sourceTimeout: defaulted(Type.Number({ exclusiveMinimum: 0, maximum: 3600 }), 10),
  /** seconds for connect and response head, redirects included */
  connectTimeout: defaulted(Type.Number({ exclusiveMinimum: 0, maximum: 3600 }), 10),
  /** seconds listeners stay connected through an upstream gap */
  gracePeriod: defaulted(Type.Number({ minimum: 0, maximum: 3600 }), 10),
  /** seconds an on-demand relay keeps its upstream after the last listener */
  onDemandLinger: defaulted(Type.Number({ minimum: 0, maximum: 3600 }), 5),
  /** cap of the reconnect delay, in seconds */
  maxBackoff: defaulted(Type.Number({ exclusiveMinimum: 0, maximum: 3600 }), 30),
  /**
   * seconds the bytes of upstream reads are gathered before a write to the listeners (0: each read at
   * once). The default gathers the pieces an upstream sends in a row (Icecast sends 1400-byte blocks)
   * into one write per listener.
   */
  writeInterval: defaulted(Type.Number({ minimum: 0, maximum: 10 }), 0.005),
  // HTTPS listeners' writes
  /**
   * seconds the stream is gathered before a write to the listeners over TLS (0: as `writeInterval`): each
   * write is a TLS record encrypted apart, so fewer, larger ones cost a TLS listener less CPU
   */
  tlsWriteInterval: defaulted(Type.Number({ minimum: 0, maximum: 10 }), 0.5),
  // A crowd joining
  /**
   * seconds the stream is gathered for the listeners already in while a crowd joins a mount (100 listeners
   * within a second), when longer than `writeInterval`; 0: not for a crowd
   */
  crowdWriteInterval: defaulted(Type.Number({ minimum: 0, maximum: 10 }), 0.5),
  // A mount of thousands
  /**
   * seconds the stream is gathered while the mount's writes would take 40 % of a second at `writeInterval`
   * (about 10,000 listeners in one process), when longer than `writeInterval`; 0: `writeInterval` whatever the
   * mount's size, for more CPU and less latency
   */
  busyWriteInterval: defaulted(Type.Number({ minimum: 0, maximum: 10 }), 0.5),
  /** wrong Basic credentials a client address may send to the admin routes or the stream list within `authWindow` */
  authFailures: defaulted(Type.Integer({ minimum: 1, maximum: 1_000_000 }), 10),
  /** seconds over which `authFailures` are counted; an address past them gets 429 until its window ends */
  authWindow: defaulted(Type.Number({ minimum: 1, maximum: 86400 }), 60)
}, { additionalProperties: false })
/** Every limit, as the relays use them: each has a default. */
export type Limits = WithDefaults<typeof LimitsSchema>

const Password = Type.String({ minLength: 1, maxLength: 1024, pattern: '^[^\\x00-\\x1f\\x7f]*$' })
/**
 * A relay password: Icecast has a default one (`hackme`), this plugin has none, so its absence is
 * worth a clearer word than the schema's (see `missingReason` in `schemaError`).
 */
const RelayPassword = Type.String({ ...Password, missingReason: 'required (there is no default relay password)' })

// Master per-mount credentials (credentials downstream)
/** What a mount of a master asks its listeners for, as a relay of it sends them. */
export const MountCredentialsSchema = Type.Object({
  username: UserName,
  password: Password
}, { additionalProperties: false })
export type MountCredentials = Static<typeof MountCredentialsSchema>
/** By local mount, or a function of it (read when the relay of a mount starts). */
const MasterCredentialsSchema = Type.Union([
  Type.Record(Mount, MountCredentialsSchema, { additionalProperties: false }),
  Type.Function([Type.String()], Type.Union([MountCredentialsSchema, Type.Undefined()]))
])
export type MasterCredentials = Static<typeof MasterCredentialsSchema>

/** Icecast's `<master-server>` and friends: a server whose every mount this app mirrors. */
export const MasterDefinitionSchema = Type.Object({
  server: Host,
  port: Port,
  ...UpstreamTrustFields,
  updateInterval: Type.Optional(Type.Number({ minimum: 0.1, maximum: 86400 })),
  username: Type.Optional(UserName),
  password: RelayPassword,
  onDemand: Type.Optional(Type.Boolean()),
  tls: Type.Optional(Type.Boolean()),
  /** the most relays this master's list may bring: a longer list is cut, so that no master can exhaust the app */
  maxRelays: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  // master per-mount credentials (credentials downstream)
  /**
   * the credentials of mounts that ask listeners for their own (Icecast's listener authentication), sent
   * instead of `username`/`password` to the master itself, never to another server its list points at
   */
  credentials: Type.Optional(MasterCredentialsSchema),
  // Many machines: slave registration
  /**
   * register with the master as a redirect target (icecast-kh's `<master-redirect>`): true advertises this
   * app's `hostname` (else its listen address) and port; an object names what listeners reach it by
   */
  redirect: Type.Optional(Type.Union([Type.Boolean(), Type.Object({
    host: Type.Optional(Host),
    port: Type.Optional(Port),
    scheme: Type.Optional(Type.Union([Type.Literal('http'), Type.Literal('https')]))
  }, { additionalProperties: false })]))
}, { additionalProperties: false })
export type MasterDefinition = Static<typeof MasterDefinitionSchema>

// Many machines: master redirects
/** Where a new listener of a mount may be served: this server (`self`) or one of its live slaves. */
export interface NodeCandidate {
  /** `self`, or a slave's `host:port` */
  key: string
  kind: 'self' | 'slave'
  /** the listener's URL there; none for `self` */
  location?: string
  /** listeners of the node on every mount, with those just sent to a slave that has not reported them yet */
  listeners: number
  /** the listeners it takes (its `limits.clients`) */
  capacity: number
  /** listeners of the node on this mount, when it says */
  mountListeners?: number
}
/** The app's choice among the candidates (one of them); undefined leaves it to the policy. */
export type SelectNode = (request: FastifyRequest, candidates: NodeCandidate[]) => NodeCandidate | undefined | Promise<NodeCandidate | undefined>
/** Far more slaves than one master sends listeners to. */
export const MAX_REDIRECT_SLAVES = 10_000
/** A master's redirects of new listeners to its registered slaves (icecast-kh's `<max-redirect-slaves>`). */
export const RedirectSchema = Type.Object({
  /** the most slaves kept at once; later ones are not registered until one expires (default 100) */
  maxSlaves: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_REDIRECT_SLAVES })),
  /** `when-full` (default, as kh): only a listener the master would refuse; `always`: the least-loaded node */
  policy: Type.Optional(Type.Union([Type.Literal('when-full'), Type.Literal('always')])),
  selectNode: Type.Optional(Type.Unsafe<SelectNode>(Type.Function([Type.Unknown(), Type.Array(Type.Unknown())], Type.Unknown())))
}, { additionalProperties: false })
export type RedirectOptions = Static<typeof RedirectSchema>
export type ResolvedRedirect = Required<Pick<RedirectOptions, 'maxSlaves' | 'policy'>> & Pick<RedirectOptions, 'selectNode'>

/** Icecast's `<relay-user>`/`<relay-password>`: who may read `/admin/streamlist.txt`. No default password. */
export const RelayAuthSchema = Type.Object({
  username: Type.Optional(UserName),
  password: RelayPassword
}, { additionalProperties: false })
export type RelayAuth = Static<typeof RelayAuthSchema>

/** Admin credentials: both required, since there is no default admin password. */
export const CredentialsSchema = Type.Object({
  username: Type.String({ ...UserName, minLength: 1 }),
  password: Password
}, { additionalProperties: false })
export type Credentials = Static<typeof CredentialsSchema>

const Text = Type.String({ maxLength: 256, pattern: '^[^\\x00-\\x1f\\x7f]*$' })

// Machine-wide answers: the processes of one machine as one server
/** A process's listener ids are its index times this plus a count (ids stay safe integers up to the index's limit). */
export const MACHINE_ID_SPAN = 2 ** 32
const MAX_MACHINE_INDEX = Math.floor(Number.MAX_SAFE_INTEGER / MACHINE_ID_SPAN) - 1
/**
 * A channel between the processes of one machine, each running the plugin with the same relays: node:cluster
 * messages through the primary, or any transport an app's own cluster has. Queries and answers are JSON values.
 * An object with `ask` and `answer` of its own (not methods of a class's prototype).
 */
export interface MachineLink {
  /**
   * This process's number among the machine's, unique while it runs (node:cluster's `worker.id`): the high
   * bits of its listener ids, so that a listener's id names it machine-wide.
   */
  index: number
  /**
   * Sends `query` to every process of the machine, this one included, and resolves with the answers of
   * those that answered in time (a process that ended, or is slow, is left out): within a second or two.
   */
  ask: (query: unknown) => Promise<unknown[]>
  /** Called once at register: `respond` answers the queries other processes `ask` (a rejection is no answer). */
  answer: (respond: (query: unknown) => Promise<unknown>) => void
  /**
   * Reserves the place of one more listener of `mount` on the machine, kept by one process for all: `ok` when
   * the machine holds fewer than `clients` listeners and `mount` fewer than `maxListeners` (null: no limit),
   * else the limit it hit; undefined when no answer came in time (the listener is then refused).
   */
  reserve: (mount: string, limits: MachineSlotLimits) => Promise<MachineReservation | undefined>
  /** Gives back a place `reserve` gave: its listener left. */
  release: (mount: string) => void
  /**
   * How this process relays a relay added at run time when one process of the machine holds the upstreams
   * and the others mirror it (a worker of `--workers`: from the primary's private port). Left out, every
   * process adds the definition as given, with its own upstream connection.
   */
  mirror?: (definition: RelayDefinition) => RelayDefinition
  // HLS (issue 19)
  /**
   * Where this process's HLS takes each mount's window and segments when one process of the machine cuts them
   * for all (a worker of `--workers`: the primary), so that every process gives the same sequence numbers.
   * Left out, each process cuts its own.
   */
  hlsOrigin?: HlsOrigin
}
// HLS (issue 19)
/** A process that cuts the segments: its base URL, and the relay credentials (`relayAuth`) it serves its windows to. */
export interface HlsOrigin {
  url: string
  username: string
  password: string
}
export type MachineReservation = 'ok' | 'clients' | 'mount'
export interface MachineSlotLimits {
  clients: number
  maxListeners: number | null
}
const MachineLinkSchema = Type.Unsafe<MachineLink>(Type.Object({
  index: Type.Integer({ minimum: 0, maximum: MAX_MACHINE_INDEX }),
  ask: Type.Function([Type.Unknown()], Type.Unknown()),
  answer: Type.Function([Type.Unknown()], Type.Unknown()),
  reserve: Type.Function([Type.String(), Type.Unknown()], Type.Unknown()),
  release: Type.Function([Type.String()], Type.Unknown()),
  mirror: Type.Optional(Type.Function([Type.Unknown()], Type.Unknown())),
  hlsOrigin: Type.Optional(Type.Object({ url: Type.String({ pattern: '^https?://' }), username: Type.String(), password: Type.String() }))
}))

/** What a user passes to `register`: every option may be left out; no other key is one (but Fastify's). */
export const RelayPluginOptionsSchema = Type.Object({
  /** the relays served from the start; more come and go at run time (`app.relay.add`, the admin routes) */
  relays: defaulted(Type.Array(RelayDefinitionSchema), []),
  /** Icecast's `<limits>` and the relay's own; each has a default */
  limits: defaulted(LimitsSchema, {}),
  /** the path the mounts and the plugin's routes are served under (`/radio`: `/radio/live.mp3`); default none */
  prefix: defaulted(Type.String({ pattern: '^(/[^\\x00-\\x20\\x7f?#]*[^/\\x00-\\x20\\x7f?#])?$' }), ''),
  /** the User-Agent of the requests to upstreams and masters (default: the plugin's name) */
  userAgent: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\r\\n]*$' })),
  /** mirror every mount of these servers (Icecast's master-slave relay) */
  master: Type.Optional(Type.Union([MasterDefinitionSchema, Type.Array(MasterDefinitionSchema)])),
  /** serve `/admin/streamlist.txt` to slaves that give these credentials */
  relayAuth: Type.Optional(RelayAuthSchema),
  // Many machines: master redirects
  /** keep the slaves that register (they need `relayAuth`) and send new listeners to them */
  redirect: Type.Optional(RedirectSchema),
  /** enables the `/admin/*` routes, behind Basic auth with these credentials (there is no default) */
  admin: Type.Optional(CredentialsSchema),
  /** false: no public `/status-json.xsl`, `/status.xsl` and `/7.html` (default true) */
  stats: defaulted(Type.Boolean(), true),
  /** the host name in the stats and listen URLs (default: the Host each request names) */
  hostname: Type.Optional(Host),
  /** Icecast's `<location>` in the stats */
  location: defaulted(Text, 'Earth'),
  /** Icecast's `<admin>` in the stats */
  adminEmail: defaulted(Text, 'icemaster@localhost'),
  /** the `server_id` of the stats (default: the plugin's name) */
  serverId: defaulted(Type.String({ ...Text, minLength: 1 }), SERVER_NAME),
  // Listener authentication: for every relay that sets none of its own
  ...ListenerAuthFields,
  // HLS (issue 19)
  /** HLS of every MP3 and AAC relay (true or settings), or of those that ask (false); absent: no HLS at all */
  hls: Type.Optional(HlsOptionSchema),
  // Machine-wide answers: the processes of one machine (`--workers`, or an app's own cluster) as one server
  /** how this process reaches the others of its machine: stats, admin lists and commands then speak for all of them */
  machine: Type.Optional(MachineLinkSchema),
  // Per-mount settings by local mount, for whichever relay serves it (options, API, master)
  /** settings of the relay serving each local mount (its own settings win) */
  mounts: Type.Optional(Type.Record(Type.String(), MountSettingsSchema)),
  /** settings of every relay, below its own and its mount's (Icecast's `<mount type="default">`) */
  mountDefaults: Type.Optional(MountSettingsSchema)
}, { additionalProperties: false })
export type RelayPluginOptions = Static<typeof RelayPluginOptionsSchema>

/** The options once every default is in: what `resolveOptions` reads. */
type DefaultedOptions = WithDefaults<typeof RelayPluginOptionsSchema> & { limits: Limits }

/**
 * Fastify's own options of `register` (its `RegisterOptions`): they reach the plugin along with its own.
 * Fastify applies them to encapsulated plugins only, and this one is not (fastify-plugin), so they do nothing
 * here; `prefix`, a key of both, is the plugin's mount prefix. avvio's `name` is none of them: it names a
 * plugin that has no name, and this one has one.
 */
const FastifyRegisterFields = {
  logLevel: Type.Optional(Type.String()),
  logSerializers: Type.Optional(Type.Record(Type.String(), Type.Function([Type.Unknown()], Type.String())))
}

/** What the plugin function receives: its options and Fastify's, and nothing else. */
const RegisterOptionsSchema = Type.Object(
  { ...RelayPluginOptionsSchema.properties, ...FastifyRegisterFields }, { additionalProperties: false })

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
  // Many machines: master redirects
  redirect: ResolvedRedirect | undefined
  admin: Credentials | undefined
  stats: boolean
  server: ServerInfo
  // Listener authentication
  authenticate?: Authenticate
  listenerAuth?: ResolvedListenerAuth
  mountSettings: ResolvedMountSettings
  // Machine-wide answers
  machine: MachineLink | undefined
  // HLS (issue 19): undefined when no `hls` option is given anywhere
  hls: ResolvedHls | undefined
}

// HLS (issue 19)
export interface ResolvedHlsSettings {
  segmentSeconds: number
  windowSegments: number
  cors: string | false
}
/** The app's HLS: whether relays that do not say are served, and the settings they get. */
export interface ResolvedHls {
  enabled: boolean
  settings: ResolvedHlsSettings
}
export const HLS_DEFAULTS: ResolvedHlsSettings = { segmentSeconds: 6, windowSegments: 6, cors: '*' }

/** The HLS settings of a relay, or undefined when it has none: its own `hls` over the app's. */
export function relayHls (relay: Pick<ResolvedRelay, 'hls'>, app: ResolvedHls): ResolvedHlsSettings | undefined {
  const own = relay.hls
  if (own === false || (own === undefined && !app.enabled)) return undefined
  return own === undefined || own === true ? app.settings : { ...app.settings, ...own }
}

function resolveHls (options: Pick<RelayPluginOptions, 'hls'>, relays: readonly ResolvedRelay[]): ResolvedHls | undefined {
  const { hls } = options
  if (hls === undefined && !relays.some((relay) => relay.hls !== undefined && relay.hls !== false)) return undefined
  return { enabled: hls !== undefined && hls !== false, settings: typeof hls === 'object' ? { ...HLS_DEFAULTS, ...hls } : HLS_DEFAULTS }
}

/** The `mounts` and `mountDefaults` options: what a relay has of them is found by `withMountSettings`. */
export interface ResolvedMountSettings {
  byMount: ReadonlyMap<string, MountSettings>
  defaults: MountSettings
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
  // master per-mount credentials (credentials downstream)
  credentials?: MasterCredentials
  // Many machines: slave registration
  /** what this app registers as with the master; undefined: it does not register */
  redirect?: { host?: string, port?: number, scheme?: 'http' | 'https' }
}

/** The TLS settings given for an upstream with a certificate of its own CA. */
export type UpstreamTls = Pick<NetworkUpstreamDefinition, 'ca' | 'servername' | 'rejectUnauthorized'>

/** A network upstream with every default applied, as one URL without credentials. */
export interface ResolvedHttpUpstream {
  kind: 'http'
  url: URL
  username?: string
  password?: string
  relayShoutcastMetadata: boolean
  redirects: RedirectPolicy
  tlsOptions?: UpstreamTls
  /** its server too must be on public addresses: a URL someone else chose (a master's list, a user) */
  publicOnly?: true
}

/** A local file played in a loop. */
export interface ResolvedFileUpstream {
  kind: 'file'
  path: string
}

export type ResolvedUpstream = ResolvedHttpUpstream | ResolvedFileUpstream

/** A relay definition with every default applied and its upstreams in priority order, and its per-mount settings. */
export interface ResolvedRelay extends MountSettings {
  localMount: string
  /** who added the relay: `options`, `api` (app.relay.add), or the master it mirrors (`master:host:port`) */
  origin: string
  /** one or more, highest priority first */
  upstreams: ResolvedUpstream[]
  onDemand: boolean
  failback: boolean
  /** seconds; used only by a relay with more than one upstream */
  stallTimeout: number
  standby: boolean
  fallbackMount?: string
  fallbackOverride: boolean
  // intro and dump-file (issue 17)
  intro?: string
  dumpFile?: ResolvedDumpFile
  // HLS (issue 19)
  hls?: HlsOption
  // Listener authentication
  authenticate?: Authenticate
  listenerAuth?: ResolvedListenerAuth
  // a master's relays (credentials downstream)
  /** seconds to wait before asking again an upstream that refused the relay (401, 403); without it, the backoff */
  refusedRetry?: number
}

/** Where a relay's stream is written: `pattern` expanded as each file opens; rotation by size, age, both or neither. */
export interface ResolvedDumpFile {
  pattern: string
  rotateBytes?: number
  rotateSeconds?: number
}

/** A `dumpFile` definition with its name checked: only conversions the archive knows, no dot segments. */
function resolveDumpFile (def: string | DumpFileDefinition, at: string): ResolvedDumpFile {
  const { path: pattern, ...rotation } = typeof def === 'string' ? { path: def } : def
  const field = typeof def === 'string' ? at : `${at}.path`
  assertNoDotSegments(pattern, field)
  const unknown = unknownConversion(pattern)
  if (unknown !== undefined) throw new InvalidOptionError(field, `${unknown} is no conversion a name may hold (${NAME_CONVERSIONS})`)
  return { pattern, ...rotation }
}

/** A header an answer must carry, its name in lower case. */
export interface HeaderMatch {
  name: string
  value: string
}

/** An auth server's URL, without credentials (fetch refuses URLs that carry them), and the Basic ones it is given. */
export interface AuthEndpoint {
  url: URL
  credentials?: { username: string, password: string }
}

export interface ResolvedUrlAuth {
  listenerAdd: AuthEndpoint
  listenerRemove?: AuthEndpoint
  authHeader: HeaderMatch
  /** lower case */
  timelimitHeader: string
  headers: string[]
  headerPrefix: string
  /** seconds */
  timeout: number
  onError: 'refuse' | 'admit'
}

export interface ResolvedListenerAuth {
  htpasswd?: string
  url?: ResolvedUrlAuth
  allowDuplicateUsers: boolean
}

/** How an upstream is shown in statuses and logs: its URL without credentials, or `file:` and its path. */
export function upstreamName (upstream: ResolvedUpstream): string {
  return upstream.kind === 'file' ? `file:${upstream.path}` : upstream.url.href
}

function describePath (path: string): string {
  return path.replace(/^\//, '').replace(/\//g, '.').replace(/\.(\d+)(?=\.|$)/g, '[$1]') || '(root)'
}

/**
 * A union's first error as told by the variant the value went furthest into (`master.port` rather than
 * `master: Expected union value`); the union's own when no variant went further than every other.
 */
function innermost (error: ValueError): ValueError {
  if (error.type !== ValueErrorType.Union) return error
  const depth = (e: ValueError): number => e.path.split('/').length
  const [best, next] = error.errors
    .map((variant) => variant.First())
    .filter((e) => e !== undefined)
    .sort((a, b) => depth(b) - depth(a))
  return best !== undefined && (next === undefined || depth(best) > depth(next)) ? innermost(best) : error
}

/** Why a value fails: the schema's words, or for a missing field its own (`missingReason`) where it has them. */
function reasonOf (error: ValueError): string {
  const missing: unknown = error.schema['missingReason']
  return error.type === ValueErrorType.ObjectRequiredProperty && typeof missing === 'string' ? missing : error.message
}

/** The first way `value` fails `schema`, the field named from `at` (`at.field`), or undefined when it fits. */
export function schemaError (schema: TSchema, value: unknown, at: string): InvalidOptionError | undefined {
  const first = Value.Errors(schema, value).First()
  if (first === undefined) return undefined
  const error = innermost(first)
  const field = [at, describePath(error.path)].filter((s) => s !== '' && s !== '(root)').join('.')
  return new InvalidOptionError(field || at || '(root)', reasonOf(error))
}

function assertSchema (schema: TSchema, value: unknown, at: string): void {
  const error = schemaError(schema, value, at)
  if (error !== undefined) throw error
}

/** What a master's `credentials` function gave for a mount, checked as the option's map would be (`at` names the call). */
export function checkMountCredentials (value: unknown, at: string): MountCredentials | undefined {
  if (value !== undefined) assertSchema(MountCredentialsSchema, value, at)
  return value as MountCredentials | undefined
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
    throw new InvalidOptionError(field, 'must not contain "." or ".." segments')
  }
}

function upstreamUrl (def: NetworkUpstreamDefinition, at: string): URL {
  if (def.url !== undefined) {
    if (def.server !== undefined || def.port !== undefined || def.mount !== undefined) {
      throw new InvalidOptionError(`${at}.url`, 'give either url or server/port/mount, not both')
    }
    let url: URL
    try {
      url = new URL(def.url)
    } catch {
      throw new InvalidOptionError(`${at}.url`, 'not a valid URL')
    }
    if (url.hash !== '') throw new InvalidOptionError(`${at}.url`, 'must not carry a #fragment')
    return url
  }
  if (def.server === undefined) {
    throw new InvalidOptionError(`${at}.server`, 'required (the upstream host name or address)')
  }
  if (def.port === undefined) {
    throw new InvalidOptionError(`${at}.port`, 'required (Icecast has no default port for a relay either)')
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
    throw new InvalidOptionError(`${at}.server`, `${JSON.stringify(server)} is not a host name or address`)
  }
}

function hostPort (server: string, port: number): string {
  return `${bracketedHost(server)}:${port}`
}

/** A percent-encoded part of an upstream URL, decoded; bad encoding is an invalid option (the part is not shown: it may be a password). */
function decodedPart (part: string, field: string): string {
  const decoded = percentDecoded(part)
  if (decoded === undefined) throw new InvalidOptionError(field, 'bad percent-encoding')
  return decoded
}

function credentials (def: NetworkUpstreamDefinition, url: URL, at: string): Pick<ResolvedHttpUpstream, 'username' | 'password'> {
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
    if (blocks.length === 0) throw new InvalidOptionError(at, 'no PEM certificate (-----BEGIN CERTIFICATE-----) in it')
    if (!blocks.every(isCertificate)) throw new InvalidOptionError(at, 'a PEM certificate in it does not parse')
  }
}

/** The redirect policy (default `same-server`) and the TLS settings of a relay or master definition. */
function upstreamTrust (def: Pick<NetworkUpstreamDefinition, 'redirects' | keyof UpstreamTls>, at: string): Pick<ResolvedHttpUpstream, 'redirects' | 'tlsOptions'> {
  if (def.ca !== undefined) assertCertificates(def.ca, `${at}.ca`)
  if (def.servername !== undefined && net.isIP(def.servername) !== 0) {
    throw new InvalidOptionError(`${at}.servername`, 'must be a DNS name, not an IP address (TLS sends names only)')
  }
  const tlsOptions = {
    ...(def.ca !== undefined && { ca: def.ca }),
    ...(def.servername !== undefined && { servername: def.servername }),
    ...(def.rejectUnauthorized !== undefined && { rejectUnauthorized: def.rejectUnauthorized })
  }
  return { redirects: def.redirects ?? 'same-server', ...(Object.keys(tlsOptions).length > 0 && { tlsOptions }) }
}

function isFileUpstream (def: UpstreamDefinition): def is FileUpstreamDefinition {
  return 'file' in def
}

/** One network upstream, resolved; `at` names it in errors (`relays[2]`, `relays[2].upstreams[1]`). */
function resolveHttpUpstream (def: NetworkUpstreamDefinition, at: string): ResolvedHttpUpstream {
  const url = upstreamUrl(def, at)
  return {
    kind: 'http',
    url,
    ...credentials(def, url, at),
    relayShoutcastMetadata: def.relayShoutcastMetadata ?? true,
    ...upstreamTrust(def, at),
    ...(def.publicOnly === true && { publicOnly: true })
  }
}

function resolveUpstream (def: UpstreamDefinition, at: string): ResolvedUpstream {
  if (!isFileUpstream(def)) return resolveHttpUpstream(def, at)
  assertNoDotSegments(def.file, `${at}.file`)
  return { kind: 'file', path: def.file }
}

/**
 * The upstreams of a relay definition: its `upstreams` list, each checked against its own variant's schema
 * so that an error names the field (a union's own words would not), or its single-upstream fields.
 */
function relayUpstreams (relay: RelayDefinition, at: string): ResolvedUpstream[] {
  if (relay.upstreams === undefined) return [resolveHttpUpstream(relay, at)]
  const shorthand = SHORTHAND_FIELDS.filter((key) => key in relay)
  if (shorthand.length > 0) {
    throw new InvalidOptionError(`${at}.${shorthand[0]!}`, 'give either upstreams or the single-upstream fields, not both')
  }
  return relay.upstreams.map((def, i) => resolveUpstream(def, `${at}.upstreams[${i}]`))
}

/** The local mount an upstream stands for by default: its decoded path (a file has none). */
function defaultLocalMount (relay: RelayDefinition, upstream: ResolvedUpstream, at: string): string {
  if (upstream.kind === 'file') throw new InvalidOptionError(`${at}.localMount`, 'required when the first upstream is a file')
  const [first, field] = relay.upstreams === undefined ? [relay, at] : [relay.upstreams[0] as NetworkUpstreamDefinition, `${at}.upstreams[0]`]
  return decodedPart(upstream.url.pathname, `${field}.${first.url === undefined ? 'mount' : 'url'}`)
}

/**
 * Checks each entry of a definition's `upstreams` against the variant it means (a file upstream names
 * `file`), so that an error names its field: the union's own words would only say that neither fits.
 */
function assertUpstreamVariants (def: unknown, at: string): void {
  const upstreams: unknown = typeof def === 'object' && def !== null ? (def as Record<string, unknown>)['upstreams'] : undefined
  if (!Array.isArray(upstreams)) return
  for (const [i, upstream] of upstreams.entries()) {
    const variant = typeof upstream === 'object' && upstream !== null && 'file' in upstream ? FileUpstreamSchema : NetworkUpstreamSchema
    assertSchema(variant, upstream, `${at}.upstreams[${i}]`)
  }
}

/**
 * Validates one relay definition and applies Icecast's defaults: mount `/`, local mount = the first
 * upstream's path, shoutcast metadata relayed. `at` names the definition in error messages (`relays[2]`).
 */
export function resolveRelay (def: unknown, at = 'relay', origin = 'api'): ResolvedRelay {
  assertUpstreamVariants(def, at)
  assertSchema(RelayDefinitionSchema, def, at)
  const relay = def as RelayDefinition
  const upstreams = relayUpstreams(relay, at)
  const localMount = relay.localMount ?? defaultLocalMount(relay, upstreams[0]!, at)
  assertSchema(Mount, localMount, `${at}.localMount`)
  assertNoDotSegments(localMount, `${at}.localMount`)
  assertNoDotSegments(relay.fallbackMount, `${at}.fallbackMount`)
  assertNoDotSegments(relay.intro, `${at}.intro`)
  return {
    localMount,
    origin,
    upstreams,
    onDemand: relay.onDemand ?? false,
    failback: relay.failback ?? true,
    stallTimeout: relay.stallTimeout ?? 2,
    standby: relay.standby ?? false,
    ...(relay.fallbackMount !== undefined && { fallbackMount: relay.fallbackMount }),
    fallbackOverride: relay.fallbackOverride ?? false,
    ...mountSettingsOf(relay, at),
    ...(relay.intro !== undefined && { intro: relay.intro }),
    ...(relay.dumpFile !== undefined && { dumpFile: resolveDumpFile(relay.dumpFile, `${at}.dumpFile`) }),
    ...(relay.hls !== undefined && { hls: relay.hls }),
    ...listenerAuthOf(relay, at)
  }
}

/** The per-mount settings a definition gives (those it leaves out are absent, not undefined), checked. */
function mountSettingsOf (def: MountSettings, at: string): MountSettings {
  if (def.charset !== undefined && !isSupportedCharset(def.charset)) {
    throw new InvalidOptionError(`${at}.charset`, `${def.charset} is not an ASCII-compatible encoding TextDecoder knows`)
  }
  const settings: Record<string, unknown> = {}
  for (const key of MOUNT_SETTING_KEYS) if (def[key] !== undefined) settings[key] = def[key]
  return settings as MountSettings
}

/**
 * A relay with the settings it does not give itself taken from its local mount's (`mounts`), then from
 * `mountDefaults`, as Icecast applies a `<mount>` to whatever source has its name.
 */
export function withMountSettings (def: ResolvedRelay, settings: ResolvedMountSettings): ResolvedRelay {
  return { ...settings.defaults, ...settings.byMount.get(def.localMount), ...def }
}

/**
 * The `mounts` option, each entry checked on its own so that an error names it (`mounts["/live"].hidden`):
 * its key must be a local mount. Called before the whole schema, whose words would name `mounts.~1live`.
 */
function assertMountEntries (given: unknown): void {
  const mounts: unknown = typeof given === 'object' && given !== null ? (given as Record<string, unknown>)['mounts'] : undefined
  if (typeof mounts !== 'object' || mounts === null || Array.isArray(mounts)) return
  for (const [key, value] of Object.entries(mounts)) {
    const at = `mounts[${JSON.stringify(key)}]`
    if (!isLocalMount(key)) throw new InvalidOptionError(at, 'not a local mount (an absolute path, no "." or ".." segments, no query)')
    assertSchema(MountSettingsSchema, value, at)
  }
}

function resolveMountSettings (mounts: Record<string, MountSettings> | undefined, defaults: MountSettings | undefined): ResolvedMountSettings {
  return {
    byMount: new Map(Object.entries(mounts ?? {}).map(([mount, settings]) => [mount, mountSettingsOf(settings, `mounts[${JSON.stringify(mount)}]`)])),
    defaults: mountSettingsOf(defaults ?? {}, 'mountDefaults')
  }
}

const DEFAULT_AUTH_HEADER = 'icecast-auth-user: 1'
const DEFAULT_TIMELIMIT_HEADER = 'icecast-auth-timelimit'
/** Seconds: a player waiting for its answer gives up not much later (Icecast waits 15 s). */
const DEFAULT_AUTH_TIMEOUT = 5
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/

/** `name: value` (Icecast's `auth_header`), the name in lower case. */
function headerMatch (line: string, field: string): HeaderMatch {
  const colon = line.indexOf(':')
  const name = line.slice(0, colon).trim().toLowerCase()
  if (colon < 0 || !HEADER_NAME.test(name)) throw new InvalidOptionError(field, 'must be a header line, "name: value"')
  return { name, value: line.slice(colon + 1).trim() }
}

/** A header name, with or without Icecast's trailing colon (`icecast-auth-timelimit:`), in lower case. */
function headerName (text: string, field: string): string {
  const name = text.replace(/:\s*$/, '').trim().toLowerCase()
  if (!HEADER_NAME.test(name)) throw new InvalidOptionError(field, 'must be a header name')
  return name
}

/** An auth server's URL; credentials in it win over the `username`/`password` fields, as in Icecast. */
function authEndpoint (text: string, def: UrlAuthDefinition, field: string): AuthEndpoint {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new InvalidOptionError(field, 'not a valid URL')
  }
  if (url.hash !== '') throw new InvalidOptionError(field, 'must not carry a #fragment')
  const inUrl = url.username !== '' || url.password !== ''
  const username = inUrl ? decodedPart(url.username, field) : def.username
  const password = inUrl ? decodedPart(url.password, field) : def.password
  url.username = ''
  url.password = ''
  return { url, ...(username !== undefined && password !== undefined && { credentials: { username, password } }) }
}

function resolveUrlAuth (def: UrlAuthDefinition, at: string): ResolvedUrlAuth {
  if ((def.username === undefined) !== (def.password === undefined)) {
    throw new InvalidOptionError(`${at}.${def.username === undefined ? 'username' : 'password'}`, 'give both username and password, or neither')
  }
  return {
    listenerAdd: authEndpoint(def.listenerAdd, def, `${at}.listenerAdd`),
    ...(def.listenerRemove !== undefined && { listenerRemove: authEndpoint(def.listenerRemove, def, `${at}.listenerRemove`) }),
    authHeader: headerMatch(def.authHeader ?? DEFAULT_AUTH_HEADER, `${at}.authHeader`),
    timelimitHeader: headerName(def.timelimitHeader ?? DEFAULT_TIMELIMIT_HEADER, `${at}.timelimitHeader`),
    headers: (def.headers ?? []).map((name) => name.toLowerCase()),
    headerPrefix: def.headerPrefix ?? '',
    timeout: def.timeout ?? DEFAULT_AUTH_TIMEOUT,
    onError: def.onError ?? 'refuse'
  }
}

/** One authenticator per mount, as Icecast's `<authentication>`: `htpasswd` or `url`. */
function resolveListenerAuth (def: ListenerAuthDefinition, at: string): ResolvedListenerAuth {
  if ((def.htpasswd === undefined) === (def.url === undefined)) {
    throw new InvalidOptionError(at, 'give one of htpasswd and url')
  }
  return {
    ...(def.htpasswd !== undefined && { htpasswd: def.htpasswd }),
    ...(def.url !== undefined && { url: resolveUrlAuth(def.url, `${at}.url`) }),
    allowDuplicateUsers: def.allowDuplicateUsers ?? false
  }
}

/** The listener authentication fields of a relay definition or of the options, resolved. */
function listenerAuthOf (def: { authenticate?: Authenticate, listenerAuth?: ListenerAuthDefinition }, at: string): Pick<ResolvedRelay, 'authenticate' | 'listenerAuth'> {
  return {
    ...(def.authenticate !== undefined && { authenticate: def.authenticate }),
    ...(def.listenerAuth !== undefined && { listenerAuth: resolveListenerAuth(def.listenerAuth, at === '' ? 'listenerAuth' : `${at}.listenerAuth`) })
  }
}

/** A copy for Value.Default to fill in (Value.Clone refuses functions): functions, such as `authenticate`, are kept. */
function copyOf (value: unknown): unknown {
  if (typeof value === 'function') return value
  if (Array.isArray(value)) return value.map(copyOf)
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, copyOf(item)]))
  return value
}

/** The options of the plugin in what `register` hands it, without Fastify's (which may hold functions). */
function pluginOptionsOf (input: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([key]) => !(key in FastifyRegisterFields)))
}

/**
 * Validates the plugin's options once, at register time, then applies the defaults the schema gives;
 * errors name the offending field, an unknown key included.
 */
export function resolveOptions (input: unknown): ResolvedOptions {
  const given = input ?? {}
  const definitions: unknown = typeof given === 'object' ? (given as Record<string, unknown>)['relays'] : undefined
  if (Array.isArray(definitions)) definitions.forEach((def, i) => assertUpstreamVariants(def, `relays[${i}]`))
  assertMountEntries(given)
  assertSchema(RegisterOptionsSchema, given, '')
  // `master` has no schema default (resolveMasters applies its own), and Value.Default clones a union's value,
  // which it cannot do with a function in it (a master's `credentials`)
  const { master, ...rest } = copyOf(pluginOptionsOf(given as Record<string, unknown>)) as Record<string, unknown>
  const options = Value.Default(RelayPluginOptionsSchema, rest) as DefaultedOptions
  const relays = options.relays.map((def, i) => resolveRelay(def, `relays[${i}]`, 'options'))
  const seen = new Set<string>()
  for (const [i, relay] of relays.entries()) {
    if (seen.has(relay.localMount)) {
      throw new InvalidOptionError(`relays[${i}].localMount`, `${relay.localMount} is already used by another relay`)
    }
    seen.add(relay.localMount)
  }
  return {
    relays,
    limits: options.limits,
    prefix: options.prefix,
    userAgent: options.userAgent ?? SERVER_NAME,
    masters: resolveMasters(master as DefaultedOptions['master']),
    relayAuth: resolveRelayAuth(options.relayAuth),
    redirect: resolveRedirect(options.redirect, options.relayAuth),
    admin: options.admin,
    stats: options.stats,
    mountSettings: resolveMountSettings(options.mounts, options.mountDefaults),
    // the caller's own object, methods and all (the copy Value.Default fills has only its own keys)
    machine: (given as RelayPluginOptions).machine,
    hls: resolveHls(options, relays),
    server: {
      hostname: options.hostname,
      location: options.location,
      adminEmail: options.adminEmail,
      serverId: options.serverId
    },
    ...listenerAuthOf(options, '')
  }
}

const DEFAULT_RELAY_USER = 'relay'
/** Far more mounts than a real master has, far fewer relays than it takes to run the app out of sockets. */
const DEFAULT_MAX_RELAYS = 1000

function resolveMaster (master: MasterDefinition, at: string): ResolvedMaster {
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
    ...upstreamTrust(master, at),
    ...(master.credentials !== undefined && { credentials: master.credentials }),
    ...(master.redirect !== undefined && master.redirect !== false && { redirect: master.redirect === true ? {} : master.redirect })
  }
}

/** One master or a list of them; in a list the first one that lists a mount serves it. */
function resolveMasters (input: MasterDefinition | MasterDefinition[] | undefined): ResolvedMaster[] {
  if (input === undefined) return []
  const list = Array.isArray(input) ? input : [input]
  const masters = list.map((def, i) => resolveMaster(def, Array.isArray(input) ? `master[${i}]` : 'master'))
  for (const [i, master] of masters.entries()) {
    if (masters.findIndex((other) => other.origin === master.origin) !== i) {
      throw new InvalidOptionError(`master[${i}]`, `${master.name} is already listed`)
    }
  }
  return masters
}

// Many machines: master redirects
const DEFAULT_MAX_SLAVES = 100

/** Slaves register on the stream list requests, which only `relayAuth` opens. */
function resolveRedirect (redirect: RedirectOptions | undefined, relayAuth: RelayAuth | undefined): ResolvedRedirect | undefined {
  if (redirect === undefined) return undefined
  if (relayAuth === undefined) throw new InvalidOptionError('redirect', 'needs relayAuth: slaves register on their stream list requests')
  return {
    maxSlaves: redirect.maxSlaves ?? DEFAULT_MAX_SLAVES,
    policy: redirect.policy ?? 'when-full',
    ...(redirect.selectNode !== undefined && { selectNode: redirect.selectNode })
  }
}

function resolveRelayAuth (auth: RelayAuth | undefined): Required<RelayAuth> | undefined {
  return auth === undefined ? undefined : { username: auth.username ?? DEFAULT_RELAY_USER, password: auth.password }
}
