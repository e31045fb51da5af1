/**
 * Throw-away TLS material for the tls cases, made in-process with @helios/transport's certificate
 * helper (no openssl): one self-signed certificate for 127.0.0.1 / localhost, used by both ends as
 * key, certificate and trust anchor (mutual TLS with verification on, as the project's TLS
 * default asks). Raw and Helios sides use the same material, so their ratio is not affected by it.
 */
import { selfSignedCertificate } from '@helios/transport/testing'

/** PEM strings for node:tls options. */
export interface TlsMaterial {
  key: string
  cert: string
  ca: string
}

/** Makes the certificate; callers skip the tls cases, with the reason, if this throws. */
export function makeTlsMaterial(): TlsMaterial {
  const { key, cert } = selfSignedCertificate({ days: 2 })
  return { key, cert, ca: cert }
}
