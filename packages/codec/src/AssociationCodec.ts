import type { Codec } from './Codec.js'
import { FRAGMENT_HEADER_MAX } from './limits.js'
import { CompressionStaleError, CorruptedFrameError, MessageTooLargeError } from './errors.js'
import type { DecodeContext, EncodeContext } from './internal/BodyCodec.js'
import { InboundCompressionTable, OutboundCompressionTable } from './internal/CompressionTables.js'
import { encodeEnvelope } from './internal/Envelope.js'
import type { CompressionAdvertisementPdu, CompressionTableKind, Pdu } from './Pdu.js'
import { PduTag } from './Pdu.js'
import { Reassembler } from './Reassembler.js'

const NO_FRAMES: Uint8Array[] = []

/**
 * The codec state of one association: outbound and inbound compression tables for actor paths
 * and manifests, the fragment counter and the {@link Reassembler}. Create one per association
 * with {@link Codec.createAssociation}; use it for every frame sent and received on any of the
 * association's lanes.
 *
 * Compression: a path or manifest sent `compressAfter` times is given a small index and
 * advertised; {@link takeControlFrames} hands out the advertisements (and the acks of the
 * peer's advertisements) to send on the control lane. Once the peer acks, envelopes carry the
 * index instead of the string. Nothing else is needed: {@link decode} applies received
 * advertisements and acks itself.
 *
 * @example
 * const assoc = codec.createAssociation({ remoteUid });
 * for (const payload of assoc.encodeUserMessage('helios.tcp://b@h:2552/user/pong', 'hit', senderPath)) userLane.send(payload);
 * for (const payload of assoc.takeControlFrames()) controlLane.send(payload);
 * const pdu = assoc.decode(frame);            // undefined while a fragmented message is incomplete
 */
export class AssociationCodec {
  readonly #codec: Codec
  readonly #outRefs: OutboundCompressionTable
  readonly #outManifests: OutboundCompressionTable
  readonly #inRefs = new InboundCompressionTable('actor-ref')
  readonly #inManifests = new InboundCompressionTable('manifest')
  readonly #encodeCtx: EncodeContext
  readonly #decodeCtx: DecodeContext
  readonly #controlOut: Uint8Array[] = []
  #remoteUid: bigint | undefined
  readonly #localUid: bigint
  #nextMessageId = 0
  #lastUserSeq = 0
  /** Reassembles fragmented envelopes received on this association. */
  readonly reassembler: Reassembler

  /** Use {@link Codec.createAssociation}. */
  constructor(codec: Codec, remoteUid?: bigint, localUid?: bigint) {
    this.#codec = codec
    const o = codec.options
    this.#remoteUid = remoteUid
    this.#localUid = localUid ?? o.localUid
    this.#outRefs = new OutboundCompressionTable('actor-ref', o.compressionMaxEntries, o.compressAfter)
    this.#outManifests = new OutboundCompressionTable('manifest', o.compressionMaxEntries, o.compressAfter)
    this.#encodeCtx = {
      registry: o.registry,
      refCodec: o.refCodec,
      maxDepth: o.maxDepth,
      refs: this.#outRefs,
      manifests: this.#outManifests,
    }
    this.#decodeCtx = { registry: o.registry, refCodec: o.refCodec, maxDepth: o.maxDepth, refs: this.#inRefs, manifests: this.#inManifests }
    this.reassembler = new Reassembler({
      maxMessageSize: o.maxMessageSize,
      maxBufferedBytes: o.maxReassemblyBytes,
      maxPendingMessages: o.maxPendingFragmentedMessages,
    })
  }

  /** uid of the peer, once known from the handshake. */
  get remoteUid(): bigint | undefined {
    return this.#remoteUid
  }

  /**
   * Records the peer's uid from the handshake. Compression PDUs from another uid are refused
   * as stale. (A peer that restarts gets a new association, hence a new AssociationCodec.)
   */
  setRemoteUid(uid: bigint): void {
    this.#remoteUid = uid
  }

  /**
   * Encodes a user message into one frame payload, or several fragment payloads when it is
   * larger than maxFrameSize. Send them in order on one lane.
   *
   * @param recipient full path of the recipient actor.
   * @param message the message: any value the codec carries (see docs/PROTOCOL.md).
   * @param sender full path of the sending actor, if any.
   * @throws {MessageTooLargeError} the serialized envelope exceeds maxMessageSize; nothing is returned.
   * @throws {UnsupportedValueError} the message holds a value the wire cannot carry.
   * @throws {MessageEncodeError} a toWire or RefCodec.toPath threw.
   */
  encodeUserMessage(recipient: string, message: unknown, sender?: string): Uint8Array[] {
    const frames = this.#frames(this.#envelope(PduTag.userEnvelope, this.#lastUserSeq + 1, recipient, message, sender))
    this.#lastUserSeq++ // numbered only once encoded: a message that failed leaves no gap
    return frames
  }

  /** Sequence number of the last user message encoded (0 before the first): they go 1, 2, 3, ... */
  get lastUserSeq(): number {
    return this.#lastUserSeq
  }

  /**
   * Encodes a system message with its sequence number (fragmented like a user message).
   *
   * @throws the same errors as {@link encodeUserMessage}.
   */
  encodeSystemMessage(seq: number, recipient: string, message: unknown, sender?: string): Uint8Array[] {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError('seq must be a non-negative safe integer')
    return this.#frames(this.#envelope(PduTag.systemEnvelope, seq, recipient, message, sender))
  }

  /**
   * Encodes any PDU into frame payloads: envelopes with compression and fragmentation, other
   * PDUs as {@link Codec.encode} does.
   */
  encode(pdu: Pdu): Uint8Array[] {
    if (pdu.type === 'user-envelope') return this.encodeUserMessage(pdu.recipient, pdu.message, pdu.sender)
    if (pdu.type === 'system-envelope') return this.encodeSystemMessage(pdu.seq, pdu.recipient, pdu.message, pdu.sender)
    return [this.#codec.encode(pdu)]
  }

  /**
   * Decodes one frame payload in `buf[start, end)` without copying it.
   *
   * Returns the PDU, or `undefined` for a fragment of a message not yet complete (the complete
   * envelope is returned with its last fragment). Compression advertisements and acks are
   * applied before they are returned; the ack owed for an advertisement is queued for
   * {@link takeControlFrames}.
   *
   * @throws {CodecError} only typed errors; each concerns this one frame, the state stays usable.
   *   A message that cannot be rebuilt (e.g. `ERR_UNKNOWN_MANIFEST`) names its recipient and
   *   sender in `error.envelope`.
   */
  decode(buf: Uint8Array, start = 0, end: number = buf.length): Pdu | undefined {
    const pdu = this.#codec.decodeWith(buf, start, end, this.#decodeCtx)
    switch (pdu.type) {
      case 'fragment': {
        const payload = this.reassembler.push(pdu)
        if (payload === undefined) return undefined
        const tag = payload[0]
        if (tag !== PduTag.userEnvelope && tag !== PduTag.systemEnvelope) {
          throw new CorruptedFrameError('a reassembled message must be an envelope')
        }
        return this.#codec.decodeWith(payload, 0, payload.length, this.#decodeCtx, this.#codec.options.maxMessageSize)
      }
      case 'compression-advertisement':
        this.#checkOrigin(pdu.originUid)
        this.#inbound(pdu.table).apply(pdu.entries)
        this.#controlOut.push(
          this.#codec.encode({ type: 'compression-ack', originUid: this.#localUid, table: pdu.table, version: pdu.version }),
        )
        return pdu
      case 'compression-ack':
        this.#checkOrigin(pdu.originUid)
        this.#outbound(pdu.table).onAck(pdu.version)
        return pdu
      default:
        return pdu
    }
  }

  /** True when {@link takeControlFrames} has something to send (cheap: check it on every flush). */
  get hasControlFrames(): boolean {
    return this.#controlOut.length > 0 || this.#outRefs.hasPending || this.#outManifests.hasPending
  }

  /**
   * Frames owed to the peer on the control lane: new compression advertisements and acks of
   * the peer's advertisements. Call after sending or receiving and send them all.
   */
  takeControlFrames(): Uint8Array[] {
    if (!this.hasControlFrames) return NO_FRAMES
    const out = this.#controlOut.splice(0)
    for (const table of [this.#outRefs, this.#outManifests]) {
      const ad = table.takeAdvertisement()
      if (ad === undefined) continue
      // an advertisement must fit a frame: split the entries when many long paths were allocated at once
      let entries: [number, string][] = []
      let size = 32
      const flush = (): void => {
        const pdu: CompressionAdvertisementPdu = {
          type: 'compression-advertisement',
          originUid: this.#localUid,
          table: table.kind,
          version: ad.version,
          entries,
        }
        out.push(this.#codec.encode(pdu))
      }
      for (const entry of ad.entries) {
        const entrySize = 8 + Buffer.byteLength(entry[1], 'utf8')
        if (size + entrySize > this.#codec.options.maxFrameSize && entries.length > 0) {
          flush()
          entries = []
          size = 32
        }
        entries.push(entry)
        size += entrySize
      }
      flush()
    }
    return out
  }

  /** Advertises again every entry the peer has not acked yet (call on a resend timer). */
  resendUnackedAdvertisements(): void {
    this.#outRefs.requeueUnacked()
    this.#outManifests.requeueUnacked()
  }

  /** Allocates a compression index for an actor path now instead of after `compressAfter` sends. */
  compressActorPath(path: string): boolean {
    return this.#outRefs.allocate(path)
  }

  /** Allocates a compression index for a manifest now. */
  compressManifest(manifest: string): boolean {
    return this.#outManifests.allocate(manifest)
  }

  /** Entries usable in each direction (for metrics and tests). */
  compressionStats(): {
    /** Actor paths this side compresses towards the peer. */
    outboundActorRefs: number
    /** Manifests this side compresses towards the peer. */
    outboundManifests: number
    /** Actor paths the peer compresses towards this side. */
    inboundActorRefs: number
    /** Manifests the peer compresses towards this side. */
    inboundManifests: number
  } {
    return {
      outboundActorRefs: this.#outRefs.size,
      outboundManifests: this.#outManifests.size,
      inboundActorRefs: this.#inRefs.size,
      inboundManifests: this.#inManifests.size,
    }
  }

  #checkOrigin(originUid: bigint): void {
    if (this.#remoteUid !== undefined && originUid !== this.#remoteUid) throw new CompressionStaleError(originUid, this.#remoteUid)
  }

  #inbound(kind: CompressionTableKind): InboundCompressionTable {
    return kind === 'actor-ref' ? this.#inRefs : this.#inManifests
  }

  #outbound(kind: CompressionTableKind): OutboundCompressionTable {
    return kind === 'actor-ref' ? this.#outRefs : this.#outManifests
  }

  #envelope(
    tag: typeof PduTag.userEnvelope | typeof PduTag.systemEnvelope,
    seq: number,
    recipient: string,
    message: unknown,
    sender: string | undefined,
  ): Buffer {
    if (typeof recipient !== 'string') throw new TypeError('recipient must be a string')
    if (sender !== undefined && typeof sender !== 'string') throw new TypeError('sender must be a string')
    const r = this.#outRefs.lookup(recipient)
    const s = sender === undefined ? -2 : this.#outRefs.lookup(sender)
    return encodeEnvelope(tag, seq, r >= 0 ? r : recipient, s === -2 ? undefined : s >= 0 ? s : sender, message, this.#encodeCtx)
  }

  #frames(payload: Buffer): Uint8Array[] {
    const { maxFrameSize, maxMessageSize } = this.#codec.options
    if (payload.length > maxMessageSize) throw new MessageTooLargeError(payload.length, maxMessageSize)
    if (payload.length <= maxFrameSize) return [payload]
    const messageId = this.#nextMessageId
    this.#nextMessageId = (this.#nextMessageId + 1) >>> 0
    const chunkSize = maxFrameSize - FRAGMENT_HEADER_MAX
    const frames: Uint8Array[] = []
    for (let offset = 0; offset < payload.length; offset += chunkSize) {
      frames.push(
        this.#codec.encode({
          type: 'fragment',
          messageId,
          totalLength: payload.length,
          offset,
          chunk: payload.subarray(offset, Math.min(offset + chunkSize, payload.length)),
        }),
      )
    }
    return frames
  }
}
