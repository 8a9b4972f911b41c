import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { hasBasicCredentials, type BasicCredentials } from '../auth.js'
import type { MachineLink, NodeCandidate, ResolvedRedirect } from '../options.js'
import type { SlaveStatus } from '../relay/decorator.js'
import { parseRegistration, type SlaveLoad } from './registration.js'
import { hasRoom, leastLoaded, slaveCandidate } from './select.js'
import { recordsOf, slaveQuery, slavesQuery, type SharedSlaves } from './shared-slaves.js'
import { EXPIRY_GRACE_MS, SlaveTable, type RegisterResult, type SlaveRecord } from './slaves.js'

/** What the network reads of this server: its listeners and capacity, never the byte path. */
export interface LocalNode {
  readonly totalListeners: number
  readonly capacity: number
}

export interface SlaveNetworkOptions {
  redirect: ResolvedRedirect
  relayAuth: BasicCredentials
  local: LocalNode
  log: FastifyBaseLogger
  /** the other processes of this master's machine: each registration goes to every one */
  machine?: MachineLink
  now?: () => number
  random?: () => number
}

/** What the listener route knows of a listener asking for a mount. */
export interface RedirectAsk {
  /** the path asked for, prefix included */
  path: string
  /** whether this server would refuse the listener (full: `limits.clients` or the mount's `maxListeners`) */
  refusing: boolean
}

/**
 * The master side of a network of relays: the slaves that registered on their stream list polls (kh's
 * redirectors), and where a new listener goes. Never on the byte path: asked once per listener.
 */
export class SlaveNetwork implements SharedSlaves {
  readonly #table: SlaveTable
  /** slaves whose registration is on its way to the machine: true when a newer poll came meanwhile */
  readonly #sharing = new Map<string, boolean>()
  readonly #options: SlaveNetworkOptions
  readonly #now: () => number
  readonly #random: () => number

  constructor (options: SlaveNetworkOptions) {
    this.#options = options
    this.#table = new SlaveTable(options.redirect.maxSlaves)
    this.#now = options.now ?? Date.now
    this.#random = options.random ?? Math.random
  }

  /** A stream list request with the relay credentials: registers its slave when it carries a registration. */
  register (request: FastifyRequest): RegisterResult | undefined {
    const query = new URL(request.url, 'http://x').searchParams
    if (!query.has('rserver')) return undefined
    const registration = parseRegistration(query)
    const log = this.#options.log
    if (registration === undefined) {
      log.warn({ ip: request.ip }, 'slave registration refused: rserver, rport (1-65535) and interval (5-86400 s) are needed')
      return undefined
    }
    const result = this.#table.register(registration, request.ip, this.#now())
    if (result === 'added') log.info({ slave: `${registration.host}:${registration.port}`, ip: request.ip }, 'slave registered for redirects')
    if (result === 'full') log.warn({ slave: `${registration.host}:${registration.port}`, maxSlaves: this.#table.maxSlaves }, 'slave not registered: redirect.maxSlaves reached')
    else this.#share(`${registration.host}:${registration.port}`)
    return result
  }

  /**
   * Sends a slave's registration to every process of the machine. A flood of polls sends no flood: while one
   * is on its way, later polls only mark it to go again, with the newest poll, once that one is answered.
   */
  #share (key: string): void {
    const machine = this.#options.machine
    if (machine === undefined) return
    if (this.#sharing.has(key)) {
      this.#sharing.set(key, true)
      return
    }
    this.#sharing.set(key, false)
    const send = async (): Promise<void> => {
      const record = this.#table.record(key, this.#now())
      this.#sharing.set(key, false)
      if (record !== undefined) await machine.ask(slaveQuery(record))
      if (this.#sharing.get(key) === true) return await send()
    }
    send().then(() => { this.#sharing.delete(key) }, (error: unknown) => {
      this.#sharing.delete(key)
      this.#options.log.warn({ err: error, slave: key }, 'a slave registration did not reach the machine\'s other processes')
    })
  }

  /** A registration another process of the machine took. */
  merge (record: SlaveRecord): void {
    this.#table.merge(record, this.#now())
  }

  records (): SlaveRecord[] {
    return this.#table.records(this.#now())
  }

  /** A process that joins the machine (a worker replacing one that died) takes the registrations the others keep. */
  async catchUp (): Promise<void> {
    const machine = this.#options.machine
    if (machine === undefined) return
    for (const record of recordsOf(await machine.ask(slavesQuery))) this.merge(record)
  }

  /** A slave's own relay connection: the relay credentials, or the address of a registered slave. Never redirected, never a listener. */
  isSlaveRequest (request: FastifyRequest): boolean {
    return hasBasicCredentials(request.headers.authorization, this.#options.relayAuth) || this.#table.isSlaveAddress(request.ip, this.#now())
  }

  /** The registered slaves, for the stats. */
  slaves (): SlaveStatus[] {
    return this.#table.live(this.#now()).map((slave) => ({
      key: slave.key,
      host: slave.host,
      port: slave.port,
      scheme: slave.scheme ?? null,
      address: slave.address,
      registeredAt: new Date(slave.registeredAt).toISOString(),
      lastPollAt: new Date(slave.lastPollAt).toISOString(),
      expiresAt: new Date(slave.nextPollAt + EXPIRY_GRACE_MS).toISOString(),
      listeners: slave.load?.listeners ?? null,
      capacity: slave.load?.capacity ?? null,
      mounts: Object.fromEntries(slave.load?.mounts ?? []),
      sent: slave.sent
    }))
  }

  /** The live slaves' reported load, for the totals. */
  loads (): SlaveLoad[] {
    return this.#table.live(this.#now()).flatMap((slave) => slave.load === undefined ? [] : [slave.load])
  }

  /**
   * Where a new listener goes: a slave's URL (answered with a 302), or undefined to serve it here (or refuse
   * it, when full and no slave can take it). `when-full` sends only a listener this server would refuse;
   * `always` the least-loaded node, this server included while it has room. `selectNode` may choose instead.
   */
  async locationFor (request: FastifyRequest, ask: RedirectAsk): Promise<string | undefined> {
    const { policy } = this.#options.redirect
    if ((policy === 'when-full' && !ask.refusing) || this.isSlaveRequest(request)) return undefined
    const candidates = this.#candidates(request, ask)
    if (candidates.length === 0) return undefined
    const chosen = await this.#chosen(request, candidates) ?? leastLoaded(candidates, this.#random)
    if (chosen?.kind !== 'slave') return undefined
    this.#table.sentTo(chosen.key)
    return chosen.location
  }

  #candidates (request: FastifyRequest, ask: RedirectAsk): NodeCandidate[] {
    const ctx = {
      path: ask.path,
      pathAndQuery: request.url,
      scheme: request.protocol,
      defaultCapacity: this.#options.local.capacity
    }
    const slaves = this.#table.live(this.#now()).flatMap((slave) => slaveCandidate(slave, ctx) ?? [])
    const self: NodeCandidate = { key: 'self', kind: 'self', listeners: this.#options.local.totalListeners, capacity: this.#options.local.capacity }
    return ask.refusing || !hasRoom(self) ? slaves : [self, ...slaves]
  }

  /** The app's choice, when it has a `selectNode` and it names one of the candidates. */
  async #chosen (request: FastifyRequest, candidates: NodeCandidate[]): Promise<NodeCandidate | undefined> {
    const { selectNode } = this.#options.redirect
    if (selectNode === undefined) return undefined
    try {
      const chosen = await selectNode(request, candidates.map((candidate) => ({ ...candidate })))
      const known = chosen === undefined ? undefined : candidates.find((candidate) => candidate.key === chosen.key)
      if (chosen !== undefined && known === undefined) this.#options.log.warn({ chosen: chosen.key }, 'selectNode chose no candidate: the policy chooses')
      return known
    } catch (error) {
      this.#options.log.error({ err: error }, 'selectNode threw: the policy chooses')
      return undefined
    }
  }

  close (): void {
    this.#table.clear()
  }
}
