import { BurstRing } from './burst.js'
import type { EndReason, Listener } from './listener.js'

export interface MountInit {
  burstSize: number
  onLeave: (listener: Listener, reason: EndReason) => void
}

/** A mountpoint's fan-out: the same chunk objects go to every listener, after a burst for new ones. */
export class Mount {
  readonly listeners = new Set<Listener>()
  readonly burst: BurstRing
  bytesIn = 0
  peakListeners = 0
  slowDrops = 0
  #bytesOutOfEnded = 0
  readonly #onLeave: MountInit['onLeave']

  constructor (init: MountInit) {
    this.burst = new BurstRing(init.burstSize)
    this.#onLeave = init.onLeave
  }

  get bytesOut (): number {
    let total = this.#bytesOutOfEnded
    for (const listener of this.listeners) total += listener.bytesSent
    return total
  }

  push (chunk: Buffer): void {
    if (chunk.length === 0) return
    this.bytesIn += chunk.length
    this.burst.push(chunk)
    for (const listener of this.listeners) listener.send(chunk)
  }

  attach (listener: Listener): void {
    this.listeners.add(listener)
    this.peakListeners = Math.max(this.peakListeners, this.listeners.size)
    for (const chunk of this.burst.recent()) {
      if (listener.ended) return
      listener.send(chunk)
    }
  }

  /** Called through the listener's `onEnd`, exactly once per listener. */
  detach (listener: Listener, reason: EndReason): void {
    if (!this.listeners.delete(listener)) return
    this.#bytesOutOfEnded += listener.bytesSent
    if (reason === 'slow') this.slowDrops++
    this.#onLeave(listener, reason)
  }

  /**
   * Lets a listener go without ending it, to join another mount (Icecast's moveclients). What it was
   * sent here stays counted here; it starts from zero on the next mount.
   */
  release (listener: Listener): boolean {
    if (!this.listeners.delete(listener)) return false
    this.#bytesOutOfEnded += listener.bytesSent
    listener.bytesSent = 0
    return true
  }

  endAll (reason: EndReason): void {
    for (const listener of this.listeners) listener.end(reason)
  }

  /** Forgets the recent bytes: after a new upstream connection they belong to another stream. */
  resetBurst (): void {
    this.burst.clear()
  }
}
