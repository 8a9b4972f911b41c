// The slaves registered with a master that runs as several processes (`--workers`, an app's own cluster):
// each process keeps every registration, whichever process the slave's poll reached, so that its redirects,
// totals and playlists are the machine's. What goes over the machine's link, and its checks.
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { MAX_REPORTED_MOUNTS } from './registration.js'
import type { SlaveRecord } from './slaves.js'

const Count = Type.Integer({ minimum: 0 })
const Time = Type.Integer({ minimum: 0 })

export const SlaveRecordSchema = Type.Object({
  host: Type.String({ minLength: 1, maxLength: 255 }),
  port: Type.Integer({ minimum: 1, maximum: 65_535 }),
  scheme: Type.Optional(Type.Union([Type.Literal('http'), Type.Literal('https')])),
  address: Type.String({ maxLength: 64 }),
  load: Type.Optional(Type.Object({
    listeners: Count,
    capacity: Type.Integer({ minimum: 1 }),
    mounts: Type.Array(Type.Tuple([Type.String({ maxLength: 1024 }), Count]), { maxItems: MAX_REPORTED_MOUNTS })
  }, { additionalProperties: false })),
  registeredAt: Time,
  lastPollAt: Time,
  nextPollAt: Time
}, { additionalProperties: false })

/** A registration one process took, for every other. */
export const SlaveQuerySchema = Type.Object({ kind: Type.Literal('slave'), slave: SlaveRecordSchema })
/** Every registration a process keeps: what one that joins the machine asks. */
export const SlavesQuerySchema = Type.Object({ kind: Type.Literal('slaves') })

export const slaveQuery = (slave: SlaveRecord): Static<typeof SlaveQuerySchema> => ({ kind: 'slave', slave })
export const slavesQuery: Static<typeof SlavesQuerySchema> = { kind: 'slaves' }

/** The records the processes answered a `slaves` query with; an answer of another shape is left out. */
export function recordsOf (answers: readonly unknown[]): SlaveRecord[] {
  return answers.flatMap((answer) => Array.isArray(answer) ? answer.filter((record): record is SlaveRecord => Value.Check(SlaveRecordSchema, record)) : [])
}

/** What a process answers the machine's slave queries with: its network's part. */
export interface SharedSlaves {
  merge: (record: SlaveRecord) => void
  records: () => SlaveRecord[]
}
