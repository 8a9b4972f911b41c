import { BadMetaintError } from '../errors.js'

/** The interval Icecast gives listeners when the upstream sends no `icy-metaint`. */
export const DEFAULT_METAINT = 16000

/**
 * The upstream intervals passed on to listeners; the usual ones (4096, 8192, 16000, 32768) lie in it.
 * Below it a listener's length bytes cost more than 0.1 % of its bandwidth (an interval of 1 doubles it);
 * above it no real station sends, and a value such as 2^31 overflows players that read a 32-bit integer.
 */
export const LISTENER_METAINT_RANGE = { min: 1000, max: 65536 } as const

/** The interval a listener gets: the relay's own, else the upstream's when it lies in the range, else 16000. */
export function listenerMetaint (own: number | undefined, upstream: number | undefined): number {
  if (own !== undefined) return own
  const { min, max } = LISTENER_METAINT_RANGE
  return upstream !== undefined && upstream >= min && upstream <= max ? upstream : DEFAULT_METAINT
}

/**
 * Throws unless `metaint` is a positive safe integer: a zero, fractional or NaN interval would make
 * the demuxer read every byte as a length byte, or never find a boundary.
 */
export function assertMetaint (metaint: number): void {
  if (!Number.isSafeInteger(metaint) || metaint < 1) throw new BadMetaintError(String(metaint))
}
