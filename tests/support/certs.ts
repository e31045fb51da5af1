import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureDevCertificates, readDevCertificates, selfSignedCertificate } from '@helios/transport/testing'

/** PEM material for actor nodes over TLS, made in-process at test time (no openssl). */
export interface NodeCerts {
  /** The directory holding it: `ca.crt`, `node.crt`, `node.key` (what `helios --certs` reads) and the untrusted pair. */
  readonly dir: string
  readonly ca: string
  /** A node certificate (serverAuth + clientAuth, SAN 127.0.0.1 and localhost) signed by the CA. */
  readonly cert: string
  readonly key: string
  /** A self-signed node certificate nobody trusts. */
  readonly untrustedCert: string
  readonly untrustedKey: string
}

let cached: NodeCerts | undefined

/** Makes (once per process) a CA, a node certificate and an untrusted one in a temp directory. */
export function nodeCerts(): NodeCerts {
  if (cached !== undefined) return cached
  // Child test nodes inherit the directory through the environment, so all trust one CA.
  const inherited = process.env.HELIOS_TEST_CERTS_DIR
  if (inherited !== undefined) return (cached = readCerts(inherited))
  const parent = mkdtempSync(join(tmpdir(), 'helios-node-certs-'))
  const dir = join(parent, 'certs')
  process.env.HELIOS_TEST_CERTS_DIR = dir
  process.once('exit', () => rmSync(parent, { recursive: true, force: true }))
  // The CA and node certificate are what the demo and the CLI make; the tests add one nobody trusts.
  ensureDevCertificates(dir, { days: 2 })
  const untrusted = selfSignedCertificate({ days: 2 })
  writeFileSync(join(dir, 'untrusted.crt'), untrusted.cert)
  writeFileSync(join(dir, 'untrusted.key'), untrusted.key)
  return (cached = readCerts(dir))
}

function readCerts(dir: string): NodeCerts {
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8')
  const { ca, cert, key } = readDevCertificates(dir)
  return { dir, ca, cert, key, untrustedCert: read('untrusted.crt'), untrustedKey: read('untrusted.key') }
}

/** `remote.tls` options for a trusted node (mutual TLS). */
export function trustedTls(): { key: string; cert: string; ca: string; requestCert: boolean } {
  const c = nodeCerts()
  return { key: c.key, cert: c.cert, ca: c.ca, requestCert: true }
}

/** `remote.tls` options for a node whose certificate nobody trusts (it trusts the CA itself). */
export function untrustedTls(): { key: string; cert: string; ca: string; requestCert: boolean } {
  const c = nodeCerts()
  return { key: c.untrustedKey, cert: c.untrustedCert, ca: c.ca, requestCert: true }
}
