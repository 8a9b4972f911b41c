import { Type, type Static } from '@sinclair/typebox'
import type { Segment } from './segmenter.js'

/** A segment as a playlist names it: everything but its bytes, and how many there are. */
export type SegmentEntry = Omit<Segment, 'data'> & { readonly bytes: number }

/** A mount's HLS window as a playlist is made of it, wherever its segments are cut. */
export interface HlsWindow {
  readonly segments: readonly SegmentEntry[]
  /** segments that left the playlist and are still served (RFC 8216 §6.2.2), oldest first */
  readonly retired: readonly SegmentEntry[]
  readonly discontinuitySequence: number
  /** the first sequence of its stream: a session of an earlier stream of the mount is none of this one */
  readonly epoch: number
  /** the codec of a stream packed audio cannot carry, once found */
  readonly unsupported: string | undefined
}

const Count = Type.Integer({ minimum: 0 })
const EntrySchema = Type.Object({
  sequence: Count,
  bytes: Count,
  duration: Type.Number({ minimum: 0 }),
  codec: Type.Union([Type.Literal('mp3'), Type.Literal('aac')]),
  codecs: Type.String({ pattern: '^[A-Za-z0-9.]{1,32}$' }),
  sampleRate: Count,
  discontinuity: Type.Boolean(),
  programDateTime: Type.Number(),
  createdAt: Count
})

/** The window as the process that cuts the segments sends it to the others of its machine; checked, never trusted. */
export const WindowAnswerSchema = Type.Object({
  discontinuitySequence: Count,
  epoch: Count,
  unsupported: Type.Optional(Type.String()),
  segments: Type.Array(EntrySchema),
  retired: Type.Array(EntrySchema)
})
export type WindowAnswer = Static<typeof WindowAnswerSchema>

export function entryOf ({ data, ...rest }: Segment): SegmentEntry {
  return { ...rest, bytes: data.length }
}

/** The window an answer gives. */
export function windowOf (answer: WindowAnswer): HlsWindow {
  return { segments: answer.segments, retired: answer.retired, discontinuitySequence: answer.discontinuitySequence, epoch: answer.epoch, unsupported: answer.unsupported }
}
