import { AssociationCodec } from './AssociationCodec.js'
import { CodecError, CorruptedFrameError, FrameTooLongError, InvalidPduError, UnknownPduError } from './errors.js'
import type { DecodeContext, EncodeContext } from './internal/BodyCodec.js'
import { decodeValue, packPrepared } from './internal/BodyCodec.js'
import { DEFAULT_COMPRESSION_GENERATION_MS, MAX_COMPRESSION_GENERATION } from './internal/CompressionTables.js'
import { decodeEnvelope, encodeEnvelope } from './internal/Envelope.js'
import { HeaderReader, uintSize, writeUint } from './internal/Wire.js'
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE } from './limits.js'
import { MessageRegistry } from './MessageRegistry.js'
import { DisassociateReason, PduTag } from './Pdu.js'
import type { CompressionTableKind, FragmentPdu, Pdu, UniqueAddress } from './Pdu.js'
import type { RefCodec } from './RefCodec.js'

/** Configuration of a {@link Codec}. Every field is optional. */
export interface CodecOptions {
  /** Registered message classes (default: an empty registry). */
  readonly registry?: MessageRegistry
  /** How actor refs inside messages are written and rebuilt (supplied by @helios/actors). */
  readonly refCodec?: RefCodec
  /** uid of the local node, sent in compression advertisements and acks (default 0n). */
  readonly localUid?: bigint
  /** Largest frame payload, checked when encoding and decoding (default 256 KiB, min 64). */
  readonly maxFrameSize?: number
  /** Largest serialized envelope, fragmented above maxFrameSize (default 16 MiB). */
  readonly maxMessageSize?: number
  /** Deepest nesting accepted in a message (default 64). */
  readonly maxDepth?: number
  /** Compression: indexes a table allocates at most (default 256, protocol max 4096). */
  readonly compressionMaxEntries?: number
  /** Compression: sends of a path or manifest before it is allocated an index (default 2). */
  readonly compressAfter?: number
  /**
   * Compression: the shortest life of a generation of the tables, in ms (default 5000). A new
   * generation is started at most this often after the previous switch; values unused for this
   * long (to twice) are left out of it; the receiver frees the previous generation this long after
   * the first envelope of the new one. Needs {@link AssociationCodec.tick} on a timer.
   */
  readonly compressionGenerationMs?: number
  /** Reassembly: bytes buffered at most per association (default 2 x maxMessageSize). */
  readonly maxReassemblyBytes?: number
  /** Reassembly: incomplete messages per association (default 8). */
  readonly maxPendingFragmentedMessages?: number
}

/** Resolved options. @internal */
export interface ResolvedCodecOptions {
  readonly registry: MessageRegistry
  readonly refCodec: RefCodec | undefined
  readonly localUid: bigint
  readonly maxFrameSize: number
  readonly maxMessageSize: number
  readonly maxDepth: number
  readonly compressionMaxEntries: number
  readonly compressAfter: number
  readonly compressionGenerationMs: number
  readonly maxReassemblyBytes: number
  readonly maxPendingFragmentedMessages: number
}

const TABLE_CODES: Record<CompressionTableKind, number> = { 'actor-ref': 0, manifest: 1 }
const MAX_UID = 2n ** 64n - 1n
const REASONS = Object.values(DisassociateReason) as number[]

function isUint(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}

function checkUint(n: unknown, what: string): number {
  if (!isUint(n)) throw new InvalidPduError(`${what} must be a non-negative safe integer`)
  return n
}

function checkSession(n: unknown): number {
  if (!isUint(n) || n === 0) throw new InvalidPduError('session must be a positive safe integer')
  return n
}

function checkStr(s: unknown, what: string): string {
  if (typeof s !== 'string') throw new InvalidPduError(`${what} must be a string`)
  return s
}

function checkUid(uid: unknown, what: string): bigint {
  if (typeof uid !== 'bigint' || uid < 0n || uid > MAX_UID) throw new InvalidPduError(`${what} must be a bigint in 0..2^64-1`)
  return uid
}

/** Numbers above 2^32 are written as float64 (docs/PROTOCOL.md §6); a bigint makes the writer use int64/uint64. */
function wireUint(n: number): number | bigint {
  return n > 0xffffffff ? BigInt(n) : n
}

function asUint(v: unknown, what: string): number {
  if (isUint(v)) return v
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v)
  throw new CorruptedFrameError(`${what} must be an unsigned integer below 2^53`)
}

function asUid(v: unknown, what: string): bigint {
  if (isUint(v)) return BigInt(v)
  if (typeof v === 'bigint' && v >= 0n && v <= MAX_UID) return v
  throw new CorruptedFrameError(`${what} must be an unsigned 64-bit integer`)
}

function asStr(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new CorruptedFrameError(`${what} must be a string`)
  return v
}

function asArray(v: unknown, length: number, what: string): unknown[] {
  if (!Array.isArray(v) || v.length !== length) throw new CorruptedFrameError(`${what} must be an array of ${length} fields`)
  return v
}

function asUintArray(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw new CorruptedFrameError(`${what} must be an array`)
  return v.map((x) => asUint(x, what))
}

function checkGeneration(generation: number | undefined): number {
  if (generation === undefined) return 0
  if (!isUint(generation) || generation > MAX_COMPRESSION_GENERATION)
    throw new InvalidPduError('generation must be an integer in 0..2^32-1')
  return generation
}

function asGeneration(v: unknown): number {
  if (!isUint(v) || v > MAX_COMPRESSION_GENERATION)
    throw new CorruptedFrameError('compression generation must be an unsigned integer below 2^32')
  return v
}

function asTable(v: unknown): CompressionTableKind {
  if (v === 0) return 'actor-ref'
  if (v === 1) return 'manifest'
  throw new CorruptedFrameError(`unknown compression table ${String(v)}`)
}

function uniqueAddressFields(a: UniqueAddress, what: string): [string, bigint] {
  if (a === null || typeof a !== 'object') throw new InvalidPduError(`${what} must be a UniqueAddress`)
  return [checkStr(a.address, `${what}.address`), checkUid(a.uid, `${what}.uid`)]
}

/**
 * The wire codec of one node: options, the message registry and the ref hook. It encodes and
 * decodes single PDUs statelessly (no compression, no fragmentation) and creates one
 * {@link AssociationCodec} per association for everything stateful.
 *
 * @example
 * const codec = new Codec({ registry, refCodec, localUid });
 * const payload = codec.encode({ type: 'heartbeat' });      // <03 90>
 * const pdu = codec.decode(payload);                          // { type: 'heartbeat' }
 */
export class Codec {
  /** The resolved options. */
  readonly options: ResolvedCodecOptions
  /** @internal */
  readonly statelessEncode: EncodeContext
  /** @internal */
  readonly statelessDecode: DecodeContext
  readonly #reader = new HeaderReader()

  constructor(options: CodecOptions = {}) {
    const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
    const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE
    if (!Number.isSafeInteger(maxFrameSize) || maxFrameSize < 64) throw new RangeError('maxFrameSize must be an integer >= 64')
    if (!Number.isSafeInteger(maxMessageSize) || maxMessageSize < 1) throw new RangeError('maxMessageSize must be a positive integer')
    this.options = {
      registry: options.registry ?? new MessageRegistry(),
      refCodec: options.refCodec,
      localUid: options.localUid ?? 0n,
      maxFrameSize,
      maxMessageSize,
      maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
      compressionMaxEntries: options.compressionMaxEntries ?? 256,
      compressAfter: options.compressAfter ?? 2,
      compressionGenerationMs: options.compressionGenerationMs ?? DEFAULT_COMPRESSION_GENERATION_MS,
      maxReassemblyBytes: options.maxReassemblyBytes ?? 2 * maxMessageSize,
      maxPendingFragmentedMessages: options.maxPendingFragmentedMessages ?? 8,
    }
    const { registry, refCodec, maxDepth } = this.options
    this.statelessEncode = { registry, refCodec, maxDepth, refs: undefined, manifests: undefined }
    this.statelessDecode = { registry, refCodec, maxDepth, refs: undefined, manifests: undefined }
  }

  /**
   * Creates the codec state of one association (compression tables, reassembler). `localUid` is
   * the uid this node presents on that association (default {@link CodecOptions.localUid}).
   */
  createAssociation(options: { readonly remoteUid?: bigint; readonly localUid?: bigint } = {}): AssociationCodec {
    return new AssociationCodec(this, options.remoteUid, options.localUid)
  }

  /**
   * Encodes one PDU into one frame payload, without compression.
   *
   * @throws {FrameTooLongError} the payload exceeds maxFrameSize (use an {@link AssociationCodec} to fragment envelopes).
   * @throws {InvalidPduError} a field is out of range.
   * @throws {UnsupportedValueError} the message holds a value the wire cannot carry.
   */
  encode(pdu: Pdu): Uint8Array {
    const out = this.encodeWith(pdu, this.statelessEncode)
    if (out.length > this.options.maxFrameSize) throw new FrameTooLongError(out.length, this.options.maxFrameSize)
    return out
  }

  /**
   * Decodes one frame payload (the bytes after the length field) from `buf[start, end)` without
   * copying. Compressed indexes fail here (they need an {@link AssociationCodec}); fragments are
   * returned as they are.
   *
   * @throws {CodecError} only typed errors, whatever the bytes.
   */
  decode(buf: Uint8Array, start = 0, end: number = buf.length): Pdu {
    return this.decodeWith(buf, start, end, this.statelessDecode)
  }

  /** @internal */
  encodeWith(pdu: Pdu, ctx: EncodeContext): Buffer {
    if (pdu === null || typeof pdu !== 'object') throw new InvalidPduError('a PDU must be an object')
    switch (pdu.type) {
      case 'user-envelope':
        return encodeEnvelope(
          PduTag.userEnvelope,
          checkUint(pdu.seq, 'seq'),
          0,
          checkStr(pdu.recipient, 'recipient'),
          pdu.sender === undefined ? undefined : checkStr(pdu.sender, 'sender'),
          pdu.message,
          ctx,
        )
      case 'system-envelope':
        return encodeEnvelope(
          PduTag.systemEnvelope,
          checkUint(pdu.seq, 'seq'),
          0,
          checkStr(pdu.recipient, 'recipient'),
          pdu.sender === undefined ? undefined : checkStr(pdu.sender, 'sender'),
          pdu.message,
          ctx,
        )
      case 'fragment':
        return encodeFragment(pdu)
      case 'handshake-request':
      case 'handshake-response':
        return control(pdu.type === 'handshake-request' ? PduTag.handshakeRequest : PduTag.handshakeResponse, [
          ...uniqueAddressFields(pdu.from, 'from'),
          checkStr(pdu.to, 'to'),
          checkUid(pdu.nonce, 'nonce'),
          // Sessions are written as 64-bit integers, like the uid and the nonce: a response is then
          // exactly as long as the request it answers (docs/PROTOCOL.md §4.1), which is what a
          // node may send back to an address it has not verified yet over datagrams.
          BigInt(checkSession(pdu.session)),
          BigInt(checkUint(pdu.toSession, 'toSession')),
        ])
      case 'heartbeat':
        return control(PduTag.heartbeat, [])
      case 'heartbeat-reply':
        return control(PduTag.heartbeatReply, [checkUid(pdu.uid, 'uid')])
      case 'user-ack':
        return control(PduTag.userAck, [wireUint(checkUint(pdu.seq, 'seq'))])
      case 'disassociate':
        if (!REASONS.includes(pdu.reason)) throw new InvalidPduError('unknown disassociate reason')
        return control(PduTag.disassociate, [pdu.reason, checkStr(pdu.detail, 'detail')])
      case 'quarantined':
        return control(PduTag.quarantined, [...uniqueAddressFields(pdu.from, 'from'), ...uniqueAddressFields(pdu.to, 'to')])
      case 'ack':
        return control(PduTag.ack, [
          wireUint(checkUint(pdu.cumulative, 'cumulative')),
          pdu.selective.map((n) => wireUint(checkUint(n, 'selective'))),
        ])
      case 'nack':
        return control(PduTag.nack, [
          wireUint(checkUint(pdu.cumulative, 'cumulative')),
          pdu.missing.map((n) => wireUint(checkUint(n, 'missing'))),
        ])
      case 'compression-advertisement': {
        const flat: unknown[] = []
        for (const [index, value] of pdu.entries) flat.push(checkUint(index, 'index'), checkStr(value, 'value'))
        return control(PduTag.compressionAdvertisement, [
          checkUid(pdu.originUid, 'originUid'),
          TABLE_CODES[pdu.table],
          checkGeneration(pdu.generation),
          checkUint(pdu.version, 'version'),
          flat,
        ])
      }
      case 'compression-ack':
        return control(PduTag.compressionAck, [
          checkUid(pdu.originUid, 'originUid'),
          TABLE_CODES[pdu.table],
          checkGeneration(pdu.generation),
          checkUint(pdu.version, 'version'),
        ])
      default:
        throw new InvalidPduError(`unknown PDU type ${String((pdu as { type?: unknown }).type)}`)
    }
  }

  /** @internal */
  decodeWith(buf: Uint8Array, start: number, end: number, ctx: DecodeContext, maxLength: number = this.options.maxFrameSize): Pdu {
    if (
      !(buf instanceof Uint8Array) ||
      !Number.isInteger(start) ||
      !Number.isInteger(end) ||
      start < 0 ||
      end > buf.length ||
      start > end
    ) {
      throw new CorruptedFrameError('frame bounds outside the buffer')
    }
    const length = end - start
    if (length > maxLength) throw new FrameTooLongError(length, maxLength)
    if (length === 0) throw new CorruptedFrameError('empty frame')
    const tag = buf[start] as number
    const reader = this.#reader
    try {
      switch (tag) {
        case PduTag.userEnvelope:
        case PduTag.systemEnvelope:
        case PduTag.userEnvelopeInGeneration:
        case PduTag.systemEnvelopeInGeneration:
          reader.reset(buf, start + 1, end)
          return decodeEnvelope(tag, reader, ctx)
        case PduTag.fragment: {
          reader.reset(buf, start + 1, end)
          const messageId = reader.readUint('messageId')
          const totalLength = reader.readUint('totalLength')
          const offset = reader.readUint('offset')
          return { type: 'fragment', messageId, totalLength, offset, chunk: buf.subarray(reader.pos, end) }
        }
        default:
          if (!CONTROL_TAGS.has(tag)) throw new UnknownPduError(tag)
          return decodeControl(tag, decodeValue(buf, start + 1, end, ctx))
      }
    } catch (error) {
      if (error instanceof CodecError) throw error
      throw new CorruptedFrameError('malformed frame', error)
    } finally {
      reader.reset(EMPTY, 0, 0)
    }
  }
}

const EMPTY = new Uint8Array(0)
const CONTROL_TAGS = new Set<number>([
  PduTag.handshakeRequest,
  PduTag.handshakeResponse,
  PduTag.heartbeat,
  PduTag.heartbeatReply,
  PduTag.disassociate,
  PduTag.quarantined,
  PduTag.ack,
  PduTag.nack,
  PduTag.userAck,
  PduTag.compressionAdvertisement,
  PduTag.compressionAck,
])

function control(tag: number, fields: unknown[]): Buffer {
  const out = packPrepared(fields, 1)
  out[0] = tag
  return out
}

function encodeFragment(pdu: FragmentPdu): Buffer {
  const messageId = checkUint(pdu.messageId, 'messageId')
  const totalLength = checkUint(pdu.totalLength, 'totalLength')
  const offset = checkUint(pdu.offset, 'offset')
  const chunk = pdu.chunk
  const header = 1 + uintSize(messageId) + uintSize(totalLength) + uintSize(offset)
  const out = Buffer.allocUnsafe(header + chunk.length)
  out[0] = PduTag.fragment
  let pos = writeUint(out, 1, messageId)
  pos = writeUint(out, pos, totalLength)
  pos = writeUint(out, pos, offset)
  out.set(chunk, pos)
  return out
}

function decodeControl(tag: number, value: unknown): Pdu {
  switch (tag) {
    case PduTag.handshakeRequest:
    case PduTag.handshakeResponse: {
      const f = asArray(value, 6, 'handshake')
      const session = asUint(f[4], 'session')
      if (session === 0) throw new CorruptedFrameError('handshake session 0 (sessions start at 1)')
      return {
        type: tag === PduTag.handshakeRequest ? 'handshake-request' : 'handshake-response',
        from: { address: asStr(f[0], 'from.address'), uid: asUid(f[1], 'from.uid') },
        to: asStr(f[2], 'to'),
        nonce: asUid(f[3], 'nonce'),
        session,
        toSession: asUint(f[5], 'toSession'),
      }
    }
    case PduTag.heartbeat:
      asArray(value, 0, 'heartbeat')
      return { type: 'heartbeat' }
    case PduTag.heartbeatReply: {
      const f = asArray(value, 1, 'heartbeat reply')
      return { type: 'heartbeat-reply', uid: asUid(f[0], 'uid') }
    }
    case PduTag.userAck: {
      const f = asArray(value, 1, 'user ack')
      return { type: 'user-ack', seq: asUint(f[0], 'seq') }
    }
    case PduTag.disassociate: {
      const f = asArray(value, 2, 'disassociate')
      const code = asUint(f[0], 'reason')
      const reason = (REASONS.includes(code) ? code : DisassociateReason.unknown) as DisassociateReason
      return { type: 'disassociate', reason, detail: asStr(f[1], 'detail') }
    }
    case PduTag.quarantined: {
      const f = asArray(value, 4, 'quarantined')
      return {
        type: 'quarantined',
        from: { address: asStr(f[0], 'from.address'), uid: asUid(f[1], 'from.uid') },
        to: { address: asStr(f[2], 'to.address'), uid: asUid(f[3], 'to.uid') },
      }
    }
    case PduTag.ack: {
      const f = asArray(value, 2, 'ack')
      return { type: 'ack', cumulative: asUint(f[0], 'cumulative'), selective: asUintArray(f[1], 'selective') }
    }
    case PduTag.nack: {
      const f = asArray(value, 2, 'nack')
      return { type: 'nack', cumulative: asUint(f[0], 'cumulative'), missing: asUintArray(f[1], 'missing') }
    }
    case PduTag.compressionAdvertisement: {
      const f = asArray(value, 5, 'compression advertisement')
      const flat = f[4]
      if (!Array.isArray(flat) || flat.length % 2 !== 0) throw new CorruptedFrameError('advertisement entries must be [index, value, ...]')
      const entries: [number, string][] = []
      for (let i = 0; i < flat.length; i += 2) entries.push([asUint(flat[i], 'index'), asStr(flat[i + 1], 'value')])
      return {
        type: 'compression-advertisement',
        originUid: asUid(f[0], 'originUid'),
        table: asTable(f[1]),
        generation: asGeneration(f[2]),
        version: asUint(f[3], 'version'),
        entries,
      }
    }
    case PduTag.compressionAck: {
      const f = asArray(value, 4, 'compression ack')
      return {
        type: 'compression-ack',
        originUid: asUid(f[0], 'originUid'),
        table: asTable(f[1]),
        generation: asGeneration(f[2]),
        version: asUint(f[3], 'version'),
      }
    }
    default:
      throw new UnknownPduError(tag)
  }
}
