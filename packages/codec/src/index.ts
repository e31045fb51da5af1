/**
 * @helios/codec: the wire format of Helios associations. msgpack PDUs and envelopes, the
 * message registry, per-association compression of actor paths and manifests, fragmentation,
 * and the connection preamble. No sockets, no actors: @helios/actors wires it to
 * @helios/transport. docs/PROTOCOL.md specifies every byte.
 *
 * Framing (done by the transport): each frame is a big-endian u32 payload length, then the
 * payload this package encodes. Each connection starts with {@link encodePreamble}'s 8 bytes.
 *
 * @example
 * import { Codec, Lane, MessageRegistry, encodePreamble } from '@helios/codec';
 *
 * class Greet { constructor(readonly who: string) {} }
 * const codec = new Codec({ registry: new MessageRegistry().register(Greet, 'demo.Greet'), refCodec, localUid });
 * socket.write(encodePreamble(Lane.user));                         // once per connection
 * const assoc = codec.createAssociation({ remoteUid });            // once per association
 * for (const p of assoc.encodeUserMessage(recipientPath, new Greet('bob'), senderPath)) frameWriter.write(p);
 * for (const p of assoc.takeControlFrames()) controlWriter.write(p); // compression adverts and acks
 * const pdu = assoc.decode(frame);                                 // undefined: fragment buffered
 * if (pdu?.type === 'user-envelope') deliver(pdu.recipient, pdu.message, pdu.sender);
 *
 * @packageDocumentation
 */
export { AssociationCodec } from './AssociationCodec.js'
export type { CompressionStats } from './AssociationCodec.js'
export { Codec } from './Codec.js'
export type { CodecOptions, ResolvedCodecOptions } from './Codec.js'
export {
  BadMagicError,
  CodecError,
  CompressionConflictError,
  CompressionStaleError,
  CompressionTableFullError,
  CompressionUnknownIndexError,
  CorruptedFrameError,
  DuplicateRegistrationError,
  ForbiddenKeyError,
  FragmentOutOfOrderError,
  FrameTooLongError,
  InvalidPduError,
  MessageDecodeError,
  MessageEncodeError,
  MessageTooLargeError,
  NestingTooDeepError,
  ReassemblyOverflowError,
  UnknownLaneError,
  UnknownManifestError,
  UnknownPduError,
  UnsupportedExtensionError,
  UnsupportedValueError,
  UnsupportedVersionError,
} from './errors.js'
export type { EnvelopeHeader } from './errors.js'
export {
  DEFAULT_COMPRESSION_GENERATION_MS,
  MAX_COMPRESSED_VALUE_BYTES,
  MAX_COMPRESSION_ENTRIES,
  MAX_COMPRESSION_GENERATION,
  MAX_COMPRESSION_TABLE_BYTES,
  MAX_INBOUND_GENERATIONS,
} from './internal/CompressionTables.js'
export { DEFAULT_MAX_DEPTH, DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE, FRAGMENT_HEADER_MAX } from './limits.js'
export { MessageRegistry } from './MessageRegistry.js'
export type { MessageClass, RegisterOptions } from './MessageRegistry.js'
export { DisassociateReason, PduTag } from './Pdu.js'
export type {
  AckPdu,
  CompressionAckPdu,
  CompressionAdvertisementPdu,
  CompressionTableKind,
  ControlPdu,
  DisassociatePdu,
  FragmentPdu,
  HandshakeRequestPdu,
  HandshakeResponsePdu,
  HeartbeatPdu,
  HeartbeatReplyPdu,
  UserAckPdu,
  NackPdu,
  Pdu,
  QuarantinedPdu,
  SystemEnvelopePdu,
  UniqueAddress,
  UserEnvelopePdu,
} from './Pdu.js'
export {
  FRAME_LENGTH_FIELD_LENGTH,
  Lane,
  PREAMBLE_LENGTH,
  PREAMBLE_MAGIC,
  PROTOCOL_VERSION,
  decodePreamble,
  encodePreamble,
} from './Preamble.js'
export type { Preamble } from './Preamble.js'
export { Reassembler } from './Reassembler.js'
export type { ReassemblerOptions, ReassemblyBudget } from './Reassembler.js'
export {
  DEFAULT_ARENA_CELL_BYTES,
  DEFAULT_ARENA_RELEASE_AFTER_MS,
  DEFAULT_ARENA_SLAB_BYTES,
  ReassemblyArena,
} from './ReassemblyArena.js'
export type { ReassemblyArenaOptions } from './ReassemblyArena.js'
export type { RefCodec } from './RefCodec.js'
