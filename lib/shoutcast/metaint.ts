import { BadMetaintError } from '../errors.js'

/** The interval Icecast gives listeners when the upstream sends no `icy-metaint`. */
export const DEFAULT_METAINT = 16000

/**
 * Throws unless `metaint` is a positive safe integer: a zero, fractional or NaN interval would make
 * the demuxer read every byte as a length byte, or never find a boundary.
 */
export function assertMetaint (metaint: number): void {
  if (!Number.isSafeInteger(metaint) || metaint < 1) throw new BadMetaintError(String(metaint))
}
