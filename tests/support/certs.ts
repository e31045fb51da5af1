import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

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
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl(dir, 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Helios Test Node CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
  openssl(dir, 'req', ...ec, '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=localhost')
  writeFileSync(join(dir, 'node.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n')
  openssl(dir, 'x509', '-req', '-in', 'node.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.crt', '-days', '2', '-extfile', 'node.ext')
  openssl(dir, 'req', '-x509', ...ec, '-keyout', 'untrusted.key', '-out', 'untrusted.crt', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'extendedKeyUsage=serverAuth,clientAuth')
  return (cached = readCerts(dir))
}

function readCerts(dir: string): NodeCerts {
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8')
  return { dir, ca: read('ca.crt'), cert: read('node.crt'), key: read('node.key'), untrustedCert: read('untrusted.crt'), untrustedKey: read('untrusted.key') }
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
