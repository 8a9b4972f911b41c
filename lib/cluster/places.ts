// The listener places of `--workers N`, batched and leased: the places a worker asks for and gives back within
// one turn of its event loop travel to the primary as one message, and come back as one answer. With them the
// worker asks for a lease: places the primary counts as the worker's before any listener takes them, so that
// the next listeners of a crowd get in from the lease at once, with no way to the primary and back. The
// primary still decides each place in turn, so the limits hold exactly machine-wide: before it refuses one
// while leases are out, it calls them back (a recall) and decides again on the places listeners hold.
import type { MachineReservation, MachineSlotLimits } from '../options.js'
import type { SlotCounts } from './slots.js'

export interface PlaceRequest {
  mount: string
  limits: MachineSlotLimits
}

/** Places of a mount asked for ahead, for listeners to come: a lease. */
export interface LeaseRequest extends PlaceRequest {
  count: number
}

/** One turn's places of one worker: the mounts of the places it gives back, the places it asks for, its leases. */
export interface PlacesBatch {
  release: string[]
  reserve: PlaceRequest[]
  lease: LeaseRequest[]
}

/** The primary's answer to a batch: a reservation for each place asked for, the places leased for each lease. */
export interface PlacesAnswer {
  places: Array<MachineReservation | undefined>
  leased: number[]
}

/** How a batch waits for the rest of its turn. */
export type Defer = (flush: () => void) => void

/**
 * Until the loop's check phase: after every socket this poll found readable has been read, so the requests
 * parsed from all of them are in the batch.
 */
const afterThisTurn: Defer = (flush) => { setImmediate(flush) }

/**
 * Sends a batch to the primary and calls `answered` once, with its answer, or with anything else when none
 * came (then each of those places is unanswered and no place leased); a batch that asks for none needs no
 * answer. `answered` is called as the answer arrives, not a turn later, so that a recall that follows it
 * finds its leased places.
 */
export type SendPlaces = (batch: PlacesBatch, answered: (answer: unknown) => void) => void

/** The fewest and the most places a worker asks for ahead: a lone listener's lease is small, a crowd's a few turns of it. */
export const MIN_AHEAD = 4
export const MAX_AHEAD = 256

const RESERVATIONS = new Set<unknown>(['ok', 'clients', 'mount'])

const reservationOf = (value: unknown): MachineReservation | undefined =>
  RESERVATIONS.has(value) ? value as MachineReservation : undefined

const isLimit = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0

const sameLimits = (a: MachineSlotLimits, b: MachineSlotLimits): boolean => a.clients === b.clients && a.maxListeners === b.maxListeners

/** A worker's lease on one mount. */
interface Lease {
  /** the limits it was granted under: a listener under others asks the primary */
  limits: MachineSlotLimits
  /** places held for listeners to come */
  spare: number
  /** places asked for since the last lease was asked for: the rate the next one is sized to */
  demand: number
  /** the size of the last lease asked for: the next is asked for when half of it is left */
  ahead: number
  asking: boolean
  /** whether a listener took a place since the last idle check */
  used: boolean
}

/** A worker's side: admits from its leases, collects a turn's places and hands each asker its own answer. */
export class WorkerPlaces {
  readonly #send: SendPlaces
  readonly #defer: Defer
  readonly #leases = new Map<string, Lease>()
  #release: string[] = []
  #reserve: PlaceRequest[] = []
  #lease: LeaseRequest[] = []
  #settle: Array<(reservation: MachineReservation | undefined) => void> = []

  constructor (send: SendPlaces, defer: Defer = afterThisTurn) {
    this.#send = send
    this.#defer = defer
  }

  async reserve (mount: string, limits: MachineSlotLimits): Promise<MachineReservation | undefined> {
    const lease = this.#leaseOf(mount, limits)
    lease.demand++
    lease.used = true
    if (lease.spare > 0) {
      lease.spare--
      if (!lease.asking && lease.spare * 2 <= lease.ahead) this.#askLease(mount, lease)
      return 'ok'
    }
    if (!lease.asking) this.#askLease(mount, lease)
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

  /** The primary calls the leases back: their places, now given up, by mount (one entry each). */
  recall (): string[] {
    const mounts: string[] = []
    for (const [mount, lease] of this.#leases) {
      for (let i = 0; i < lease.spare; i++) mounts.push(mount)
      lease.spare = 0
    }
    return mounts
  }

  /** Gives back the leases no listener took from since the last call: places unused are the machine's again. */
  idle (): void {
    for (const [mount, lease] of this.#leases) {
      if (!lease.used) this.#giveBack(mount, lease)
      if (!lease.used && !lease.asking) this.#leases.delete(mount)
      lease.used = false
    }
  }

  #leaseOf (mount: string, limits: MachineSlotLimits): Lease {
    const lease = this.#leases.get(mount)
    if (lease !== undefined && sameLimits(lease.limits, limits)) return lease
    if (lease !== undefined) this.#giveBack(mount, lease)
    // a request in flight for the old limits is given back when it comes: the new ones ask for their own
    const fresh: Lease = { limits, spare: 0, demand: 0, ahead: 0, asking: false, used: false }
    this.#leases.set(mount, fresh)
    return fresh
  }

  #giveBack (mount: string, lease: Lease): void {
    for (; lease.spare > 0; lease.spare--) this.release(mount)
  }

  #askLease (mount: string, lease: Lease): void {
    this.#add()
    lease.asking = true
    this.#lease.push({ mount, limits: lease.limits, count: 0 })
  }

  /** Before the turn's first place is added: its batch leaves at the end of the turn. */
  #add (): void {
    if (this.#release.length === 0 && this.#reserve.length === 0 && this.#lease.length === 0) this.#defer(() => { this.#flush() })
  }

  /** A lease is sized when it leaves, to the places asked for until then. */
  #sized (request: LeaseRequest): LeaseRequest {
    const lease = this.#leases.get(request.mount)!
    lease.ahead = Math.min(MAX_AHEAD, Math.max(MIN_AHEAD, 2 * lease.demand))
    lease.demand = 0
    return { ...request, count: lease.ahead }
  }

  #granted (request: LeaseRequest, count: number): void {
    const lease = this.#leases.get(request.mount)
    if (lease === undefined || !sameLimits(lease.limits, request.limits)) {
      for (let i = 0; i < count; i++) this.release(request.mount)
      return
    }
    lease.spare += count
    lease.asking = false
  }

  #flush (): void {
    const batch: PlacesBatch = { release: this.#release, reserve: this.#reserve, lease: this.#lease.map((request) => this.#sized(request)) }
    const settle = this.#settle
    this.#release = []
    this.#reserve = []
    this.#lease = []
    this.#settle = []
    this.#send(batch, (answer) => { this.#answered(batch, settle, answer) })
  }

  /**
   * An answer that came after its batch was taken as unanswered: the places it reserved and leased have no
   * listener to take them, so they are given back.
   */
  late (batch: PlacesBatch, answer: unknown): void {
    const { places, leased } = (answer ?? {}) as Record<string, unknown>
    if (Array.isArray(places)) batch.reserve.forEach((request, i) => { if (places[i] === 'ok') this.release(request.mount) })
    batch.lease.forEach((request, i) => {
      const count = Array.isArray(leased) ? leased[i] : undefined
      if (isLimit(count)) for (let n = 0; n < Math.min(count, request.count); n++) this.release(request.mount)
    })
  }

  #answered (batch: PlacesBatch, settle: Array<(reservation: MachineReservation | undefined) => void>, answer: unknown): void {
    const { places, leased } = (answer ?? {}) as Record<string, unknown>
    settle.forEach((resolve, i) => { resolve(reservationOf(Array.isArray(places) ? places[i] : undefined)) })
    batch.lease.forEach((request, i) => {
      const count = Array.isArray(leased) ? leased[i] : undefined
      this.#granted(request, isLimit(count) && count <= request.count ? count : 0)
    })
  }
}

/** Whether a worker's place request is one: a mount and limits that are counts. */
function isPlaceRequest (value: unknown): value is PlaceRequest {
  const request = value as Record<string, unknown> | null
  const limits = request?.['limits'] as Record<string, unknown> | null | undefined
  return typeof request === 'object' && request !== null && typeof request['mount'] === 'string' &&
    typeof limits === 'object' && limits !== null &&
    isLimit(limits['clients']) && (limits['maxListeners'] === null || isLimit(limits['maxListeners']))
}

const isLeaseRequest = (value: unknown): value is LeaseRequest =>
  isPlaceRequest(value) && isLimit((value as LeaseRequest).count) && (value as LeaseRequest).count <= MAX_AHEAD

/** The primary asks these processes for their leases back before it decides again. */
export interface Recall {
  recall: number[]
}

/**
 * The primary's side: the machine's count of places (a lease's places count as its worker's) and the
 * processes that may hold leases. A batch is taken in two steps, its places given back (`release`), then
 * those it asks for decided (`decide`), so that a batch decided again after a recall gives nothing back twice.
 */
export class PlaceLedger {
  readonly slots: SlotCounts
  /** the processes granted a lease since they last gave their leases back */
  readonly #holders = new Set<number>()
  /**
   * The processes that ended (node:cluster never gives a worker's id to another): a batch of one that ended
   * while the batch waited, or during its recall, takes no places, which nothing would give back.
   */
  readonly #ended = new Set<number>()

  constructor (slots: SlotCounts) {
    this.slots = slots
  }

  /** Gives back the batch's places of `process`; false for a batch that is none. */
  release (process: number, batch: unknown): boolean {
    const { release, reserve, lease } = (batch ?? {}) as Record<string, unknown>
    if (!Array.isArray(release) || !Array.isArray(reserve) || !(lease === undefined || Array.isArray(lease))) return false
    for (const mount of release) if (typeof mount === 'string') this.slots.release(process, mount)
    return true
  }

  /**
   * Decides each place the batch asks for in turn, then its leases: a lease gets at most its share of what
   * the limits leave (so that the other workers find places too). When a place would be refused while leases
   * are out and `mayRecall`, decides nothing and names the processes to recall. A request that is none, or of
   * a process that ended, is answered undefined, a lease that is none 0.
   */
  decide (process: number, batch: PlacesBatch, mayRecall: boolean): PlacesAnswer | Recall {
    if (this.#ended.has(process)) return { places: batch.reserve.map(() => undefined), leased: (batch.lease ?? []).map(() => 0) }
    const places = batch.reserve.map((request) => isPlaceRequest(request) ? this.slots.reserve(process, request.mount, request.limits) : undefined)
    if (mayRecall && this.#holders.size > 0 && places.some((place) => place === 'clients' || place === 'mount')) {
      places.forEach((place, i) => { if (place === 'ok') this.slots.release(process, batch.reserve[i]!.mount) })
      return { recall: [...this.#holders] }
    }
    const leased = (batch.lease ?? []).map((request) => isLeaseRequest(request) ? this.#grant(process, request) : 0)
    return { places, leased }
  }

  /** The places of a recalled lease, by mount: given back, and `process` holds no lease until granted one again. */
  returned (process: number, mounts: unknown): void {
    this.release(process, { release: mounts, reserve: [] })
    this.#holders.delete(process)
  }

  /** Gives back every place of a process that ended: its listeners and leases went with it. */
  forget (process: number): void {
    this.slots.forget(process)
    this.#holders.delete(process)
    this.#ended.add(process)
  }

  #grant (process: number, request: LeaseRequest): number {
    const share = Math.floor(this.slots.free(request.mount, request.limits) / (2 * Math.max(1, this.slots.processes)))
    const count = Math.min(request.count, share)
    for (let i = 0; i < count; i++) this.slots.reserve(process, request.mount, request.limits)
    if (count > 0) this.#holders.add(process)
    return count
  }
}
