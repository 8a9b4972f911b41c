import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { InvalidConfigError } from '../errors.js'

/** An element: its text, or its child elements by name (each name may repeat) and its attributes under `@`. */
export type XmlNode = string | { [name: string]: XmlNode[] }

/** A child element and how messages name it: `<relay> #2 <port>`. */
export interface XmlChild {
  name: string
  node: XmlNode
  path: string
}

const TEXT = '#text'
/** Where an element's attributes are: no element can have this name. */
const ATTRIBUTES = '@'

const parser = new XMLParser({
  ignoreAttributes: false,
  attributesGroupName: ATTRIBUTES,
  attributeNamePrefix: '',
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  // libxml2 (Icecast's parser) decodes character references (&#233;); this option does, and HTML's names as well
  htmlEntities: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute
})

const WRAP_OPEN = '<icecast>\n'
const WRAP_CLOSE = '\n</icecast>'

/**
 * Leading comments, then the root. A comment's body cannot hold `-->`, so there is one way to match each: with
 * `[\s\S]*?` a body could run on across comments, and a text of 30 comments and no root took a minute to refuse.
 */
const ROOT_FIRST = /^\s*(?:<!--(?:[^-]|-(?!->))*-->\s*)*<icecast[\s/>]/

/** Whether the text is a whole config, with its `<icecast>` root, rather than bare elements as in the docs. */
function hasRoot (text: string): boolean {
  return ROOT_FIRST.test(text)
}

/**
 * The validator's message about the text, told in the file's terms: bare elements were wrapped in a root
 * on lines of its own, so line numbers move back by one and the root's closing tag is the file's end.
 */
function describe (message: string, wrapped: boolean): string {
  const open = /^Invalid '(\[[\s\S]*\])' found\.$/.exec(message)?.[1]
  if (open !== undefined) return `not closed: ${[...open.matchAll(/"([^"]*)"/g)].map(([, name]) => `<${name}>`).join(' ')}`
  if (!wrapped) return message
  return message.replace(/line (\d+)/g, (_, line: string) => `line ${Number(line) - 1}`)
    .replace(/^Expected closing tag '(.+?)' \(opened in (.+?)\) instead of closing tag 'icecast'\.$/, '<$1> opened in $2 is not closed')
}

/**
 * The parsed document. The parser refuses some well-formed XML the validator lets through: element names
 * such as `constructor` or `__proto__` (prototype pollution) throw a plain Error, which must not escape as one.
 */
function parse (xml: string): Record<string, XmlNode[]> {
  try {
    return parser.parse(xml) as Record<string, XmlNode[]>
  } catch (error) {
    throw new InvalidConfigError(`unreadable: ${(error as Error).message}`, { cause: error })
  }
}

/** Parses an Icecast config (or bare elements of one, as Icecast's docs show them) into its `<icecast>` element. */
export function parseXml (text: string): XmlNode {
  const body = text.replace(/^\uFEFF?\s*<\?xml[^>]*\?>/, '')
  if (body.trim() === '') throw new InvalidConfigError('empty: no <icecast> element, nor any other')
  const wrapped = !hasRoot(body)
  const xml = wrapped ? WRAP_OPEN + body + WRAP_CLOSE : body
  const valid = XMLValidator.validate(xml)
  if (valid !== true) {
    const line = valid.err.line - (wrapped ? 1 : 0)
    throw new InvalidConfigError(`line ${line}, column ${valid.err.col}: ${describe(valid.err.msg, wrapped)}`)
  }
  const root = parse(xml)['icecast']
  if (root === undefined || root.length !== 1) throw new InvalidConfigError('the root element must be <icecast>')
  return root[0]!
}

/** The child elements, each named by its path; a name that repeats gets its number (`#2`). */
export function childrenOf (node: XmlNode, path: string): XmlChild[] {
  if (typeof node === 'string') return []
  return Object.entries(node).filter(([name]) => name !== TEXT && name !== ATTRIBUTES).flatMap(([name, nodes]) =>
    nodes.map((child, i) => ({ name, node: child, path: `${path}<${name}>${nodes.length > 1 ? ` #${i + 1}` : ''}` })))
}

/** An element's text; one with attributes and text only (`<port type="x">8000</port>`) has its text too. */
export function textOf ({ node, path }: XmlChild): string {
  if (typeof node === 'string') return node
  if (childrenOf(node, '').length === 0) return String(node[TEXT] ?? '')
  throw new InvalidConfigError(`${path}: expected text, found elements`)
}

/** An attribute of an element (`<upstream type="default">`), or undefined when it has none of that name. */
export function attributeOf ({ node }: XmlChild, name: string): string | undefined {
  if (typeof node === 'string') return undefined
  const attributes = node[ATTRIBUTES] as unknown as Record<string, string> | undefined
  return attributes !== undefined && Object.hasOwn(attributes, name) ? attributes[name] : undefined
}

export function integerOf (child: XmlChild, min: number, max: number): number {
  const text = textOf(child)
  const value = /^-?\d{1,10}$/.test(text) ? Number(text) : Number.NaN
  if (!(value >= min && value <= max)) {
    throw new InvalidConfigError(`${child.path}: "${text}" is not an integer from ${min} to ${max}`)
  }
  return value
}

/** A decimal number such as `0.005` (seconds): digits with at most one point; the options' schema checks its range. */
export function decimalOf (child: XmlChild): number {
  const text = textOf(child)
  if (!/^\d{1,9}(\.\d+)?$/.test(text)) throw new InvalidConfigError(`${child.path}: "${text}" is not a decimal number such as 0.5`)
  return Number(text)
}

/** The words Icecast 2.5 and icecast-kh take for a switch, besides integers. */
const FLAG_WORDS = new Map([['true', true], ['yes', true], ['on', true], ['false', false], ['no', false], ['off', false]])

/** Icecast's switches: an integer (0 is off, any other is on), or a word of 2.5 and kh (`true`, `no`, ...). */
export function flagOf (child: XmlChild): boolean {
  return FLAG_WORDS.get(textOf(child).toLowerCase()) ?? integerOf(child, -2147483648, 2147483647) !== 0
}
