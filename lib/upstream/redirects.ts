import dns from 'node:dns'
import net from 'node:net'
import ipaddr from 'ipaddr.js'

/**
 * Which redirects of an upstream are followed. An upstream is a server the relay's operator chose, but
 * its answers are not: a redirect could point the relay at a service of its own network (a database,
 * a cloud metadata endpoint) and hand that service's answer to anonymous listeners.
 * - `same-server`: only to the configured host and port (a new path, or http to https there).
 * - `public`: also to other hosts whose every address is public (checked on the address connected to).
 * - `any`: anywhere, for a trusted private network of relays.
 */
export type RedirectPolicy = 'same-server' | 'public' | 'any'

function effectivePort (url: URL): number {
  return url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80
}

/**
 * Whether `next` is the server of `from`: the same host and port (http may become https there, never
 * the reverse), or the usual upgrade from http on port 80 to https on 443 of the same host.
 */
export function isSameServer (from: URL, next: URL): boolean {
  if (from.hostname !== next.hostname) return false
  const upgrade = from.protocol === 'http:' && next.protocol === 'https:'
  if (from.protocol !== next.protocol && !upgrade) return false
  const fromPort = effectivePort(from)
  const nextPort = effectivePort(next)
  return fromPort === nextPort || (upgrade && fromPort === 80 && nextPort === 443)
}

// Global unicast IPv6 is 2000::/3; the rest is reserved, local or unassigned.
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3')

/**
 * Whether an IP address is public: not loopback, private, link-local, shared (CGNAT), unique-local,
 * multicast, unspecified, reserved or for documentation. An IPv4-mapped IPv6 address is judged as the
 * IPv4 address it maps; NAT64, 6to4 and Teredo forms, which may reach any IPv4 address, are not public.
 */
export function isPublicAddress (address: string): boolean {
  // net.isIP, not ipaddr.isValid: only the dotted quad and IPv6 text a resolver answers, not `1.2.3` forms
  if (net.isIP(address) === 0) return false
  const ip = ipaddr.process(address)
  if (ip.range() !== 'unicast') return false
  return ip.kind() === 'ipv4' || ip.match(GLOBAL_UNICAST_V6)
}

/**
 * A `lookup` for `net.connect`/`tls.connect` that fails unless every address the name resolves to is
 * public. The socket connects to the addresses this lookup hands back, so no second resolution can
 * answer differently (DNS rebinding) between the check and the connect.
 */
export function publicOnlyLookup (refusal: (hostname: string, address: string) => Error): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) {
        callback(error, '')
        return
      }
      const refused = addresses.find(({ address }) => !isPublicAddress(address))
      if (refused !== undefined) {
        callback(refusal(hostname, refused.address) as NodeJS.ErrnoException, '')
        return
      }
      if (options.all === true) callback(null, addresses)
      else callback(null, addresses[0]!.address, addresses[0]!.family)
    })
  }
}
