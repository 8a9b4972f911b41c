// The machine's count of listeners, kept by one process (the primary of `--workers N`): a worker reserves a
// listener's place before it lets it in and gives it back when it leaves, so that the limits hold machine-wide.
import type { MachineReservation, MachineSlotLimits } from '../options.js'

/** The listeners each process holds, by mount. */
export class SlotCounts {
  readonly #byProcess = new Map<number, Map<string, number>>()
  #total = 0

  get total (): number {
    return this.#total
  }

  #ofMount (mount: string): number {
    let count = 0
    for (const mounts of this.#byProcess.values()) count += mounts.get(mount) ?? 0
    return count
  }

  /** The processes that hold places. */
  get processes (): number {
    return this.#byProcess.size
  }

  /** How many more places of `mount` the limits leave. */
  free (mount: string, limits: MachineSlotLimits): number {
    const clients = Math.max(0, limits.clients - this.#total)
    return limits.maxListeners === null ? clients : Math.min(clients, Math.max(0, limits.maxListeners - this.#ofMount(mount)))
  }

  /** Reserves a place for a listener of `mount` held by `process`, if the limits leave one. */
  reserve (process: number, mount: string, limits: MachineSlotLimits): MachineReservation {
    if (this.#total >= limits.clients) return 'clients'
    if (limits.maxListeners !== null && this.#ofMount(mount) >= limits.maxListeners) return 'mount'
    const mounts = this.#byProcess.get(process) ?? new Map<string, number>()
    mounts.set(mount, (mounts.get(mount) ?? 0) + 1)
    this.#byProcess.set(process, mounts)
    this.#total++
    return 'ok'
  }

  /** Gives back a place of `process` on `mount`; one it does not hold is ignored (a process's word is not trusted). */
  release (process: number, mount: string): void {
    const mounts = this.#byProcess.get(process)
    const count = mounts?.get(mount) ?? 0
    if (count === 0) return
    if (count > 1) mounts!.set(mount, count - 1)
    else if (mounts!.size > 1) mounts!.delete(mount)
    else this.#byProcess.delete(process)
    this.#total--
  }

  /** Gives back every place of a process that ended: its listeners went with it. */
  forget (process: number): void {
    for (const count of this.#byProcess.get(process)?.values() ?? []) this.#total -= count
    this.#byProcess.delete(process)
  }
}
