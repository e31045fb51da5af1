/**
 * Throw-away TLS material for the tls cases, made with the system's openssl at run time: one
 * self-signed P-256 certificate for 127.0.0.1 / localhost, used by both ends as key, certificate
 * and trust anchor (mutual TLS with verification on, as the project's TLS default asks).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** PEM strings for node:tls options. */
export interface TlsMaterial {
  key: string
  cert: string
  ca: string
}

/**
 * Creates the certificate in a temporary directory (removed again at once).
 * Throws when openssl is missing or fails; callers skip the tls cases with that reason.
 */
export function makeTlsMaterial(): TlsMaterial {
  const dir = mkdtempSync(join(tmpdir(), 'helios-bench-tls-'))
  try {
    const keyPath = join(dir, 'key.pem')
    const certPath = join(dir, 'cert.pem')
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore', timeout: 15_000 },
    )
    const cert = readFileSync(certPath, 'utf8')
    return { key: readFileSync(keyPath, 'utf8'), cert, ca: cert }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
