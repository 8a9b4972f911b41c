// The machine link of `--workers N` over node:cluster messages, through the primary: a worker's query goes to
// every worker (the asker included) and their answers back to the asker; a worker's listener places are
// counted by the primary alone, so that the limits hold machine-wide (a turn's places in one message, and
// places leased ahead: places.ts).
import cluster, { type Worker } from 'node:cluster'
import { resolveRelay, type HlsOrigin, type MachineLink, type RelayDefinition } from '../options.js'
import { SlotCounts } from './slots.js'
import { PlaceLedger, WorkerPlaces, type PlacesBatch, type Recall } from './places.js'
import type { LocalRelays } from '../stats/view.js'
import { answerQuery, knownQuery, sideOf } from './machine.js'

/** How the primary runs a relay added at run time: its upstream side. */
export type UpstreamSide = (definition: RelayDefinition) => RelayDefinition

/** How long the primary waits for the workers' answers: one that is slower is left out of this answer. */
export const ANSWER_TIMEOUT_MS = 1000

/** How long a worker waits for the primary (its answers, plus the way there and back). */
const ASK_TIMEOUT_MS = 2 * ANSWER_TIMEOUT_MS

/** How long a worker keeps a lease no listener takes a place from. */
const LEASE_IDLE_MS = 1000

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
  /** the primary calls a worker's leases back; the worker answers with their places, given up */
  | { [TAG]: 'recall', seq: number }
  | { [TAG]: 'returned', seq: number, release: string[] }

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
  const ledger = new PlaceLedger(new SlotCounts())
  /** the workers whose leases are called back, each with what ends the wait for it */
  const recalling = new Map<number, () => void>()
  /** the workers' batches, decided one after another: a recall holds the next until it is over */
  let deciding = Promise.resolve()
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

  /** Calls back the leases of `processes`: over once each gave its places back, ended, or a second went by. */
  const recall = async ({ recall: processes }: Recall): Promise<void> => {
    const workers = processes.map((id) => cluster.workers?.[id]).filter((worker): worker is Worker => worker?.isConnected() === true)
    await Promise.all(workers.map(async (worker) => await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ANSWER_TIMEOUT_MS).unref()
      function done (): void {
        clearTimeout(timer)
        recalling.delete(worker.id)
        resolve()
      }
      recalling.set(worker.id, done)
      worker.send({ [TAG]: 'recall', seq: 0 } satisfies Message)
    })))
  }

  // one that ended: its places were given back when it did, none are to be taken for it
  const gone = (worker: Worker): boolean => !worker.isConnected() || worker.isDead()

  const decide = async (worker: Worker, message: Message & PlacesBatch): Promise<void> => {
    if (gone(worker)) return
    if (!ledger.release(worker.id, message)) {
      if (message.seq !== 0) reply(worker, message.seq, undefined)
      return
    }
    let decided = ledger.decide(worker.id, message, true)
    if ('recall' in decided) {
      await recall(decided)
      // one whose channel closed during the recall gets no answer; one that ended gets nothing either (see PlaceLedger)
      if (gone(worker)) return
      decided = ledger.decide(worker.id, message, false)
    }
    if (message.seq !== 0) reply(worker, message.seq, decided)
  }

  const onMessage = (worker: Worker, message: unknown): void => {
    if (!isMessage(message)) return
    switch (message[TAG]) {
      case 'ask': gather(worker, message.seq, message.query).catch(() => { reply(worker, message.seq, []) }); break
      case 'answer': answered(worker.id, message.seq, message); break
      case 'places':
        // a batch that fails (its worker's channel closed) is that worker's loss, not the next batch's
        deciding = deciding.then(async () => { await decide(worker, message) }).catch(() => {})
        break
      case 'returned':
        ledger.returned(worker.id, message.release)
        recalling.get(worker.id)?.()
        break
    }
  }
  const onExit = (worker: Worker): void => {
    ledger.forget(worker.id)
    recalling.get(worker.id)?.()
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
  /**
   * Sends `message` to the primary; calls `replied` as its reply arrives, or with undefined when none came in
   * time (a primary that is gone, or one too busy); a reply that comes later goes to `late`.
   */
  const send = (message: (seq: number) => Message, replied: (value: unknown) => void, late?: (value: unknown) => void): void => {
    const seq = ++last
    const done = (value: unknown): void => {
      clearTimeout(timer)
      pending.delete(seq)
      replied(value)
    }
    const timer = setTimeout(() => {
      done(undefined)
      if (late !== undefined) pending.set(seq, (value) => { pending.delete(seq); late(value) })
    }, ASK_TIMEOUT_MS).unref()
    pending.set(seq, done)
    process.send?.(message(seq))
  }
  const request = async (message: (seq: number) => Message): Promise<unknown> => await new Promise((resolve) => { send(message, resolve) })
  const onMessage = (message: unknown): void => {
    if (!isMessage(message)) return
    // a send that fails is a primary that is gone: no one is left to answer
    if (message[TAG] === 'query' && sideOf(message.query) !== 'upstream') answer(message.seq, message.query).catch(() => {})
    else if (message[TAG] === 'reply') pending.get(message.seq)?.(message.value)
    else if (message[TAG] === 'recall' && process.connected) process.send?.({ [TAG]: 'returned', seq: 0, release: places.recall() } satisfies Message)
  }
  const places = new WorkerPlaces((batch, answered) => {
    // a late answer's places were reserved for listeners that were refused meanwhile: they go back
    if (batch.reserve.length > 0 || batch.lease.length > 0) send((seq) => ({ [TAG]: 'places', seq, ...batch }), answered, (answer) => { places.late(batch, answer) })
    else if (process.connected) process.send?.({ [TAG]: 'places', seq: 0, ...batch } satisfies Message)
  })
  // a lease no listener took from within a second goes back to the machine
  const idle = setInterval(() => { places.idle() }, LEASE_IDLE_MS).unref()
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
    close () {
      clearInterval(idle)
      process.off('message', onMessage)
    },
    ...(mirror !== undefined && { mirror }),
    ...(hlsOrigin !== undefined && { hlsOrigin })
  }
}
