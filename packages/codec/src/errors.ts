/**
 * Errors of @helios/codec. Every failure has its own class and a stable string `code`; a
 * wrapped failure keeps the original in `cause`. Decoding untrusted bytes throws nothing but
 * subclasses of {@link CodecError}.
 */

/** The header of the envelope whose message failed to decode (see {@link CodecError.envelope}). */
export interface EnvelopeHeader {
  /** `"user-envelope"` or `"system-envelope"`. */
  readonly type: 'user-envelope' | 'system-envelope'
  /** Recipient actor path (`(unknown)` when the path itself failed to decode). */
  readonly recipient: string
  /** Sender actor path, if any. */
  readonly sender: string | undefined
  /** Sequence number of the envelope. */
  readonly seq?: number
}

/**
 * Base class of every error this package throws.
 *
 * Each decode error concerns one frame only: the codec state stays usable and the connection
 * may go on. When the failing frame was an envelope whose header could be read, `envelope`
 * names the recipient and sender so the receiver can report which message failed.
 */
export class CodecError extends Error {
  /** Stable machine-readable code, e.g. `ERR_UNKNOWN_MANIFEST`. */
  readonly code: string
  /** Header of the envelope whose message failed, when it could be decoded. */
  envelope: EnvelopeHeader | undefined

  constructor(code: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = new.target.name
    this.code = code
    this.envelope = undefined
  }
}

/** The bytes are not a well-formed PDU (truncated, trailing bytes, bad msgpack, wrong field types). Code `ERR_CORRUPTED_FRAME`. */
export class CorruptedFrameError extends CodecError {
  constructor(message: string, cause?: unknown) {
    super('ERR_CORRUPTED_FRAME', message, cause)
  }
}

/** The first byte of a frame is not a known PDU tag. Code `ERR_UNKNOWN_PDU`. */
export class UnknownPduError extends CodecError {
  /** The tag byte found. */
  readonly tag: number
  constructor(tag: number) {
    super('ERR_UNKNOWN_PDU', `unknown PDU tag 0x${tag.toString(16).padStart(2, '0')}`)
    this.tag = tag
  }
}

/** A msgpack extension type that this protocol does not register (or a misuse of one). Code `ERR_UNSUPPORTED_EXTENSION`. */
export class UnsupportedExtensionError extends CodecError {
  /** The extension type (signed, -128..127). */
  readonly extType: number
  constructor(extType: number, message?: string) {
    super('ERR_UNSUPPORTED_EXTENSION', message ?? `msgpack extension type ${extType} is not registered`)
    this.extType = extType
  }
}

/** A map key that would touch a prototype (`__proto__`). Code `ERR_FORBIDDEN_KEY`. */
export class ForbiddenKeyError extends CodecError {
  /** The key. */
  readonly key: string
  constructor(key: string) {
    super('ERR_FORBIDDEN_KEY', `forbidden object key ${JSON.stringify(key)}`)
    this.key = key
  }
}

/** Arrays, maps and objects nested deeper than the limit. Code `ERR_NESTING_TOO_DEEP`. */
export class NestingTooDeepError extends CodecError {
  /** The configured limit. */
  readonly maxDepth: number
  constructor(maxDepth: number) {
    super('ERR_NESTING_TOO_DEEP', `value nested deeper than ${maxDepth} levels`)
    this.maxDepth = maxDepth
  }
}

/** A frame larger than `maxFrameSize` (checked when encoding and when decoding). Code `ERR_FRAME_TOO_LONG`. */
export class FrameTooLongError extends CodecError {
  /** Frame payload length in bytes. */
  readonly length: number
  /** The configured limit. */
  readonly maxFrameSize: number
  constructor(length: number, maxFrameSize: number) {
    super('ERR_FRAME_TOO_LONG', `frame of ${length} bytes exceeds maxFrameSize ${maxFrameSize}`)
    this.length = length
    this.maxFrameSize = maxFrameSize
  }
}

/** A serialized message larger than `maxMessageSize`; nothing was sent or kept. Code `ERR_MESSAGE_TOO_LARGE`. */
export class MessageTooLargeError extends CodecError {
  /** Serialized size (or declared size, on the receiving side). */
  readonly size: number
  /** The configured limit. */
  readonly maxMessageSize: number
  constructor(size: number, maxMessageSize: number) {
    super('ERR_MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds maxMessageSize ${maxMessageSize}`)
    this.size = size
    this.maxMessageSize = maxMessageSize
  }
}

/** A class manifest that is not registered in the {@link MessageRegistry}. Code `ERR_UNKNOWN_MANIFEST`. */
export class UnknownManifestError extends CodecError {
  /** The manifest received. */
  readonly manifest: string
  constructor(manifest: string) {
    super('ERR_UNKNOWN_MANIFEST', `no message class registered for manifest ${JSON.stringify(manifest)}`)
    this.manifest = manifest
  }
}

/** A registered class's `fromWire` or the RefCodec's `fromPath` threw while rebuilding a message. Code `ERR_MESSAGE_DECODE`. */
export class MessageDecodeError extends CodecError {
  constructor(message: string, cause?: unknown) {
    super('ERR_MESSAGE_DECODE', message, cause)
  }
}

/** A registered class's `toWire` or the RefCodec's `toPath` threw. Code `ERR_MESSAGE_ENCODE`. */
export class MessageEncodeError extends CodecError {
  constructor(message: string, cause?: unknown) {
    super('ERR_MESSAGE_ENCODE', message, cause)
  }
}

/** A value the wire format cannot carry (function, symbol, unregistered class, ref without a RefCodec...). Code `ERR_UNSUPPORTED_VALUE`. */
export class UnsupportedValueError extends CodecError {
  constructor(message: string, cause?: unknown) {
    super('ERR_UNSUPPORTED_VALUE', message, cause)
  }
}

/** A PDU object given to an encoder has an invalid field (negative sequence number, uid out of range...). Code `ERR_INVALID_PDU`. */
export class InvalidPduError extends CodecError {
  constructor(message: string, cause?: unknown) {
    super('ERR_INVALID_PDU', message, cause)
  }
}

/** A message class or manifest registered twice. Code `ERR_DUPLICATE_REGISTRATION`. */
export class DuplicateRegistrationError extends CodecError {
  constructor(message: string) {
    super('ERR_DUPLICATE_REGISTRATION', message)
  }
}

/** A compressed index the inbound table does not hold. Code `ERR_COMPRESSION_UNKNOWN_INDEX`. */
export class CompressionUnknownIndexError extends CodecError {
  /** Which table: `"actor-ref"` or `"manifest"`. */
  readonly table: string
  /** The index received. */
  readonly index: number
  constructor(table: string, index: number) {
    super('ERR_COMPRESSION_UNKNOWN_INDEX', `unknown ${table} compression index ${index}`)
    this.table = table
    this.index = index
  }
}

/** An advertisement rebinds an index already bound to another value. Code `ERR_COMPRESSION_CONFLICT`. */
export class CompressionConflictError extends CodecError {
  /** Which table. */
  readonly table: string
  /** The index advertised twice with different values. */
  readonly index: number
  constructor(table: string, index: number) {
    super('ERR_COMPRESSION_CONFLICT', `${table} compression index ${index} is already bound to another value`)
    this.table = table
    this.index = index
  }
}

/** An advertisement or ack from another incarnation (uid) of the peer. Code `ERR_COMPRESSION_STALE`. */
export class CompressionStaleError extends CodecError {
  /** The uid the PDU came from. */
  readonly originUid: bigint
  constructor(originUid: bigint, expectedUid: bigint) {
    super('ERR_COMPRESSION_STALE', `compression PDU from uid ${originUid}, association is with uid ${expectedUid}`)
    this.originUid = originUid
  }
}

/** An advertised index or value beyond the protocol's table limits. Code `ERR_COMPRESSION_TABLE_FULL`. */
export class CompressionTableFullError extends CodecError {
  constructor(message: string) {
    super('ERR_COMPRESSION_TABLE_FULL', message)
  }
}

/** A fragment that does not continue its message where the previous one ended. Code `ERR_FRAGMENT_OUT_OF_ORDER`. */
export class FragmentOutOfOrderError extends CodecError {
  /** The fragmented message's id. */
  readonly messageId: number
  constructor(messageId: number, message: string) {
    super('ERR_FRAGMENT_OUT_OF_ORDER', message)
    this.messageId = messageId
  }
}

/** Reassembly would exceed the per-association buffer bound. Code `ERR_REASSEMBLY_OVERFLOW`. */
export class ReassemblyOverflowError extends CodecError {
  /** The fragmented message's id. */
  readonly messageId: number
  constructor(messageId: number, message: string) {
    super('ERR_REASSEMBLY_OVERFLOW', message)
    this.messageId = messageId
  }
}

/** The connection preamble does not start with the Helios magic bytes. Code `ERR_BAD_MAGIC`. */
export class BadMagicError extends CodecError {
  constructor() {
    super('ERR_BAD_MAGIC', 'connection preamble does not start with the Helios magic "HELIOS"')
  }
}

/** The peer speaks a protocol version this implementation does not. Code `ERR_UNSUPPORTED_VERSION`. */
export class UnsupportedVersionError extends CodecError {
  /** The version the peer announced. */
  readonly version: number
  constructor(version: number, supported: number) {
    super('ERR_UNSUPPORTED_VERSION', `peer speaks protocol version ${version}, this node speaks ${supported}`)
    this.version = version
  }
}

/** The preamble names a lane that does not exist. Code `ERR_UNKNOWN_LANE`. */
export class UnknownLaneError extends CodecError {
  /** The lane byte found. */
  readonly lane: number
  constructor(lane: number) {
    super('ERR_UNKNOWN_LANE', `unknown lane ${lane}`)
    this.lane = lane
  }
}
