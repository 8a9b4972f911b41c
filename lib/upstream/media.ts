/**
 * Which upstream answers the relay serves on its mounts. A mount is on the host app's origin, next to
 * its cookies and routes: a body that a browser renders (HTML, SVG, XML, script) would run there as the
 * app's own page. So only media types are relayed: audio, video, and the few generic types stations
 * send (Icecast 1.x's `application/x-ogg`, `application/octet-stream` of some encoders).
 */

const GENERIC_STREAM_TYPES = new Set(['application/ogg', 'application/x-ogg', 'application/octet-stream'])

/** Playlists in `audio/*` clothes: they name streams, they are not one (a SHOUTcast `.pls`, an `.m3u`). */
const PLAYLIST_TYPES = new Set(['audio/x-scpls', 'audio/scpls', 'audio/x-mpegurl', 'audio/mpegurl'])

/** RFC 9110 `type/subtype`, both tokens. */
const ESSENCE = /^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+$/

/** A `Content-Type`'s `type/subtype`, lower-cased, without its parameters. */
export function mediaTypeEssence (contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase()
}

/**
 * Why an upstream answer of this `Content-Type` is not relayed, or undefined when it is. An answer with
 * none (old SHOUTcast and ICY servers send none) is relayed, as `audio/mpeg`.
 */
export function streamTypeRefusal (contentType: string | undefined): string | undefined {
  if (contentType === undefined || contentType.trim() === '') return undefined
  // Browsers read `a, b` (or two Content-Type lines, which the head joins so) as the last type listed.
  if (hasListSeparator(contentType)) return 'more than one media type'
  const essence = mediaTypeEssence(contentType)
  if (PLAYLIST_TYPES.has(essence)) return 'a playlist, not a stream: relay one of the stream URLs it lists'
  if (!ESSENCE.test(essence) || !isStreamEssence(essence)) {
    return 'not an audio or video stream (relayed: audio/*, video/*, application/ogg, application/octet-stream)'
  }
  return undefined
}

function isStreamEssence (essence: string): boolean {
  return essence.startsWith('audio/') || essence.startsWith('video/') || GENERIC_STREAM_TYPES.has(essence)
}

/** Whether a header value holds a comma outside a quoted string, i.e. is a list of values. */
function hasListSeparator (value: string): boolean {
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const char = value[i]
    if (quoted && char === '\\') i++
    else if (char === '"') quoted = !quoted
    else if (char === ',' && !quoted) return true
  }
  return false
}
