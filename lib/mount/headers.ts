import { isUtf8 } from 'node:buffer'
import { NO_CACHE } from '../http.js'

/**
 * Icecast 1.x and Icecast 2 source headers, renamed to the `icy-*` names that players read. A Map, as
 * header names are the upstream's: `constructor` must find nothing.
 */
const RENAMED = new Map([
  ['ice-name', 'icy-name'],
  ['ice-genre', 'icy-genre'],
  ['ice-url', 'icy-url'],
  ['ice-description', 'icy-description'],
  ['ice-public', 'icy-pub'],
  ['ice-bitrate', 'icy-br'],
  ['x-audiocast-name', 'icy-name'],
  ['x-audiocast-genre', 'icy-genre'],
  ['x-audiocast-url', 'icy-url'],
  ['x-audiocast-description', 'icy-description'],
  ['x-audiocast-public', 'icy-pub'],
  ['x-audiocast-bitrate', 'icy-br']
])

/** Set per listener (ICY framing) or meaningless past the relay: never passed on from the upstream. */
const NOT_PASSED_ON = new Set(['icy-metaint'])

const DEFAULT_CONTENT_TYPE = 'audio/mpeg'

/** The type a listener is told: the upstream's, or MPEG audio from an old ICY server that names none. */
export function listenerContentType (upstream: Record<string, string> | undefined): string {
  const type = upstream?.['content-type']
  return type === undefined || type.trim() === '' ? DEFAULT_CONTENT_TYPE : type
}

function bitrateOfAudioInfo (audioInfo: string): string | undefined {
  return /(?:^|;)\s*(?:ice-)?bitrate=(\d+)/i.exec(audioInfo)?.[1]
}

/**
 * The stream headers a listener gets, from the upstream's: `icy-*` as they are, `ice-*` and
 * `x-audiocast-*` under their `icy-*` names (an `icy-*` the upstream sent itself wins), and
 * `ice-audio-info` both as it is and as `icy-br` when it names a bitrate.
 */
export function streamHeaders (upstream: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(upstream)) {
    if (name.startsWith('icy-') && !NOT_PASSED_ON.has(name)) out[name] = value
  }
  for (const [name, value] of Object.entries(upstream)) {
    const renamed = RENAMED.get(name)
    if (renamed !== undefined) out[renamed] ??= value
  }
  const audioInfo = upstream['ice-audio-info']
  if (audioInfo !== undefined) {
    out['ice-audio-info'] = audioInfo
    const bitrate = bitrateOfAudioInfo(audioInfo)
    if (bitrate !== undefined) out['icy-br'] ??= bitrate
  }
  return out
}

/** What a relay tells listeners and the stats about its stream instead of the upstream (Icecast's `<mount>` overrides). */
export interface StreamOverrides {
  streamName?: string | undefined
  streamDescription?: string | undefined
  streamUrl?: string | undefined
  genre?: string | undefined
  public?: boolean | undefined
}

const OVERRIDDEN_HEADERS = [
  ['streamName', 'icy-name'],
  ['streamDescription', 'icy-description'],
  ['streamUrl', 'icy-url'],
  ['genre', 'icy-genre']
] as const

/**
 * Stream headers (`streamHeaders`'s) with a relay's overrides in place, whether the upstream sent that header
 * or not. Header values hold bytes as Latin-1 characters (see `listenerHead`): an override goes out as its
 * UTF-8 bytes, which `streamInfo` reads back as the text given.
 */
export function overriddenStreamHeaders (headers: Record<string, string>, overrides: StreamOverrides): Record<string, string> {
  const out = { ...headers }
  for (const [key, header] of OVERRIDDEN_HEADERS) {
    const value = overrides[key]
    if (value !== undefined) out[header] = Buffer.from(value, 'utf8').toString('latin1')
  }
  if (overrides.public !== undefined) out['icy-pub'] = overrides.public ? '1' : '0'
  return out
}

export interface StreamInfo {
  name: string | null
  genre: string | null
  description: string | null
  url: string | null
  bitrate: number | null
  public: boolean | null
}

/**
 * A header value for display. Values are read as Latin-1 so that their bytes pass on unchanged; stations
 * write names in UTF-8 or in Latin-1, and UTF-8 is taken where the bytes are valid UTF-8, as for titles.
 */
function displayText (value: string | undefined): string | null {
  if (value === undefined) return null
  const bytes = Buffer.from(value, 'latin1')
  return isUtf8(bytes) ? bytes.toString('utf8') : value
}

function numberOrNull (value: string | undefined): number | null {
  const n = value === undefined ? Number.NaN : Number.parseInt(value, 10)
  return Number.isFinite(n) ? n : null
}

/** What the upstream says about its stream, whichever header family (icy, ice, x-audiocast) it used. */
export function streamInfo (upstream: Record<string, string>): StreamInfo {
  const headers = streamHeaders(upstream)
  const pub = headers['icy-pub']
  return {
    name: displayText(headers['icy-name']),
    genre: displayText(headers['icy-genre']),
    description: displayText(headers['icy-description']),
    url: displayText(headers['icy-url']),
    bitrate: numberOrNull(headers['icy-br']?.split(',')[0]),
    public: pub === undefined ? null : pub === '1' || pub.toLowerCase() === 'yes' || pub.toLowerCase() === 'true'
  }
}

export interface ListenerHeadInit {
  server: string
  contentType: string
  stream: Record<string, string>
  extra: Record<string, string>
  date?: Date
}

/**
 * What keeps a listener's answer from running as a page of the host app's origin, whatever it holds: the
 * browser may not guess another type than the one named, and the document it opens may load nothing but
 * media of its own URL: no script (inline or not), style, frame, object or form target. Not `sandbox`:
 * Chromium's player page for a media URL then loads the stream again from an opaque origin, which CORS
 * refuses, so a stream opened in a browser tab would not play.
 */
export const LISTENER_SAFETY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['Content-Security-Policy', "default-src 'none'; media-src 'self'; form-action 'none'"]
]

/**
 * A listener's response head, in Icecast 2.4.4's order: HTTP/1.0, no chunking, close at the end, then the
 * safety headers. Encoded as Latin-1, the way the upstream's header values were read: their bytes pass on
 * as they came.
 */
export function listenerHead (init: ListenerHeadInit): Buffer {
  const lines = [
    'HTTP/1.0 200 OK',
    `Server: ${init.server}`,
    'Connection: Close',
    `Date: ${(init.date ?? new Date()).toUTCString()}`,
    `Content-Type: ${init.contentType}`,
    `Cache-Control: ${NO_CACHE}`,
    'Expires: Mon, 26 Jul 1997 05:00:00 GMT',
    'Pragma: no-cache',
    ...LISTENER_SAFETY_HEADERS.map(([name, value]) => `${name}: ${value}`)
  ]
  for (const [name, value] of Object.entries(init.stream)) lines.push(`${name}: ${value}`)
  for (const [name, value] of Object.entries(init.extra)) lines.push(`${name}: ${value}`)
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1')
}
