// V8's options for a relay of thousands of listeners, set by the CLI itself: `icecast-relay --config` as a user
// runs it needs no node flag to remember (docs/performance.md, "Memory").
import v8 from 'node:v8'
import { Crowd, CROWD_WINDOW_MS } from '../relay/crowd.js'

/**
 * `--optimize-for-size`: V8 keeps its young generation at a few MB and runs its memory reducer whatever the
 * allocation rate. With Node's defaults a flash crowd grows the young generation to 17–34 MB, and it stays
 * grown while the stream's writes allocate (9 KiB of RSS per listener at 5000 against 3.3–4.0).
 */
export const SERVING_V8_OPTIONS: readonly string[] = ['--optimize-for-size']

/** The V8 options the CLI sets: none when the user gave Node options of their own (theirs win). */
export function v8OptionsToSet (execArgv: readonly string[], env: NodeJS.ProcessEnv): readonly string[] {
  const given = execArgv.length > 0 || (env['NODE_OPTIONS'] ?? '').trim() !== ''
  return given ? [] : SERVING_V8_OPTIONS
}

/**
 * Sets them in this process before it serves, and returns them. Node takes `--optimize-for-size` on its command
 * line only (NODE_OPTIONS refuses it), and a second process started with it would stand between the user and
 * the server (signals, exit status); V8 reads this option at each collection and heap resize, so set at start
 * it keeps a crowd's young generation as small as on the command line (docs/performance.md, the CLI section).
 */
export function setServingV8Options (): readonly string[] {
  const options = v8OptionsToSet(process.execArgv, process.env)
  if (options.length > 0) v8.setFlagsFromString(options.join(' '))
  return options
}

/**
 * While a crowd connects (CROWD_JOINS requests within a second), V8's young generation may grow as with Node's
 * defaults, and goes back to `--optimize-for-size` once a crowd's window passes without one. Kept small through a
 * crowd of 10,000, the young generation was collected about 120 times a second, 0.6 s of the crowd's CPU; let
 * grow, 0.35 s, and the steady state after it kept its 1–1.4 KiB per listener (docs/performance.md, "Admission
 * of 10,000 within 3 s"). V8 reads the option at each collection and resize; its ceiling is Node's default,
 * since the CLI sets the option after V8 started, and it gives the young generation back over its next
 * collections once the option is set again.
 */
export class CrowdYoungGeneration {
  readonly #crowd = new Crowd()
  readonly #setFlags: (flags: string) => void
  readonly #log: (message: string) => void
  #timer: NodeJS.Timeout | undefined

  constructor (log: (message: string) => void, setFlags = (flags: string): void => { v8.setFlagsFromString(flags) }) {
    this.#log = log
    this.#setFlags = setFlags
  }

  /** A request came: a crowd's first lets the young generation grow, and a timer watches for its end. */
  requested (now = performance.now()): void {
    this.#crowd.joined(now)
    if (this.#timer !== undefined || !this.#crowd.active(now)) return
    this.#setFlags('--no-optimize-for-size')
    this.#log('a crowd connects: V8\'s young generation may grow until it has joined')
    this.#timer = setInterval(() => { this.settle() }, CROWD_WINDOW_MS).unref()
  }

  /** Once no crowd connects any more: the young generation is kept small again. */
  settle (now = performance.now()): void {
    if (this.#timer === undefined || this.#crowd.active(now)) return
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#setFlags('--optimize-for-size')
    this.#log('the crowd has joined: V8\'s young generation is kept small again (--optimize-for-size)')
  }

  /** No timer left behind on close; the option stays as it is, as the process ends. */
  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
