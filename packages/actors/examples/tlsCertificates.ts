/**
 * Throwaway TLS material for the demo and the CLI: a CA and one node certificate signed by it
 * (serverAuth + clientAuth, SAN 127.0.0.1 and localhost), made with openssl. Every node uses the
 * same certificate and trusts the same CA, so mutual TLS works with verification left on.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** `remote.tls` options of a node: its key and certificate, the CA it trusts, client certificates required. */
export interface NodeTlsOptions {
  readonly key: string
  readonly cert: string
  readonly ca: string
  readonly requestCert: boolean
}

/** File names inside a certificate directory. */
export const CertificateFiles = { ca: 'ca.crt', cert: 'node.crt', key: 'node.key' } as const

function openssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

/**
 * Writes `ca.crt`, `node.crt` and `node.key` into the existing directory `dir`. The CA's private key
 * is deleted once the node certificate is signed: nothing else can be issued under this CA.
 * @throws {Error} when openssl is missing or fails (its stderr is in the message).
 */
export function makeCertificates(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl(dir, 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', CertificateFiles.ca, '-days', '7', '-subj', '/CN=Helios Demo CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
  openssl(dir, 'req', ...ec, '-keyout', CertificateFiles.key, '-out', 'node.csr', '-subj', '/CN=localhost')
  writeFileSync(join(dir, 'node.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n')
  openssl(dir, 'x509', '-req', '-in', 'node.csr', '-CA', CertificateFiles.ca, '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', CertificateFiles.cert, '-days', '7', '-extfile', 'node.ext')
  for (const f of ['ca.key', 'ca.srl', 'node.csr', 'node.ext']) rmSync(join(dir, f), { force: true })
}

/**
 * Makes the certificates in `dir` unless they are there already (other processes may race to do
 * the same: each builds in a temp sibling and the first rename wins). Returns true when it made them.
 */
export function ensureCertificates(dir: string): boolean {
  if (existsSync(join(dir, CertificateFiles.cert))) return false
  const staging = mkdtempSync(join(dirname(dir), '.helios-certs-'))
  try {
    makeCertificates(staging)
    renameSync(staging, dir)
    return true
  } catch (error) {
    rmSync(staging, { recursive: true, force: true })
    if (existsSync(join(dir, CertificateFiles.cert))) return false // another process won the race
    throw error
  }
}

/**
 * Reads the material of `dir` as `remote.tls` options.
 * @throws {Error} (ENOENT) when a file is missing.
 */
export function nodeTls(dir: string): NodeTlsOptions {
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8')
  return { key: read(CertificateFiles.key), cert: read(CertificateFiles.cert), ca: read(CertificateFiles.ca), requestCert: true }
}
