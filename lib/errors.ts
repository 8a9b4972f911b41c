import createError from '@fastify/error'

const InvalidOption = createError(
  'FST_ICECAST_RELAY_INVALID_OPTION', 'fastify-icecast-relay: invalid option %s: %s', 500, TypeError)

/**
 * An option (or a relay definition given at run time) that cannot be used: `field` names it as the user
 * wrote it (`relays[2].port`), `reason` says what is wrong with it, so that callers need not parse the message.
 */
export class InvalidOptionError extends InvalidOption {
  readonly field: string
  readonly reason: string

  constructor (field: string, reason: string, options?: { cause: unknown }) {
    super(field, reason, ...(options === undefined ? [] : [options]))
    this.field = field
    this.reason = reason
  }
}

export const InvalidConfigError = createError(
  'FST_ICECAST_RELAY_INVALID_CONFIG', '%s', 500, TypeError)
export const DuplicateMountError = createError(
  'FST_ICECAST_RELAY_DUPLICATE_MOUNT', 'fastify-icecast-relay: a relay already serves %s', 409)
export const UnknownMountError = createError(
  'FST_ICECAST_RELAY_UNKNOWN_MOUNT', 'fastify-icecast-relay: no relay serves %s', 404)
export const BadRequestError = createError(
  'FST_ICECAST_RELAY_BAD_REQUEST', 'fastify-icecast-relay: %s', 400)
export const MoveRefusedError = createError(
  'FST_ICECAST_RELAY_MOVE_REFUSED', 'fastify-icecast-relay: cannot move listeners from %s to %s: %s', 409)
export const AuthRateLimitedError = createError(
  'FST_ICECAST_RELAY_AUTH_RATE_LIMITED', 'fastify-icecast-relay: too many failed logins from this address, retry in %d s', 429)
/** Icecast's answer when an auth server already has too many listeners to decide on. */
export const AuthBusyError = createError('FST_ICECAST_RELAY_AUTH_BUSY', 'fastify-icecast-relay: busy, please try again later', 403)
/** An htpasswd file of listener authentication that cannot be used as one. */
export const HtpasswdUnusableError = createError('FST_ICECAST_RELAY_HTPASSWD_UNUSABLE', 'htpasswd file %s: %s', 500)
export const UsageError = createError('FST_ICECAST_RELAY_USAGE', '%s')

export const ConnectError = createError(
  'FST_ICECAST_RELAY_CONNECT_FAILED', 'upstream %s: connection failed: %s', 502)
export const ConnectTimeoutError = createError(
  'FST_ICECAST_RELAY_CONNECT_TIMEOUT', 'upstream %s: no response head within %d ms', 504)
export const BadStatusLineError = createError(
  'FST_ICECAST_RELAY_BAD_STATUS_LINE', 'upstream %s: not an HTTP or ICY status line: %s', 502)
export const BadHeaderError = createError(
  'FST_ICECAST_RELAY_BAD_HEADER', 'upstream %s: malformed header line: %s', 502)
export const HeadTooLargeError = createError(
  'FST_ICECAST_RELAY_HEAD_TOO_LARGE', 'upstream %s: response head exceeds %d bytes', 502)
export const UpstreamStatusError = createError(
  'FST_ICECAST_RELAY_UPSTREAM_STATUS', 'upstream %s: answered %d %s', 502)
export const NotAudioError = createError(
  'FST_ICECAST_RELAY_NOT_AUDIO', 'upstream %s: answered Content-Type %s, %s', 502)
export const TooManyRedirectsError = createError(
  'FST_ICECAST_RELAY_TOO_MANY_REDIRECTS', 'upstream %s: more than %d redirects', 502)
export const BadRedirectError = createError(
  'FST_ICECAST_RELAY_BAD_REDIRECT', 'upstream %s: unusable redirect Location: %s', 502)
export const RedirectRefusedError = createError(
  'FST_ICECAST_RELAY_REDIRECT_REFUSED', 'upstream %s: redirect to %s refused: %s', 502)
export const NotPublicError = createError(
  'FST_ICECAST_RELAY_NOT_PUBLIC', 'upstream %s: %s (publicOnly)', 502)
export const BadChunkError = createError(
  'FST_ICECAST_RELAY_BAD_CHUNK', 'upstream %s: malformed chunked encoding: %s', 502)
export const SourceTimeoutError = createError(
  'FST_ICECAST_RELAY_SOURCE_TIMEOUT', 'upstream %s: no data for %d ms', 504)
export const UpstreamClosedError = createError(
  'FST_ICECAST_RELAY_UPSTREAM_CLOSED', 'upstream %s: stream ended', 502)
/** A local file played as an upstream (`{ file }`): why it cannot be. */
export const FileUnreadableError = createError(
  'FST_ICECAST_RELAY_FILE_UNREADABLE', 'file %s: cannot be read: %s', 500)
export const FileEmptyError = createError('FST_ICECAST_RELAY_FILE_EMPTY', 'file %s: is empty', 500)
export const FileNotAudioError = createError(
  'FST_ICECAST_RELAY_FILE_NOT_AUDIO', 'file %s: %s', 500)
export const UpstreamStalledError = createError(
  'FST_ICECAST_RELAY_UPSTREAM_STALLED', 'upstream %s: no data for %d ms (stallTimeout), a backup takes over', 504)
export const ProbeUnprovenError = createError(
  'FST_ICECAST_RELAY_PROBE_UNPROVEN', 'upstream %s: no stream proven within %d ms (sourceTimeout) of a failback probe', 504)
export const RestartedError = createError('FST_ICECAST_RELAY_RESTARTED', 'restarted by request')
export const BadUpstreamRequestError = createError('FST_ICECAST_RELAY_BAD_UPSTREAM_REQUEST', '%s', 500, TypeError)
/** Misuse of the upstream parsers and connections by the library itself: a bug if it ever shows. */
export const HeadCompleteError = createError(
  'FST_ICECAST_RELAY_HEAD_COMPLETE', 'HeadParser: the head is already complete')
export const AlreadyStartedError = createError(
  'FST_ICECAST_RELAY_ALREADY_STARTED', 'upstream connection already started')

export const BadMetaintError = createError(
  'FST_ICECAST_RELAY_BAD_METAINT', 'icy-metaint must be a positive integer, got %s', 502, RangeError)
export const UnsupportedCharsetError = createError(
  'FST_ICECAST_RELAY_UNSUPPORTED_CHARSET',
  'metadata charset %s is not an ASCII-compatible encoding that TextDecoder knows', 500, RangeError)
export const BadMetadataKeyError = createError(
  'FST_ICECAST_RELAY_BAD_METADATA_KEY',
  'metadata key %s must start with a letter and hold only letters, digits, space, _ - .', 500, TypeError)

export const NotStreamlistError = createError(
  'FST_ICECAST_RELAY_NOT_STREAMLIST', 'master %s: answered %s, not a stream list', 502)
export const StreamlistTooLargeError = createError(
  'FST_ICECAST_RELAY_STREAMLIST_TOO_LARGE', 'master %s: stream list exceeds %d bytes', 502)
export const StreamlistTimeoutError = createError(
  'FST_ICECAST_RELAY_STREAMLIST_TIMEOUT', 'master %s: no complete stream list within %d ms', 504)
/** A relay added in a worker that the machine's relays (the primary) did not take: the worker's add is undone. */
export const MachineUnavailableError = createError(
  'FST_ICECAST_RELAY_MACHINE_UNAVAILABLE', 'fastify-icecast-relay: the machine\'s relays did not take %s: nothing was added', 503)
/** A worker could not read the primary's HLS window or segment: the player is answered 503. */
export const HlsOriginError = createError('FST_ICECAST_RELAY_HLS_ORIGIN', 'HLS origin %s: %s', 502)
/** Why a stream list fetch in flight is given up: the app closes. */
export const ClosingError = createError('FST_ICECAST_RELAY_CLOSING', 'closing')

/** An error as a relay's or master's status shows it: any thrown value, its code kept when it has one. */
export interface RelayError {
  code: string
  message: string
  at: string
}

export function toRelayError (error: unknown): RelayError {
  const err = error as { code?: unknown, message?: unknown }
  return {
    code: typeof err.code === 'string' ? err.code : 'ERR_UNKNOWN',
    message: typeof err.message === 'string' ? err.message : String(error),
    at: new Date().toISOString()
  }
}
