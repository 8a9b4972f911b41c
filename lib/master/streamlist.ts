import { isLocalMount } from '../options.js'
import { percentDecoded } from '../http.js'

/** One mount a master lists. */
export interface StreamlistEntry {
  /** the name this app serves it under: the master's own */
  localMount: string
  /** where its stream is: on the master for a mount line, anywhere for an absolute URL line; no credentials */
  upstream: URL
}

export interface Streamlist {
  /** in the master's order, each local mount once */
  entries: StreamlistEntry[]
  /** lines that are neither blank nor a new mount: garbage, unusable names, repeats */
  ignored: number
  /** non-blank lines after the `maxEntries`-th mount, counted but not read */
  unread: number
}

/** Longer lines are no mount of any real server (Icecast reads 256 bytes a line). */
const MAX_LINE = 2048
const ABSOLUTE = /^https?:\/\//i
/** Characters URL parsing drops or rewrites (controls, spaces, backslashes): a line holding one is garbage. */
const REWRITTEN = /[\x00-\x20\x7f\\]/ // eslint-disable-line no-control-regex

/**
 * The upstream a line names: a mount (`/live.mp3`) on the master itself, or an absolute
 * `http(s)://host:port/mount` URL. Undefined for anything else.
 */
function lineUrl (line: string, master: URL): URL | undefined {
  if (line.length > MAX_LINE || REWRITTEN.test(line) || line.includes('\uFFFD')) return undefined
  // The master's origin first, then the line: a line such as `//evil.example/x` stays a path.
  const text = line.startsWith('/') ? master.origin + line : ABSOLUTE.test(line) ? line : undefined
  if (text === undefined) return undefined
  try {
    return new URL(text)
  } catch {
    return undefined
  }
}

/** The path of a line as written: after an absolute URL's authority, before any query or fragment. */
function writtenPath (line: string): string {
  const start = line.startsWith('/') ? 0 : line.indexOf('/', line.indexOf('//') + 2)
  if (start === -1) return '/'
  const path = line.slice(start)
  const end = path.search(/[?#]/)
  return end === -1 ? path : path.slice(0, end)
}

function entryOf (line: string, master: URL): StreamlistEntry | undefined {
  const url = lineUrl(line, master)
  if (url === undefined) return undefined
  // Listeners' request paths are percent-decoded the same way. URL parsing also resolves `.` and `..`
  // segments (`%2e` too): a line must name the mount it says, or it names none.
  const localMount = percentDecoded(url.pathname)
  if (localMount === undefined || !isLocalMount(localMount) || percentDecoded(writtenPath(line)) !== localMount) {
    return undefined
  }
  // Icecast's slave ignores credentials written in a listed URL, and so do we: they are the master's to give.
  url.username = ''
  url.password = ''
  url.hash = ''
  return { localMount, upstream: url }
}

/**
 * Parses the answer to `GET /admin/streamlist.txt`: one mount or absolute URL a line, `\r\n` or `\n`,
 * blank lines skipped. `master` is the master's base URL, which mount lines are relative to. Lines after
 * the `maxEntries`-th mount are only counted: a list a thousand times too long costs no more to read.
 */
export function parseStreamlist (text: string, master: URL, maxEntries = Number.POSITIVE_INFINITY): Streamlist {
  const entries: StreamlistEntry[] = []
  const seen = new Set<string>()
  let ignored = 0
  let unread = 0
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trim()
    if (line === '') continue
    if (entries.length >= maxEntries) {
      unread++
      continue
    }
    const entry = entryOf(line, master)
    if (entry === undefined || seen.has(entry.localMount)) {
      ignored++
      continue
    }
    seen.add(entry.localMount)
    entries.push(entry)
  }
  return { entries, ignored, unread }
}

/** The path of a mount as a list line: percent-encoded so that any name (`%`, non-ASCII) reads back the same. */
export function listedPath (path: string): string | undefined {
  try {
    return encodeURI(path)
  } catch {
    return undefined // a lone surrogate: no client could ask for it either
  }
}

/** Icecast's stream list: one path a line, each ending `\r\n`. */
export function formatStreamlist (paths: readonly string[]): string {
  let text = ''
  for (const path of paths) {
    const listed = listedPath(path)
    if (listed !== undefined) text += listed + '\r\n'
  }
  return text
}
