// The certificate of the CLI's TLS sockets, read and checked as Icecast does at start: one PEM file with the
// private key and the certificate chain (unless a key file is named), the key matching the certificate.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createSecureContext } from 'node:tls'
import type { Named, TlsFiles } from '../config/listen.js'
import { InvalidConfigError } from '../errors.js'

/** What an HTTPS server takes: the PEM file(s) as read, and the cipher list. */
export interface TlsCredentials {
  key: Buffer
  cert: Buffer
  ciphers?: string
}

export interface LoadedTls {
  credentials: TlsCredentials
  /** what is worth a word but does not stop the server (a certificate out of its dates) */
  warnings: string[]
}

async function readPem (file: Named): Promise<Buffer> {
  try {
    return await readFile(file.value)
  } catch (error) {
    throw new InvalidConfigError(`${file.element}: ${(error as Error).message}`, { cause: error })
  }
}

/** PKCS#8's and OpenSSL's traditional marks of a key under a passphrase. */
const ENCRYPTED_KEY = /-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: 4,ENCRYPTED/m

function privateKeyOf (pem: Buffer, file: Named): KeyObject {
  try {
    return createPrivateKey(pem)
  } catch (error) {
    // OpenSSL says only that the read was cancelled: no passphrase was given
    if (ENCRYPTED_KEY.test(pem.toString('latin1'))) {
      throw new InvalidConfigError(`${file.element}: the private key in ${file.value} is encrypted: it must be unencrypted, as Icecast asks for no passphrase either`, { cause: error })
    }
    throw new InvalidConfigError(`${file.element}: no usable private key in ${file.value} (${(error as Error).message}): ` +
      'it must hold the key, unencrypted, in PEM, with the certificate', { cause: error })
  }
}

function certificateOf (pem: Buffer, file: Named): X509Certificate {
  try {
    return new X509Certificate(pem)
  } catch (error) {
    throw new InvalidConfigError(`${file.element}: no usable certificate in ${file.value} (${(error as Error).message})`, { cause: error })
  }
}

/** Why a certificate would be refused by every client today, if it would. */
function outOfDates (certificate: X509Certificate, now: number): string | undefined {
  if (Date.parse(certificate.validFrom) > now) return `is not valid before ${certificate.validFrom}`
  if (Date.parse(certificate.validTo) < now) return `expired on ${certificate.validTo}`
  return undefined
}

/**
 * Reads the TLS sockets' key and certificate and checks them as a TLS server would use them. Throws
 * `InvalidConfigError` naming the element at fault: a file that cannot be read, holds no key or no
 * certificate, a key that does not match, a cipher list OpenSSL refuses.
 */
export async function loadTls (files: TlsFiles, now = Date.now()): Promise<LoadedTls> {
  const cert = await readPem(files.certificate)
  const keyFile = files.key ?? files.certificate
  const key = files.key === undefined ? cert : await readPem(files.key)
  const certificate = certificateOf(cert, files.certificate)
  if (!certificate.checkPrivateKey(privateKeyOf(key, keyFile))) {
    throw new InvalidConfigError(`${keyFile.element}: the private key in ${keyFile.value} does not match the certificate in ${files.certificate.value}`)
  }
  const credentials: TlsCredentials = { key, cert, ...(files.ciphers !== undefined && { ciphers: files.ciphers.value }) }
  try {
    createSecureContext(credentials)
  } catch (error) {
    const at = files.ciphers !== undefined && (error as { code?: string }).code === 'ERR_SSL_NO_CIPHER_MATCH' ? files.ciphers : files.certificate
    throw new InvalidConfigError(`${at.element}: ${(error as Error).message}`, { cause: error })
  }
  const dates = outOfDates(certificate, now)
  return { credentials, warnings: dates === undefined ? [] : [`${files.certificate.element}: the certificate in ${files.certificate.value} ${dates}: clients will refuse it`] }
}
