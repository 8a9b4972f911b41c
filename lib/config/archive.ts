// `<intro>` and `<dump-file>` of a relay's `<mount>`, as Icecast 2.4.4 and 2.5 read them.
import path from 'node:path'
import { Reader, text } from './reader.js'
import { attributeOf, type XmlChild } from './xml.js'

/**
 * `<intro>`: Icecast opens `webroot/intro` whatever the name (a leading `/` included); without an absolute
 * `<webroot>` the file is not guessed. Undefined when the element is ignored (with a warning).
 */
export function introPath (reader: Reader, child: XmlChild, webroot: string | undefined): string | undefined {
  const name = text(child)
  if (webroot === undefined) {
    reader.ignore(child, 'Icecast reads the intro from its <paths><webroot>, and there is no absolute one')
    return undefined
  }
  if (name.split('/').some((segment) => segment === '..')) {
    reader.ignore(child, 'a ".." segment would name a file outside the webroot')
    return undefined
  }
  return path.join(webroot, name)
}

/**
 * `<dump-file>`: a file name that Icecast expands with strftime() as it opens it, unless its 2.5 attribute
 * `interpolation` is `none` (then its `%` are kept as they are). Undefined when the element is ignored.
 */
export function dumpFilePattern (reader: Reader, child: XmlChild): string | undefined {
  const name = text(child)
  const interpolation = attributeOf(child, 'interpolation') ?? 'strftime'
  if (interpolation !== 'strftime' && interpolation !== 'none') {
    reader.ignore(child, `interpolation="${interpolation}" is not done by the relay (strftime and none are)`)
    return undefined
  }
  if (!path.isAbsolute(name)) {
    reader.ignore(child, 'not an absolute path: the relay does not guess Icecast\'s working directory')
    return undefined
  }
  return interpolation === 'none' ? name.replaceAll('%', '%%') : name
}

/** Icecast 2.5's limits of a dump: it stops the dump there, the relay rotates instead, as its options say. */
export const DUMP_LIMIT_IGNORED = 'Icecast 2.5 stops its dump at this limit; the relay writes on and rotates files only as its dumpFile option says'
