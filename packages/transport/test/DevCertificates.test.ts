import { X509Certificate } from 'node:crypto'
import { createSecureContext as tlsContext } from 'node:tls'
import test from 'ava'
import { DevCertificateAuthority, selfSignedCertificate } from '../src/testing.js'

// DER wants an INTEGER in its shortest form. A random 16-byte serial whose first bytes were zero
// came out padded now and then (node-forge strips one zero byte only), and OpenSSL refused the
// certificate when a TLS server loaded it: "asn1 encoding routines::illegal padding".
test('every serial is 16 bytes, positive, with a first byte that is not zero (the shortest DER form)', (t) => {
  const authority = DevCertificateAuthority.create({ days: 1 })
  const made = [
    authority.cert,
    ...Array.from({ length: 6 }, () => authority.issue({ days: 1 }).cert),
    selfSignedCertificate({ days: 1 }).cert,
  ]
  for (const pem of made) {
    const serial = new X509Certificate(pem).serialNumber
    t.is(serial.length, 32, serial)
    const first = Number.parseInt(serial.slice(0, 2), 16)
    t.true(first >= 0x40 && first <= 0x7f, `serial ${serial}`)
  }
  const leaf = authority.issue({ days: 1 })
  t.notThrows(() => tlsContext({ key: leaf.key, cert: leaf.cert, ca: authority.cert }))
})
