// V8's options for a relay of thousands of listeners, set by the CLI itself: `icecast-relay --config` as a user
// runs it needs no node flag to remember (docs/performance.md, "Memory").
import v8 from 'node:v8'

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
