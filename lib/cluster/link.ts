// The machine link of `--workers N` over node:cluster messages, through the primary: a worker's query goes to
// every worker (the asker included) and their answers back to the asker; a worker's listener places are
// counted by the primary alone, so that the limits hold machine-wide (a turn's places in one message: places.ts).
import cluster, { type Worker } from 'node:cluster'
import { resolveRelay, type HlsOrigin, type MachineLink, type RelayDefinition } from '../options.js'
import { SlotCounts } from './slots.js'
import { answerPlaces, WorkerPlaces, type PlacesBatch } from './places.js'
import type { LocalRelays } from '../stats/view.js'
import { answerQuery, knownQuery, sideOf } from './machine.js'

/** How the primary runs a relay added at run time: its upstream side. */
export type UpstreamSide = (definition: RelayDefinition) => RelayDefinition

/** How long the primary waits for the workers' answers: one that is slower is left out of this answer. */
export const ANSWER_TIMEOUT_MS = 1000

/** How long a worker waits for the primary (its answers, plus the way there and back). */
const ASK_TIMEOUT_MS = 2 * ANSWER_TIMEOUT_MS

/** The key that marks this link's messages among any others of the process. */
const TAG = 'icecastRelayMachine'

type Message =
  | { [TAG]: 'ask', seq: number, query: unknown }
  | { [TAG]: 'query', seq: number, query: unknown }
  | { [TAG]: 'answer', seq: number, answer?: unknown }
  /** a turn's listener places of a worker; `seq` 0 when it asks for none (no reply) */
  | ({ [TAG]: 'places', seq: number } & PlacesBatch)
  /** the primary's reply to an `ask` (the answers) or to `places` (a reservation for each asked for) */
  | { [TAG]: 'reply', seq: number, value: unknown }

function isMessage (value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[TAG] === 'string' &&
    Number.isSafeInteger((value as Record<string, unknown>)['seq'])
}

interface Gathering {
  waiting: Set<number>
  answers: unknown[]
  finish: () => void
}

function reply (worker: Worker, seq: number, value: unknown): void {
  if (worker.isConnected()) worker.send({ [TAG]: 'reply', seq, value } satisfies Message)
}

/**
 * The primary's part: relays each worker's query to every worker and its answers back, and keeps the count
 * of listener places. Queries about the upstream side (killsource, a relay added or removed) are answered by
 * the primary's relays, the ones that hold the upstreams, before the workers are asked; the workers answer
 * those about listeners (and additions, with `upstreamSide` of the definition on the primary, and removals). A worker
 * that exits is no longer waited for and its places are given back, so its listeners leave the counts at
 * once. Returns a function that stops it.
 */
export function relayMachineQueries (primary: LocalRelays, upstreamSide: UpstreamSide = (definition) => definition): () => void {
  const gatherings = new Map<number, Gathering>()
  const slots = new SlotCounts()
  /** the relays added at run time, by local mount, as the workers were given them: for a worker that starts */
  const added = new Map<string, RelayDefinition>()
  let last = 0

  /** The primary's own answer: to an `add`, with the definition's upstream side. */
  const primaryAnswer = async (query: unknown): Promise<{ answer?: unknown }> => {
    const known = knownQuery(query)
    const asked = known?.kind === 'add' ? { ...known, definition: upstreamSide(known.definition as RelayDefinition) } : query
    return await answerQuery(primary, asked).then((answer) => ({ answer }), () => ({}))
  }

  const gather = async (asker: Worker, seq: number, query: unknown): Promise<void> => {
    const known = knownQuery(query)
    if (known?.kind === 'relays') {
      reply(asker, seq, [[...added.values()]])
      return
    }
    const side = sideOf(query)
    // the primary first: a relay it did not add is added by no worker, one it removed is removed from all
    const own = side === 'listeners' ? undefined : await primaryAnswer(query)
    if (known?.kind === 'add') {
      if (own?.answer !== true) {
        reply(asker, seq, [])
        return
      }
      added.set(resolveRelay(known.definition).localMount, known.definition as RelayDefinition)
    }
    if (known?.kind === 'remove') added.delete(known.mount)
    const workers = side === 'upstream' ? [] : Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker?.isConnected() === true)
    const id = ++last
    const gathering: Gathering = {
      waiting: new Set(workers.map((worker) => worker.id)),
      answers: own !== undefined && 'answer' in own ? [own.answer] : [],
      finish: () => {
        clearTimeout(timer)
        gatherings.delete(id)
        reply(asker, seq, gathering.answers)
      }
    }
    const timer = setTimeout(gathering.finish, ANSWER_TIMEOUT_MS).unref()
    gatherings.set(id, gathering)
    for (const worker of workers) worker.send({ [TAG]: 'query', seq: id, query } satisfies Message)
    if (gathering.waiting.size === 0) gathering.finish()
  }

  const answered = (from: number, seq: number, message: Message): void => {
    const gathering = gatherings.get(seq)
    if (gathering === undefined || !gathering.waiting.delete(from)) return
    if ('answer' in message) gathering.answers.push(message.answer)
    if (gathering.waiting.size === 0) gathering.finish()
  }

  const onMessage = (worker: Worker, message: unknown): void => {
    if (!isMessage(message)) return
    switch (message[TAG]) {
      case 'ask': gather(worker, message.seq, message.query).catch(() => { reply(worker, message.seq, []) }); break
      case 'answer': answered(worker.id, message.seq, message); break
      case 'places': {
        const answers = answerPlaces(slots, worker.id, message)
        if (message.seq !== 0) reply(worker, message.seq, answers)
        break
      }
    }
  }
  const onExit = (worker: Worker): void => {
    slots.forget(worker.id)
    for (const [seq] of gatherings) answered(worker.id, seq, { [TAG]: 'answer', seq })
  }
  cluster.on('message', onMessage)
  cluster.on('exit', onExit)
  return () => {
    cluster.off('message', onMessage)
    cluster.off('exit', onExit)
  }
}

/**
 * A worker's link to the others through its primary, and the function that stops it (at the app's close). Its
 * relays mirror the primary's, so queries about the upstream side are the primary's alone to answer.
 */
export function workerMachineLink (mirror?: MachineLink['mirror'], hlsOrigin?: HlsOrigin): MachineLink & { close: () => void } {
  const pending = new Map<number, (value: unknown) => void>()
  let last = 0
  let respond: ((query: unknown) => Promise<unknown>) | undefined

  const answer = async (seq: number, query: unknown): Promise<void> => {
    const answered = await respond?.(query).then((value) => ({ answer: value }), () => ({}))
    if (process.connected) process.send?.({ [TAG]: 'answer', seq, ...answered } satisfies Message)
  }
  /** Sends `message` to the primary; resolves with its reply, or undefined when none came in time (a primary that is gone). */
  const request = async (message: (seq: number) => Message): Promise<unknown> => {
    const seq = ++last
    return await new Promise<unknown>((resolve) => {
      const done = (value: unknown): void => {
        clearTimeout(timer)
        pending.delete(seq)
        resolve(value)
      }
      const timer = setTimeout(() => { done(undefined) }, ASK_TIMEOUT_MS).unref()
      pending.set(seq, done)
      process.send?.(message(seq))
    })
  }
  const onMessage = (message: unknown): void => {
    if (!isMessage(message)) return
    // a send that fails is a primary that is gone: no one is left to answer
    if (message[TAG] === 'query' && sideOf(message.query) !== 'upstream') answer(message.seq, message.query).catch(() => {})
    else if (message[TAG] === 'reply') pending.get(message.seq)?.(message.value)
  }
  const places = new WorkerPlaces(async (batch) => {
    if (batch.reserve.length > 0) return await request((seq) => ({ [TAG]: 'places', seq, ...batch }))
    if (process.connected) process.send?.({ [TAG]: 'places', seq: 0, ...batch } satisfies Message)
  })
  process.on('message', onMessage)
  return {
    index: cluster.worker?.id ?? 0,
    async ask (query) {
      const answers = await request((seq) => ({ [TAG]: 'ask', seq, query }))
      // none in time: the asker's view falls back on its own figures
      return Array.isArray(answers) ? answers : []
    },
    answer (responder) { respond = responder },
    reserve: async (mount, limits) => await places.reserve(mount, limits),
    release: (mount) => { places.release(mount) },
    close () { process.off('message', onMessage) },
    ...(mirror !== undefined && { mirror }),
    ...(hlsOrigin !== undefined && { hlsOrigin })
  }
}
