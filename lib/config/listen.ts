// Where the CLI listens: every `<listen-socket>` (plain or TLS), and the certificate TLS sockets serve, as
// Icecast 2.4, 2.5 and icecast-kh name it. Only names here: the files are read by the CLI (lib/cli/tls.ts).
import { InvalidConfigError } from '../errors.js'
import { port, Reader, text } from './reader.js'
import { childrenOf, flagOf, type XmlChild } from './xml.js'

export interface ListenSocket {
  port: number
  /** Icecast listens on every address unless told a `<bind-address>` */
  host: string
  /** HTTPS on this socket (`<ssl>1</ssl>`, 2.5's `<tls>`) */
  tls?: true
}

/** A setting of the config and the element it came from, for the messages about it. */
export interface Named {
  value: string
  element: string
}

/** What TLS sockets serve: Icecast reads the key and the certificate chain from one PEM file unless told a key file. */
export interface TlsFiles {
  certificate: Named
  /** icecast-kh's `<ssl-private-key>`, 2.5's `<tls-key>` */
  key?: Named
  /** OpenSSL's cipher list (TLS 1.2 and older) */
  ciphers?: Named
}

/** The elements of a socket or the defaults outside any, as read: what is missing is defaulted later. */
export interface SocketElements {
  port?: number
  host?: string
  /** the `<ssl>`/`<tls>` that asks for TLS */
  tls?: XmlChild
}

const TLS_MODE_WARNING = 'TLS told apart from plain HTTP on one port is not done: this socket serves plain HTTP only; ' +
  'give TLS a socket of its own with <ssl>1</ssl> (or 2.5\'s <tls>rfc2818</tls>)'

/**
 * Whether a socket's `<ssl>`/`<tls>` asks for TLS: a switch (2.4, kh), or one of Icecast 2.5's modes. `auto`
 * and `rfc2817` accept plain HTTP too, which is what the socket then serves, with a warning; `auto_no_plain`
 * accepts TLS only, as a TLS socket does.
 */
function tlsModeOf (reader: Reader, child: XmlChild): boolean {
  const mode = text(child).trim().toLowerCase()
  if (mode === 'rfc2818' || mode === 'auto_no_plain') return true
  if (mode === 'disabled') return false
  if (mode === '' || mode === 'auto' || mode === 'rfc2817') {
    reader.ignore(child, TLS_MODE_WARNING)
    return false
  }
  return flagOf(child)
}

/** One `<listen-socket>`'s elements. */
export function readListenSocket (reader: Reader, socket: XmlChild): SocketElements {
  const out: SocketElements = {}
  for (const child of childrenOf(socket.node, `${socket.path} `)) {
    switch (child.name) {
      case 'port': out.port = port(child); break
      case 'bind-address': out.host = text(child); break
      case 'ssl': case 'tls':
        if (tlsModeOf(reader, child)) out.tls = child
        else delete out.tls
        break
      default: reader.skip(child)
    }
  }
  return out
}

/**
 * The sockets to listen on: each `<listen-socket>`, the first one defaulted by a `<port>` and `<bind-address>`
 * outside any (as Icecast 2.4 reads them); with no socket, the one those give, or Icecast's port 8000.
 */
export function listenSockets (sockets: SocketElements[], top: SocketElements): ListenSocket[] {
  const read = sockets.length === 0 ? [top] : sockets.map((socket, i) => (i === 0 ? { ...top, ...socket } : socket))
  return read.map((socket) => ({ port: socket.port ?? 8000, host: socket.host ?? '0.0.0.0', ...(socket.tls !== undefined && { tls: true }) }))
}

/** Where each name Icecast has for the certificate settings goes. */
const TLS_FIELDS: Record<string, keyof TlsFiles> = {
  'ssl-certificate': 'certificate',
  'tls-certificate': 'certificate',
  'ssl-private-key': 'key',
  'tls-key': 'key',
  'ssl-allowed-ciphers': 'ciphers',
  'tls-allowed-ciphers': 'ciphers'
}

/**
 * The certificate settings among `<paths>` (2.4, kh) or 2.5's `<security><tls-context>`, into `into`; a later
 * one wins, as in Icecast. kh's `<ssl-cafile>` is not read: a chain goes in the certificate's file.
 */
export function readTlsSettings (reader: Reader, parent: XmlChild, into: Partial<TlsFiles>): void {
  for (const child of childrenOf(parent.node, `${parent.path} `)) {
    const field = TLS_FIELDS[child.name]
    if (field !== undefined) into[field] = { value: text(child), element: child.path }
    else if (child.name === 'tls-context' && parent.name === 'security') readTlsSettings(reader, child, into)
    else if (child.name === 'ssl-cafile') reader.ignore(child, 'the certificate chain is read from the certificate file: append it there')
    // <paths>' <webroot> is readWebroot's
    else if (child.name !== 'webroot') reader.skip(child)
  }
}

/**
 * The certificate of the TLS sockets: required when a socket asks for TLS (the error names the first that
 * does), warned about and dropped when none does (icecast-kh serves TLS on any port once it has a certificate,
 * telling it from plain HTTP by its first bytes: not done here).
 */
export function tlsFilesOf (reader: Reader, sockets: SocketElements[], settings: Partial<TlsFiles>): TlsFiles | undefined {
  const asking = sockets.find((socket) => socket.tls !== undefined)?.tls
  const { certificate } = settings
  if (asking === undefined) {
    if (certificate !== undefined) {
      reader.ignore(certificate.element, 'no <listen-socket> has <ssl>1</ssl>, and TLS told apart from plain HTTP on one port is not done')
    }
    return undefined
  }
  if (certificate === undefined || certificate.value === '') {
    throw new InvalidConfigError(`${asking.path}: TLS needs a certificate: <paths> <ssl-certificate>, one PEM file with the private key and the certificate`)
  }
  return { certificate, ...(settings.key !== undefined && { key: settings.key }), ...(settings.ciphers !== undefined && { ciphers: settings.ciphers }) }
}
