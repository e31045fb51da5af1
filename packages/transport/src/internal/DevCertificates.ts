/*
 * Throwaway TLS material for development, tests, demos and benchmarks, made in-process (no
 * openssl): a CA, certificates it signs, self-signed certificates. RSA-2048 keys come from
 * node:crypto; node-forge assembles and signs the X.509 certificates (node:crypto can read
 * certificates but not make them). See docs/SECURITY.md for why node-forge.
 */
import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { isIP } from 'node:net'
import { dirname, join } from 'node:path'
import type * as Forge from 'node-forge'

// node-forge is CommonJS whose exports node cannot list statically: it is required, not imported,
// and only on first use, so that importing @helios/transport/testing for its other helpers does
// not load it
let forgeModule: typeof Forge | undefined
function forge(): typeof Forge {
  return (forgeModule ??= createRequire(import.meta.url)('node-forge') as typeof Forge)
}

/** A private key and its certificate, PEM-encoded, as `node:tls` takes them. */
export interface KeyAndCertificate {
  /** The private key (PKCS#8 PEM). */
  readonly key: string
  /** The certificate (PEM). */
  readonly cert: string
}

/** What a certificate is for and who it names. */
export interface CertificateOptions {
  /** Subject common name. Default `localhost`. */
  readonly commonName?: string
  /**
   * Subject alternative names: IP addresses and DNS names (what TLS host-name checks compare).
   * Default `['127.0.0.1', 'localhost']`; `[]` for none (a client-only certificate).
   */
  readonly hosts?: readonly string[]
  /** Extended key usage. Default both: a node of a cluster is server and client at once. */
  readonly usage?: readonly ('serverAuth' | 'clientAuth')[]
  /** Days of validity from now (it starts an hour ago, for clocks a little behind). Default 7. */
  readonly days?: number
}

/** The material of a development cluster: one CA every node trusts and one node certificate. */
export interface DevCertificates extends KeyAndCertificate {
  /** The CA certificate (PEM), for `ca`. Its key is gone: nothing else can be issued under it. */
  readonly ca: string
}

/** File names inside a certificate directory (see {@link ensureDevCertificates}). */
export const DevCertificateFiles = {
  /** The CA certificate. */
  ca: 'ca.crt',
  /** The node certificate, signed by the CA. */
  cert: 'node.crt',
  /** The node certificate's private key. */
  key: 'node.key',
} as const

interface RsaKey {
  readonly pem: string
  readonly forgePrivate: Forge.pki.rsa.PrivateKey
  readonly forgePublic: Forge.pki.rsa.PublicKey
}

function rsaKey(): RsaKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const forgePrivate = forge().pki.privateKeyFromPem(
    privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
  ) as Forge.pki.rsa.PrivateKey
  return {
    pem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    forgePrivate,
    forgePublic: forge().pki.setRsaPublicKey(forgePrivate.n, forgePrivate.e),
  }
}

function newCertificate(subjectKey: RsaKey, commonName: string, days: number): Forge.pki.Certificate {
  if (!(Number.isFinite(days) && days > 0)) throw new RangeError(`days must be a positive number, got ${days}`)
  const cert = forge().pki.createCertificate()
  cert.publicKey = subjectKey.forgePublic
  const serial = randomBytes(16)
  // A positive INTEGER whose first byte is not zero. DER wants the shortest encoding and node-forge
  // strips one leading zero byte only: a serial starting 00 00 0x (x < 8; 1 in 65,536) came out
  // padded, and OpenSSL refused the certificate ("asn1 encoding routines::illegal padding").
  serial[0] = ((serial[0] as number) & 0x3f) | 0x40
  cert.serialNumber = serial.toString('hex')
  const now = Date.now()
  cert.validity.notBefore = new Date(now - 3_600_000)
  cert.validity.notAfter = new Date(now + days * 86_400_000)
  cert.setSubject([{ name: 'commonName', value: commonName }])
  return cert
}

function leafExtensions(options: CertificateOptions, issuerKeyId: string | undefined): object[] {
  const hosts = options.hosts ?? ['127.0.0.1', 'localhost']
  const usage = options.usage ?? ['serverAuth', 'clientAuth']
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: usage.includes('serverAuth'), clientAuth: usage.includes('clientAuth') },
    { name: 'subjectKeyIdentifier' },
  ]
  if (hosts.length > 0) {
    extensions.push({ name: 'subjectAltName', altNames: hosts.map((h) => (isIP(h) === 0 ? { type: 2, value: h } : { type: 7, ip: h })) })
  }
  if (issuerKeyId !== undefined) extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: issuerKeyId })
  return extensions
}

function sign(cert: Forge.pki.Certificate, key: RsaKey): string {
  cert.sign(key.forgePrivate, forge().md.sha256.create())
  return forge().pki.certificateToPem(cert)
}

/**
 * A certificate authority for development and tests, held in memory. Its certificate goes into
 * every node's `ca`; {@link DevCertificateAuthority.issue} makes node certificates it signs.
 *
 * @example
 * const authority = DevCertificateAuthority.create()
 * const { key, cert } = authority.issue()            // 127.0.0.1 and localhost, server and client
 * const tls = { key, cert, ca: authority.cert, requestCert: true }
 */
export class DevCertificateAuthority {
  /** The CA certificate (PEM). */
  readonly cert: string
  readonly #key: RsaKey
  readonly #forgeCert: Forge.pki.Certificate

  private constructor(cert: Forge.pki.Certificate, key: RsaKey) {
    this.#forgeCert = cert
    this.#key = key
    this.cert = forge().pki.certificateToPem(cert)
  }

  /** Makes a new CA (an RSA-2048 key and a self-signed CA certificate, valid `days` days, default 7). */
  static create(options: { readonly commonName?: string; readonly days?: number } = {}): DevCertificateAuthority {
    const key = rsaKey()
    const cert = newCertificate(key, options.commonName ?? 'Helios Development CA', options.days ?? 7)
    cert.setIssuer(cert.subject.attributes)
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ])
    sign(cert, key)
    return new DevCertificateAuthority(cert, key)
  }

  /** Makes a key and a certificate signed by this CA (default: server and client, 127.0.0.1 and localhost). */
  issue(options: CertificateOptions = {}): KeyAndCertificate {
    const key = rsaKey()
    const cert = newCertificate(key, options.commonName ?? 'localhost', options.days ?? 7)
    cert.setIssuer(this.#forgeCert.subject.attributes)
    cert.setExtensions(leafExtensions(options, this.#forgeCert.generateSubjectKeyIdentifier().getBytes()))
    return { key: key.pem, cert: sign(cert, this.#key) }
  }
}

/** A self-signed certificate (trusted by whoever puts `cert` into `ca`, by nobody else). */
export function selfSignedCertificate(options: CertificateOptions = {}): KeyAndCertificate {
  const key = rsaKey()
  const cert = newCertificate(key, options.commonName ?? 'localhost', options.days ?? 7)
  cert.setIssuer(cert.subject.attributes)
  cert.setExtensions(leafExtensions(options, undefined))
  return { key: key.pem, cert: sign(cert, key) }
}

/**
 * A throwaway CA and one node certificate it signed (server and client, 127.0.0.1 and localhost
 * unless `hosts` says otherwise). Every node of a development cluster can use the same key and
 * certificate and trust the same CA, so mutual TLS works with verification on. The CA's key is
 * dropped once the certificate is signed.
 */
export function devCertificates(options: CertificateOptions = {}): DevCertificates {
  const authority = DevCertificateAuthority.create(options.days === undefined ? {} : { days: options.days })
  return { ca: authority.cert, ...authority.issue(options) }
}

/**
 * Makes {@link devCertificates} in `dir` (`ca.crt`, `node.crt`, `node.key`) unless they are there
 * already and the node certificate has not expired; returns true when it made them. Processes
 * racing to do the same each build in a temp sibling and the first rename wins, so all of them
 * end up with the same CA.
 */
export function ensureDevCertificates(dir: string, options: CertificateOptions = {}): boolean {
  const existing = join(dir, DevCertificateFiles.cert)
  if (existsSync(existing)) {
    if (!expired(existing)) return false
    rmSync(dir, { recursive: true, force: true })
  }
  mkdirSync(dirname(dir), { recursive: true })
  const staging = mkdtempSync(join(dirname(dir), '.helios-certs-'))
  try {
    const made = devCertificates(options)
    writeFileSync(join(staging, DevCertificateFiles.ca), made.ca)
    writeFileSync(join(staging, DevCertificateFiles.cert), made.cert)
    writeFileSync(join(staging, DevCertificateFiles.key), made.key, { mode: 0o600 })
    renameSync(staging, dir)
    return true
  } catch (error) {
    rmSync(staging, { recursive: true, force: true })
    if (existsSync(join(dir, DevCertificateFiles.cert))) return false // another process won the race
    throw error
  }
}

function expired(certFile: string): boolean {
  try {
    return Date.parse(new X509Certificate(readFileSync(certFile)).validTo) <= Date.now()
  } catch {
    return true // unreadable: made anew
  }
}

/**
 * Reads the material {@link ensureDevCertificates} wrote.
 *
 * @throws {Error} (ENOENT) when a file is missing.
 */
export function readDevCertificates(dir: string): DevCertificates {
  const read = (file: string): string => readFileSync(join(dir, file), 'utf8')
  return { ca: read(DevCertificateFiles.ca), cert: read(DevCertificateFiles.cert), key: read(DevCertificateFiles.key) }
}
