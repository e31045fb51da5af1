import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** PEM material made by openssl for the TLS tests. */
export interface TestCerts {
  readonly dir: string
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

function openssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

/**
 * Writes a CA, a server certificate (127.0.0.1, localhost), a client certificate and an untrusted
 * self-signed certificate into a fresh temporary directory with openssl (EC P-256 keys: fast).
 * Made once per process; the directory is removed when the process exits.
 */
export function testCerts(): TestCerts {
  if (cached !== undefined) return cached
  const dir = mkdtempSync(join(tmpdir(), 'helios-certs-'))
  process.once('exit', () => { rmSync(dir, { recursive: true, force: true }) })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl(dir, 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Helios Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
  const issue = (name: string, cn: string, ext: string): void => {
    openssl(dir, 'req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`)
    writeFileSync(join(dir, `${name}.ext`), ext)
    openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`)
  }
  issue('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n')
  issue('client', 'helios-client', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n')
  openssl(dir, 'req', '-x509', ...ec, '-keyout', 'untrusted.key', '-out', 'untrusted.crt', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost')
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8')
  cached = {
    dir,
    ca: read('ca.crt'),
    serverCert: read('server.crt'),
    serverKey: read('server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    untrustedCert: read('untrusted.crt'),
    untrustedKey: read('untrusted.key'),
  }
  return cached
}
