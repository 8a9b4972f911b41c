import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { sendUnauthorized } from '../auth.js'
import type { ListenerGate } from '../listen/gate.js'
import { LISTENER_SAFETY_HEADERS } from '../mount/headers.js'
import { relayHls, type ResolvedHls, type ResolvedHlsSettings } from '../options.js'
import type { RelayExtension, RelayView } from '../relay/extension.js'
import type { Relay } from '../relay/relay.js'
import type { RegistryCore } from '../relay/registry.js'
import { mediaPlaylist, multivariantPlaylist } from './playlist.js'
import type { PackedCodec, Segment } from './segmenter.js'
import { isSessionId, newSessionId, Sessions, type Session } from './sessions.js'
import { HlsStream } from './stream.js'
import type { StatusView } from '../stats/view.js'
import { hlsView } from './view.js'

export interface HlsInit {
  registry: RegistryCore
  gate: ListenerGate
  hls: ResolvedHls
}

/** The HLS of an app: the extension that segments each relay's stream, and the answers to its URLs. */
export interface HlsServer {
  extension: RelayExtension
  /** Answers `path` (a decoded path under the prefix) when it names an HLS resource of a mount; true if it did. */
  serve: (request: FastifyRequest, reply: FastifyReply, path: string) => Promise<boolean>
  sessions: Sessions
  /** `view` with the HLS sessions counted, listed and ended beside the listeners */
  view: (view: StatusView) => StatusView
  close: () => void
}

/** `<mount>/index.m3u8`, `<mount>/<sequence>.aac|mp3`: a sequence in its one canonical spelling, below 2^53. */
const HLS_PATH = /^(\/.*)\/(?:index\.m3u8|(0|[1-9]\d{0,14})\.(aac|mp3))$/
const EXTENSION: Record<PackedCodec, string> = { aac: 'aac', mp3: 'mp3' }
const CONTENT_TYPE: Record<PackedCodec, string> = { aac: 'audio/aac', mp3: 'audio/mpeg' }
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl'
/** Target durations a session may go without polling: players poll every one; a stalled one retries for a few. */
const SESSION_POLLS = 3
const SWEEP_EVERY_MS = 1000

function queryOf (request: FastifyRequest): URLSearchParams {
  const url = request.raw.url ?? ''
  const at = url.indexOf('?')
  return new URLSearchParams(at === -1 ? '' : url.slice(at + 1))
}

function segmentUri (segment: Segment, session: string | undefined): string {
  const name = `${segment.sequence}.${EXTENSION[segment.codec]}`
  return session === undefined ? name : `${name}?session=${session}`
}

function httpDate (ms: number): string {
  return new Date(ms).toUTCString()
}

/** Whether the client's copy (If-None-Match, else If-Modified-Since) is current. */
function fresh (request: FastifyRequest, etag: string, lastModified: number): boolean {
  const match = request.headers['if-none-match']
  if (match !== undefined) return match.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)
  const since = request.headers['if-modified-since']
  return since !== undefined && Math.floor(lastModified / 1000) <= Date.parse(since) / 1000
}

/** A body sent with its validators, or a 304 when the client has it. */
function sendCached (request: FastifyRequest, reply: FastifyReply, body: string | Buffer, lastModified: number, etag: string): FastifyReply {
  reply.header('etag', etag).header('last-modified', httpDate(lastModified))
  if (fresh(request, etag, lastModified)) return reply.code(304).send()
  return reply.send(body)
}

function weakHash (text: string): string {
  return createHash('sha1').update(text).digest('base64url').slice(0, 20)
}

/**
 * HLS of every relay whose settings have it (`relayHls`). One Segmenter per relay, fed by a stream tap; the
 * URLs are answered through the listener route, as a mount's other resources (its `.m3u`), since mounts come
 * and go at run time. Players are counted as sessions: `index.m3u8` lets a new one in through the listener
 * gate and names its media playlist `index.m3u8?session=<id>`; segments carry no session, so that a cache
 * in front stores each once, except on mounts whose listeners must authenticate.
 */
export function hlsServer (init: HlsInit): HlsServer {
  const { registry, gate, hls } = init
  const live = new Map<RelayView, HlsStream>()
  const sessions = new Sessions((session) => { gate.left(session.listenerId) })
  const sweeper = setInterval(() => { sessions.sweep(Date.now()) }, SWEEP_EVERY_MS).unref()

  const extension: RelayExtension = {
    streamTap: (relay) => {
      const settings = relayHls(relay.def, hls)
      return settings === undefined ? undefined : new HlsStream(relay, settings, live)
    }
  }

  function answer (reply: FastifyReply, code: 403 | 404 | 503, message: string, retryAfter?: number): true {
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
    reply.code(code).header('cache-control', 'no-store').type('text/plain; charset=utf-8').send(message + '\n')
    return true
  }

  /** Why a new session of `relay` may not start now (the limits count sessions beside listeners), or undefined. */
  function overLimit (relay: Relay): string | undefined {
    if (registry.totalListeners + sessions.size >= registry.limits.clients) return 'Too many listeners on this server'
    const max = relay.def.maxListeners
    if (max !== undefined && relay.mount.audience + sessions.on(relay.localMount) >= max) return `Too many listeners on ${relay.localMount}`
    return undefined
  }

  /** A new session, or an expired one polling again, let in as a listener is; undefined once refused (answered). */
  async function admit (request: FastifyRequest, reply: FastifyReply, relay: Relay, settings: ResolvedHlsSettings, id: string): Promise<Session | undefined> {
    const full = overLimit(relay)
    if (full !== undefined) {
      answer(reply, 403, full)
      return undefined
    }
    const listenerId = registry.nextListenerId()
    const granted = await gate.admit(request, reply, relay, listenerId)
    if (granted === undefined) {
      sendUnauthorized(reply)
      return undefined
    }
    const now = Date.now()
    const maxDuration = granted.maxDuration ?? relay.def.maxListenerDuration
    const session: Session = {
      id,
      listenerId,
      localMount: relay.localMount,
      ip: request.ip,
      userAgent: request.headers['user-agent'] ?? '',
      startedAt: now,
      timeout: SESSION_POLLS * settings.segmentSeconds * 1000,
      endsAt: maxDuration === undefined ? undefined : now + maxDuration * 1000,
      lastSeen: now
    }
    // a HEAD is checked as a listener is, and counted as none (as the listener route's HEAD)
    if (request.method === 'HEAD') gate.left(listenerId)
    else sessions.add(session)
    return session
  }

  async function playlist (request: FastifyRequest, reply: FastifyReply, relay: Relay, stream: HlsStream): Promise<true> {
    const { segmenter, settings } = stream
    const segments = segmenter.segments
    const given = queryOf(request).get('session')
    if (given === null) {
      const session = await admit(request, reply, relay, settings, newSessionId())
      if (session === undefined) return true
      const peak = Math.max(...segments.map((segment) => segment.data.length * 8 / segment.duration))
      reply.header('cache-control', 'no-store').type(PLAYLIST_TYPE)
      reply.send(multivariantPlaylist({ bandwidth: peak, codecs: segments.at(-1)!.codecs, uri: `index.m3u8?session=${session.id}` }))
      return true
    }
    if (!isSessionId(given)) return answer(reply, 404, 'No such HLS session: ask index.m3u8 without one')
    if (sessions.killed(given)) return answer(reply, 403, 'This HLS session was ended')
    let session = sessions.get(given)
    if (session !== undefined && session.localMount !== relay.localMount) return answer(reply, 404, `This HLS session is not one of ${relay.localMount}`)
    session ??= await admit(request, reply, relay, settings, given)
    if (session === undefined) return true
    session.lastSeen = Date.now()
    const body = mediaPlaylist({
      segments,
      targetDuration: settings.segmentSeconds,
      discontinuitySequence: segmenter.discontinuitySequence,
      uri: (segment) => segmentUri(segment, gate.guards(relay) ? session.id : undefined)
    })
    // at most half a target duration, as RFC 8216 §6.2.2 asks of a live playlist's caches
    const maxAge = Math.floor(settings.segmentSeconds / 2)
    reply.header('cache-control', maxAge > 0 ? `max-age=${maxAge}` : 'no-cache').type(PLAYLIST_TYPE)
    sendCached(request, reply, body, segments.at(-1)!.createdAt, `"${weakHash(body)}"`)
    return true
  }

  function segment (request: FastifyRequest, reply: FastifyReply, relay: Relay, stream: HlsStream, sequence: number, extension: string): true {
    if (gate.guards(relay)) {
      const given = queryOf(request).get('session')
      const session = given === null ? undefined : sessions.get(given)
      if (session?.localMount !== relay.localMount) return answer(reply, 403, `Segments of ${relay.localMount} need a live HLS session`)
    }
    const segments = stream.segmenter.segments
    const found = segments[sequence - segments[0]!.sequence]
    if (found === undefined || EXTENSION[found.codec] !== extension) {
      return answer(reply, 404, `Segment ${sequence}.${extension} is not in the window of ${relay.localMount}`)
    }
    const { settings } = stream
    reply.header('cache-control', `public, max-age=${settings.segmentSeconds * settings.windowSegments}`).type(CONTENT_TYPE[found.codec])
    sendCached(request, reply, found.data, found.createdAt, `"${found.sequence}-${found.createdAt.toString(36)}"`)
    return true
  }

  async function serve (request: FastifyRequest, reply: FastifyReply, path: string): Promise<boolean> {
    const match = HLS_PATH.exec(path)
    const relay = match === null ? undefined : registry.find(match[1]!)
    if (relay === undefined) return false
    for (const [name, value] of LISTENER_SAFETY_HEADERS) reply.header(name, value)
    const settings = relayHls(relay.def, hls)
    if (settings?.cors !== undefined && settings.cors !== false) reply.header('access-control-allow-origin', settings.cors)
    if (settings === undefined) return answer(reply, 404, `${relay.localMount} has no HLS`)
    if (registry.closing) return answer(reply, 503, 'Server is shutting down', 5)
    const stream = live.get(relay)
    const codec = stream?.segmenter.unsupported ?? (relay.container === 'ogg' ? 'Ogg' : undefined)
    if (codec !== undefined) {
      return answer(reply, 404, `${relay.localMount} is ${codec}: HLS packed audio carries MP3 and AAC (ADTS) only`)
    }
    if (stream === undefined || stream.segmenter.segments.length === 0) {
      return answer(reply, 503, `HLS of ${relay.localMount} is not live yet`, settings.segmentSeconds)
    }
    if (match![2] === undefined) return await playlist(request, reply, relay, stream)
    return segment(request, reply, relay, stream, Number(match![2]), match![3]!)
  }

  return {
    extension,
    serve,
    sessions,
    view: (view) => hlsView(view, sessions, (localMount) => {
      const relay = registry.find(localMount)
      return relay !== undefined && relayHls(relay.def, hls) !== undefined
    }),
    close: () => {
      clearInterval(sweeper)
      sessions.clear()
    }
  }
}
