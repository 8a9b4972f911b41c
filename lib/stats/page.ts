import { createHash } from 'node:crypto'
import type { ServerInfo } from '../options.js'
import type { RelayStatus } from '../relay/relay.js'
import { bitrateOf, icecastDate, listenUrl, titleStats, type NetworkListeners } from './icestats.js'
import { PLAYLIST_TYPES, webUrl } from './playlists.js'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml (value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

/** What a person reads as "now playing": `Artist - Title` when the artist is known apart. */
export function nowPlaying (status: RelayStatus): string | undefined {
  const { title, artist } = titleStats(status.metadata)
  if (title === undefined || title === '') return undefined
  return artist === undefined || artist === '' ? String(title) : `${artist} - ${title}`
}

export interface StatusPageInit {
  server: ServerInfo
  startedAt: Date
  /** where mounts are served: the plugin's prefix */
  mountBase: string
  /** where listen URLs start: scheme, host, port and the prefix (see StatsContext) */
  listenBase: string
  // Many machines
  /** the registered slaves' listeners; absent while none is registered */
  network?: NetworkListeners
}

/**
 * Why a relay fails, in words fit for a public page: its error's message names the upstream's address or
 * file, which Icecast keeps for its admins (`source_ip`), so the page says what went wrong and its code.
 */
const FAILURES: Record<string, string> = {
  FST_ICECAST_RELAY_CONNECT_FAILED: 'its upstream cannot be reached',
  FST_ICECAST_RELAY_CONNECT_TIMEOUT: 'its upstream does not answer',
  FST_ICECAST_RELAY_UPSTREAM_STATUS: 'its upstream refuses the stream',
  FST_ICECAST_RELAY_NOT_AUDIO: 'its upstream sends no audio',
  FST_ICECAST_RELAY_SOURCE_TIMEOUT: 'its upstream sends no data',
  FST_ICECAST_RELAY_UPSTREAM_STALLED: 'its upstream sends no data',
  FST_ICECAST_RELAY_PROBE_UNPROVEN: 'its upstream sends no data',
  FST_ICECAST_RELAY_UPSTREAM_CLOSED: 'its upstream ended the stream',
  FST_ICECAST_RELAY_TOO_MANY_REDIRECTS: 'its upstream redirects where the relay does not follow',
  FST_ICECAST_RELAY_BAD_REDIRECT: 'its upstream redirects where the relay does not follow',
  FST_ICECAST_RELAY_REDIRECT_REFUSED: 'its upstream redirects where the relay does not follow',
  FST_ICECAST_RELAY_NOT_PUBLIC: 'its upstream redirects where the relay does not follow',
  FST_ICECAST_RELAY_FILE_UNREADABLE: 'its file cannot be played',
  FST_ICECAST_RELAY_FILE_EMPTY: 'its file cannot be played',
  FST_ICECAST_RELAY_FILE_NOT_AUDIO: 'its file cannot be played',
  FST_ICECAST_RELAY_RESTARTED: 'it was restarted'
}

/** Why a mount is not live, or undefined when it is. */
export function whyNotLive (status: RelayStatus): string | undefined {
  if (status.state === 'live') return undefined
  const error = status.lastError
  if (error !== null) {
    const failure = FAILURES[error.code] ?? 'its upstream failed'
    return `Not live: ${failure} (${error.code}, ${icecastDate(new Date(error.at)).rfc822})`
  }
  if (status.state === 'idle' && status.onDemand) return 'On demand: it connects to its upstream when a listener comes'
  return status.state === 'stopped' ? 'Stopped' : 'Not live yet: connecting to its upstream'
}

/** Whether a listener who came now would get audio (or may, waiting for an on-demand upstream or a fallback). */
function playable (status: RelayStatus): boolean {
  return status.state === 'live' || (status.onDemand && status.state !== 'stopped') || status.fallbackMount !== null
}

function row (label: string, value: string | undefined, className?: string): string {
  const attribute = className === undefined ? '' : ` class="${className}"`
  return value === undefined ? '' : `<dt>${label}</dt><dd${attribute}>${escapeHtml(value)}</dd>`
}

function link (href: string, text: string): string {
  return `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`
}

function listenRow (url: string): string {
  const playlists = Object.keys(PLAYLIST_TYPES).map((format) => link(`${url}.${format}`, format.toUpperCase())).join(' ')
  return `<dt>Listen</dt><dd class="listen">${link(url, url)} <span class="playlists">${playlists}</span></dd>`
}

/** A master's mount: its slaves' listeners, the total, and the slaves' relay connections (no listeners). */
function networkRows (status: RelayStatus, network: NetworkListeners | undefined): string[] {
  const slaves = network?.byMount.get(status.localMount)
  return [
    row('On slaves', slaves === undefined ? undefined : `${slaves} (${status.listeners + slaves} in all)`),
    row('Relays', status.relays > 0 ? String(status.relays) : undefined)
  ]
}

function mountSection (status: RelayStatus, init: StatusPageInit): string {
  const { stream } = status
  const bitrate = bitrateOf(status)
  const max = status.maxListeners === null ? '' : ` of ${status.maxListeners}`
  const url = listenUrl(init.listenBase, status.localMount)
  const website = webUrl(stream.url)
  const why = whyNotLive(status)
  const started = status.state === 'live' && status.connectedSince !== null ? icecastDate(new Date(status.connectedSince)).rfc822 : undefined
  const details = [
    row('Stream', stream.name ?? undefined),
    row('Description', stream.description ?? undefined),
    row('Genre', stream.genre ?? undefined),
    row('Started', started),
    row('Listeners', `${status.listeners}${max} (peak ${status.peakListeners})`),
    ...networkRows(status, init.network),
    row('Now playing', nowPlaying(status) ?? '—', 'now-playing'),
    row('Bitrate', bitrate === undefined ? undefined : `${bitrate} kbit/s`),
    row('Type', status.contentType ?? undefined),
    listenRow(url),
    website === undefined ? '' : `<dt>Website</dt><dd>${link(website, website)}</dd>`
  ]
  return [
    `<section class="mount" data-mount="${escapeHtml(status.localMount)}" data-state="${status.state}" data-listenurl="${escapeHtml(url)}">`,
    `<h2>${escapeHtml(status.localMount)} <span class="state ${status.state}">${status.state}</span></h2>`,
    why === undefined ? '' : `<p class="why">${escapeHtml(why)}</p>`,
    `<dl>${details.join('')}</dl>`,
    playable(status) ? `<audio controls preload="none" src="${escapeHtml(listenUrl(init.mountBase, status.localMount))}"></audio>` : '',
    '</section>'
  ].filter((line) => line !== '').join('\n')
}

const STYLE = `body{font:16px/1.4 system-ui,sans-serif;margin:0 auto;max-width:48rem;padding:1rem;color:#222;background:#fafafa}
h1{margin:0 0 .25rem}h1 small{font-size:1rem;font-weight:normal;color:#555}header p{margin:0 0 1rem;color:#555}
.mount{background:#fff;border:1px solid #ddd;border-radius:.5rem;padding:.75rem 1rem;margin:0 0 1rem}
.mount h2{font-size:1.2rem;margin:0 0 .5rem;word-break:break-all}
.state{font-size:.8rem;font-weight:normal;padding:.1rem .5rem;border-radius:1rem;background:#eee;vertical-align:middle}
.state.live{background:#d4f5dc;color:#145a26}.state.retrying,.state.stopped{background:#fde2e1;color:#8a1c14}
.why{margin:0 0 .5rem;color:#8a1c14}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0 0 .75rem}dt{color:#666}dd{margin:0;word-break:break-word}
.playlists a{font-size:.8rem;margin-left:.4rem}audio{width:100%}`

/** Milliseconds between two reads of the stats for the titles. */
const TITLE_POLL_MS = 5000

/**
 * The page's one script: it reads `status-json.xsl` (same origin, next to the page) now and then and
 * writes each mount's title as text, never as markup: titles come from upstreams.
 */
const SCRIPT = `(() => {
  const sections = [...document.querySelectorAll('section.mount')]
  const pathOf = (url) => { try { return new URL(url, location.href).pathname } catch { return '' } }
  const shown = (s) => s.title === undefined || s.title === '' ? '\u2014' : s.artist === undefined || s.artist === '' ? String(s.title) : s.artist + ' - ' + s.title
  async function refresh () {
    try {
      const answer = await fetch('status-json.xsl', { cache: 'no-store' })
      const sources = answer.ok ? (await answer.json()).icestats.source : []
      for (const source of sources) {
        const section = sections.find((s) => pathOf(s.dataset.listenurl) === pathOf(source.listenurl))
        const title = section && section.querySelector('.now-playing')
        if (title && title.textContent !== shown(source)) title.textContent = shown(source)
      }
    } catch {}
    setTimeout(refresh, ${TITLE_POLL_MS})
  }
  setTimeout(refresh, ${TITLE_POLL_MS})
})()`

const hashOf = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

/**
 * The page's own style and script run, nothing else: were a hostile title ever to slip through unescaped,
 * the browser would still not run it. Audio and the stats come from the same origin, as the page links them.
 */
export const STATUS_PAGE_CSP = [
  "default-src 'none'", `script-src ${hashOf(SCRIPT)}`, `style-src ${hashOf(STYLE)}`, "connect-src 'self'",
  "media-src 'self'", "base-uri 'none'", "form-action 'none'"
].join('; ')

/**
 * `/status.xsl`: what the server is, then every mount with its stream, state, listeners, title, bitrate,
 * listen URL and playlists, why it is down when it is, and a player when a listener would get audio.
 */
export function statusPage (statuses: readonly RelayStatus[], init: StatusPageInit): string {
  const listeners = statuses.reduce((sum, status) => sum + status.listeners, 0)
  const name = escapeHtml(init.server.serverId)
  const mounts = statuses.map((status) => mountSection(status, init)).join('\n')
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${name}: status</title><style>${STYLE}</style></head>
<body>
<header><h1>Icecast-compatible relay <small>${name}</small></h1>
<p>${escapeHtml(init.server.location)} · ${statuses.length} mount${statuses.length === 1 ? '' : 's'} · ${listeners} listener${listeners === 1 ? '' : 's'} · up since ${escapeHtml(icecastDate(init.startedAt).rfc822)}</p></header>
<main>
${mounts === '' ? '<p>No mounts.</p>' : mounts}
</main>
<script>${SCRIPT}</script>
</body>
</html>
`
}

export interface ShoutcastSummary {
  status: RelayStatus | undefined
  maxListeners: number
  uniqueListeners: number
}

/**
 * SHOUTcast v1's `/7.html`: `CURRENTLISTENERS,STREAMSTATUS,PEAKLISTENERS,MAXLISTENERS,UNIQUELISTENERS,BITRATE,SONGTITLE`
 * in one body, the title last so that its commas need no escaping.
 */
export function shoutcastSevenHtml ({ status, maxListeners, uniqueListeners }: ShoutcastSummary): string {
  const fields = [
    status?.listeners ?? 0,
    status?.state === 'live' ? 1 : 0,
    status?.peakListeners ?? 0,
    maxListeners,
    uniqueListeners,
    status === undefined ? '' : bitrateOf(status) ?? '',
    status === undefined ? '' : escapeHtml(nowPlaying(status) ?? '')
  ]
  return `<HTML><meta http-equiv="Pragma" content="no-cache"></head><body>${fields.join(',')}</body></html>`
}
