// Which external tools are installed. A test that needs a missing one fails loudly, naming the packages.
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

/** Tools the Icecast integration tests need (see .ci/run for the Debian packages). */
export const INTEGRATION_TOOLS = ['icecast2', 'ezstream', 'mpg123', 'ogginfo', 'oggenc', 'lame', 'sox', 'opusenc'] as const

const cache = new Map<string, string | null>()

/** Absolute path of an executable on PATH (or /usr/bin, /usr/sbin), or null. */
export function whichTool (name: string): string | null {
  const hit = cache.get(name)
  if (hit !== undefined) return hit
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin']
  let found: string | null = null
  for (const d of dirs) {
    if (!d) continue
    try {
      accessSync(join(d, name), constants.X_OK)
      found = join(d, name)
      break
    } catch {}
  }
  cache.set(name, found)
  return found
}

export const hasTool = (name: string): boolean => whichTool(name) !== null

/**
 * Throws when a tool the integration tests need is missing. These tests never skip: a machine without
 * the real servers and clients cannot prove anything, so the failure says what to install.
 */
export function assertTools (...names: string[]): void {
  const missing = names.filter((n) => !hasTool(n))
  if (missing.length === 0) return
  throw new Error(`missing tool(s): ${missing.join(', ')} (apt-get install icecast2 ezstream mpg123 vorbis-tools lame sox opus-tools openssl curl chromium iproute2 vlc-bin vlc-plugin-base ffmpeg nginx)`)
}
