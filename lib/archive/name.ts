// The names of dump files: a pattern with strftime's date and time conversions, in local time as Icecast's
// strftime() expands `<dump-file>`, and a sequence number for a name already taken.

const two = (n: number): string => String(n).padStart(2, '0')

function dayOfYear (date: Date): number {
  const start = new Date(date.getFullYear(), 0, 1)
  return Math.round((new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime() - start.getTime()) / 86_400_000) + 1
}

/**
 * The conversions a name may hold: dates and times only. Those of names (`%a`, `%b`) depend on the locale,
 * and some (`%D`, `%c`) make a `/` that would name another directory.
 */
const CONVERSIONS: Record<string, (date: Date) => string> = {
  Y: (date) => String(date.getFullYear()).padStart(4, '0'),
  y: (date) => two(date.getFullYear() % 100),
  m: (date) => two(date.getMonth() + 1),
  d: (date) => two(date.getDate()),
  H: (date) => two(date.getHours()),
  M: (date) => two(date.getMinutes()),
  S: (date) => two(date.getSeconds()),
  j: (date) => String(dayOfYear(date)).padStart(3, '0'),
  s: (date) => String(Math.floor(date.getTime() / 1000)),
  F: (date) => `${CONVERSIONS['Y']!(date)}-${two(date.getMonth() + 1)}-${two(date.getDate())}`,
  T: (date) => `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`,
  '%': () => '%'
}

/** The conversions, as a user reads them in an error. */
export const NAME_CONVERSIONS = Object.keys(CONVERSIONS).map((c) => `%${c}`).join(' ')

/** The first conversion of `pattern` that is none of NAME_CONVERSIONS (`%q`, or a `%` at its end), or undefined. */
export function unknownConversion (pattern: string): string | undefined {
  for (let at = pattern.indexOf('%'); at !== -1; at = pattern.indexOf('%', at + 2)) {
    const conversion = pattern[at + 1]
    if (conversion === undefined || !(conversion in CONVERSIONS)) return pattern.slice(at, at + 2)
  }
  return undefined
}

/** `pattern` with its conversions made for `date`; `pattern` holds none but NAME_CONVERSIONS. */
export function expandName (pattern: string, date: Date): string {
  return pattern.replace(/%(.)/g, (_, conversion: string) => CONVERSIONS[conversion]!(date))
}

/** The name's `sequence`th alternative, when it is taken: `-1`, `-2`... before the extension of its last segment. */
export function withSequence (name: string, sequence: number): string {
  if (sequence === 0) return name
  const slash = name.lastIndexOf('/')
  const dot = name.lastIndexOf('.')
  const at = dot > slash + 1 ? dot : name.length
  return `${name.slice(0, at)}-${sequence}${name.slice(at)}`
}
