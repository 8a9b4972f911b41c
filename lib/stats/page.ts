import type { ServerInfo } from '../options.js'
import type { RelayStatus } from '../relay/relay.js'
import { audioInfoStats, icecastDate, titleStats } from './icestats.js'

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

/** kbit/s from the upstream's `icy-br`, else from its `ice-audio-info`. */
export function bitrateOf (status: RelayStatus): number | undefined {
  const fromInfo = audioInfoStats(status.headers['ice-audio-info'])['bitrate']
  return status.stream.bitrate ?? (typeof fromInfo === 'number' ? fromInfo : undefined)
}

export interface StatusPageInit {
  server: ServerInfo
  startedAt: Date
  /** where mounts are served: the plugin's prefix */
  mountBase: string
}

function row (label: string, value: string | undefined): string {
  return value === undefined ? '' : `<dt>${label}</dt><dd>${escapeHtml(value)}</dd>`
}

function mountSection (status: RelayStatus, mountBase: string): string {
  const bitrate = bitrateOf(status)
  const max = status.maxListeners === null ? '' : ` of ${status.maxListeners}`
  return `<section class="mount" data-mount="${escapeHtml(status.localMount)}" data-state="${status.state}">
<h2>${escapeHtml(status.localMount)} <span class="state ${status.state}">${status.state}</span></h2>
<dl>${row('Stream', status.stream.name ?? undefined)}${row('Listeners', `${status.listeners}${max} (peak ${status.peakListeners})`)}${row('Now playing', nowPlaying(status) ?? '—')}${row('Bitrate', bitrate === undefined ? undefined : `${bitrate} kbit/s`)}${row('Type', status.contentType ?? undefined)}</dl>
<audio controls preload="none" src="${escapeHtml(mountBase + encodeURI(status.localMount))}"></audio>
</section>`
}

const STYLE = `body{font:16px/1.4 system-ui,sans-serif;margin:0 auto;max-width:48rem;padding:1rem;color:#222;background:#fafafa}
h1{margin:0 0 .25rem}header p{margin:0 0 1rem;color:#555}
.mount{background:#fff;border:1px solid #ddd;border-radius:.5rem;padding:.75rem 1rem;margin:0 0 1rem}
.mount h2{font-size:1.2rem;margin:0 0 .5rem;word-break:break-all}
.state{font-size:.8rem;font-weight:normal;padding:.1rem .5rem;border-radius:1rem;background:#eee;vertical-align:middle}
.state.live{background:#d4f5dc;color:#145a26}.state.retrying,.state.stopped{background:#fde2e1;color:#8a1c14}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0 0 .75rem}dt{color:#666}dd{margin:0}
audio{width:100%}`

/** `/status.xsl`: every mount with its state, listeners, title, bitrate and a player; no script, no build step. */
export function statusPage (statuses: readonly RelayStatus[], init: StatusPageInit): string {
  const listeners = statuses.reduce((sum, status) => sum + status.listeners, 0)
  const name = escapeHtml(init.server.serverId)
  const mounts = statuses.map((status) => mountSection(status, init.mountBase)).join('\n')
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${name}: status</title><style>${STYLE}</style></head>
<body>
<header><h1>${escapeHtml(init.server.location)}</h1>
<p>${name} · ${statuses.length} mount${statuses.length === 1 ? '' : 's'} · ${listeners} listener${listeners === 1 ? '' : 's'} · up since ${escapeHtml(icecastDate(init.startedAt).rfc822)}</p></header>
<main>
${mounts === '' ? '<p>No mounts.</p>' : mounts}
</main>
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
