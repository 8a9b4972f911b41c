import type { Segment } from './segmenter.js'

/** EXT-X-INDEPENDENT-SEGMENTS in a media playlist and EXT-X-DISCONTINUITY-SEQUENCE need version 6 at most; 3 has float EXTINF. */
const VERSION = 6

/** What a playlist says of a segment. */
type Listed = Pick<Segment, 'sequence' | 'duration' | 'discontinuity' | 'programDateTime'>

export interface MediaPlaylistInput<S extends Listed> {
  segments: readonly S[]
  /** seconds: the longest a segment may last, constant for the life of the playlist */
  targetDuration: number
  discontinuitySequence: number
  /** the URI of a segment, relative to the playlist */
  uri: (segment: S) => string
}

/** A live media playlist (RFC 8216 §4.3.3) of the window; the caller sends none for an empty window. */
export function mediaPlaylist<S extends Listed> (input: MediaPlaylistInput<S>): string {
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${VERSION}`,
    `#EXT-X-TARGETDURATION:${input.targetDuration}`,
    `#EXT-X-MEDIA-SEQUENCE:${input.segments[0]?.sequence ?? 0}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${input.discontinuitySequence}`,
    '#EXT-X-INDEPENDENT-SEGMENTS'
  ]
  for (const segment of input.segments) {
    // tagged first in the window too: the sequence counts a tag only once its segment has left (RFC 8216 §6.2.2)
    if (segment.discontinuity) lines.push('#EXT-X-DISCONTINUITY')
    lines.push(
      `#EXT-X-PROGRAM-DATE-TIME:${new Date(segment.programDateTime).toISOString()}`,
      `#EXTINF:${segment.duration.toFixed(3)},`,
      input.uri(segment)
    )
  }
  return lines.join('\n') + '\n'
}

/** What a segment's bit rate is made of. */
export interface Sized {
  readonly bytes: number
  /** seconds */
  readonly duration: number
}

/** Bits per second of a stream, as a multivariant playlist says them. */
export interface Bandwidth {
  /** the peak segment bit rate: BANDWIDTH */
  bandwidth: number
  /** the average segment bit rate: AVERAGE-BANDWIDTH */
  averageBandwidth: number
}

/** Runs of segments whose rates make the peak last between these times the target duration (RFC 8216 §4.3.4.2). */
const PEAK_RUN = { shortest: 0.5, longest: 1.5 }

/** The bit rate of `bytes` over `seconds`. */
function bitRate (bytes: number, seconds: number): number {
  return seconds > 0 ? bytes * 8 / seconds : 0
}

/**
 * The peak and average bit rates of a window (RFC 8216 §4.3.4.2). The peak is the highest rate of any run of
 * consecutive segments lasting 0.5 to 1.5 target durations, so that a short segment (a title cut, the first one
 * after a reconnect), whose head tag weighs more in its few frames, does not inflate it; a window too short for
 * any such run has its average as its peak.
 */
export function bandwidthOf (segments: readonly Sized[], targetDuration: number): Bandwidth {
  let peak: number | undefined
  for (let first = 0; first < segments.length; first++) {
    let bytes = 0
    let seconds = 0
    for (const segment of segments.slice(first)) {
      bytes += segment.bytes
      seconds += segment.duration
      if (seconds > PEAK_RUN.longest * targetDuration) break
      if (seconds >= PEAK_RUN.shortest * targetDuration) peak = Math.max(peak ?? 0, bitRate(bytes, seconds))
    }
  }
  const average = bitRate(segments.reduce((sum, segment) => sum + segment.bytes, 0), segments.reduce((sum, segment) => sum + segment.duration, 0))
  return { bandwidth: peak ?? average, averageBandwidth: average }
}

export interface VariantInput extends Bandwidth {
  codecs: string
  uri: string
}

/** A multivariant playlist with the one stream a mount has. */
export function multivariantPlaylist (variant: VariantInput): string {
  return [
    '#EXTM3U',
    `#EXT-X-VERSION:${VERSION}`,
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-STREAM-INF:BANDWIDTH=${Math.ceil(variant.bandwidth)},AVERAGE-BANDWIDTH=${Math.ceil(variant.averageBandwidth)},CODECS="${variant.codecs}"`,
    variant.uri
  ].join('\n') + '\n'
}
