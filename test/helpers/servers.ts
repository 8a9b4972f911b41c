import net from 'node:net'
import tls from 'node:tls'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'

export interface Exchange {
  /** The request head as the server received it, blank line included. */
  request: string
  socket: net.Socket
  /** Resolves when the client's side of the connection is gone. */
  closed: Promise<void>
}

export interface TestServer {
  port: number
  /** `http://127.0.0.1:port` (or https), no trailing slash. */
  origin: string
  exchanges: Exchange[]
  close (): Promise<void>
}

/**
 * A loopback server on a random port that reads each request head and hands it to `respond`,
 * which writes whatever bytes the test needs (valid or not) on the raw socket.
 */
export async function serve (
  respond: (exchange: Exchange) => void,
  secure?: { key: Buffer, cert: Buffer }
): Promise<TestServer> {
  const sockets = new Set<net.Socket>()
  const exchanges: Exchange[] = []
  const onSocket = (socket: net.Socket): void => {
    sockets.add(socket)
    // Not events.once: it would reject on the socket's 'error', which is expected here.
    const closed = new Promise<void>((resolve) => socket.once('close', () => {
      sockets.delete(socket)
      resolve()
    }))
    socket.on('error', () => {}) // resets from the client under test are expected
    let received = ''
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('latin1')
      const end = received.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.off('data', onData)
      const exchange = { request: received.slice(0, end + 4), socket, closed }
      exchanges.push(exchange)
      respond(exchange)
    }
    socket.on('data', onData)
  }
  const server = secure === undefined
    ? net.createServer(onSocket)
    : tls.createServer(secure, onSocket)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    origin: `${secure === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    exchanges,
    async close () {
      for (const socket of sockets) socket.destroy()
      server.close()
      await once(server, 'close')
    }
  }
}

/** A port nothing listens on (closed right after being chosen). */
export async function closedPort (): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as net.AddressInfo).port
  server.close()
  await once(server, 'close')
  return port
}

/** Runs `work` in a temporary folder, removed afterwards. */
function inTempFolder<T> (work: (folder: string) => T): T {
  const folder = mkdtempSync(join(tmpdir(), 'upstream-tls-'))
  try {
    return work(folder)
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}

function openssl (folder: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: folder, stdio: 'ignore' })
}

const NEW_EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

/** A self-signed certificate for localhost and 127.0.0.1, made by openssl in a temporary folder. */
export function selfSignedCertificate (): { key: Buffer, cert: Buffer } {
  return inTempFolder((folder) => {
    openssl(folder, [
      'req', '-x509', ...NEW_EC_KEY, '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'
    ])
    return { key: readFileSync(join(folder, 'key.pem')), cert: readFileSync(join(folder, 'cert.pem')) }
  })
}

export interface PrivateCa {
  /** the CA's certificate, PEM: what a relay's `ca` option takes */
  cert: string
  /** a server certificate signed by the CA, e.g. for `DNS:radio.test` */
  issue: (subjectAltName: string) => { key: Buffer, cert: Buffer }
}

/** A certificate authority of the test's own, made by openssl, as an operator's private CA would be. */
export function privateCa (): PrivateCa {
  const ca = inTempFolder((folder) => {
    openssl(folder, [
      'req', '-x509', ...NEW_EC_KEY, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=Test Private CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'
    ])
    return { key: readFileSync(join(folder, 'ca.key')), cert: readFileSync(join(folder, 'ca.pem'), 'utf8') }
  })
  return {
    cert: ca.cert,
    issue: (subjectAltName) => inTempFolder((folder) => {
      writeFileSync(join(folder, 'ca.key'), ca.key)
      writeFileSync(join(folder, 'ca.pem'), ca.cert)
      writeFileSync(join(folder, 'ext.cnf'), `subjectAltName=${subjectAltName}\n`)
      openssl(folder, ['req', '-new', ...NEW_EC_KEY, '-keyout', 'key.pem', '-out', 'req.csr', '-subj', '/CN=upstream'])
      openssl(folder, [
        'x509', '-req', '-in', 'req.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '1', '-days', '1',
        '-extfile', 'ext.cnf', '-out', 'cert.pem'
      ])
      return { key: readFileSync(join(folder, 'key.pem')), cert: readFileSync(join(folder, 'cert.pem')) }
    })
  }
}
