// `<authentication type="...">` in a `<mount>`: Icecast's listener authentication, as the relay's `listenerAuth`.
import type { ListenerAuthDefinition, UrlAuthDefinition } from '../options.js'
import type { Reader } from './reader.js'
import { attributeOf, childrenOf, type XmlChild } from './xml.js'

/** Icecast's option names of `type="url"` and the `url` fields they set. */
const URL_OPTIONS: Record<string, keyof UrlAuthDefinition> = {
  listener_add: 'listenerAdd',
  listener_remove: 'listenerRemove',
  username: 'username',
  password: 'password',
  auth_header: 'authHeader',
  timelimit_header: 'timelimitHeader',
  header_prefix: 'headerPrefix'
}

/** Options of Icecast's url authenticator this relay does not do, and why. */
const URL_UNUSED: Record<string, string> = {
  mount_add: 'the relay has no source clients to tell about',
  mount_remove: 'the relay has no source clients to tell about',
  stream_auth: 'the relay has no source clients to authenticate'
}

/** `<option name="x" value="y"/>` of an `<authentication>`, in order; others are ignored with a warning. */
function optionsOf (reader: Reader, authentication: XmlChild): Array<[name: string, value: string, child: XmlChild]> {
  const options: Array<[string, string, XmlChild]> = []
  for (const child of childrenOf(authentication.node, `${authentication.path} `)) {
    const name = attributeOf(child, 'name')
    const value = attributeOf(child, 'value')
    if (child.name !== 'option' || name === undefined || value === undefined) {
      reader.ignore(child, 'not an <option name="..." value="..."/>')
      continue
    }
    options.push([name, value, child])
  }
  return options
}

/**
 * The `listenerAuth` of a relay from its mount's `<authentication>`, with `at` naming the option for errors;
 * undefined, with a warning that the mount is public, for a type this relay does not know.
 */
export function readListenerAuth (reader: Reader, authentication: XmlChild, at: string): ListenerAuthDefinition | undefined {
  const type = attributeOf(authentication, 'type')
  if (type !== 'htpasswd' && type !== 'url') {
    reader.ignore(authentication, `type ${JSON.stringify(type ?? '')} is not one this relay knows (htpasswd, url): the mount is public`)
    return undefined
  }
  reader.origins.set(at, authentication.path)
  const auth: Record<string, unknown> = {}
  const url: Record<string, unknown> = {}
  for (const [name, value, child] of optionsOf(reader, authentication)) {
    if (name === 'allow_duplicate_users') reader.set(auth, 'allowDuplicateUsers', `${at}.allowDuplicateUsers`, child, (Number.parseInt(value, 10) || 0) !== 0)
    else if (type === 'htpasswd' && name === 'filename') reader.set(auth, 'htpasswd', `${at}.htpasswd`, child, value)
    else if (type === 'url' && name in URL_OPTIONS) reader.set(url, URL_OPTIONS[name]!, `${at}.url.${URL_OPTIONS[name]!}`, child, value)
    else if (type === 'url' && name === 'headers') reader.set(url, 'headers', `${at}.url.headers`, child, value.split(',').map((header) => header.trim()).filter((header) => header !== ''))
    else reader.ignore(child, type === 'url' ? URL_UNUSED[name] ?? 'not an option of url authentication' : 'not an option of htpasswd authentication')
  }
  if (type === 'url') auth['url'] = url
  return auth as ListenerAuthDefinition
}
