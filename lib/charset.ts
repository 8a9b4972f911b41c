// The charsets titles may be written in: ICY text arrives as UTF-8, Latin-1 or Latin-2 with nothing to say
// which, so a relay may name one, and the options check it when they are validated.
import { isUtf8 } from 'node:buffer'
import { UnsupportedCharsetError } from './errors.js'

// Encodings in which a `'`, `;` or `=` byte may be part of another character: scanning their bytes
// for delimiters would cut characters apart.
const NOT_ASCII_COMPATIBLE = new Set(['utf-16le', 'utf-16be', 'iso-2022-jp'])

/**
 * Whether `name` is a charset titles can be decoded with: a label TextDecoder knows for an ASCII-compatible
 * encoding (`iso-8859-2`, `windows-1251`, `shift_jis`, ...).
 */
export function isSupportedCharset (name: string): boolean {
  let encoding: string
  try {
    encoding = new TextDecoder(name).encoding
  } catch {
    return false
  }
  return !NOT_ASCII_COMPATIBLE.has(encoding)
}

/**
 * How to decode the values of `text`: with `charset` when one is given (throws when it is not supported),
 * else as UTF-8 when the whole text is valid UTF-8, else as Latin-1, one choice for all of it, as a server
 * writes all its text in one charset.
 */
export function textDecoder (text: Buffer, charset: string | undefined): (bytes: Buffer) => string {
  if (charset !== undefined) {
    if (!isSupportedCharset(charset)) throw new UnsupportedCharsetError(charset)
    const decoder = new TextDecoder(charset)
    return (bytes) => decoder.decode(bytes)
  }
  const encoding = isUtf8(text) ? 'utf8' : 'latin1'
  return (bytes) => bytes.toString(encoding)
}
