/*
 * Certificate verification for DTLS, with node:crypto's X509Certificate, the way Node's TLS
 * (OpenSSL) does it by default: the peer's chain must lead to a certificate of `ca` (or, without
 * `ca`, of Node's bundled root certificates), every certificate in it within its validity dates,
 * every issuer a CA that signed what it issued, the leaf's extended key usage (if it has one) fit
 * for its role, and for a server its subject alternative names matching the host name or IP the
 * client asked for. Verdicts carry OpenSSL's names, as Node's TLS errors do.
 */
import { type KeyObject, X509Certificate, createPrivateKey } from 'node:crypto'
import { isIP } from 'node:net'
import { rootCertificates } from 'node:tls'

/** Longest chain accepted (leaf to anchor). */
const MAX_DEPTH = 10
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const ANY_EKU = '2.5.29.37.0'

/** PEM or DER input as node:tls takes it: one value or an array, strings or buffers. */
export type PemInput = string | Buffer | readonly (string | Buffer)[]

/** Every certificate in PEM (or DER) input. */
export function parseCertificates(input: PemInput | undefined): X509Certificate[] {
  if (input === undefined) return []
  const items = Array.isArray(input) ? input : [input as string | Buffer]
  const out: X509Certificate[] = []
  for (const item of items) {
    const text = typeof item === 'string' ? item : item.toString('latin1')
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)
    if (blocks === null) out.push(new X509Certificate(typeof item === 'string' ? Buffer.from(item, 'latin1') : item))
    else for (const b of blocks) out.push(new X509Certificate(b))
  }
  return out
}

/** The key of `key` (PEM or DER, optionally with `passphrase`), as a KeyObject. */
export function parsePrivateKey(key: string | Buffer, passphrase?: string): KeyObject {
  return createPrivateKey(passphrase === undefined ? { key } : { key, passphrase })
}

/** The trust anchors: `ca` when given, else Node's bundled root certificates. */
export function trustAnchors(ca: PemInput | undefined): X509Certificate[] {
  return ca === undefined ? rootCertificates.map((pem) => new X509Certificate(pem)) : parseCertificates(ca)
}

/** A verification verdict that refused the chain. */
export interface CertificateVerdict {
  /** OpenSSL's name of the verdict, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT` (Node's `ERR_TLS_CERT_ALTNAME_INVALID` for a host name). */
  readonly code: string
  readonly message: string
}

/** What {@link verifyChain} checks against. */
export interface ChainCheck {
  readonly anchors: readonly X509Certificate[]
  /** Whose certificate: a server's must be fit for serverAuth, a client's for clientAuth. */
  readonly purpose: 'server' | 'client'
  /** Host name or IP the leaf must name (servers only), if any. */
  readonly host?: string | undefined
  /** Now, in ms since the epoch. */
  readonly now: number
}

function validity(c: X509Certificate, now: number): CertificateVerdict | undefined {
  const from = Date.parse(c.validFrom)
  const to = Date.parse(c.validTo)
  if (!(now >= from)) return { code: 'CERT_NOT_YET_VALID', message: `certificate is not yet valid (valid from ${c.validFrom})` }
  if (!(now <= to)) return { code: 'CERT_HAS_EXPIRED', message: `certificate has expired (valid to ${c.validTo})` }
  return undefined
}

/** Issued by itself (OpenSSL's checkIssued also wants keyCertSign usage, which a self-signed leaf lacks). */
function selfSigned(c: X509Certificate): boolean {
  try {
    return c.subject === c.issuer && c.verify(c.publicKey)
  } catch {
    return false
  }
}

function signedBy(c: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return c.checkIssued(issuer) && c.verify(issuer.publicKey)
  } catch {
    return false
  }
}

/**
 * Verifies the chain a peer presented (leaf first, DER). Returns the leaf when it verifies, or
 * the verdict that refused it.
 */
export function verifyChain(chain: readonly Uint8Array[], check: ChainCheck): { leaf: X509Certificate } | { verdict: CertificateVerdict } {
  if (chain.length === 0) return { verdict: { code: 'NO_PEER_CERTIFICATE', message: 'the peer presented no certificate' } }
  let certs: X509Certificate[]
  try {
    certs = chain.map((der) => new X509Certificate(Buffer.from(der)))
  } catch (err) {
    return { verdict: { code: 'CERT_PARSE_ERROR', message: `unparsable certificate: ${(err as Error).message}` } }
  }
  const leaf = certs[0] as X509Certificate
  const anchors = check.anchors
  let current = leaf
  const used = new Set<X509Certificate>([leaf])
  for (let depth = 0; ; depth++) {
    const v = validity(current, check.now)
    if (v !== undefined) return { verdict: v }
    if (depth > 0 && !current.ca) return { verdict: { code: 'INVALID_CA', message: `${current.subject.replace(/\n/g, ', ')} is not a CA` } }
    // The chain ends at a certificate we trust: the same certificate, or one our anchor signed.
    if (anchors.some((a) => a.fingerprint256 === current.fingerprint256)) break
    const anchor = anchors.find((a) => signedBy(current, a))
    if (anchor !== undefined) {
      const av = validity(anchor, check.now)
      if (av !== undefined) return { verdict: av }
      break
    }
    if (depth + 1 >= MAX_DEPTH) return { verdict: { code: 'CERT_CHAIN_TOO_LONG', message: `certificate chain longer than ${MAX_DEPTH}` } }
    const next = certs.find((c) => !used.has(c) && signedBy(current, c))
    if (next === undefined) {
      if (selfSigned(current)) {
        return depth === 0
          ? { verdict: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed certificate' } }
          : { verdict: { code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'self-signed certificate in certificate chain' } }
      }
      return depth === 0
        ? { verdict: { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', message: 'unable to verify the first certificate' } }
        : { verdict: { code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', message: 'unable to get local issuer certificate' } }
    }
    used.add(next)
    current = next
  }
  const eku = leaf.keyUsage as string[] | undefined
  const wanted = check.purpose === 'server' ? SERVER_AUTH : CLIENT_AUTH
  if (eku !== undefined && eku.length > 0 && !eku.includes(wanted) && !eku.includes(ANY_EKU)) {
    return {
      verdict: { code: 'INVALID_PURPOSE', message: `certificate is not for ${check.purpose === 'server' ? 'serverAuth' : 'clientAuth'}` },
    }
  }
  const host = check.host
  if (host !== undefined && host !== '') {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
    const matched = isIP(bare) !== 0 ? leaf.checkIP(bare) : leaf.checkHost(bare)
    if (matched === undefined) {
      return {
        verdict: {
          code: 'ERR_TLS_CERT_ALTNAME_INVALID',
          message: `Hostname/IP does not match certificate's altnames: ${isIP(bare) !== 0 ? 'IP' : 'Host'}: ${bare} is not in the cert's list: ${leaf.subjectAltName ?? '(none)'}`,
        },
      }
    }
  }
  return { leaf }
}
