/*
 * The cryptography of DTLS 1.2 on node:crypto: the cipher suites Helios speaks (ECDHE with AEAD
 * only), the TLS 1.2 PRF, record protection (AES-GCM per RFC 5288, ChaCha20-Poly1305 per RFC 7905),
 * ephemeral key exchange (X25519, P-256, P-384) and the handshake signatures.
 */
import {
  type KeyObject,
  constants,
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto'
import { RECORD_HEADER, putU48 } from './wire.js'

/** One cipher suite. */
export interface CipherSuite {
  readonly id: number
  /** The IANA name. */
  readonly name: string
  /** The kind of certificate key the suite needs. */
  readonly auth: 'rsa' | 'ecdsa'
  readonly cipher: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305'
  readonly keyLength: number
  /** Implicit IV from the key block: 4 bytes (GCM salt) or 12 (ChaCha20-Poly1305). */
  readonly fixedIvLength: number
  /** Explicit nonce carried in each record: 8 (GCM) or 0. */
  readonly explicitNonceLength: number
  /** Hash of the PRF and of Finished. */
  readonly hash: 'sha256' | 'sha384'
}

/** The suites, in this implementation's order of preference. */
export const CIPHER_SUITES: readonly CipherSuite[] = [
  {
    id: 0xc02b,
    name: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
    auth: 'ecdsa',
    cipher: 'aes-128-gcm',
    keyLength: 16,
    fixedIvLength: 4,
    explicitNonceLength: 8,
    hash: 'sha256',
  },
  {
    id: 0xc02f,
    name: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
    auth: 'rsa',
    cipher: 'aes-128-gcm',
    keyLength: 16,
    fixedIvLength: 4,
    explicitNonceLength: 8,
    hash: 'sha256',
  },
  {
    id: 0xc02c,
    name: 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
    auth: 'ecdsa',
    cipher: 'aes-256-gcm',
    keyLength: 32,
    fixedIvLength: 4,
    explicitNonceLength: 8,
    hash: 'sha384',
  },
  {
    id: 0xc030,
    name: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
    auth: 'rsa',
    cipher: 'aes-256-gcm',
    keyLength: 32,
    fixedIvLength: 4,
    explicitNonceLength: 8,
    hash: 'sha384',
  },
  {
    id: 0xcca9,
    name: 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
    auth: 'ecdsa',
    cipher: 'chacha20-poly1305',
    keyLength: 32,
    fixedIvLength: 12,
    explicitNonceLength: 0,
    hash: 'sha256',
  },
  {
    id: 0xcca8,
    name: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
    auth: 'rsa',
    cipher: 'chacha20-poly1305',
    keyLength: 32,
    fixedIvLength: 12,
    explicitNonceLength: 0,
    hash: 'sha256',
  },
]

/** The suite with IANA number `id`, if this implementation has it. */
export function suiteById(id: number): CipherSuite | undefined {
  return CIPHER_SUITES.find((s) => s.id === id)
}

const TAG_LENGTH = 16

/** Bytes a protected record adds to its plaintext: header, explicit nonce, tag. */
export function recordOverhead(suite: CipherSuite | undefined): number {
  // Before a suite is chosen, assume the largest (GCM: 8-byte nonce + 16-byte tag).
  return RECORD_HEADER + (suite?.explicitNonceLength ?? 8) + TAG_LENGTH
}

// ------------------------------------------------------------------------------------------ PRF

/** The TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label + seed) cut to `length` bytes. */
export function prf(hash: 'sha256' | 'sha384', secret: Uint8Array, label: string, seed: Uint8Array, length: number): Buffer {
  const labelSeed = Buffer.concat([Buffer.from(label, 'latin1'), seed])
  const out: Buffer[] = []
  let total = 0
  let a: Buffer = labelSeed
  while (total < length) {
    a = createHmac(hash, secret).update(a).digest()
    const block = createHmac(hash, secret).update(a).update(labelSeed).digest()
    out.push(block)
    total += block.byteLength
  }
  return Buffer.concat(out).subarray(0, length)
}

/** The master secret of RFC 7627 (extended master secret): bound to the whole handshake so far. */
export function extendedMasterSecret(hash: 'sha256' | 'sha384', preMaster: Uint8Array, sessionHash: Uint8Array): Buffer {
  return prf(hash, preMaster, 'extended master secret', sessionHash, 48)
}

/** Hash of the handshake transcript. */
export function transcriptHash(hash: 'sha256' | 'sha384', transcript: readonly Uint8Array[]): Buffer {
  const h = createHash(hash)
  for (const m of transcript) h.update(m)
  return h.digest()
}

/** Finished's verify_data (12 bytes). */
export function finishedData(
  suite: CipherSuite,
  master: Uint8Array,
  label: 'client finished' | 'server finished',
  transcript: readonly Uint8Array[],
): Buffer {
  return prf(suite.hash, master, label, transcriptHash(suite.hash, transcript), 12)
}

/** The write keys of both sides, from the key block. */
export interface TrafficKeys {
  readonly clientKey: Buffer
  readonly serverKey: Buffer
  readonly clientIv: Buffer
  readonly serverIv: Buffer
}

/** Expands the master secret into the keys of `suite` (RFC 5246 §6.3; AEAD suites have no MAC keys). */
export function trafficKeys(suite: CipherSuite, master: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array): TrafficKeys {
  const k = suite.keyLength
  const iv = suite.fixedIvLength
  const block = prf(suite.hash, master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 2 * k + 2 * iv)
  return {
    clientKey: block.subarray(0, k),
    serverKey: block.subarray(k, 2 * k),
    clientIv: block.subarray(2 * k, 2 * k + iv),
    serverIv: block.subarray(2 * k + iv, 2 * k + 2 * iv),
  }
}

// ---------------------------------------------------------------------------- record protection

/**
 * The protection of one direction of one epoch: seals plaintext into a whole record (header
 * included) and opens a received record's payload. Nonces come from epoch and sequence number,
 * which never repeat within an epoch.
 */
export class RecordProtection {
  private readonly nonce: Buffer
  private readonly aad = Buffer.allocUnsafe(13)

  constructor(
    readonly suite: CipherSuite,
    private readonly key: Buffer,
    private readonly iv: Buffer,
  ) {
    this.nonce = Buffer.alloc(12)
    iv.copy(this.nonce, 0)
  }

  /** The 12-byte nonce of the record (epoch, seq); for GCM also the 8-byte explicit part at nonce[4..12]. */
  private nonceFor(epoch: number, seq: number): Buffer {
    const n = this.nonce
    if (this.suite.explicitNonceLength === 8) {
      n.writeUInt16BE(epoch, 4)
      putU48(n, 6, seq)
    } else {
      // RFC 7905: the 64-bit epoch||seq, left-padded, XORed into the 12-byte IV.
      const iv = this.iv
      n[0] = iv[0] as number
      n[1] = iv[1] as number
      n[2] = iv[2] as number
      n[3] = iv[3] as number
      n[4] = ((iv[4] as number) ^ (epoch >>> 8)) & 0xff
      n[5] = ((iv[5] as number) ^ epoch) & 0xff
      const hi = Math.floor(seq / 0x1_0000_0000)
      const lo = seq >>> 0
      n[6] = ((iv[6] as number) ^ (hi >>> 8)) & 0xff
      n[7] = ((iv[7] as number) ^ hi) & 0xff
      n[8] = ((iv[8] as number) ^ (lo >>> 24)) & 0xff
      n[9] = ((iv[9] as number) ^ (lo >>> 16)) & 0xff
      n[10] = ((iv[10] as number) ^ (lo >>> 8)) & 0xff
      n[11] = ((iv[11] as number) ^ lo) & 0xff
    }
    return n
  }

  private aadFor(type: number, version: number, epoch: number, seq: number, length: number): Buffer {
    const a = this.aad
    a.writeUInt16BE(epoch, 0)
    putU48(a, 2, seq)
    a[8] = type
    a.writeUInt16BE(version, 9)
    a.writeUInt16BE(length, 11)
    return a
  }

  /** A whole protected record carrying `plaintext`. */
  seal(type: number, version: number, epoch: number, seq: number, plaintext: Uint8Array): Buffer {
    const explicit = this.suite.explicitNonceLength
    const payloadLength = explicit + plaintext.byteLength + TAG_LENGTH
    const out = Buffer.allocUnsafe(RECORD_HEADER + payloadLength)
    out[0] = type
    out.writeUInt16BE(version, 1)
    out.writeUInt16BE(epoch, 3)
    putU48(out, 5, seq)
    out.writeUInt16BE(payloadLength, 11)
    const nonce = this.nonceFor(epoch, seq)
    if (explicit === 8) nonce.copy(out, RECORD_HEADER, 4, 12)
    const c = createCipheriv(this.suite.cipher, this.key, nonce, { authTagLength: TAG_LENGTH } as never) as unknown as AeadCipher
    c.setAAD(this.aadFor(type, version, epoch, seq, plaintext.byteLength))
    let off = RECORD_HEADER + explicit
    const enc = c.update(plaintext)
    enc.copy(out, off)
    off += enc.byteLength
    const fin = c.final()
    fin.copy(out, off)
    off += fin.byteLength
    c.getAuthTag().copy(out, off)
    return out
  }

  /** The plaintext of a received record's payload, or undefined when it does not authenticate. */
  open(type: number, version: number, epoch: number, seq: number, payload: Uint8Array): Buffer | undefined {
    const explicit = this.suite.explicitNonceLength
    const textLength = payload.byteLength - explicit - TAG_LENGTH
    if (textLength < 0) return undefined
    const nonce = this.nonce
    if (explicit === 8) {
      // The explicit nonce is the sender's; we take it as sent (it is authenticated through the tag).
      for (let i = 0; i < 8; i++) nonce[4 + i] = payload[i] as number
    } else {
      this.nonceFor(epoch, seq)
    }
    try {
      const d = createDecipheriv(this.suite.cipher, this.key, nonce, { authTagLength: TAG_LENGTH } as never) as unknown as AeadDecipher
      d.setAAD(this.aadFor(type, version, epoch, seq, textLength))
      d.setAuthTag(payload.subarray(explicit + textLength))
      const text = d.update(payload.subarray(explicit, explicit + textLength))
      const fin = d.final()
      return fin.byteLength === 0 ? text : Buffer.concat([text, fin])
    } catch {
      return undefined
    }
  }
}

interface AeadCipher {
  setAAD(b: Uint8Array): void
  update(b: Uint8Array): Buffer
  final(): Buffer
  getAuthTag(): Buffer
}
interface AeadDecipher {
  setAAD(b: Uint8Array): void
  setAuthTag(b: Uint8Array): void
  update(b: Uint8Array): Buffer
  final(): Buffer
}

/** A plaintext record (epoch 0). */
export function plainRecord(type: number, version: number, epoch: number, seq: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER + payload.byteLength)
  out[0] = type
  out.writeUInt16BE(version, 1)
  out.writeUInt16BE(epoch, 3)
  putU48(out, 5, seq)
  out.writeUInt16BE(payload.byteLength, 11)
  out.set(payload, RECORD_HEADER)
  return out
}

/** ChangeCipherSpec's one-byte body. */
export const CCS_BODY = Buffer.from([1])

// ---------------------------------------------------------------------------------------- ECDHE

/** Named groups (supported_groups), in order of preference. */
export const GROUPS = { x25519: 29, secp256r1: 23, secp384r1: 24 } as const
export const GROUP_PREFERENCE: readonly number[] = [GROUPS.x25519, GROUPS.secp256r1, GROUPS.secp384r1]

const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')

/** One side's ephemeral key of a handshake. */
export interface EphemeralKey {
  readonly group: number
  /** The public value as it goes on the wire. */
  readonly publicValue: Buffer
  /** The shared secret with the peer's public value; throws on an invalid point. */
  agree(peer: Uint8Array): Buffer
}

/** A fresh ephemeral key in `group`. */
export function ephemeralKey(group: number): EphemeralKey {
  if (group === GROUPS.x25519) {
    const { privateKey, publicKey } = generateKeyPairSync('x25519')
    const raw = (publicKey.export({ format: 'der', type: 'spki' }) as Buffer).subarray(-32)
    return {
      group,
      publicValue: Buffer.from(raw),
      agree(peer) {
        if (peer.byteLength !== 32) throw new Error('X25519 public value must be 32 bytes')
        const peerKey = createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, peer]), format: 'der', type: 'spki' })
        const secret = diffieHellman({ privateKey, publicKey: peerKey })
        if (secret.every((b) => b === 0)) throw new Error('X25519 shared secret is zero (a low-order point)')
        return secret
      },
    }
  }
  const curve = group === GROUPS.secp256r1 ? 'prime256v1' : group === GROUPS.secp384r1 ? 'secp384r1' : undefined
  if (curve === undefined) throw new Error(`unsupported group ${group}`)
  const ecdh = createECDH(curve)
  const pub = ecdh.generateKeys()
  const pointLength = curve === 'prime256v1' ? 65 : 97
  return {
    group,
    publicValue: pub,
    agree(peer) {
      // Only uncompressed points of the right size (ec_point_formats: uncompressed).
      if (peer.byteLength !== pointLength || peer[0] !== 4) throw new Error('EC point must be uncompressed and of the curve size')
      return ecdh.computeSecret(peer)
    },
  }
}

// ----------------------------------------------------------------------------------- signatures

/** Signature schemes (signature_algorithms), by number. */
export const SIG = {
  rsaPkcs1Sha256: 0x0401,
  rsaPkcs1Sha384: 0x0501,
  rsaPkcs1Sha512: 0x0601,
  ecdsaSha256: 0x0403,
  ecdsaSha384: 0x0503,
  ecdsaSha512: 0x0603,
  rsaPssRsaeSha256: 0x0804,
  rsaPssRsaeSha384: 0x0805,
  rsaPssRsaeSha512: 0x0806,
  ed25519: 0x0807,
} as const

/** What this implementation offers and accepts, in order of preference. */
export const SIGNATURE_SCHEMES: readonly number[] = [
  SIG.ecdsaSha256,
  SIG.ed25519,
  SIG.rsaPssRsaeSha256,
  SIG.ecdsaSha384,
  SIG.rsaPssRsaeSha384,
  SIG.rsaPssRsaeSha512,
  SIG.rsaPkcs1Sha256,
  SIG.rsaPkcs1Sha384,
  SIG.ecdsaSha512,
  SIG.rsaPkcs1Sha512,
]

interface SchemeInfo {
  readonly key: 'rsa' | 'ec' | 'ed25519'
  readonly hash: string | null
  readonly pss: boolean
}

function schemeInfo(scheme: number): SchemeInfo | undefined {
  switch (scheme) {
    case SIG.rsaPkcs1Sha256:
      return { key: 'rsa', hash: 'sha256', pss: false }
    case SIG.rsaPkcs1Sha384:
      return { key: 'rsa', hash: 'sha384', pss: false }
    case SIG.rsaPkcs1Sha512:
      return { key: 'rsa', hash: 'sha512', pss: false }
    case SIG.rsaPssRsaeSha256:
      return { key: 'rsa', hash: 'sha256', pss: true }
    case SIG.rsaPssRsaeSha384:
      return { key: 'rsa', hash: 'sha384', pss: true }
    case SIG.rsaPssRsaeSha512:
      return { key: 'rsa', hash: 'sha512', pss: true }
    case SIG.ecdsaSha256:
      return { key: 'ec', hash: 'sha256', pss: false }
    case SIG.ecdsaSha384:
      return { key: 'ec', hash: 'sha384', pss: false }
    case SIG.ecdsaSha512:
      return { key: 'ec', hash: 'sha512', pss: false }
    case SIG.ed25519:
      return { key: 'ed25519', hash: null, pss: false }
    default:
      return undefined
  }
}

/** The kind of a certificate key: which suites (rsa or ecdsa) and signature schemes fit it. */
export function keyKind(key: KeyObject): 'rsa' | 'ec' | 'ed25519' | undefined {
  const t = key.asymmetricKeyType
  return t === 'rsa' ? 'rsa' : t === 'ec' ? 'ec' : t === 'ed25519' ? 'ed25519' : undefined
}

/** The first scheme of `offered` (the peer's list, in its order) that fits our key and that we support. */
export function chooseScheme(key: KeyObject, offered: readonly number[]): number | undefined {
  const kind = keyKind(key)
  for (const s of offered) {
    const info = schemeInfo(s)
    if (info !== undefined && info.key === kind && SIGNATURE_SCHEMES.includes(s)) return s
  }
  return undefined
}

/** Signs `data` with `scheme`. */
export function signWith(scheme: number, key: KeyObject, data: Uint8Array): Buffer {
  const info = schemeInfo(scheme)
  if (info === undefined) throw new Error(`unsupported signature scheme 0x${scheme.toString(16)}`)
  if (info.pss)
    return cryptoSign(info.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST })
  return cryptoSign(info.hash, data, key)
}

/** Verifies a signature made with `scheme`; false (never throws) when it does not verify or the key does not fit. */
export function verifyWith(scheme: number, key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  const info = schemeInfo(scheme)
  if (info === undefined || info.key !== keyKind(key)) return false
  try {
    if (info.pss)
      return cryptoVerify(
        info.hash,
        data,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
        signature,
      )
    return cryptoVerify(info.hash, data, key, signature)
  } catch {
    return false
  }
}
