import fc from 'fast-check'

/** `bytes` cut at the given offsets (taken modulo its length), in order, empty pieces included. */
export function cut (bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((offset) => offset % (bytes.length + 1)))].sort((a, b) => a - b)
  const pieces: Buffer[] = []
  let start = 0
  for (const point of points) {
    pieces.push(bytes.subarray(start, point))
    start = point
  }
  pieces.push(bytes.subarray(start))
  return pieces
}

/** Offsets at which to cut a buffer: none, a few, or nearly every byte. */
export const offsets = fc.oneof(
  fc.array(fc.nat(), { maxLength: 8 }),
  fc.array(fc.nat(), { maxLength: 200 })
)

/** The error's @fastify/error code, or a marker saying it is not one of the project's errors. */
export function codeOf (error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('FST_ICECAST_RELAY_') ? code : `foreign error: ${String(error)}`
}
