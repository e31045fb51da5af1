import { DevCertificateAuthority, selfSignedCertificate } from '../../src/testing.js'

/** PEM material for the TLS tests, made in-process (no openssl). */
export interface TestCerts {
  /** The test CA that signed server and client. */
  readonly ca: string
  /** Server certificate for 127.0.0.1 and localhost, signed by the CA. */
  readonly serverCert: string
  readonly serverKey: string
  /** Client certificate (clientAuth), signed by the CA. */
  readonly clientCert: string
  readonly clientKey: string
  /** Self-signed certificate for 127.0.0.1 and localhost that nobody trusts. */
  readonly untrustedCert: string
  readonly untrustedKey: string
}

let cached: TestCerts | undefined

/**
 * A CA, a server certificate (127.0.0.1, localhost), a client certificate and an untrusted
 * self-signed certificate, made once per process with the package's own certificate helper.
 */
export function testCerts(): TestCerts {
  if (cached !== undefined) return cached
  const authority = DevCertificateAuthority.create({ commonName: 'Helios Test CA', days: 2 })
  const server = authority.issue({ usage: ['serverAuth'], days: 2 })
  const client = authority.issue({ commonName: 'helios-client', hosts: [], usage: ['clientAuth'], days: 2 })
  const untrusted = selfSignedCertificate({ days: 2 })
  cached = {
    ca: authority.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    untrustedCert: untrusted.cert,
    untrustedKey: untrusted.key,
  }
  return cached
}
