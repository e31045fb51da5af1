import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CertificateFiles, makeCertificates } from '../../packages/actors/examples/tlsCertificates.js'

/** PEM material for actor nodes over TLS, made with openssl at test time. */
export interface NodeCerts {
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

function openssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** Makes (once per process) a CA, a node certificate and an untrusted one in a temp directory. */
export function nodeCerts(): NodeCerts {
  if (cached !== undefined) return cached
  // Child test nodes inherit the directory through the environment, so all trust one CA.
  const inherited = process.env.HELIOS_TEST_CERTS_DIR
  if (inherited !== undefined) return (cached = readCerts(inherited))
  const dir = mkdtempSync(join(tmpdir(), 'helios-node-certs-'))
  process.env.HELIOS_TEST_CERTS_DIR = dir
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  // The CA and node certificate are the demo's; the tests add one certificate nobody trusts.
  makeCertificates(dir)
  openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'untrusted.key', '-out', 'untrusted.crt', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'extendedKeyUsage=serverAuth,clientAuth')
  return (cached = readCerts(dir))
}

function readCerts(dir: string): NodeCerts {
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8')
  return { dir, ca: read(CertificateFiles.ca), cert: read(CertificateFiles.cert), key: read(CertificateFiles.key), untrustedCert: read('untrusted.crt'), untrustedKey: read('untrusted.key') }
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
