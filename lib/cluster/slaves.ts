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
 * A slave as the processes of one machine share it (JSON: its load's mounts as pairs); `sent` is each
 * process's own count.
 */
export interface SlaveRecord {
  host: string
  port: number
  scheme?: 'http' | 'https'
  address: string
  load?: { listeners: number, capacity: number, mounts: Array<[string, number]> }
  registeredAt: number
  lastPollAt: number
  nextPollAt: number
}

const keyOf = (slave: Pick<Slave, 'host' | 'port'>): string => `${slave.host}:${slave.port}`

/**
 * Whether `a` keeps its place before `b` when the table is full: the older registration, then the key. Every
 * process of a machine applies the same order, so their tables end up holding the same slaves whatever order
 * the registrations reach them in.
 */
function precedes (a: Slave, b: Slave): boolean {
  return a.registeredAt !== b.registeredAt ? a.registeredAt < b.registeredAt : a.key < b.key
}

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
    const slave: Slave = {
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
    }
    return known === undefined ? this.#admit(slave) : this.#refresh(known, slave)
  }

  /**
   * A registration another process of the machine took: kept as if it came here, its earliest registration
   * time kept. A poll older than the one known only lends its registration time.
   */
  merge (record: SlaveRecord, now: number): RegisterResult | undefined {
    this.expire(now)
    if (isExpired(record, now)) return undefined
    const slave = fromRecord(record)
    const known = this.#slaves.get(slave.key)
    if (known === undefined) return this.#admit(slave)
    if (record.lastPollAt === known.lastPollAt) slave.sent = known.sent
    if (record.lastPollAt < known.lastPollAt) {
      known.registeredAt = Math.min(known.registeredAt, record.registeredAt)
      return 'updated'
    }
    return this.#refresh(known, slave)
  }

  /** The live slave registered as `key`, as the machine's processes share it. */
  record (key: string, now: number): SlaveRecord | undefined {
    const slave = this.#slaves.get(key)
    return slave === undefined || isExpired(slave, now) ? undefined : toRecord(slave)
  }

  /** Every live slave, as the machine's processes share them: for a process that joins. */
  records (now: number): SlaveRecord[] {
    return this.live(now).map(toRecord)
  }

  /** A new slave: in while the table has room, or in place of the newest one when it precedes that. */
  #admit (slave: Slave): RegisterResult {
    if (this.#slaves.size >= this.maxSlaves) {
      const newest = [...this.#slaves.values()].reduce((last, each) => precedes(last, each) ? each : last)
      if (!precedes(slave, newest)) return 'full'
      this.#slaves.delete(newest.key)
    }
    this.#slaves.set(slave.key, slave)
    return 'added'
  }

  #refresh (known: Slave, slave: Slave): RegisterResult {
    this.#slaves.set(slave.key, { ...slave, registeredAt: Math.min(known.registeredAt, slave.registeredAt) })
    return 'updated'
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

function fromRecord (record: SlaveRecord): Slave {
  const { load, ...rest } = record
  return {
    ...rest,
    key: keyOf(record),
    ...(load !== undefined && { load: { listeners: load.listeners, capacity: load.capacity, mounts: new Map(load.mounts) } }),
    sent: 0
  }
}

function toRecord (slave: Slave): SlaveRecord {
  const { key, sent, load, ...rest } = slave
  return { ...rest, ...(load !== undefined && { load: { listeners: load.listeners, capacity: load.capacity, mounts: [...load.mounts] } }) }
}

export function isExpired (slave: Pick<Slave, 'nextPollAt'>, now: number): boolean {
  return slave.nextPollAt + EXPIRY_GRACE_MS < now
}
