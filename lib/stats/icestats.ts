import type { AudioInfo } from '../formats/sink.js'
import type { ServerInfo } from '../options.js'
import type { RelayMetadata } from '../relay/extension.js'
import type { RelayStatus } from '../relay/relay.js'
import type { SlaveStatus } from '../relay/decorator.js'
import { percentDecoded } from '../http.js'

export type StatValue = string | number
export type Stats = Record<string, StatValue>

/** One `<source mount="...">` of Icecast's stats. */
export interface SourceEntry {
  mount: string
  stats: Stats
}

/** Icecast's stats: the server's own values and one entry per mount, as `/admin/stats` and the JSON give them. */
export interface Icestats {
  globals: Stats
  sources: SourceEntry[]
}

export interface StatsContext {
  server: ServerInfo
  startedAt: Date
  /** the host name the stats name: the `hostname` option, else the one the request named */
  host: string
  /** where listen URLs start: scheme, host, port and the mounts' prefix */
  listenBase: string
  // Many machines
  /** the registered slaves' listeners by local mount, and all of theirs; absent while no slave is registered */
  network?: NetworkListeners
}

/** What the registered slaves report, summed: listeners by local mount and in all. */
export interface NetworkListeners {
  byMount: ReadonlyMap<string, number>
  total: number
  slaves: number
}

/** The slaves' reports summed by local mount (their paths carry this server's prefix, which they share). */
export function networkListeners (slaves: readonly SlaveStatus[], mountPrefix: string): NetworkListeners | undefined {
  if (slaves.length === 0) return undefined
  const byMount = new Map<string, number>()
  for (const slave of slaves) {
    for (const [path, listeners] of Object.entries(slave.mounts)) {
      if (path.startsWith(mountPrefix + '/')) {
        const localMount = path.slice(mountPrefix.length)
        byMount.set(localMount, (byMount.get(localMount) ?? 0) + listeners)
      }
    }
  }
  return { byMount, total: slaves.reduce((sum, slave) => sum + (slave.listeners ?? 0), 0), slaves: slaves.length }
}

/**
 * A mount's listeners across the network, beside Icecast's `listeners` (this server's own, as Icecast
 * counts them): `slave_listeners` the registered slaves report, `cluster_listeners` the sum.
 */
function networkStats (status: RelayStatus, network: NetworkListeners | undefined): Stats {
  if (network === undefined) return {}
  const slaves = network.byMount.get(status.localMount) ?? 0
  return { slave_listeners: slaves, cluster_listeners: status.listeners + slaves }
}

/** Source values Icecast's public `/status-json.xsl` hides; `/admin/stats` shows them. */
const ADMIN_ONLY = new Set(['max_listeners', 'public', 'relay_fallback_listeners', 'relay_switches', 'relay_upstream', 'slow_listeners', 'source_ip', 'total_bytes_read', 'total_bytes_sent'])

/** An `ice-audio-info` key that becomes a stat of its own, and so an XML element name. */
const AUDIO_INFO_KEY = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/**
 * A time as Icecast writes it, in the server's local time with its offset: `Tue, 24 Nov 2026 23:09:42 +0100`
 * (`rfc822`) and `2026-11-24T23:09:42+0100` (`iso8601`). `offsetMinutes` is east of UTC.
 */
export function icecastDate (date: Date, offsetMinutes = -date.getTimezoneOffset()): { rfc822: string, iso8601: string } {
  const local = new Date(date.getTime() + offsetMinutes * 60_000)
  const offset = `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offsetMinutes) / 60))}${pad(Math.abs(offsetMinutes) % 60)}`
  const time = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`
  const [year, month, day] = [local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate()]
  return {
    rfc822: `${DAYS[local.getUTCDay()]}, ${pad(day)} ${MONTHS[month]} ${year} ${time} ${offset}`,
    iso8601: `${year}-${pad(month + 1)}-${pad(day)}T${time}${offset}`
  }
}

function numberOrText (value: string): StatValue {
  return /^\d{1,15}$/.test(value) ? Number(value) : value
}

function unescaped (value: string): string {
  return percentDecoded(value) ?? value
}

/**
 * `ice-audio-info` as Icecast shows it: `audio_info` as the upstream sent it, and each of its keys as a
 * stat of its own (`bitrate`, `samplerate`, `channels`), its value URL-decoded.
 */
export function audioInfoStats (header: string | undefined): Stats {
  if (header === undefined) return {}
  const stats: Stats = { audio_info: header }
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=')
    const key = pair.slice(0, at).trim()
    if (at > 0 && AUDIO_INFO_KEY.test(key)) stats[key] = numberOrText(unescaped(pair.slice(at + 1).trim()))
  }
  return stats
}

function field (fields: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(fields).find((k) => k.toUpperCase() === name)
  return key === undefined ? undefined : fields[key]
}

/**
 * `title` and `artist` as Icecast gives them: Ogg comments (Vorbis, Opus) give both; an ICY StreamTitle,
 * or a title set by hand, is the title whole, never split at " - ".
 */
export function titleStats (metadata: Omit<RelayMetadata, 'raw'> | null): Stats {
  if (metadata === null) return {}
  const fromComments = metadata.source !== 'icy' && metadata.source !== 'manual'
  const title = fromComments ? field(metadata.fields, 'TITLE') : metadata.title
  const artist = fromComments ? field(metadata.fields, 'ARTIST') : undefined
  return {
    ...(title !== undefined && { title }),
    ...(artist !== undefined && { artist })
  }
}

/**
 * kbit/s as Icecast shows it: the upstream's `icy-br`, else its `ice-audio-info`; else what the relay
 * read from the stream itself (MPEG and ADTS frames, a Vorbis header's nominal rate), which an upstream
 * sending AAC or Ogg often leaves as the only one.
 */
export function bitrateOf (status: RelayStatus): number | undefined {
  const fromInfo = audioInfoStats(status.headers['ice-audio-info'])['bitrate']
  return status.stream.bitrate ?? (typeof fromInfo === 'number' ? fromInfo : undefined) ?? status.audio?.bitrate ?? undefined
}

/** Icecast's names for the Ogg codecs it reports as a `subtype`. */
const SUBTYPES: Partial<Record<AudioInfo['codec'], string>> = {
  vorbis: 'Vorbis', opus: 'Opus', flac: 'FLAC', speex: 'Speex', theora: 'Theora'
}

/** What Icecast reads from an Ogg stream's codec headers: `subtype` and `audio_*` (bitrate in bit/s). */
export function codecStats (audio: AudioInfo | null): Stats {
  const subtype = audio === null ? undefined : SUBTYPES[audio.codec]
  if (audio === null || subtype === undefined) return {}
  return definedStats({
    subtype,
    audio_bitrate: audio.bitrate === null ? null : audio.bitrate * 1000,
    audio_channels: audio.channels,
    audio_samplerate: audio.sampleRate
  })
}

function definedStats (values: Record<string, StatValue | null | undefined>): Stats {
  const stats: Stats = {}
  for (const [key, value] of Object.entries(values)) if (value !== null && value !== undefined) stats[key] = value
  return stats
}

function sorted (stats: Stats): Stats {
  return Object.fromEntries(Object.entries(stats).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/**
 * One mount's stats under Icecast's names, keys in Icecast's (alphabetical) order; unknown values are
 * left out, as Icecast does. The upstream's own values come first, so they can never stand in for ours.
 */
export function sourceStats (status: RelayStatus, listenUrl: string, network?: NetworkListeners): Stats {
  const { stream } = status
  const start = status.connectedSince === null ? undefined : icecastDate(new Date(status.connectedSince))
  return sorted({
    ...audioInfoStats(status.headers['ice-audio-info']),
    ...titleStats(status.metadata),
    ...codecStats(status.audio),
    ...networkStats(status, network),
    ...definedStats({
      listenurl: listenUrl,
      listeners: status.listeners,
      listener_peak: status.peakListeners,
      // slaves' relay connections: served, never counted as listeners; left out while there is none
      relay_connections: status.relays > 0 ? status.relays : null,
      // HLS sessions, beside `listeners` (the stream's own); left out of mounts without HLS
      hls_listeners: status.hlsListeners,
      server_name: stream.name,
      server_description: stream.description,
      server_url: stream.url,
      server_type: status.contentType,
      genre: stream.genre,
      bitrate: bitrateOf(status),
      stream_start: start?.rfc822,
      stream_start_iso8601: start?.iso8601,
      max_listeners: status.maxListeners ?? 'unlimited',
      public: stream.public === null ? null : Number(stream.public),
      // a relay's own, beside Icecast's names: the upstream it plays, how often it switched, who its fallback serves
      relay_upstream: status.upstream,
      relay_switches: status.switches,
      relay_fallback_listeners: status.fallbackListeners,
      slow_listeners: status.slowDrops,
      source_ip: new URL(status.upstream).hostname,
      total_bytes_read: status.bytesIn,
      total_bytes_sent: status.bytesOut
    })
  })
}

/** Without the values Icecast keeps for its admins. */
export function publicStats (stats: Stats): Stats {
  return Object.fromEntries(Object.entries(stats).filter(([key]) => !ADMIN_ONLY.has(key)))
}

/**
 * Whether the stats list a mount: Icecast lists a source while it runs and an on-demand relay always;
 * a relay in its grace period, with listeners still connected, is listed too.
 */
export function isListed (status: RelayStatus): boolean {
  return status.state === 'live' || status.onDemand || status.listeners > 0
}

/** Whether a mount shows on the public pages: a hidden one (Icecast's `<hidden>`) is in the admin routes only. */
export function isPublicMount (status: RelayStatus): boolean {
  return !status.hidden
}

/** The listen URL of a mount; the mount is percent-encoded where a URL needs it. */
export function listenUrl (listenBase: string, localMount: string): string {
  return listenBase + encodeURI(localMount)
}

/** The stats of the listed mounts, all values (`admin`) or the public ones. */
export function icestats (statuses: readonly RelayStatus[], ctx: StatsContext, { admin }: { admin: boolean }): Icestats {
  const start = icecastDate(ctx.startedAt)
  const listed = statuses.filter((status) => isListed(status) && (admin || isPublicMount(status)))
  const globals: Stats = {
    admin: ctx.server.adminEmail,
    host: ctx.host,
    location: ctx.server.location,
    server_id: ctx.server.serverId,
    server_start: start.rfc822,
    server_start_iso8601: start.iso8601,
    ...(admin && { listeners: listed.reduce((sum, status) => sum + status.listeners, 0), sources: listed.length }),
    ...(admin && ctx.network !== undefined && {
      slaves: ctx.network.slaves,
      cluster_listeners: listed.reduce((sum, status) => sum + status.listeners, 0) + ctx.network.total
    })
  }
  const sources = listed.map((status) => {
    const stats = sourceStats(status, listenUrl(ctx.listenBase, status.localMount), ctx.network)
    return { mount: status.localMount, stats: admin ? stats : publicStats(stats) }
  })
  return { globals: sorted(globals), sources }
}

/** `/status-json.xsl`'s shape, with `source` always an array (Icecast gives an object for one mount, nothing for none). */
export function icestatsJson ({ globals, sources }: Icestats): { icestats: Record<string, StatValue | Stats[]> } {
  return { icestats: { ...globals, source: sources.map((source) => source.stats) } }
}
