// The machine link of `--workers N` over node:cluster messages: a worker's query goes to the primary, which
// hands it to every worker (the asker included) and sends the answers that came in time back to the asker.
import cluster, { type Worker } from 'node:cluster'
import type { MachineLink } from '../options.js'

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
  | { [TAG]: 'answers', seq: number, answers: unknown[] }

function isMessage (value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[TAG] === 'string' &&
    Number.isSafeInteger((value as Record<string, unknown>)['seq'])
}

interface Gathering {
  waiting: Set<number>
  answers: unknown[]
  finish: () => void
}

/**
 * The primary's part: relays each worker's query to every worker and its answers back. A worker that exits
 * is no longer waited for, so its listeners leave the counts at once. Returns a function that stops it.
 */
export function relayMachineQueries (): () => void {
  const gatherings = new Map<number, Gathering>()
  let last = 0

  const gather = (asker: Worker, seq: number, query: unknown): void => {
    const id = ++last
    const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker?.isConnected() === true)
    const gathering: Gathering = {
      waiting: new Set(workers.map((worker) => worker.id)),
      answers: [],
      finish: () => {
        clearTimeout(timer)
        gatherings.delete(id)
        if (asker.isConnected()) asker.send({ [TAG]: 'answers', seq, answers: gathering.answers } satisfies Message)
      }
    }
    const timer = setTimeout(gathering.finish, ANSWER_TIMEOUT_MS).unref()
    gatherings.set(id, gathering)
    for (const worker of workers) worker.send({ [TAG]: 'query', seq: id, query } satisfies Message)
    if (workers.length === 0) gathering.finish()
  }

  const answered = (worker: Worker, seq: number, message: Message): void => {
    const gathering = gatherings.get(seq)
    if (gathering === undefined || !gathering.waiting.delete(worker.id)) return
    if ('answer' in message) gathering.answers.push(message.answer)
    if (gathering.waiting.size === 0) gathering.finish()
  }

  const onMessage = (worker: Worker, message: unknown): void => {
    if (!isMessage(message)) return
    if (message[TAG] === 'ask') gather(worker, message.seq, message.query)
    else if (message[TAG] === 'answer') answered(worker, message.seq, message)
  }
  const onExit = (worker: Worker): void => {
    for (const [seq] of gatherings) answered(worker, seq, { [TAG]: 'answer', seq })
  }
  cluster.on('message', onMessage)
  cluster.on('exit', onExit)
  return () => {
    cluster.off('message', onMessage)
    cluster.off('exit', onExit)
  }
}

/** A worker's link to the others through its primary, and the function that stops it (at the app's close). */
export function workerMachineLink (): MachineLink & { close: () => void } {
  const asked = new Map<number, (answers: unknown[]) => void>()
  let last = 0
  let respond: ((query: unknown) => Promise<unknown>) | undefined

  const reply = async (seq: number, query: unknown): Promise<void> => {
    const answer = await respond?.(query).then((value) => ({ answer: value }), () => ({}))
    if (process.connected) process.send?.({ [TAG]: 'answer', seq, ...answer } satisfies Message)
  }
  const onMessage = (message: unknown): void => {
    if (!isMessage(message)) return
    // a send that fails is a primary that is gone: no one is left to answer
    if (message[TAG] === 'query') reply(message.seq, message.query).catch(() => {})
    else if (message[TAG] === 'answers') asked.get(message.seq)?.(message.answers)
  }
  process.on('message', onMessage)
  return {
    index: cluster.worker?.id ?? 0,
    async ask (query) {
      const seq = ++last
      return await new Promise<unknown[]>((resolve) => {
        const done = (answers: unknown[]): void => {
          clearTimeout(timer)
          asked.delete(seq)
          resolve(answers)
        }
        // no answer in time (a primary that is gone): none, and the asker's view falls back on its own figures
        const timer = setTimeout(() => { done([]) }, ASK_TIMEOUT_MS).unref()
        asked.set(seq, done)
        process.send?.({ [TAG]: 'ask', seq, query } satisfies Message)
      })
    },
    answer (responder) { respond = responder },
    close () { process.off('message', onMessage) }
  }
}
