import { createHash } from 'node:crypto'
import { Value } from '@sinclair/typebox/value'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { sendUnauthorized, type BasicCredentials } from '../auth.js'
import type { Admission, ListenerGate } from '../listen/gate.js'
import { overLimit } from '../listen/route.js'
import type { MachineSlots } from '../listen/slots.js'
import { LISTENER_SAFETY_HEADERS } from '../mount/headers.js'
import { MAX_WINDOW_SEGMENTS, relayHls, type HlsOrigin, type ResolvedHls, type ResolvedHlsSettings } from '../options.js'
import type { LocalRelays } from '../stats/view.js'
import type { RelayExtension, RelayView } from '../relay/extension.js'
import type { Relay } from '../relay/relay.js'
import type { RegistryCore } from '../relay/registry.js'
import { bandwidthOf, mediaPlaylist, multivariantPlaylist } from './playlist.js'
import type { PackedCodec } from './segmenter.js'
import { SequenceStarts } from './sequence.js'
import { addressTag, endOf, MAX_SESSION_USER, PolledAnswerSchema, READMIT_WITHIN, SessionIds, Sessions, type PolledAnswer, type SessionClaims } from './sessions.js'
import { HlsStream } from './stream.js'
import { hlsRelays } from './view.js'
import { RemoteWindows } from './origin.js'
import { mountUrlOf, nameAfterSlash } from './paths.js'
import { answerPreflight, corsHeaders } from './cors.js'
import { playlistValidators, segmentValidators, sendCached, sendCachedBytes } from './conditional.js'
import { entryOf, type HlsWindow, type SegmentEntry } from './window.js'
import { playlistMaxAge, served } from './windowing.js'

export interface HlsInit {
  registry: RegistryCore
  gate: ListenerGate
  hls: ResolvedHls
  /** where the windows are cut, when another process of the machine cuts them; left out, here */
  origin?: HlsOrigin | undefined
  /** the relay credentials: their holders read the windows and any segment (the machine's other processes) */
  relayAuth?: BasicCredentials | undefined
  /** the machine's count of listener places: a session takes one as a listener does */
  slots: MachineSlots
  /**
   * Tells the machine's processes of polls here of sessions another holds (and counts), and resolves with
   * their answers; left out, this process is the machine. Sessions' ids are then signed with the origin's
   * password (the link secret), so that each process knows the others'.
   */
  tellPolls?: PollTeller | undefined
}

/** How a process of a machine tells the others of polls of their sessions: `max` ids at a time. */
export interface PollTeller {
  tell: (ids: string[]) => Promise<unknown[]>
  max: number
}

/** The HLS of an app: the extension that segments each relay's stream, and the answers to its URLs. */
export interface HlsServer {
  /** the stage that cuts each relay's stream, unless another process cuts them */
  extension: RelayExtension | undefined
  /** Answers `path` (a decoded path under the prefix) when it names an HLS resource of a mount; true if it did. */
  serve: (request: FastifyRequest, reply: FastifyReply, path: string) => Promise<boolean>
  /** Answers the CORS preflight of `path` (as `serve` takes it) when it names an HLS resource with CORS; true if it did. */
  preflight: (request: FastifyRequest, reply: FastifyReply, path: string) => boolean
  sessions: Sessions
  /** The answer to another process of the machine that polls of sessions `told` reached: this one's part. */
  polled: (told: string[]) => PolledAnswer
  /** `relays` with the HLS sessions counted, listed and ended beside the listeners */
  relays: (relays: LocalRelays) => LocalRelays
  close: () => void
}

/** `<mount>/index.m3u8`, `<mount>/<sequence>.aac|mp3`: a sequence in its one canonical spelling, below 2^53. */
const HLS_PATH = /^(\/.*)\/(?:index\.m3u8|(hls-window\.json)|(0|[1-9]\d{0,14})\.(aac|mp3))$/
const EXTENSION: Record<PackedCodec, string> = { aac: 'aac', mp3: 'mp3' }
const CONTENT_TYPE: Record<PackedCodec, string> = { aac: 'audio/aac', mp3: 'audio/mpeg' }
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl'
/** Target durations a session may go without polling: players poll every one; a stalled one retries for a few. */
const SESSION_POLLS = 3
const SWEEP_EVERY_MS = 1000
/**
 * A worker asked for the segment after the newest of its copy of the window fetches the window again when its copy
 * is older than this: another worker's newer copy named it. Not at once, so that asking for it again and again
 * costs the process that cuts the windows a fetch in this time at most.
 */
const NEXT_SEGMENT_REFRESH_MS = 100
/** ms an id another process of the machine held is taken as still held there without polls here: then it is asked again */
const HELD_ELSEWHERE_FOR = 60_000

/** Where a session is held: by this process, another of the machine, none (it may be let in here), or it was ended. */
type Holder = 'here' | 'elsewhere' | 'nowhere' | 'killed'

function queryOf (request: FastifyRequest): URLSearchParams {
  const url = request.raw.url ?? ''
  const at = url.indexOf('?')
  return new URLSearchParams(at === -1 ? '' : url.slice(at + 1))
}

function segmentName (segment: SegmentEntry): string {
  return `${segment.sequence}.${EXTENSION[segment.codec]}`
}

function segmentUri (segment: SegmentEntry, session: string | undefined): string {
  const name = segmentName(segment)
  return session === undefined ? name : `${name}?session=${session}`
}

function weakHash (text: string): string {
  return createHash('sha1').update(text).digest('base64url').slice(0, 20)
}

/**
 * HLS of every relay whose settings have it (`relayHls`). One Segmenter per relay, fed by a stream tap; the
 * URLs are answered through the listener route, as a mount's other resources (its `.m3u`), since mounts come
 * and go at run time. Players are counted as sessions: `index.m3u8` asks a new one what the listener gate asks
 * and names its media playlist `index.m3u8?session=<id>`, the id carrying the answer; its first poll takes
 * its place. Segments carry no session, so that a cache in front stores each once, except on mounts whose
 * listeners must authenticate.
 */
export function hlsServer (init: HlsInit): HlsServer {
  const { registry, gate, hls, origin, relayAuth, slots, tellPolls } = init
  const live = new Map<RelayView, HlsStream>()
  const sessions = new Sessions((session) => {
    gate.left(session.listenerId)
    slots.release(session)
  })
  const ids = new SessionIds(tellPolls === undefined ? undefined : origin?.password)
  const starts = new SequenceStarts()
  /** ids of sessions another process of the machine holds, polled here since the last sweep */
  const polledHere = new Set<string>()
  /** id → when last polled here: sessions another process of the machine holds, as far as this one knows */
  const elsewhere = new Map<string, number>()
  let telling = false
  const sweeper = setInterval(() => {
    const now = Date.now()
    sessions.sweep(now)
    for (const [id, polled] of elsewhere) if (now - polled >= HELD_ELSEWHERE_FOR) elsewhere.delete(id)
    tell()
  }, SWEEP_EVERY_MS).unref()

  /** The answers of the machine's other processes that say something (none in time says nothing of who holds them). */
  function validAnswers (answers: unknown[]): PolledAnswer[] {
    return answers.filter((answer): answer is PolledAnswer => Value.Check(PolledAnswerSchema, answer))
  }

  /** Tells the holders of the sessions polled here (which keeps them alive there), and learns which ended. */
  function tell (): void {
    if (tellPolls === undefined || polledHere.size === 0 || telling) return
    const told = [...polledHere]
    polledHere.clear()
    telling = true
    tellPolls.tell(told).then((answers) => {
      const valid = validAnswers(answers)
      if (valid.length === 0) return
      const now = Date.now()
      const held = new Set(valid.flatMap((answer) => answer.held))
      for (const id of valid.flatMap((answer) => answer.killed)) sessions.refuse(id, now)
      // one no process holds any more (it stopped polling there) is let in here at its next poll
      for (const id of told) if (!held.has(id)) elsewhere.delete(id)
    }, () => {}).finally(() => { telling = false })
  }

  /**
   * Where session `id` is held. Another process of the machine is asked of an id this one knows nothing of (its
   * first poll, which may reach any process): no answer in time lets it in here.
   */
  async function holder (id: string): Promise<Holder> {
    if (sessions.killed(id)) return 'killed'
    if (sessions.get(id) !== undefined) return 'here'
    if (tellPolls === undefined) return 'nowhere'
    if (!elsewhere.has(id)) {
      const answers = validAnswers(await tellPolls.tell([id]).catch(() => []))
      if (answers.some((answer) => answer.killed.includes(id))) {
        sessions.refuse(id, Date.now())
        return 'killed'
      }
      if (!answers.some((answer) => answer.held.includes(id))) return 'nowhere'
    }
    elsewhere.set(id, Date.now())
    return 'elsewhere'
  }
  const remote = origin === undefined ? undefined : new RemoteWindows(origin, MAX_WINDOW_SEGMENTS)

  const extension: RelayExtension | undefined = remote !== undefined
    ? undefined
    : {
        streamTap: (relay) => {
          const settings = relayHls(relay.def, hls)
          return settings === undefined ? undefined : new HlsStream(relay, settings, live, starts)
        }
      }

  /** The window of a relay, cut here or by the origin (which throws when it does not answer). */
  async function windowOf (relay: Relay, settings: ResolvedHlsSettings): Promise<HlsWindow> {
    if (remote !== undefined) return await remote.window(relay.localMount, settings)
    const segmenter = live.get(relay)?.segmenter
    return {
      segments: segmenter?.segments.map(entryOf) ?? [],
      retired: segmenter?.retired(Date.now()).map(entryOf) ?? [],
      discontinuitySequence: segmenter?.discontinuitySequence ?? 0,
      epoch: segmenter?.epoch ?? 0,
      unsupported: segmenter?.unsupported
    }
  }

  async function bytesOf (relay: Relay, settings: ResolvedHlsSettings, segment: SegmentEntry): Promise<Buffer | undefined> {
    if (remote !== undefined) return await remote.segment(relay.localMount, segmentName(segment), segment.createdAt, settings)
    const found = live.get(relay)?.segmenter.servable(segment.sequence, Date.now())
    return found?.createdAt === segment.createdAt ? found.data : undefined
  }

  /** A login as the relay user (the machine's other processes); a wrong one is counted as the gate counts it (429 past the limit). */
  const isMachine = async (request: FastifyRequest, reply: FastifyReply): Promise<boolean> =>
    relayAuth !== undefined && await gate.relayLogin(request, reply) === true

  /**
   * Whether an id may be used by this request's address: on a mount with listener auth, an id is bound to the
   * address the gate let in (request.ip, after the app's trustProxy), so that a copied URL is no one else's login.
   */
  const fromItsAddress = (request: FastifyRequest, relay: Relay, claims: SessionClaims): boolean =>
    !gate.guards(relay) || claims.from === addressTag(request.ip)

  function otherAddress (reply: FastifyReply, relay: Relay): true {
    return answer(reply, 403, `This HLS session was given to another address: ask ${relay.localMount}/index.m3u8 again`)
  }

  function answer (reply: FastifyReply, code: 403 | 404 | 503, message: string, retryAfter?: number): true {
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
    reply.code(code).header('cache-control', 'no-store').type('text/plain; charset=utf-8').send(message + '\n')
    return true
  }

  /** The machine's origin did not answer (a network error, a restart): the player retries after a target duration. */
  function originFailed (request: FastifyRequest, reply: FastifyReply, relay: Relay, settings: ResolvedHlsSettings, error: unknown, what: string): true {
    request.log.warn({ err: error }, `HLS ${what} not read from the machine's origin`)
    return answer(reply, 503, `HLS of ${relay.localMount} is not available now`, settings.segmentSeconds)
  }

  function notLive (reply: FastifyReply, relay: Relay, settings: ResolvedHlsSettings): true {
    return answer(reply, 503, `HLS of ${relay.localMount} is not live yet`, settings.segmentSeconds)
  }

  /** ms a session lives without a poll; on demand, an HLS request wants the upstream for as long */
  const sessionTimeout = (settings: ResolvedHlsSettings): number => SESSION_POLLS * settings.segmentSeconds * 1000

  /**
   * What listener auth says of a new player, asked as a listener is asked, and then let go: the multivariant
   * playlist takes no place, its session id carries the answer. Undefined once refused (answered).
   */
  async function decide (request: FastifyRequest, reply: FastifyReply, relay: Relay): Promise<Admission | undefined> {
    const listenerId = registry.nextListenerId()
    const granted = await gate.admit(request, reply, relay, listenerId, mountUrlOf(request.raw.url ?? '/'))
    gate.left(listenerId)
    // a user name no id can carry would be refused at every poll: refused here, where the player can tell
    if (granted === undefined || (granted.username?.length ?? 0) > MAX_SESSION_USER) {
      sendUnauthorized(reply)
      return undefined
    }
    return granted
  }

  /** `index.m3u8`: a new player is asked what a listener is asked and given a session id; nothing is kept of it. */
  async function multivariant (request: FastifyRequest, reply: FastifyReply, relay: Relay, settings: ResolvedHlsSettings, window: HlsWindow): Promise<true> {
    const full = overLimit(registry, relay, sessions)
    if (full !== undefined) return answer(reply, 403, full)
    const granted = await decide(request, reply, relay)
    if (granted === undefined) return true
    // a HEAD (a health check) makes no session: it keeps no upstream of an on-demand relay
    if (request.method !== 'HEAD') relay.wantFor(sessionTimeout(settings))
    const { segments } = window
    if (segments.length === 0) return notLive(reply, relay, settings)
    const now = Date.now()
    const maxDuration = granted.maxDuration ?? relay.def.maxListenerDuration
    const claims: SessionClaims = {
      issued: now,
      epoch: window.epoch,
      ...(maxDuration !== undefined && { endsAt: endOf(now, maxDuration) }),
      ...(granted.username !== undefined && { user: granted.username }),
      ...(gate.guards(relay) && { from: addressTag(request.ip) })
    }
    reply.header('cache-control', 'no-store').type(PLAYLIST_TYPE)
    reply.send(multivariantPlaylist({ ...bandwidthOf(segments, settings.segmentSeconds), codecs: segments.at(-1)!.codecs, uri: `index.m3u8?session=${ids.issue(relay.localMount, claims)}` }))
    return true
  }

  /**
   * The first poll of a session here that no process holds (a new one, or one that lapsed and comes back from
   * its address): it takes its place, as a listener does, under what its multivariant playlist decided, within
   * its time limit; false once refused (answered). A HEAD is checked and takes none.
   */
  async function admit (request: FastifyRequest, reply: FastifyReply, relay: Relay, settings: ResolvedHlsSettings, id: string, claims: SessionClaims): Promise<boolean> {
    const now = Date.now()
    if (claims.endsAt !== undefined && now >= claims.endsAt) return !answer(reply, 403, 'This HLS session is past its time limit')
    if (gate.guards(relay) && now - claims.issued > READMIT_WITHIN) {
      return !answer(reply, 403, `This HLS session is too old to come back: ask ${relay.localMount}/index.m3u8 again`)
    }
    const full = overLimit(registry, relay, sessions)
    if (full !== undefined) return !answer(reply, 403, full)
    if (request.method === 'HEAD') return true
    const listenerId = registry.nextListenerId()
    if (claims.user !== undefined && !gate.holdLogin(listenerId, relay.localMount, claims.user)) {
      relay.log.info({ user: claims.user }, 'HLS session refused: this user listens to this mount already')
      sendUnauthorized(reply)
      return false
    }
    const machineFull = await slots.reserve(relay)
    if (machineFull !== undefined) {
      gate.left(listenerId)
      return !answer(reply, machineFull.code, machineFull.message)
    }
    // others were let in while this one waited for its place: the limits are checked again, as the listener route does
    const fullNow = overLimit(registry, relay, sessions)
    if (fullNow !== undefined) {
      slots.release(relay)
      gate.left(listenerId)
      return !answer(reply, 403, fullNow)
    }
    sessions.add({
      id,
      listenerId,
      localMount: relay.localMount,
      ip: request.ip,
      userAgent: request.headers['user-agent'] ?? '',
      startedAt: now,
      timeout: sessionTimeout(settings),
      endsAt: claims.endsAt,
      lastSeen: now
    })
    return true
  }

  /** A media playlist poll: the session's first here takes its place; each wants the upstream of an on-demand relay. */
  async function mediaPlaylistOf (request: FastifyRequest, reply: FastifyReply, relay: Relay, settings: ResolvedHlsSettings, window: HlsWindow, given: string): Promise<true> {
    const claims = ids.read(given, relay.localMount)
    if (claims === undefined) return answer(reply, 404, `No such HLS session of ${relay.localMount}: ask index.m3u8 without one`)
    if (!fromItsAddress(request, relay, claims)) return otherAddress(reply, relay)
    const { segments } = window
    if (segments.length === 0) return notLive(reply, relay, settings)
    if (claims.epoch !== window.epoch) {
      return answer(reply, 404, `This HLS session is of an earlier stream of ${relay.localMount}: ask index.m3u8 without one`)
    }
    switch (await holder(given)) {
      case 'killed': return answer(reply, 403, 'This HLS session was ended')
      case 'here':
        sessions.get(given)!.lastSeen = Date.now()
        break
      case 'elsewhere':
        // past the most told in a sweep, the session may end where it is held, and be let in again here
        if (polledHere.size < tellPolls!.max) polledHere.add(given)
        break
      case 'nowhere':
        if (!await admit(request, reply, relay, settings, given, claims)) return true
    }
    relay.wantFor(sessionTimeout(settings))
    const body = mediaPlaylist({
      segments,
      targetDuration: settings.segmentSeconds,
      discontinuitySequence: window.discontinuitySequence,
      uri: (segment) => segmentUri(segment, gate.guards(relay) ? given : undefined)
    })
    // at most half a target duration, as RFC 8216 §6.2.2 asks of a live playlist's caches
    const maxAge = playlistMaxAge(settings.segmentSeconds)
    reply.header('cache-control', cacheControl(relay, maxAge > 0 ? `max-age=${maxAge}` : 'no-cache')).type(PLAYLIST_TYPE)
    sendCached(request, reply, body, playlistValidators(`"${weakHash(body)}"`, segments.map((each) => each.createdAt)))
    return true
  }

  async function segment (request: FastifyRequest, reply: FastifyReply, relay: Relay, settings: ResolvedHlsSettings, window: HlsWindow, sequence: number, extension: string): Promise<true> {
    if (gate.guards(relay) && !await isMachine(request, reply)) {
      const given = queryOf(request).get('session')
      const claims = given === null ? undefined : ids.read(given, relay.localMount)
      if (claims !== undefined && !fromItsAddress(request, relay, claims)) return otherAddress(reply, relay)
      const holding = claims === undefined ? 'nowhere' : await holder(given!)
      if (holding !== 'here' && holding !== 'elsewhere') return answer(reply, 403, `Segments of ${relay.localMount} need a live HLS session`)
    }
    if (window.segments.length === 0) return notLive(reply, relay, settings)
    let found = served(window.segments, window.retired, sequence)
    let data: Buffer | undefined
    try {
      if (found === undefined && remote !== undefined && sequence === window.segments.at(-1)!.sequence + 1) {
        // the next segment: a playlist from another worker, whose copy of the window is newer, can name it
        window = await remote.window(relay.localMount, settings, NEXT_SEGMENT_REFRESH_MS)
        found = served(window.segments, window.retired, sequence)
      }
      data = found === undefined || EXTENSION[found.codec] !== extension ? undefined : await bytesOf(relay, settings, found)
    } catch (error) {
      return originFailed(request, reply, relay, settings, error, `segment ${sequence}.${extension}`)
    }
    if (data === undefined) {
      return answer(reply, 404, `Segment ${sequence}.${extension} is not in the window of ${relay.localMount}`)
    }
    reply.header('cache-control', cacheControl(relay, `max-age=${settings.segmentSeconds * settings.windowSegments}`, 'public')).type(CONTENT_TYPE[found!.codec])
    sendCachedBytes(request, reply, data, segmentValidators(`"${found!.sequence}-${found!.createdAt.toString(36)}"`, found!.createdAt))
    return true
  }

  /** The window for the machine's other processes (checked as they read it: WindowAnswerSchema). */
  function windowFile (reply: FastifyReply, window: HlsWindow): true {
    reply.header('cache-control', 'no-store').type('application/json').send(JSON.stringify(window))
    return true
  }

  /**
   * A media playlist's or segment's Cache-Control: on a mount with listener auth they carry a user's session,
   * which no shared cache may keep; elsewhere `shared` (a segment is the same for every player).
   */
  function cacheControl (relay: Relay, directives: string, shared?: 'public'): string {
    if (gate.guards(relay)) return `private, ${directives}`
    return shared === undefined ? directives : `${shared}, ${directives}`
  }

  /** The relay and resource a path names, if it names an HLS resource. */
  function locate (request: FastifyRequest, path: string): { match: RegExpExecArray, relay: Relay } | undefined {
    const match = nameAfterSlash(request.raw.url ?? '', path) ? HLS_PATH.exec(path) : null
    const relay = match === null ? undefined : registry.find(match[1]!)
    return relay === undefined ? undefined : { match: match!, relay }
  }

  /** The relay and resource a path names, if it is an HLS resource the request may know of. */
  async function resourceOf (request: FastifyRequest, reply: FastifyReply, path: string): Promise<{ match: RegExpExecArray, relay: Relay } | undefined> {
    const found = locate(request, path)
    // the window is the machine's own: to anyone else, a path like any unknown one (no challenge that says it is there)
    if (found === undefined || (found.match[2] !== undefined && !await isMachine(request, reply))) return undefined
    return found
  }

  /** The window has no CORS: its preflight is never answered here. */
  function preflight (request: FastifyRequest, reply: FastifyReply, path: string): boolean {
    const resource = locate(request, path)
    const cors = resource === undefined || resource.match[2] !== undefined ? undefined : relayHls(resource.relay.def, hls)?.cors
    if (cors === undefined || cors === false) return false
    answerPreflight(request, reply, cors)
    return true
  }

  async function serve (request: FastifyRequest, reply: FastifyReply, path: string): Promise<boolean> {
    const resource = await resourceOf(request, reply, path)
    if (resource === undefined) return false
    const { match, relay } = resource
    for (const [name, value] of LISTENER_SAFETY_HEADERS) reply.header(name, value)
    const settings = relayHls(relay.def, hls)
    if (settings?.cors !== undefined && settings.cors !== false) corsHeaders(reply, settings.cors)
    if (settings === undefined) return answer(reply, 404, `${relay.localMount} has no HLS`)
    if (registry.closing) return answer(reply, 503, 'Server is shutting down', 5)
    let window: HlsWindow
    try {
      window = await windowOf(relay, settings)
    } catch (error) {
      return originFailed(request, reply, relay, settings, error, 'window')
    }
    if (match[2] !== undefined) {
      // the machine's other processes read it for their players (resourceOf lets no one else here): on demand, they want the upstream
      relay.wantFor(sessionTimeout(settings))
      return windowFile(reply, window)
    }
    const codec = window.unsupported ?? (relay.container === 'ogg' ? 'Ogg' : undefined)
    if (codec !== undefined) {
      return answer(reply, 404, `${relay.localMount} is ${codec}: HLS packed audio carries MP3 and AAC (ADTS) only`)
    }
    if (match[3] === undefined) {
      const given = queryOf(request).get('session')
      if (given === null) return await multivariant(request, reply, relay, settings, window)
      return await mediaPlaylistOf(request, reply, relay, settings, window, given)
    }
    return await segment(request, reply, relay, settings, window, Number(match[3]), match[4]!)
  }

  return {
    extension,
    serve,
    preflight,
    sessions,
    polled: (told) => sessions.polled(told, Date.now()),
    relays: (relays) => hlsRelays(relays, sessions, (localMount) => {
      const relay = registry.find(localMount)
      return relay !== undefined && relayHls(relay.def, hls) !== undefined
    }),
    close: () => {
      clearInterval(sweeper)
      sessions.clear()
    }
  }
}
