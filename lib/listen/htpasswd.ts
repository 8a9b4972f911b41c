// Icecast's htpasswd file (src/auth_htpasswd.c of 2.4.4): one `user:hash` a line, the hash the MD5 of the
// password in lower-case hex. Apache's formats ($apr1$, bcrypt, {SHA}, crypt) are not Icecast's: their
// lines are reported, and their users cannot log in, as in Icecast (which compares them as MD5 hex).
import { createHash } from 'node:crypto'
import { sameSecret } from '../auth.js'

export interface HtpasswdUsers {
  /** user name → the MD5 hex of the password (a Map: `constructor` is a user name like any other) */
  users: Map<string, string>
  /** lines that give no usable user, each with its number and why */
  problems: string[]
}

const MD5_HEX = /^[0-9a-f]{32}$/

/** The hash Icecast writes for a password. */
export function htpasswdHash (password: string): string {
  return createHash('md5').update(password, 'utf8').digest('hex')
}

/** What a hash that is not Icecast's looks like, to say so. */
function formatOf (hash: string): string {
  if (hash.startsWith('$apr1$')) return 'Apache MD5 ($apr1$)'
  if (/^\$2[abxy]?\$/.test(hash)) return 'bcrypt'
  if (hash.startsWith('{SHA}')) return 'SHA-1 ({SHA})'
  return 'not an MD5 hex digest'
}

/**
 * The users of an htpasswd file's text. As Icecast reads it: empty lines and lines starting with `#` are
 * skipped, the user name is everything before the last colon (it may hold colons), the hash after it.
 * A later line of the same user replaces an earlier one. A hash in upper case is Icecast's too; a byte order
 * mark before the first line is none of the first user's name.
 */
export function parseHtpasswd (text: string): HtpasswdUsers {
  const users = new Map<string, string>()
  const problems: string[] = []
  // a file saved by Windows' Notepad starts with a byte order mark: Icecast takes it into the first user's name,
  // who then cannot log in
  for (const [i, raw] of text.replace(/^\uFEFF/, '').split('\n').entries()) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (line === '' || line.startsWith('#')) continue
    const colon = line.lastIndexOf(':')
    if (colon < 0) {
      problems.push(`line ${i + 1}: no colon between user and password hash`)
      continue
    }
    const user = line.slice(0, colon)
    const hash = line.slice(colon + 1).toLowerCase()
    if (!MD5_HEX.test(hash)) {
      problems.push(`line ${i + 1}: user ${JSON.stringify(user)}: ${formatOf(line.slice(colon + 1))}, not Icecast's MD5 hex: that user cannot log in`)
      continue
    }
    users.set(user, hash)
  }
  return { users, problems }
}

/** A hash no password has, compared for an unknown user so that its answer takes as long as a known one's. */
const NO_USER = '-'.repeat(32)

/** Whether `users` holds this user with this password; the hashes are compared in constant time. */
export function htpasswdAllows (users: ReadonlyMap<string, string>, username: string, password: string): boolean {
  const hash = users.get(username)
  const match = sameSecret(hash ?? NO_USER, htpasswdHash(password))
  return hash !== undefined && match
}
