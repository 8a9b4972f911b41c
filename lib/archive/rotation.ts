import type { ResolvedDumpFile } from '../options.js'

/** The file being written: its bytes so far and when it was opened (ms since the epoch). */
export interface OpenFile {
  bytes: number
  openedAt: number
}

/**
 * Where a chunk of `length` bytes, whose first place to start is at `start` (undefined: it has none), is
 * cut between the file being written and the next one under `rule`: undefined to write it on. A file ends
 * at the first place to start where it would pass `rotateBytes`, or once it is `rotateSeconds` old, so that
 * the next one starts on a frame; it always gets what comes before that place, and is never left empty.
 */
export function rotationCut (
  rule: Pick<ResolvedDumpFile, 'rotateBytes' | 'rotateSeconds'>, file: OpenFile, now: number, length: number, start: number | undefined
): number | undefined {
  if (start === undefined || file.bytes + start === 0) return undefined
  const full = rule.rotateBytes !== undefined && file.bytes + length > rule.rotateBytes
  const old = rule.rotateSeconds !== undefined && now - file.openedAt >= rule.rotateSeconds * 1000
  return full || old ? start : undefined
}
