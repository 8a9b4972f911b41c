// The CLI's certificate: one PEM file with key and certificate, checked at start as a TLS server would use it.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadTls } from '../../../lib/cli/tls.js'
import type { TlsFiles } from '../../../lib/config/listen.js'
import { makeTempDir } from '../../helpers/procs.js'
import { selfSignedCertificate } from '../../helpers/servers.js'

const dir = makeTempDir('cli-tls')
const own = selfSignedCertificate()
const other = selfSignedCertificate()

function file (name: string, ...parts: Array<Buffer | string>): string {
  const path = join(dir, name)
  writeFileSync(path, Buffer.concat(parts.map((part) => Buffer.from(part))))
  return path
}

function certificateAt (path: string, extra: Partial<TlsFiles> = {}): TlsFiles {
  return { certificate: { value: path, element: '<paths> <ssl-certificate>' }, ...extra }
}

test('one PEM file with the key and the certificate, in either order: the credentials a TLS server takes', async () => {
  for (const parts of [[own.cert, own.key], [own.key, own.cert]]) {
    const path = file('both.pem', ...parts)
    const { credentials, warnings } = await loadTls(certificateAt(path, { ciphers: { value: 'HIGH:!aNULL', element: '<paths> <ssl-allowed-ciphers>' } }))
    assert.deepEqual(credentials, { key: Buffer.concat(parts), cert: Buffer.concat(parts), ciphers: 'HIGH:!aNULL' })
    assert.deepEqual(warnings, [])
  }
  const key = file('key.pem', own.key)
  const { credentials } = await loadTls(certificateAt(file('cert.pem', own.cert), { key: { value: key, element: '<paths> <ssl-private-key>' } }))
  assert.deepEqual(credentials, { key: own.key, cert: own.cert })
})

test('a file that cannot be read, with no key, no certificate, or a key of another certificate: an error naming the element', async () => {
  const missing = join(dir, 'nope.pem')
  await assert.rejects(loadTls(certificateAt(missing)), {
    code: 'FST_ICECAST_RELAY_INVALID_CONFIG', message: `<paths> <ssl-certificate>: ENOENT: no such file or directory, open '${missing}'`
  })
  const certOnly = file('cert-only.pem', own.cert)
  await assert.rejects(loadTls(certificateAt(certOnly)), {
    message: new RegExp(`^<paths> <ssl-certificate>: no usable private key in ${certOnly} \\(.+\\): it must hold the key, unencrypted, in PEM, with the certificate$`)
  })
  const keyOnly = file('key-only.pem', own.key)
  await assert.rejects(loadTls(certificateAt(keyOnly)), { message: new RegExp(`^<paths> <ssl-certificate>: no usable certificate in ${keyOnly} \\(`) })
  const mismatch = file('mismatch.pem', own.cert, other.key)
  await assert.rejects(loadTls(certificateAt(mismatch)), {
    message: `<paths> <ssl-certificate>: the private key in ${mismatch} does not match the certificate in ${mismatch}`
  })
  const otherKey = file('other-key.pem', other.key)
  await assert.rejects(loadTls(certificateAt(file('own-cert.pem', own.cert), { key: { value: otherKey, element: '<paths> <ssl-private-key>' } })), {
    message: /^<paths> <ssl-private-key>: the private key in .*other-key\.pem does not match the certificate in .*own-cert\.pem$/
  })
  const garbage = file('garbage.pem', 'not a pem file at all\n', Buffer.from([0, 255, 1]))
  await assert.rejects(loadTls(certificateAt(garbage)), { message: /^<paths> <ssl-certificate>: no usable certificate in / })
  await assert.rejects(loadTls(certificateAt(dir)), { message: /^<paths> <ssl-certificate>: EISDIR/ })
})

test('a key with a passphrase is refused (Icecast asks for none either); a cipher list OpenSSL refuses names its element', async () => {
  const encrypted = execFileSync('openssl', ['pkey', '-aes256', '-passout', 'pass:secret'], { input: own.key })
  await assert.rejects(loadTls(certificateAt(file('encrypted.pem', own.cert, encrypted))), {
    message: /^<paths> <ssl-certificate>: the private key in .*encrypted\.pem is encrypted: it must be unencrypted, as Icecast asks for no passphrase either$/
  })
  await assert.rejects(loadTls(certificateAt(file('both.pem', own.cert, own.key), { ciphers: { value: 'NO-SUCH-CIPHER', element: '<paths> <ssl-allowed-ciphers>' } })), {
    code: 'FST_ICECAST_RELAY_INVALID_CONFIG', message: /^<paths> <ssl-allowed-ciphers>: .*no cipher match/
  })
})

test('a certificate out of its dates still serves, with a warning: clients will refuse it', async () => {
  const path = file('both.pem', own.cert, own.key)
  const inAWeek = Date.now() + 7 * 86400_000
  const { warnings } = await loadTls(certificateAt(path), inAWeek)
  assert.equal(warnings.length, 1)
  assert.match(warnings[0]!, new RegExp(`^<paths> <ssl-certificate>: the certificate in ${path} expired on .+ GMT: clients will refuse it$`))
  const { warnings: early } = await loadTls(certificateAt(path), Date.now() - 7 * 86400_000)
  assert.match(early[0]!, /is not valid before .+ GMT: clients will refuse it$/)
})
