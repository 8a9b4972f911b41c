// Machine-wide answers: the stats and admin view of a process that is one of several serving one machine.
// The relays' state is this process's own (each mirrors the same relays); the listener figures are summed
// over every process that answers through the machine's link.
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { FastifyBaseLogger } from 'fastify'
import { BadRequestError, MachineUnavailableError } from '../errors.js'
import { MAX_SESSION_ID } from '../hls/sessions.js'
import { resolveRelay, type MachineLink, type RelayDefinition } from '../options.js'
import type { ListenerInfo } from '../relay/decorator.js'
import type { RelayStatus } from '../relay/relay.js'
import type { LocalRelays, StatusView } from '../stats/view.js'
import { SlaveQuerySchema, SlavesQuerySchema, type SharedSlaves } from './shared-slaves.js'

const Count = Type.Integer({ minimum: 0 })

/** Session ids one `hlsPolled` query names, at most. */
export const MAX_HLS_POLLED = 10_000

/** What one process says of one of its mounts: the figures that add up over the machine. */
const MountFiguresSchema = Type.Object({
  localMount: Type.String(),
  listeners: Count,
  peakListeners: Count,
  fallbackListeners: Count,
  bytesOut: Count,
  slowDrops: Count,
  // HLS (issue 19): the sessions of a mount that has HLS
  hlsListeners: Type.Optional(Count)
})
type MountFigures = Static<typeof MountFiguresSchema>
const FiguresAnswer = Type.Array(MountFiguresSchema)

const ListenersAnswer = Type.Union([Type.Null(), Type.Array(Type.Object({
  id: Count, ip: Type.String(), userAgent: Type.String(), connectedSeconds: Count
}))])

const BooleanAnswer = Type.Boolean()

const QuerySchema = Type.Union([
  Type.Object({ kind: Type.Literal('figures') }),
  Type.Object({ kind: Type.Literal('listeners'), mount: Type.String() }),
  Type.Object({ kind: Type.Literal('kick'), mount: Type.String(), id: Count }),
  Type.Object({ kind: Type.Literal('move'), mount: Type.String(), destination: Type.String() }),
  Type.Object({
    kind: Type.Literal('metadata'),
    mount: Type.String(),
    metadata: Type.Object({ title: Type.Optional(Type.String()), url: Type.Optional(Type.String()) }, { additionalProperties: false })
  }),
  Type.Object({ kind: Type.Literal('restart'), mount: Type.String() }),
  Type.Object({ kind: Type.Literal('remove'), mount: Type.String() }),
  // checked as the registry checks any definition, by each process that adds it
  Type.Object({ kind: Type.Literal('add'), definition: Type.Unknown() }),
  Type.Object({ kind: Type.Literal('relays') }),
  SlaveQuerySchema,
  SlavesQuerySchema,
  // HLS (issue 19): sessions another process holds were polled here; the holder counts them (and says which it ended)
  Type.Object({ kind: Type.Literal('hlsPolled'), ids: Type.Array(Type.String({ maxLength: MAX_SESSION_ID }), { maxItems: MAX_HLS_POLLED }) })
])
export type Query = Static<typeof QuerySchema>

/**
 * Which side of a relay a query acts on: its listeners, its upstream connection (`killsource`), or both (a
 * relay removed). A machine whose processes mirror one that holds the upstreams (the primary of
 * `--workers`) hands each query to the side it is for; processes that each relay their own upstreams answer all.
 */
export function sideOf (query: unknown): 'listeners' | 'upstream' | 'both' {
  const kind = (query as { kind?: unknown } | null)?.kind
  if (kind === 'restart' || kind === 'relays') return 'upstream'
  return kind === 'remove' || kind === 'add' ? 'both' : 'listeners'
}

/** The query as the machine knows it, or undefined. */
export function knownQuery (query: unknown): Query | undefined {
  return Value.Check(QuerySchema, query) ? query : undefined
}

/** What a process answers besides its relays: the slaves it keeps, how it mirrors a relay added at run time. */
export interface MachineParts {
  slaves?: SharedSlaves | undefined
  mirror?: MachineLink['mirror']
  /** this process's answer to polls elsewhere of HLS sessions it may hold */
  hlsPolled?: ((ids: string[]) => unknown) | undefined
}

function figuresOf (status: RelayStatus): MountFigures {
  const { localMount, listeners, peakListeners, fallbackListeners, bytesOut, slowDrops, hlsListeners } = status
  return { localMount, listeners, peakListeners, fallbackListeners, bytesOut, slowDrops, ...(hlsListeners !== undefined && { hlsListeners }) }
}

/**
 * This process's answer to another's query; a query it does not know is refused (no answer). A process
 * without `slaves` (no `redirect`) keeps no registration.
 */
export async function answerQuery (local: LocalRelays, query: unknown, { slaves, mirror, hlsPolled }: MachineParts = {}): Promise<unknown> {
  if (!Value.Check(QuerySchema, query)) throw new BadRequestError('not a query of the machine link')
  const known: Query = query
  switch (known.kind) {
    case 'figures': return local.list().map(figuresOf)
    case 'listeners': return local.listenersOf(known.mount) ?? null
    case 'kick': return local.kick(known.mount, known.id)
    case 'move': return await local.moveListeners(known.mount, known.destination)
    case 'metadata':
      local.setMetadata(known.mount, known.metadata)
      return true
    case 'restart': return local.restart(known.mount)
    case 'remove': return local.remove(known.mount)
    case 'slave':
      slaves?.merge(known.slave)
      return slaves !== undefined
    case 'slaves': return slaves?.records() ?? []
    case 'add':
      local.add(mirror?.(known.definition as RelayDefinition) ?? known.definition as RelayDefinition)
      return true
    // the primary's to answer: it keeps the definitions
    case 'relays': return []
    case 'hlsPolled': return hlsPolled?.(known.ids) ?? { held: [], killed: [] }
  }
}

/** The answers of the shape `schema` gives: another process's word is checked, never trusted. */
function valid<T extends TSchema> (answers: unknown[], schema: T): Array<Static<T>> {
  return answers.filter((answer): answer is Static<T> => Value.Check(schema, answer))
}

const sum = (figures: MountFigures[], key: keyof Omit<MountFigures, 'localMount'>): number =>
  figures.reduce((total, each) => total + (each[key] ?? 0), 0)

/**
 * A mount's status with the machine's figures. The machine's peak is at least its listeners now and the peak
 * of any one process (processes peak at different moments, so their peaks do not add up). A mount no process
 * answered for (the link gave no answer in time) keeps this process's figures.
 */
export function withMachineFigures (status: RelayStatus, figures: MountFigures[]): RelayStatus {
  const of = figures.filter((each) => each.localMount === status.localMount)
  if (of.length === 0) return status
  const listeners = sum(of, 'listeners')
  return {
    ...status,
    listeners,
    peakListeners: Math.max(listeners, ...of.map((each) => each.peakListeners)),
    fallbackListeners: sum(of, 'fallbackListeners'),
    bytesOut: sum(of, 'bytesOut'),
    slowDrops: sum(of, 'slowDrops'),
    ...(status.hlsListeners !== undefined && { hlsListeners: sum(of, 'hlsListeners') })
  }
}

/** The view of the whole machine, and this process's answers to the others' queries. */
export function machineView (local: LocalRelays, link: MachineLink, parts: Omit<MachineParts, 'mirror'> = {}): StatusView {
  link.answer(async (query) => await answerQuery(local, query, { ...parts, mirror: link.mirror }))
  return {
    async list () {
      const answers = valid(await link.ask({ kind: 'figures' } satisfies Query), FiguresAnswer)
      return local.list().map((status) => withMachineFigures(status, answers.flat()))
    },
    async listenersOf (localMount) {
      const answers = valid(await link.ask({ kind: 'listeners', mount: localMount } satisfies Query), ListenersAnswer)
      const lists = answers.filter((answer): answer is ListenerInfo[] => answer !== null)
      return lists.length === 0 ? local.listenersOf(localMount) : lists.flat()
    },
    // only the process that holds the listener has it: ids are unique across the machine
    async kick (localMount, id) {
      const answers = valid(await link.ask({ kind: 'kick', mount: localMount, id } satisfies Query), BooleanAnswer)
      return answers.length === 0 ? local.kick(localMount, id) : answers.includes(true)
    },
    // Each command runs here first, so that its errors (an unknown mount, a refused move) are this request's
    // answer; then every process runs it on its own listeners (this one has none left to move).
    async moveListeners (from, to) {
      const here = await local.moveListeners(from, to)
      const answers = valid(await link.ask({ kind: 'move', mount: from, destination: to } satisfies Query), Count)
      return here + answers.reduce((total, moved) => total + moved, 0)
    },
    async setMetadata (localMount, metadata) {
      local.setMetadata(localMount, metadata)
      await link.ask({ kind: 'metadata', mount: localMount, metadata } satisfies Query)
    },
    // where the upstream is held; a relay only this process has (one the API added to it) restarts here
    async restart (localMount) {
      return valid(await link.ask({ kind: 'restart', mount: localMount } satisfies Query), BooleanAnswer).includes(true) || local.restart(localMount)
    },
    async remove (localMount) {
      return valid(await link.ask({ kind: 'remove', mount: localMount } satisfies Query), BooleanAnswer).includes(true)
    },
    // Here first, so that its errors (a field, a mount served) are this request's answer; then on every
    // process. Where one process holds the upstreams (`mirror`), a relay it did not take is undone here.
    async add (definition) {
      const { localMount } = resolveRelay(definition)
      const status = local.add(link.mirror?.(definition) ?? definition)
      const answers = valid(await link.ask({ kind: 'add', definition } satisfies Query), BooleanAnswer)
      if (link.mirror !== undefined && !answers.includes(true)) {
        local.remove(localMount)
        throw new MachineUnavailableError(localMount)
      }
      return status
    }
  }
}

/**
 * A process that joins a machine whose relays one process holds (a worker replacing one that died) adds the
 * relays added at run time, which its options do not name. Resolves once they are added, or the primary did not
 * answer (within two seconds).
 */
export async function catchUpRelays (local: LocalRelays, link: MachineLink, log: FastifyBaseLogger): Promise<void> {
  const { mirror } = link
  if (mirror === undefined) return
  const known = new Set(local.list().map((status) => status.localMount))
  for (const definition of (await link.ask({ kind: 'relays' } satisfies Query)).flat()) {
    try {
      const { localMount } = resolveRelay(definition)
      if (!known.has(localMount)) local.add(mirror(definition as RelayDefinition))
    } catch (error) {
      log.warn({ err: error }, 'a relay the machine added at run time could not be added here')
    }
  }
}
