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

export interface VariantInput {
  /** bits per second: the peak of the segments */
  bandwidth: number
  codecs: string
  uri: string
}

/** A multivariant playlist with the one stream a mount has. */
export function multivariantPlaylist (variant: VariantInput): string {
  return [
    '#EXTM3U',
    `#EXT-X-VERSION:${VERSION}`,
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-STREAM-INF:BANDWIDTH=${Math.ceil(variant.bandwidth)},CODECS="${variant.codecs}"`,
    variant.uri
  ].join('\n') + '\n'
}
