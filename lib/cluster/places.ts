// The listener places of `--workers N`, batched: the places a worker asks for and gives back within one turn
// of its event loop travel to the primary as one message, and come back as one answer. A crowd that arrives
// at once costs a message each way per turn, not per listener, and the primary still decides each place in
// turn, so the limits hold exactly machine-wide.
import type { MachineReservation, MachineSlotLimits } from '../options.js'
import type { SlotCounts } from './slots.js'

export interface PlaceRequest {
  mount: string
  limits: MachineSlotLimits
}

/** One turn's places of one worker: the mounts of the places it gives back, then the places it asks for. */
export interface PlacesBatch {
  release: string[]
  reserve: PlaceRequest[]
}

/** How a batch waits for the rest of its turn. */
export type Defer = (flush: () => void) => void

/**
 * Until the loop's check phase: after every socket this poll found readable has been read, so the requests
 * parsed from all of them are in the batch.
 */
const afterThisTurn: Defer = (flush) => { setImmediate(flush) }

/**
 * Sends a batch to the primary. Resolves with its answers, one for each place asked for in order, or with
 * anything else when none came (then each of those places is unanswered); what it resolves with for a batch
 * that asks for none is not read.
 */
export type SendPlaces = (batch: PlacesBatch) => Promise<unknown>

const RESERVATIONS = new Set<unknown>(['ok', 'clients', 'mount'])

const reservationOf = (value: unknown): MachineReservation | undefined =>
  RESERVATIONS.has(value) ? value as MachineReservation : undefined

/** A worker's side: collects a turn's places and hands each asker its own answer. */
export class WorkerPlaces {
  readonly #send: SendPlaces
  readonly #defer: Defer
  #release: string[] = []
  #reserve: PlaceRequest[] = []
  #settle: Array<(reservation: MachineReservation | undefined) => void> = []

  constructor (send: SendPlaces, defer: Defer = afterThisTurn) {
    this.#send = send
    this.#defer = defer
  }

  async reserve (mount: string, limits: MachineSlotLimits): Promise<MachineReservation | undefined> {
    return await new Promise((resolve) => {
      this.#add()
      this.#reserve.push({ mount, limits })
      this.#settle.push(resolve)
    })
  }

  release (mount: string): void {
    this.#add()
    this.#release.push(mount)
  }

  /** Before the turn's first place is added: its batch leaves at the end of the turn. */
  #add (): void {
    if (this.#release.length === 0 && this.#reserve.length === 0) this.#defer(() => { this.#flush() })
  }

  #flush (): void {
    const batch: PlacesBatch = { release: this.#release, reserve: this.#reserve }
    const settle = this.#settle
    this.#release = []
    this.#reserve = []
    this.#settle = []
    const answered = this.#send(batch)
    if (settle.length === 0) return
    answered.then((answers) => {
      settle.forEach((resolve, i) => { resolve(reservationOf(Array.isArray(answers) ? answers[i] : undefined)) })
    }, () => { for (const resolve of settle) resolve(undefined) })
  }
}

const isLimit = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0

/** Whether a worker's place request is one: a mount and limits that are counts. */
function isPlaceRequest (value: unknown): value is PlaceRequest {
  const request = value as Record<string, unknown> | null
  const limits = request?.['limits'] as Record<string, unknown> | null | undefined
  return typeof request === 'object' && request !== null && typeof request['mount'] === 'string' &&
    typeof limits === 'object' && limits !== null &&
    isLimit(limits['clients']) && (limits['maxListeners'] === null || isLimit(limits['maxListeners']))
}

/**
 * The primary's side: gives back the batch's places of `process`, then decides each place it asks for in
 * turn. Answers one reservation for each (undefined for a request that is none), or undefined for a batch
 * that is none.
 */
export function answerPlaces (slots: SlotCounts, process: number, batch: unknown): Array<MachineReservation | undefined> | undefined {
  const { release, reserve } = (batch ?? {}) as Record<string, unknown>
  if (!Array.isArray(release) || !Array.isArray(reserve)) return undefined
  for (const mount of release) if (typeof mount === 'string') slots.release(process, mount)
  return reserve.map((request) => isPlaceRequest(request) ? slots.reserve(process, request.mount, request.limits) : undefined)
}
