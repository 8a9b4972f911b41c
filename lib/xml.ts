// XML as the admin answers and the XSPF playlists write it: one builder, one rule for text.
import { XMLBuilder } from 'fast-xml-parser'

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', processEntities: true })
const indented = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', processEntities: true, format: true })

/** Characters XML 1.0 cannot carry at all, even escaped; a title from an upstream may hold them. */
const NOT_XML = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g // eslint-disable-line no-control-regex

/** A value as XML text: escaped by the builder, without the characters XML cannot hold. */
export function xmlText (value: string | number): string {
  return String(value).replace(NOT_XML, '')
}

/** A whole document with one root element; `@name` keys are attributes. */
export function xmlDocument (root: string, content: unknown, { declaration = '<?xml version="1.0"?>', indent = false } = {}): string {
  // the indenting builder ends with a line break of its own
  return `${declaration}\n${((indent ? indented : builder).build({ [root]: content }) as string).trimEnd()}\n`
}
