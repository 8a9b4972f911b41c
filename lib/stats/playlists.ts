import type { RelayStatus } from '../relay/relay.js'
import { xmlDocument, xmlText } from '../xml.js'
import { bitrateOf, titleStats } from './icestats.js'

/** The playlists Icecast answers for `<mount>.<ext>` (`.pls` as SHOUTcast serves it), with their content types. */
export const PLAYLIST_TYPES = {
  m3u: 'audio/x-mpegurl',
  pls: 'audio/x-scpls; charset=utf-8',
  xspf: 'application/xspf+xml; charset=utf-8'
} as const

export type PlaylistFormat = keyof typeof PLAYLIST_TYPES

/** What a playlist says about its one entry. */
export interface PlaylistEntry {
  /** the mount's listen URL */
  url: string
  // Many machines: the registered slaves' listen URLs, after the master's, so that players fail over down the list
  mirrors?: readonly string[]
  /** the server's `server_id`: the XSPF playlist's title and creator */
  serverId: string
  status: RelayStatus
}

/**
 * The mount and format a path names when it ends in a playlist's extension (`/live.mp3.m3u`: `/live.mp3`,
 * `m3u`), as Icecast reads it: the extension is case-sensitive and the mount is what comes before it.
 */
export function playlistPath (path: string): { mount: string, format: PlaylistFormat } | undefined {
  const dot = path.lastIndexOf('.')
  const format = path.slice(dot + 1)
  if (dot <= 0 || !Object.hasOwn(PLAYLIST_TYPES, format)) return undefined
  return { mount: path.slice(0, dot), format: format as PlaylistFormat }
}

/** Text on one line, as playlists hold it: any line break or control character in an upstream's text made a space. */
function oneLine (text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ') // eslint-disable-line no-control-regex
}

/** The listen URLs of an entry: this server's, then its slaves'. */
function urlsOf ({ url, mirrors }: PlaylistEntry): string[] {
  return [url, ...(mirrors ?? [])]
}

/** Icecast 2.4.4's `.m3u`: the listen URL alone (then the slaves' URLs, one a line). */
export function m3uPlaylist (entry: PlaylistEntry): string {
  return urlsOf(entry).map((url) => `${url}\r\n`).join('')
}

/** A SHOUTcast `.pls`: an entry per URL, titled with the stream's name (the mount when it has none), of no length. */
export function plsPlaylist (entry: PlaylistEntry): string {
  const title = oneLine(entry.status.stream.name ?? entry.status.localMount)
  const urls = urlsOf(entry)
  const entries = urls.flatMap((url, i) => [`File${i + 1}=${oneLine(url)}`, `Title${i + 1}=${title}`, `Length${i + 1}=-1`])
  return ['[playlist]', `NumberOfEntries=${urls.length}`, ...entries, 'Version=2', ''].join('\n')
}

/** A URL a page may link to: http or https, nothing a browser runs. */
export function webUrl (text: string | null): string | undefined {
  if (text === null) return undefined
  try {
    const url = new URL(text)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined
  } catch {
    return undefined
  }
}

/** The lines of Icecast's XSPF `annotation`, without the listener counts that belong to the stats. */
function annotation (status: RelayStatus): string {
  const bitrate = bitrateOf(status)
  const lines: Array<[string, string | number | null | undefined]> = [
    ['Stream Title', status.stream.name],
    ['Stream Description', status.stream.description],
    ['Content Type', status.contentType],
    ['Bitrate', bitrate],
    ['Stream Genre', status.stream.genre]
  ]
  return lines.filter(([, value]) => value !== null && value !== undefined).map(([label, value]) => `${label}: ${oneLine(String(value))}`).join('\n')
}

/** Icecast's `.xspf` (its xspf.xsl): one track with the listen URL, the current title and artist, and what the stream is. */
export function xspfPlaylist (entry: PlaylistEntry): string {
  const { serverId, status } = entry
  const { title, artist } = titleStats(status.metadata)
  const info = webUrl(status.stream.url)
  const notes = annotation(status)
  const track = urlsOf(entry).map((url) => ({
    location: xmlText(url),
    ...(artist !== undefined && { creator: xmlText(oneLine(String(artist))) }),
    ...(title !== undefined && { title: xmlText(oneLine(String(title))) }),
    ...(notes !== '' && { annotation: xmlText(notes) }),
    ...(info !== undefined && { info: xmlText(info) })
  }))
  return xmlDocument('playlist', {
    '@version': '1',
    '@xmlns': 'http://xspf.org/ns/0/',
    title: xmlText(serverId),
    creator: xmlText(serverId),
    trackList: { track }
  }, { declaration: '<?xml version="1.0" encoding="UTF-8"?>', indent: true })
}

export const PLAYLISTS: Record<PlaylistFormat, (entry: PlaylistEntry) => string> = {
  m3u: m3uPlaylist,
  pls: plsPlaylist,
  xspf: xspfPlaylist
}
