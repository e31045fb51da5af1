import type { Codec } from './Codec.js'
import { FRAGMENT_HEADER_MAX } from './limits.js'
import { CompressionStaleError, CorruptedFrameError, MessageTooLargeError } from './errors.js'
import type { DecodeContext, EncodeContext } from './internal/BodyCodec.js'
import { InboundCompression, OutboundCompression } from './internal/CompressionTables.js'
import { encodeEnvelope } from './internal/Envelope.js'
import type { Pdu } from './Pdu.js'
import { PduTag } from './Pdu.js'
import { Reassembler } from './Reassembler.js'

const NO_FRAMES: Uint8Array[] = []

/** Compression state and counters of one association (`AssociationCodec.compressionStats()`). */
export interface CompressionStats {
  /** Actor paths this side compresses towards the peer (usable indexes of the generation in use). */
  readonly outboundActorRefs: number
  /** Manifests this side compresses towards the peer. */
  readonly outboundManifests: number
  /** Actor paths the peer compresses towards this side (indexes of the generation its envelopes use). */
  readonly inboundActorRefs: number
  /** Manifests the peer compresses towards this side. */
  readonly inboundManifests: number
  /** The generation of this side's tables that envelopes use now (0 until the first new one is acked). */
  readonly outboundGeneration: number
  /** Generations of the peer's tables held for its envelopes (at most 2; 0 once released). */
  readonly inboundGenerations: number
  /** Actor paths written towards the peer (recipients, senders, refs inside messages). */
  readonly actorRefsWritten: number
  /** Of them, written as a compression index. */
  readonly actorRefsCompressed: number
  /** Manifests written towards the peer. */
  readonly manifestsWritten: number
  /** Of them, written as a compression index. */
  readonly manifestsCompressed: number
  /** Estimated heap bytes of the tables of both directions (`AssociationCodec.compressionBytes()`). */
  readonly bytes: number
}

/**
 * The codec state of one association: outbound and inbound compression tables for actor paths
 * and manifests, the fragment counter and the {@link Reassembler}. Create one per association
 * with {@link Codec.createAssociation}; use it for every frame sent and received on any of the
 * association's lanes.
 *
 * Compression: a path or manifest sent `compressAfter` times is given a small index and
 * advertised; {@link takeControlFrames} hands out the advertisements (and the acks of the
 * peer's advertisements) to send on the control lane. Once the peer acks, envelopes carry the
 * index instead of the string. {@link decode} applies received advertisements and acks itself.
 * Call {@link tick} on a timer (e.g. every heartbeat interval): it resends what the peer did not
 * ack and recycles the tables in generations (docs/PROTOCOL.md §5), so that indexes of actors
 * that are gone are reused for the ones in use now; {@link releaseCompression} drops the tables
 * when the association ends.
 *
 * @example
 * const assoc = codec.createAssociation({ remoteUid });
 * for (const payload of assoc.encodeUserMessage('helios.tcp://b@h:2552/user/pong', 'hit', senderPath)) userLane.send(payload);
 * for (const payload of assoc.takeControlFrames()) controlLane.send(payload);
 * const pdu = assoc.decode(frame);            // undefined while a fragmented message is incomplete
 */
export class AssociationCodec {
  readonly #codec: Codec
  readonly #out: OutboundCompression
  readonly #in: InboundCompression
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
    this.#out = new OutboundCompression(o.compressionMaxEntries, o.compressAfter, o.compressionGenerationMs)
    this.#in = new InboundCompression(o.compressionGenerationMs)
    this.#encodeCtx = {
      registry: o.registry,
      refCodec: o.refCodec,
      maxDepth: o.maxDepth,
      refs: this.#out.refs,
      manifests: this.#out.manifests,
    }
    this.#decodeCtx = {
      registry: o.registry,
      refCodec: o.refCodec,
      maxDepth: o.maxDepth,
      refs: this.#in.refs,
      manifests: this.#in.manifests,
    }
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
        if (
          tag !== PduTag.userEnvelope &&
          tag !== PduTag.systemEnvelope &&
          tag !== PduTag.userEnvelopeInGeneration &&
          tag !== PduTag.systemEnvelopeInGeneration
        ) {
          throw new CorruptedFrameError('a reassembled message must be an envelope')
        }
        return this.#codec.decodeWith(payload, 0, payload.length, this.#decodeCtx, this.#codec.options.maxMessageSize)
      }
      case 'compression-advertisement': {
        this.#checkOrigin(pdu.originUid)
        const generation = pdu.generation ?? 0
        if (this.#in.apply(pdu.table, generation, pdu.entries)) {
          this.#controlOut.push(
            this.#codec.encode({ type: 'compression-ack', originUid: this.#localUid, table: pdu.table, generation, version: pdu.version }),
          )
        }
        return pdu
      }
      case 'compression-ack':
        this.#checkOrigin(pdu.originUid)
        this.#out.onAck(pdu.table, pdu.generation ?? 0, pdu.version)
        return pdu
      default:
        return pdu
    }
  }

  /** True when {@link takeControlFrames} has something to send (cheap: check it on every flush). */
  get hasControlFrames(): boolean {
    return this.#controlOut.length > 0 || this.#out.refs.hasPending || this.#out.manifests.hasPending
  }

  /**
   * Frames owed to the peer on the control lane: new compression advertisements and acks of
   * the peer's advertisements. Call after sending or receiving and send them all.
   */
  takeControlFrames(): Uint8Array[] {
    if (!this.hasControlFrames) return NO_FRAMES
    const out = this.#controlOut.splice(0)
    for (const table of [this.#out.refs, this.#out.manifests]) {
      // each advertisement fits a frame: many long paths allocated at once make several, each of its own version
      for (const ad of table.takeAdvertisements(this.#codec.options.maxFrameSize)) {
        out.push(
          this.#codec.encode({
            type: 'compression-advertisement',
            originUid: this.#localUid,
            table: table.kind,
            generation: ad.generation,
            version: ad.version,
            entries: ad.entries,
          }),
        )
      }
    }
    return out
  }

  /**
   * Call on a timer with a monotonic clock in ms (the actor system calls it every heartbeat
   * interval): resends the advertisements the peer has not acked (those sent `resendAfterMs` ago
   * or earlier, measured from the tick before they were sent; default 0: all), starts a new generation of the
   * tables when they are full of values no longer used (or, to give memory back, mostly unused),
   * and frees the peer's previous generation once envelopes in flight can no longer need it.
   * Then send {@link takeControlFrames}.
   */
  tick(now: number, resendAfterMs = 0): void {
    this.#out.tick(now, resendAfterMs)
    this.#in.tick(now)
  }

  /** Advertises again every entry the peer has not acked yet (call on a resend timer; {@link tick} does). */
  resendUnackedAdvertisements(): void {
    this.#out.refs.requeueUnacked()
    this.#out.manifests.requeueUnacked()
  }

  /**
   * Starts a new generation of this side's tables now, seeded with the values used recently,
   * instead of when {@link tick} finds it worth it. It is advertised by {@link takeControlFrames}
   * and used once the peer acks it. False when one is being advertised already or the tables were
   * released.
   */
  recycleCompression(): boolean {
    return this.#out.startGeneration()
  }

  /** Allocates a compression index for an actor path now instead of after `compressAfter` sends. */
  compressActorPath(path: string): boolean {
    return this.#out.refs.allocate(path)
  }

  /** Allocates a compression index for a manifest now. */
  compressManifest(manifest: string): boolean {
    return this.#out.manifests.allocate(manifest)
  }

  /**
   * Estimated heap bytes held by the compression tables of this association, both directions,
   * every generation held, pending advertisements and pre-allocation counters included: the
   * strings' characters plus a measured overhead per entry. Cheap (kept up to date, no walk over
   * the entries): for memory budgets. The peer's tables are bounded by the protocol (2
   * generations x 2 tables x 1 MiB of values, plus the overhead of at most 4,096 entries each).
   * @param direction `'inbound'`: the peer's tables only (what the peer made this side hold).
   */
  compressionBytes(direction: 'both' | 'inbound' = 'both'): number {
    const inbound = this.#in.refs.heapBytes + this.#in.manifests.heapBytes
    return direction === 'inbound' ? inbound : inbound + this.#out.refs.heapBytes + this.#out.manifests.heapBytes
  }

  /**
   * Asks `admit` before the peer's advertised entries are added to this side's tables, with their
   * estimated heap bytes: when it returns false the advertisement is ignored and not acked, so
   * the peer keeps writing those values in full (and advertises them again later). For a node's
   * memory budget; without it, the protocol's bounds alone apply (2 generations x 2 tables x
   * 1 MiB of values per peer).
   */
  limitInboundCompression(admit: ((heapBytes: number) => boolean) | undefined): void {
    this.#in.admit = admit
  }

  /**
   * Drops the compression tables of both directions for good (call when the association is
   * quarantined or forgotten): {@link compressionBytes} is 0 afterwards, envelopes are still
   * encoded (with literal paths and manifests), advertisements from the peer are ignored and not
   * acked, and compressed indexes from it fail (`ERR_COMPRESSION_UNKNOWN_INDEX`). The reassembly
   * buffers are released by `reassembler.clear()`.
   */
  releaseCompression(): void {
    this.#out.release()
    this.#in.release()
  }

  /** Entries usable in each direction, generations and counters (for metrics and tests). */
  compressionStats(): CompressionStats {
    const inUse = this.#in.inUse
    return {
      outboundActorRefs: this.#out.refs.size,
      outboundManifests: this.#out.manifests.size,
      inboundActorRefs: this.#in.refs.sizeOf(inUse),
      inboundManifests: this.#in.manifests.sizeOf(inUse),
      outboundGeneration: this.#out.generation,
      inboundGenerations: this.#in.held,
      actorRefsWritten: this.#out.refs.written,
      actorRefsCompressed: this.#out.refs.compressed,
      manifestsWritten: this.#out.manifests.written,
      manifestsCompressed: this.#out.manifests.compressed,
      bytes: this.compressionBytes(),
    }
  }

  #checkOrigin(originUid: bigint): void {
    if (this.#remoteUid !== undefined && originUid !== this.#remoteUid) throw new CompressionStaleError(originUid, this.#remoteUid)
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
    const refs = this.#out.refs
    const r = refs.lookup(recipient)
    const s = sender === undefined ? -2 : refs.lookup(sender)
    return encodeEnvelope(
      tag,
      seq,
      this.#out.generation,
      r >= 0 ? r : recipient,
      s === -2 ? undefined : s >= 0 ? s : sender,
      message,
      this.#encodeCtx,
    )
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
