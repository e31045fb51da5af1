import type { KeyObject } from 'node:crypto'
import type { CommonChannelOptions } from '../../BootstrapOptions.js'
import { systemClock } from '../../Clock.js'
import { type PemInput, parseCertificates, parsePrivateKey, trustAnchors } from './certificates.js'
import type { DtlsConfig } from './Session.js'

/** The node:tls options DTLS reads (the rest do not apply to it). */
export interface DtlsTlsOptions {
  readonly key?: unknown
  readonly cert?: unknown
  readonly ca?: unknown
  readonly passphrase?: string | undefined
  readonly requestCert?: boolean | undefined
  readonly rejectUnauthorized?: boolean | undefined
  readonly servername?: string | undefined
}

const DEFAULT_MTU = 1280

/**
 * The configuration of a DTLS endpoint from a bootstrap's options. `needsCertificate`: a server
 * or a peer (which accepts sessions) must have a key and a certificate.
 * @throws Error when the key or certificates cannot be read, or do not belong together
 */
export function dtlsConfig(
  tls: DtlsTlsOptions | undefined,
  o: CommonChannelOptions,
  family: string,
  needsCertificate: boolean,
  servername?: string,
): DtlsConfig {
  const t = tls ?? {}
  let key: KeyObject | undefined
  const rawKey = Array.isArray(t.key) ? t.key[0] : t.key
  if (rawKey !== undefined) {
    const pem =
      typeof rawKey === 'object' && rawKey !== null && 'pem' in rawKey
        ? (rawKey as { pem: string | Buffer }).pem
        : (rawKey as string | Buffer)
    const passphrase =
      typeof rawKey === 'object' && rawKey !== null && 'passphrase' in rawKey
        ? (rawKey as { passphrase?: string }).passphrase
        : t.passphrase
    key = parsePrivateKey(pem, passphrase)
  }
  const certs = parseCertificates(t.cert as PemInput | undefined)
  if (needsCertificate && (key === undefined || certs.length === 0)) throw new Error('DTLS needs tls.key and tls.cert to accept sessions')
  if ((key === undefined) !== (certs.length === 0)) throw new Error('DTLS: tls.key and tls.cert go together')
  if (key !== undefined && !(certs[0] as { checkPrivateKey(k: KeyObject): boolean }).checkPrivateKey(key))
    throw new Error('DTLS: tls.key is not the key of tls.cert')
  const mtu = o.dtls?.mtu ?? DEFAULT_MTU
  const headers = family === 'IPv6' || family === 'udp6' ? 48 : 28
  if (!(Number.isInteger(mtu) && mtu >= 576 && mtu <= 65_535))
    throw new RangeError(`dtls.mtu must be an integer in [576, 65535], got ${mtu}`)
  return {
    clock: o.clock ?? systemClock,
    key,
    chain: certs.map((c) => c.raw),
    anchors: trustAnchors(t.ca as PemInput | undefined),
    requestCert: t.requestCert === true,
    rejectUnauthorized: t.rejectUnauthorized !== false,
    servername: t.servername ?? servername,
    maxDatagram: Math.min(mtu - headers, 65_507),
    retransmitMs: o.dtls?.retransmitMs ?? 1000,
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? 10_000,
  }
}
