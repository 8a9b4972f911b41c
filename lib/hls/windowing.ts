// How long a mount's segments are listed and kept (RFC 8216 §6.2.2), and the bounds that hold whatever the
// upstream sends. Pure: the segmenter evicts by these, the routes and the workers cache by them.

/** What the window's rules are made of: the target duration and the window's length in target durations. */
export interface WindowSettings {
  /** the target duration, in seconds */
  segmentSeconds: number
  /** the window's length in target durations (at least 3) */
  windowSegments: number
}

/** A live playlist lasts at least three target durations (RFC 8216 §6.2.2). */
const MIN_TARGET_DURATIONS = 3
/**
 * Segments per target duration the window may hold: an MP3 title cuts a segment at most once a second
 * (TITLE_SLACK_SECONDS), so a stream whose title changes every second still keeps its whole window; only a hostile
 * one (a codec or sample rate that changes every frame) runs into the count.
 */
const SEGMENTS_PER_SECOND = 1
/**
 * Bytes per second of audio the window holds at most: 640 kbit/s, twice MP3's highest rate and above any AAC
 * stream of a radio (5.1 AAC LC at 384 kbit/s). ADTS frames may say up to 6 Mbit/s: such an upstream gets a
 * shorter window rather than tens of MB per mount.
 */
const MAX_BYTES_PER_SECOND = 80_000

/** Seconds of segments the playlist keeps at least (while the bounds allow): max(3, windowSegments) target durations. */
export function minWindowSeconds (settings: WindowSettings): number {
  return Math.max(MIN_TARGET_DURATIONS, settings.windowSegments) * settings.segmentSeconds
}

/** Seconds a window lasts at most: its minimum and one segment more (a segment lasts at most a target duration). */
export function maxWindowSeconds (settings: WindowSettings): number {
  return minWindowSeconds(settings) + settings.segmentSeconds
}

/** Segments the playlist lists at most. */
export function maxWindowCount (settings: WindowSettings): number {
  return Math.max(MIN_TARGET_DURATIONS, settings.windowSegments) * Math.max(1, settings.segmentSeconds * SEGMENTS_PER_SECOND) + 1
}

/** Bytes of segments the playlist lists at most (or its newest segment alone). */
export function maxWindowBytes (settings: WindowSettings): number {
  return maxWindowSeconds(settings) * MAX_BYTES_PER_SECOND
}

/** The segment numbered `sequence` of those `listed` (consecutive, oldest first), else of those `kept` after them. */
export function served<S extends { readonly sequence: number }> (listed: readonly S[], kept: readonly S[], sequence: number): S | undefined {
  return listed[sequence - (listed[0]?.sequence ?? 0)] ?? kept.find((segment) => segment.sequence === sequence)
}

/**
 * The bounds of the segments kept after the window, as multiples of the window's: a segment is kept at most
 * twice the window's minimum (retainMs: its duration, the window and one segment, half a target duration twice,
 * where the minimum is at least three target durations), so a real-time stream stays within them.
 */
const KEPT_PER_WINDOW = 2

/** Segments kept after the window at most. */
export function maxKeptCount (settings: WindowSettings): number {
  return KEPT_PER_WINDOW * maxWindowCount(settings)
}

/** Bytes of segments kept after the window at most. */
export function maxKeptBytes (settings: WindowSettings): number {
  return KEPT_PER_WINDOW * maxWindowBytes(settings)
}

/** Seconds a player or a cache may keep a live playlist: at most half a target duration (RFC 8216 §6.2.2). */
export function playlistMaxAge (segmentSeconds: number): number {
  return Math.floor(segmentSeconds / 2)
}

/** ms a worker of `--workers` keeps a mount's window read from the primary before reading it again. */
export function windowCacheMs (segmentSeconds: number): number {
  return segmentSeconds * 500
}

/**
 * ms a segment of `duration` seconds stays servable after it left the playlist: its duration plus the longest
 * playlist that listed it (RFC 8216 §6.2.2), plus the time that playlist may live in a cache (max-age) and, with
 * `--workers`, in a worker's copy of the window, which the worker reads the segment by.
 */
export function retainMs (duration: number, settings: WindowSettings): number {
  return Math.ceil((duration + maxWindowSeconds(settings) + playlistMaxAge(settings.segmentSeconds)) * 1000) + windowCacheMs(settings.segmentSeconds)
}
