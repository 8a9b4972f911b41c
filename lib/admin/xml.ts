import type { ListenerInfo } from '../relay/decorator.js'
import type { RelayStatus } from '../relay/relay.js'
import type { Icestats, StatValue } from '../stats/icestats.js'
import { xmlDocument as document, xmlText as text } from '../xml.js'

function textValues (values: Record<string, StatValue>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, text(value)]))
}

/** `/admin/stats`: `<icestats>` with the server's values, then one `<source mount="...">` per mount. */
export function icestatsXml ({ globals, sources }: Icestats): string {
  return document('icestats', {
    ...textValues(globals),
    source: sources.map(({ mount, stats }) => ({ '@mount': text(mount), ...textValues(stats) }))
  })
}

/** `/admin/listmounts`: every mount with its listeners, seconds connected and content type. */
export function listmountsXml (statuses: readonly RelayStatus[], now = Date.now()): string {
  return document('icestats', {
    source: statuses.map((status) => ({
      '@mount': text(status.localMount),
      listeners: status.listeners,
      ...(status.connectedSince !== null && {
        Connected: Math.floor((now - Date.parse(status.connectedSince)) / 1000)
      }),
      ...(status.contentType !== null && { 'content-type': text(status.contentType) })
    }))
  })
}

/** `/admin/listclients`: a mount's listeners with Icecast's element names. */
export function listclientsXml (localMount: string, listeners: readonly ListenerInfo[]): string {
  return document('icestats', {
    source: {
      '@mount': text(localMount),
      Listeners: listeners.length,
      listener: listeners.map((listener) => ({
        IP: text(listener.ip),
        UserAgent: text(listener.userAgent === '' ? 'Unknown' : listener.userAgent),
        Connected: listener.connectedSeconds,
        ID: listener.id,
        ...(listener.type !== undefined && { type: listener.type })
      }))
    }
  })
}

/** Icecast's answer to an admin command: a message and `return` 1 (done) or 0 (not done). */
export function iceresponseXml (message: string, done: boolean): string {
  return document('iceresponse', { message: text(message), return: done ? 1 : 0 })
}
