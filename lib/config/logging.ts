import { InvalidConfigError } from '../errors.js'
import type { Reader } from './reader.js'
import { childrenOf, textOf, type XmlChild } from './xml.js'

/** The CLI logger's levels that Icecast's `<loglevel>` names. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug'

/**
 * Icecast's error log levels: its numbers (1 to 4, as 2.4 reads them) and the names Icecast 2.5 and
 * icecast-kh also take, any case.
 */
const LEVELS = new Map<string, LogLevel>([
  ['1', 'error'], ['error', 'error'], ['eror', 'error'],
  ['2', 'warn'], ['warn', 'warn'], ['warning', 'warn'],
  ['3', 'info'], ['info', 'info'], ['information', 'info'],
  ['4', 'debug'], ['debug', 'debug'], ['dbug', 'debug']
])

/** Icecast's default (3) when a config has no `<loglevel>`. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info'

/** `<loglevel>` as a logger level; anything else is an error that names the element. */
export function logLevelOf (child: XmlChild): LogLevel {
  const text = textOf(child)
  const level = LEVELS.get(text.toLowerCase())
  if (level === undefined) {
    throw new InvalidConfigError(`${child.path}: "${text}" is not a log level: 1 (error), 2 (warn), 3 (info) or 4 (debug)`)
  }
  return level
}

/** The level of a `<logging>` block, undefined without `<loglevel>`; its log files are listed as ignored. */
export function readLogging (reader: Reader, logging: XmlChild): LogLevel | undefined {
  let level: LogLevel | undefined
  for (const child of childrenOf(logging.node, `${logging.path} `)) {
    if (child.name === 'loglevel') level = logLevelOf(child)
    else reader.skip(child)
  }
  return level
}
