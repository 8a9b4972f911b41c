// The per-mount settings of a `<mount>` (Icecast 2.4's `_parse_mount`), as the `mounts` and `mountDefaults`
// options take them. Icecast writes "not set" as -1 (or 0 for a duration): such a value sets nothing, so that
// a `<mount type="default">` still applies, as Icecast merges it.
import { MAX_INT, Reader, text } from './reader.js'
import { flagOf, integerOf, textOf, type XmlChild } from './xml.js'

/** An integer where Icecast takes any (atoi); a negative one is Icecast's "not set". */
function unlessNegative (child: XmlChild): number | undefined {
  const value = integerOf(child, -MAX_INT, MAX_INT)
  return value < 0 ? undefined : value
}

/** `<public>`: -1 leaves it to the upstream, 0 is off, any other number (or a 2.5/kh word) is on. */
function publicOf (child: XmlChild): boolean | undefined {
  return /^-\d+$/.test(textOf(child)) ? undefined : flagOf(child)
}

/** The setting each element gives, and how its text is read (undefined: the element's "not set"). */
const SETTINGS: Record<string, [key: string, read: (child: XmlChild) => unknown]> = {
  'max-listeners': ['maxListeners', unlessNegative],
  'max-listener-duration': ['maxListenerDuration', (child) => unlessNegative(child) || undefined],
  hidden: ['hidden', flagOf],
  public: ['public', publicOf],
  // 2.4's older word for <public>0: 1 keeps the mount out of the directories; 0 leaves it to the upstream
  'no-yp': ['public', (child) => (flagOf(child) ? false : undefined)],
  'stream-name': ['streamName', text],
  'stream-description': ['streamDescription', text],
  'stream-url': ['streamUrl', text],
  genre: ['genre', text],
  'burst-size': ['burstSize', unlessNegative],
  'mp3-metadata-interval': ['metaint', unlessNegative],
  charset: ['charset', text]
}

/** Elements of a `<mount>` that are read without being applied, and why. */
const NOT_APPLIED: Record<string, string> = {
  username: 'source credentials: a relay takes no source clients',
  password: 'source credentials: a relay takes no source clients',
  'cluster-password': 'source credentials: a relay takes no source clients',
  'fallback-when-full': 'a listener over max-listeners gets 403; it is not sent to the fallback',
  'no-mount': 'every relay\'s mount is served to listeners',
  'queue-size': 'one queue size serves every listener: <limits> <queue-size>',
  'source-timeout': 'one source timeout serves every relay: <limits> <source-timeout>',
  'on-connect': 'no scripts are run: the plugin\'s state events tell when a relay connects',
  'on-disconnect': 'no scripts are run: the plugin\'s state events tell when a relay disconnects',
  bitrate: 'the bitrate shown is the upstream\'s',
  type: 'the content type is the upstream\'s',
  subtype: 'the content type is the upstream\'s',
  'http-headers': 'no extra headers are sent to listeners'
}

/**
 * Reads one element of a `<mount>` into `settings` (the options' entry of the mount, named `at` in errors:
 * `mounts["/live"]`, `mountDefaults`); an element that is no setting is ignored with a warning that says why.
 */
export function readMountSetting (reader: Reader, child: XmlChild, settings: Record<string, unknown>, at: string): void {
  const setting = SETTINGS[child.name]
  if (setting === undefined) {
    const why = NOT_APPLIED[child.name]
    if (why === undefined) reader.skip(child)
    else reader.ignore(child, why)
    return
  }
  const [key, read] = setting
  const value = read(child)
  if (value !== undefined) reader.set(settings, key, `${at}.${key}`, child, value)
}
