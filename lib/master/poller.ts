import type { FastifyBaseLogger } from 'fastify'
import { ClosingError, NotStreamlistError, toRelayError, type RelayError } from '../errors.js'
import type { ResolvedMaster } from '../options.js'
import type { MasterStatus } from '../relay/decorator.js'
import { fetchStreamlist } from './fetch.js'
import { isListedServerAllowed } from './reconcile.js'
import { parseStreamlist, type Streamlist, type StreamlistEntry } from './streamlist.js'

export interface PollerContext {
  userAgent: string
  /** milliseconds for one whole poll */
  timeout: number
  log: FastifyBaseLogger
  /** after each poll that brought a list */
  onList: (poller: MasterPoller) => void
  /** the query each poll's request carries (a slave's registration), read as the poll starts */
  query?: (poller: MasterPoller) => string
}

/** Early polls (a relay of this master lost its stream) come at most this often, or every interval if shorter. */
export const EARLY_POLL_GAP_MS = 5000

/**
 * Polls one master's stream list at start and every `updateInterval` seconds, one poll at a time, and keeps
 * the last list it answered: a failed poll (unreachable, 401, garbage) changes no list, so no relay stops.
 */
export class MasterPoller {
  readonly master: ResolvedMaster
  readonly log: FastifyBaseLogger
  /** the last list the master answered; undefined until it first answers */
  entries: StreamlistEntry[] | undefined
  readonly #ctx: PollerContext
  #ignored = 0
  /** listed URLs on other servers that the master's `redirects` option refused */
  #refused = 0
  /** mounts past `maxRelays` in the last list */
  #unread = 0
  #polls = 0
  #failures = 0
  #lastPollAt: Date | undefined
  #lastSuccessAt: Date | undefined
  #lastError: RelayError | undefined
  #lastStart = Number.NEGATIVE_INFINITY
  #timer: NodeJS.Timeout | undefined
  #nextPollAt: number | undefined
  #abort: AbortController | undefined
  /** an early poll was asked for while one was running */
  #again = false
  #closed = false

  constructor (master: ResolvedMaster, ctx: PollerContext) {
    this.master = master
    this.#ctx = ctx
    this.log = ctx.log
  }

  start (): void {
    this.#schedule(0)
  }

  /** Polls again as soon as the rate limit allows, instead of waiting for the interval. */
  pollSoon (): void {
    if (this.#closed) return
    if (this.#abort !== undefined) this.#again = true
    else this.#schedule(this.#earlyDelay())
  }

  close (): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#nextPollAt = undefined
    this.#abort?.abort(new ClosingError())
  }

  status (relays: string[], shadowed: string[], refused: MasterStatus['refused']): MasterStatus {
    return {
      url: this.master.url.href,
      origin: this.master.origin,
      updateInterval: this.master.updateInterval,
      onDemand: this.master.onDemand,
      polls: this.#polls,
      failures: this.#failures,
      lastPollAt: this.#lastPollAt?.toISOString() ?? null,
      lastSuccessAt: this.#lastSuccessAt?.toISOString() ?? null,
      lastError: this.#lastError ?? null,
      nextPollAt: this.#nextPollAt === undefined ? null : new Date(this.#nextPollAt).toISOString(),
      mounts: this.entries?.map((entry) => entry.localMount) ?? [],
      listed: (this.entries?.length ?? 0) + this.#unread,
      truncated: this.#unread > 0,
      ignoredLines: this.#ignored + this.#refused,
      relays,
      shadowed,
      refused
    }
  }

  #earlyDelay (): number {
    const gap = Math.min(EARLY_POLL_GAP_MS, this.master.updateInterval * 1000)
    return Math.max(0, this.#lastStart + gap - Date.now())
  }

  /** Sets the next poll `delay` ms from now, unless one is already due sooner. */
  #schedule (delay: number): void {
    if (this.#closed) return
    const at = Date.now() + delay
    if (this.#nextPollAt !== undefined && this.#nextPollAt <= at) return
    clearTimeout(this.#timer)
    this.#nextPollAt = at
    this.#timer = setTimeout(() => this.#poll(), delay).unref()
  }

  #poll (): void {
    this.#nextPollAt = undefined
    this.#again = false
    this.#lastStart = Date.now()
    const abort = new AbortController()
    this.#abort = abort
    fetchStreamlist({ master: this.master, userAgent: this.#ctx.userAgent, timeout: this.#ctx.timeout, signal: abort.signal, query: this.#ctx.query?.(this) ?? '' })
      .then((text) => { if (!this.#closed) this.#answered(parseStreamlist(text, this.master.url, this.master.maxRelays)) })
      .catch((error: unknown) => { if (!this.#closed) this.#failed(error) })
      .finally(() => {
        this.#abort = undefined
        this.#schedule(this.#again ? this.#earlyDelay() : this.master.updateInterval * 1000)
      })
  }

  #answered (list: Streamlist): void {
    // A 200 whose every line is garbage is no list (a wrong server, a login page): an empty one is.
    if (list.entries.length === 0 && list.ignored > 0) {
      throw new NotStreamlistError(this.master.name, `${list.ignored} line(s) that name no mount`)
    }
    if (this.#lastError !== undefined) this.log.info('master answers its stream list again')
    if (list.ignored > 0 && list.ignored !== this.#ignored) {
      this.log.warn({ ignored: list.ignored }, 'stream list lines that name no mount were ignored')
    }
    const entries = list.entries.filter((entry) => isListedServerAllowed(this.master, entry))
    const refused = list.entries.length - entries.length
    if (refused > 0 && refused !== this.#refused) {
      this.log.warn({ refused }, "listed URLs on other servers than the master were not relayed: its redirects option is 'same-server'")
    }
    // One line when a list starts being cut, not one per poll of a master that keeps listing too much.
    if (list.unread > 0 && this.#unread === 0) {
      const listed = list.entries.length + list.unread
      const { maxRelays } = this.master
      this.log.warn({ listed, maxRelays }, `stream list names ${listed} mounts: only the first ${maxRelays} (maxRelays) are relayed`)
    }
    this.#polls++
    this.#lastPollAt = new Date()
    this.#lastSuccessAt = this.#lastPollAt
    this.#lastError = undefined
    this.entries = entries
    this.#ignored = list.ignored
    this.#refused = refused
    this.#unread = list.unread
    this.#ctx.onList(this)
  }

  #failed (error: unknown): void {
    const previous = this.#lastError
    this.#polls++
    this.#failures++
    this.#lastPollAt = new Date()
    this.#lastError = toRelayError(error)
    // One error line when a master starts failing or fails differently; a master down for hours logs no more.
    const level = previous?.message === this.#lastError.message ? 'debug' : 'error'
    this.log[level]({ code: this.#lastError.code }, `stream list poll failed, every relay kept: ${this.#lastError.message}`)
  }
}
