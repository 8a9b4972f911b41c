import type { Registration, SlaveLoad } from './registration.js'

/** kh keeps a slave this long after the poll it announced was due (its `next_update + 10`). */
export const EXPIRY_GRACE_MS = 10_000

/** One registered slave, as the master keeps it. */
export interface Slave {
  /** `host:port` as it registered: one entry per pair, as kh's `find_slave_host` */
  key: string
  host: string
  port: number
  scheme?: 'http' | 'https'
  /** the address its polls come from (shown in the stats) */
  address: string
  load?: SlaveLoad
  registeredAt: number
  lastPollAt: number
  /** when its next poll is due; it is dropped `EXPIRY_GRACE_MS` after */
  nextPollAt: number
  /** listeners sent to it since its last report, counted into its load until it reports again */
  sent: number
}

export type RegisterResult = 'added' | 'updated' | 'full'

/**
 * The master's registered slaves (kh's redirectors): added by a registration while there are fewer than
 * `maxSlaves`, refreshed by each later one, dropped once their polls stop. Pure: the time is given.
 */
export class SlaveTable {
  readonly maxSlaves: number
  readonly #slaves = new Map<string, Slave>()

  constructor (maxSlaves: number) {
    this.maxSlaves = maxSlaves
  }

  register (registration: Registration, address: string, now: number): RegisterResult {
    this.expire(now)
    const key = `${registration.host}:${registration.port}`
    const known = this.#slaves.get(key)
    if (known === undefined && this.#slaves.size >= this.maxSlaves) return 'full'
    this.#slaves.set(key, {
      key,
      host: registration.host,
      port: registration.port,
      ...(registration.scheme !== undefined && { scheme: registration.scheme }),
      address,
      ...(registration.load !== undefined && { load: registration.load }),
      registeredAt: known?.registeredAt ?? now,
      lastPollAt: now,
      nextPollAt: now + registration.interval * 1000,
      sent: 0
    })
    return known === undefined ? 'added' : 'updated'
  }

  /** Drops the slaves whose polls stopped; returns them. */
  expire (now: number): Slave[] {
    const gone = [...this.#slaves.values()].filter((slave) => isExpired(slave, now))
    for (const slave of gone) this.#slaves.delete(slave.key)
    return gone
  }

  /** The live slaves, oldest registration first. */
  live (now: number): Slave[] {
    this.expire(now)
    return [...this.#slaves.values()]
  }

  /**
   * Whether a request from this address is a live slave's own (its relay connection is no listener): the
   * host it advertises, when that is an address. Not the address its polls come from, which a proxy or NAT
   * may share with listeners.
   */
  isSlaveAddress (address: string, now: number): boolean {
    return this.live(now).some((slave) => slave.host.replace(/^\[(.*)\]$/, '$1') === address)
  }

  /** A listener was sent to this slave: its load counts it until its next report. */
  sentTo (key: string): void {
    const slave = this.#slaves.get(key)
    if (slave !== undefined) slave.sent++
  }

  clear (): void {
    this.#slaves.clear()
  }
}

export function isExpired (slave: Pick<Slave, 'nextPollAt'>, now: number): boolean {
  return slave.nextPollAt + EXPIRY_GRACE_MS < now
}
