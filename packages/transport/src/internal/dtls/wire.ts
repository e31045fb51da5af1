/*
 * DTLS 1.2 (RFC 6347 over RFC 5246) wire constants and a bounds-checked reader. Every parse of
 * bytes from the network goes through Reader: reading past the end throws DtlsDecodeError, which
 * the callers turn into a dropped datagram or a failed handshake, never into a crash.
 */

/** Record content types. */
export const ContentType = { changeCipherSpec: 20, alert: 21, handshake: 22, applicationData: 23 } as const

/** Handshake message types. */
export const HandshakeType = {
  helloRequest: 0,
  clientHello: 1,
  serverHello: 2,
  helloVerifyRequest: 3,
  certificate: 11,
  serverKeyExchange: 12,
  certificateRequest: 13,
  serverHelloDone: 14,
  certificateVerify: 15,
  clientKeyExchange: 16,
  finished: 20,
} as const

/** DTLS 1.2 on the wire (`{254, 253}`). */
export const DTLS_1_2 = 0xfefd
/** DTLS 1.0 on the wire, used in HelloVerifyRequest and accepted in the first records of a client. */
export const DTLS_1_0 = 0xfeff

/** Record header: type(1) version(2) epoch(2) sequence_number(6) length(2). */
export const RECORD_HEADER = 13
/** Handshake header: msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3). */
export const HANDSHAKE_HEADER = 12
/** Largest plaintext of one record (2^14), whatever the MTU. */
export const MAX_PLAINTEXT = 16384
/** Largest record payload RFC 6347 allows (2^14 + 2048). */
export const MAX_RECORD_PAYLOAD = 16384 + 2048

/** Extensions. */
export const Ext = {
  serverName: 0,
  supportedGroups: 10,
  ecPointFormats: 11,
  signatureAlgorithms: 13,
  extendedMasterSecret: 23,
  renegotiationInfo: 0xff01,
} as const

/** The signalling cipher suite value of RFC 5746. */
export const EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff

/** Alert descriptions (RFC 5246 §7.2), by number. */
export const AlertDescription = {
  closeNotify: 0,
  unexpectedMessage: 10,
  badRecordMac: 20,
  handshakeFailure: 40,
  badCertificate: 42,
  unsupportedCertificate: 43,
  certificateRevoked: 44,
  certificateExpired: 45,
  certificateUnknown: 46,
  illegalParameter: 47,
  unknownCa: 48,
  accessDenied: 49,
  decodeError: 50,
  decryptError: 51,
  protocolVersion: 70,
  insufficientSecurity: 71,
  internalError: 80,
  userCanceled: 90,
  noRenegotiation: 100,
  unsupportedExtension: 110,
} as const

const ALERT_NAMES = new Map<number, string>(
  Object.entries(AlertDescription).map(([k, v]) => [v, k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]),
)

/** `handshake_failure` for 40, `alert 123` for one this table does not know. */
export function alertName(description: number): string {
  return ALERT_NAMES.get(description) ?? `alert ${description}`
}

/** Bytes that do not parse as what they should be. */
export class DtlsDecodeError extends Error {}

/** A cursor over received bytes; every read is checked against `end`. */
export class Reader {
  off: number
  readonly end: number
  constructor(
    readonly buf: Uint8Array,
    off = 0,
    end = buf.byteLength,
  ) {
    this.off = off
    this.end = end
  }
  get remaining(): number {
    return this.end - this.off
  }
  private need(n: number): void {
    if (this.off + n > this.end) throw new DtlsDecodeError(`truncated: need ${n} bytes, ${this.end - this.off} left`)
  }
  u8(): number {
    this.need(1)
    return this.buf[this.off++] as number
  }
  u16(): number {
    this.need(2)
    const b = this.buf
    const o = this.off
    this.off += 2
    return ((b[o] as number) << 8) | (b[o + 1] as number)
  }
  u24(): number {
    this.need(3)
    const b = this.buf
    const o = this.off
    this.off += 3
    return ((b[o] as number) << 16) | ((b[o + 1] as number) << 8) | (b[o + 2] as number)
  }
  u48(): number {
    const hi = this.u16()
    return hi * 0x1_0000_0000 + (this.u16() * 0x10000 + this.u16())
  }
  bytes(n: number): Buffer {
    this.need(n)
    const b = this.buf
    const out = Buffer.from(b.buffer, b.byteOffset + this.off, n)
    this.off += n
    return out
  }
  vec8(): Buffer {
    return this.bytes(this.u8())
  }
  vec16(): Buffer {
    return this.bytes(this.u16())
  }
  vec24(): Buffer {
    return this.bytes(this.u24())
  }
  /** Throws unless every byte was read. */
  done(what: string): void {
    if (this.off !== this.end) throw new DtlsDecodeError(`${this.end - this.off} unexpected bytes after ${what}`)
  }
}

/** Big-endian helpers for building messages. */
export function u8(n: number): Buffer {
  return Buffer.from([n & 0xff])
}
export function u16(n: number): Buffer {
  return Buffer.from([(n >>> 8) & 0xff, n & 0xff])
}
export function u24(n: number): Buffer {
  return Buffer.from([(n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
}
export function vec8(b: Uint8Array): Buffer {
  return Buffer.concat([u8(b.byteLength), b])
}
export function vec16(b: Uint8Array): Buffer {
  return Buffer.concat([u16(b.byteLength), b])
}
export function vec24(b: Uint8Array): Buffer {
  return Buffer.concat([u24(b.byteLength), b])
}

/** Writes a 48-bit big-endian number at `off`. */
export function putU48(out: Uint8Array, off: number, n: number): void {
  const hi = Math.floor(n / 0x1_0000_0000)
  const lo = n >>> 0
  out[off] = (hi >>> 8) & 0xff
  out[off + 1] = hi & 0xff
  out[off + 2] = lo >>> 24
  out[off + 3] = (lo >>> 16) & 0xff
  out[off + 4] = (lo >>> 8) & 0xff
  out[off + 5] = lo & 0xff
}

/** One handshake message, whole. */
export interface HandshakeMessage {
  readonly type: number
  readonly seq: number
  readonly body: Buffer
}

/** A handshake message as the transcript holds it: DTLS header with offset 0 and the full length. */
export function transcriptBytes(m: HandshakeMessage): Buffer {
  const h = Buffer.allocUnsafe(HANDSHAKE_HEADER)
  const len = m.body.byteLength
  h[0] = m.type
  h.writeUIntBE(len, 1, 3)
  h.writeUInt16BE(m.seq, 4)
  h.writeUIntBE(0, 6, 3)
  h.writeUIntBE(len, 9, 3)
  return Buffer.concat([h, m.body])
}

/** Fragment header + fragment bytes for one piece of a handshake message. */
export function handshakeFragment(m: HandshakeMessage, offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(HANDSHAKE_HEADER + length)
  out[0] = m.type
  out.writeUIntBE(m.body.byteLength, 1, 3)
  out.writeUInt16BE(m.seq, 4)
  out.writeUIntBE(offset, 6, 3)
  out.writeUIntBE(length, 9, 3)
  m.body.copy(out, HANDSHAKE_HEADER, offset, offset + length)
  return out
}
