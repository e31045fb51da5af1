import {
  CodecError,
  CorruptedFrameError,
  DisassociateReason,
  PduTag,
  type AssociationCodec,
  type DisassociatePdu,
  type HandshakeResponsePdu,
  type Pdu,
  type QuarantinedPdu,
} from '@helios/codec'
import type { Channel, TimerHandle } from '@helios/transport'
import type { ActorRef } from '../ActorRef.js'
import type { Address } from '../Address.js'
import type { DropKind } from '../ActorSystemEvents.js'
import type { AssociationInfo } from '../AssociationInfo.js'
import { debug } from '../internal/debug.js'
import { internalRef } from '../internal/InternalActorRef.js'
import type { SystemMessage } from '../internal/SystemMessage.js'
import type { AssociationHost, InboundPeer, InboundVerdict, LinkOwner, QuarantineCause } from './AssociationContext.js'
import type { AssociationRegistry } from './AssociationRegistry.js'
import type { ConnectKind } from './ConnectLimiter.js'
import { IDLE, isFinal, peerUidOf, type AssociationState } from './AssociationState.js'
import { Handshake, type HandshakeSessions } from './Handshake.js'
import { HeartbeatWatcher } from './HeartbeatWatcher.js'
import { LaneId, type OutboundLink } from './OutboundLink.js'
import type { RemoteActorRef } from './RemoteActorRef.js'
import { SystemMessageAcker } from './SystemMessageAcker.js'
import { RoundTrip } from './RoundTrip.js'
import { SystemMessageOverflowError } from './SystemMessageDelivery.js'
import { SystemMessageSender, toWireSystemMessage, type WireSystemMessage } from './SystemMessageSender.js'
import { WIRE_DEATH_WATCH_NOTIFICATION } from './SystemMessageWire.js'
import { MAX_USER_SEQ_JUMP, UserMessageLedger } from './UserMessageLedger.js'
import { UserMessageQueue, type QueuedUserMessage } from './UserMessageQueue.js'

/** Per-association counters (see {@link Association.stats}). */
export interface AssociationStats {
  messagesSent: number
  messagesReceived: number
  bytesSent: number
  bytesReceived: number
  framesSent: number
  framesReceived: number
  /**
   * User messages dropped here: full queue, encode failure, quarantine, handshake failure, and
   * those the peer had not confirmed when the association ended.
   */
  dropped: number
  /** User messages from the peer that never arrived (gaps in their numbering). */
  lostInTransit: number
  /** Frames that failed to decode (each failed alone; the association went on). */
  decodeErrors: number
  systemMessagesSent: number
  systemMessagesResent: number
  systemMessagesReceived: number
  reconnects: number
  /**
   * Times the peer started its side of the association afresh under the same uid (it had forgotten
   * it, e.g. after its handshake timed out): compression tables and numbering started over here too.
   */
  peerSessionRestarts: number
}

/** What a new association starts from (a successor keeps its predecessor's nonce or gets a new local uid). */
export interface AssociationSeed {
  /** The uid this node presents on the association. Default: the host's uid for that address. */
  readonly localUid: bigint
  /** Our nonce, when it must stay the one already sent to the peer's address. */
  readonly nonce?: bigint
  /** Created by a reply to a path read from this association's frames (see {@link Association.unverified}). */
  readonly sponsor?: Association
}

/** Minimum time between two handshake requests sent to re-introduce this node over UDP. */
const REINTRODUCE_MIN_INTERVAL_MS = 100
/** First probe of an address quarantined as unreachable, after this many heartbeat intervals. */
const PROBE_AFTER_INTERVALS = 5
/**
 * A handshake whose peer keeps talking (an overloaded peer answers late) is given up after this
 * many `handshakeTimeoutMs` at most: a peer heard from, whose answers to our requests never come
 * (a path broken one way), must not hold the association for ever.
 */
const HANDSHAKE_MAX_TIMEOUTS = 3

/**
 * Everything this node knows about one incarnation pair with a remote node: its
 * {@link AssociationState} (which peer uid, how far), and the parts it composes: the
 * {@link Handshake}, the two outbound lanes, the bounded user queue, reliable system messages (a
 * {@link SystemMessageSender} and a {@link SystemMessageAcker}), the peer's {@link HeartbeatWatcher},
 * the codec state (compression tables, reassembly) and counters.
 *
 * An association ends (quarantined or retired, see {@link AssociationState}) instead of being
 * reset: when the peer restarts, or this node takes a new uid towards it, the remoting puts a
 * successor in place, so that refs bound to the ended one (naming an actor incarnation there)
 * stay dead, while refs by path move on.
 */
/** udp: after a port unreachable, the peer must stay silent this long at least (or a round trip, if longer) after a heartbeat before it is declared down. */
const PORT_UNREACHABLE_QUIET_MS = 100
/** udp: checks of a port unreachable, at most; a peer that is still sending after them is alive. */
const PORT_UNREACHABLE_CHECKS = 20

export class Association implements LinkOwner, InboundPeer {
  readonly remoteAddress: Address
  /** `remoteAddress.toString()`. */
  readonly key: string
  /** What it knows of the peer: see {@link AssociationState}. */
  state: AssociationState = IDLE
  readonly handshake: Handshake
  readonly stats: AssociationStats = {
    messagesSent: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    framesSent: 0,
    framesReceived: 0,
    dropped: 0,
    lostInTransit: 0,
    decodeErrors: 0,
    systemMessagesSent: 0,
    systemMessagesResent: 0,
    systemMessagesReceived: 0,
    reconnects: 0,
    peerSessionRestarts: 0,
  }
  codec: AssociationCodec
  /** The estimated bytes of {@link codec}'s compression tables counted in the node's budget. */
  private compressionCounted = 0
  readonly control: OutboundLink
  readonly user: OutboundLink
  /** The association that took over this address after this one ended. */
  successor: Association | undefined
  /** @internal Set by the remoting's flush scheduling. */
  flushScheduled = false
  /**
   * @internal udp and dtls: the sender (`ip:port`) of the datagram that last answered this node's
   * handshake request: where the peer proved to be (a spoofed source cannot answer). Peer sockets
   * and port-unreachable verdicts are for this endpoint only.
   */
  verifiedEndpoint: string | undefined
  /** udp: the pending check of a port unreachable (see {@link onPortUnreachable}). */
  private unreachableCheck: TimerHandle | undefined
  /** @internal Which slot of the heartbeat interval it ticks in (a hash of its address). */
  readonly tickSlot: number
  /**
   * Created by a reply to a path read from another association's frames (its sponsor), and not
   * established yet: nobody vouched that a node lives at this address. Until its handshake is
   * answered it dials the control lane only, within the node's share of connects for such
   * addresses, and over datagrams sends no more bytes than the sponsor sent this node
   * (docs/SECURITY.md: no dialling on a stranger's word).
   */
  private sponsor: Association | undefined
  /** Bytes sent to unverified addresses on this association's word (see {@link unverified}). */
  private sponsoredBytes = 0
  /**
   * The handshake in progress was started by the peer's claim alone (nothing here sent to the
   * address yet): until it is confirmed, the address is as unverified as a sponsored one, and what
   * this node sends there is paid by what the claimant sent ({@link introductionCredit}).
   */
  private claimOnly = false
  /** @internal The round trip to the peer: how long an answer may take before a copy is sent (over UDP). */
  readonly roundTrip = new RoundTrip()
  /** When the first request of the handshake in progress went out (its answer times the round trip). */
  private requestedAt: number | undefined
  /** When a frame from the peer (a handshake or anything else) last arrived while handshaking: a sign of life. */
  private heardAt = 0
  /**
   * @internal Grows whenever a user message sent through this association may have been lost
   * (dropped, a connection went down, the peer started afresh): a message sent before then is no
   * longer sure to arrive.
   */
  lossEpoch = 0
  /** Datagram transports: bytes the claimant sent in handshakes, less what this node sent to the unverified address. */
  private introductionCredit = 0
  /** An introduction (response or request) waits for credit: sent when the claimant sends more. */
  private introductionOwed = false
  /** The response to the claimant's request waits for credit. */
  private responseOwed = false

  readonly host: AssociationHost
  /** The node's associations (successors, restarts, quarantined uids). */
  readonly registry: AssociationRegistry
  private readonly queue: UserMessageQueue
  private readonly sender: SystemMessageSender
  private acker = new SystemMessageAcker()
  private readonly watcher: HeartbeatWatcher
  private userLedger: UserMessageLedger
  /** Since when the established association's control connection is lost and not yet confirmed again. */
  private lostAt: number | undefined
  /** The handler of the connection the peer's latest user frame came on. */
  private userFramesFrom: object | undefined
  private lastReintroduceAt = -Infinity
  /**
   * The peer's last handshake named a session of ours other than this association's: it still
   * holds the state of an association this node forgot, and starts afresh once it hears our
   * session. Until a handshake of it names this one, its frames other than handshakes, heartbeats
   * and notices are dropped: they were written for the forgotten association.
   */
  private peerBehind = false

  constructor(host: AssociationHost, registry: AssociationRegistry, remoteAddress: Address, seed: AssociationSeed) {
    this.host = host
    this.registry = registry
    this.remoteAddress = remoteAddress
    this.key = remoteAddress.toString()
    this.tickSlot = hashOf(this.key)
    this.handshake = new Handshake(host.codec, host.localAddress.toString(), this.key, seed.localUid, seed.nonce)
    this.codec = this.newCodec(seed.localUid)
    const s = host.settings
    this.sender = new SystemMessageSender(s.systemMessageBufferSize, s.systemMessageResendIntervalMs, (seq, m) => {
      this.writeSystem(seq, m)
      this.stats.systemMessagesResent++
    })
    this.watcher = new HeartbeatWatcher(s.failureDetector, host.clock, s.heartbeatIntervalMs)
    this.queue = new UserMessageQueue(s.outboundQueueSize, s.outboundQueueBytes, host.memory)
    this.userLedger = this.newUserLedger()
    this.sponsor = seed.sponsor
    this.control = host.makeLink(this, LaneId.control)
    this.user = host.makeLink(this, LaneId.user)
  }

  /**
   * A codec state for this association: its reassembly buffers count in the node's memory budget,
   * and what the budget evicts from them is reported.
   */
  private newCodec(localUid: bigint): AssociationCodec {
    if (this.codec !== undefined) this.releaseCodec()
    const codec = this.host.codec.createAssociation({ localUid })
    codec.reassembler.useBudget(this.host.memory)
    // The peer's compression tables count in the budget too: an advertisement that does not fit
    // is ignored (not acked), and the peer keeps writing those paths in full.
    codec.limitInboundCompression((bytes) => {
      if (this.host.memory.admitCompression(bytes)) return true
      this.host.events.warn(
        'HELIOS_MEMORY_BUDGET',
        this.key,
        `helios: compression entries advertised by ${this.key} (${bytes} bytes) were not taken: the node memory budget (memoryBudgetBytes) is spent; its paths travel uncompressed`,
      )
      return false
    })
    codec.reassembler.onEvict = (_id, bytes) => {
      this.stats.decodeErrors++
      this.host.events.warn(
        'HELIOS_MEMORY_BUDGET',
        this.key,
        `helios: an incomplete message from ${this.key} (${bytes} bytes so far) was dropped to make room: the node memory budget (memoryBudgetBytes) is spent`,
      )
    }
    return codec
  }

  /** Accounting of user messages both ways; tells the peer which of its user messages arrived (docs/PROTOCOL.md §10.7). */
  private newUserLedger(): UserMessageLedger {
    return new UserMessageLedger(this.host.clock, (seq) => {
      if (isFinal(this.state) || !this.control.ready) return false
      this.writeControlPdu({ type: 'user-ack', seq })
      return true
    })
  }

  /** What this association's codec holds for the peer goes: reassembly buffers and compression tables. */
  private releaseCodec(): void {
    this.codec.reassembler.clear()
    this.codec.releaseCompression()
    this.countCompression()
  }

  /** Brings the node's budget up to date with this association's compression tables. */
  private countCompression(): void {
    // The peer's tables only: this node's own grow with what it sends, and are bounded by the protocol.
    const bytes = this.codec.compressionBytes('inbound')
    if (bytes === this.compressionCounted) return
    this.host.memory.adjustCompression(bytes - this.compressionCounted)
    this.compressionCounted = bytes
  }

  /** The uid this node presents on this association. */
  get localUid(): bigint {
    return this.handshake.localUid
  }
  /** The peer's uid: claimed (handshaking), confirmed (established) or quarantined; undefined before any handshake. */
  get uid(): bigint | undefined {
    return peerUidOf(this.state)
  }
  /** True once quarantined or retired. */
  get ended(): boolean {
    return isFinal(this.state)
  }
  /** Messages waiting in the outbound user queue. */
  get queuedMessages(): number {
    return this.queue.size
  }
  /** System messages not yet acknowledged by the peer. */
  get unackedSystemMessages(): number {
    return this.sender.size
  }
  /** Current phi of the failure detector for this node. */
  get phi(): number {
    return this.watcher.phi
  }

  /** A snapshot of state and counters. */
  info(): AssociationInfo {
    return {
      remote: this.remoteAddress,
      remoteUid: this.uid,
      localUid: this.localUid,
      state: this.state.kind,
      queued: this.queuedMessages,
      queuedBytes: this.queue.bytes,
      reassemblyBytes: this.codec.reassembler.bufferedBytes,
      unackedSystemMessages: this.sender.size,
      phi: this.watcher.phi,
      watchedActors: this.watcher.watchedActors,
      maxHeartbeatRoundTripMs: this.watcher.maxRoundTripMs,
      ownSocket: this.host.hasOwnSocket(this),
      ...this.stats,
      compression: this.codec.compressionStats(),
    }
  }

  /** User and system messages go out: established, and the current control connection confirmed. */
  private get flowing(): boolean {
    return this.state.kind === 'established' && this.control.confirmed
  }

  // ------------------------------------------------------------------ outbound

  /** Sends a user message; never throws, never blocks. */
  sendUser(recipient: RemoteActorRef, message: unknown, sender: ActorRef | undefined): void {
    if (this.state.kind === 'established' && this.control.confirmed && this.queue.size === 0 && this.user.ready && this.user.writable) {
      this.writeUser(recipient, message, sender)
      return
    }
    if (isFinal(this.state)) {
      this.host.deadLetter(message, sender, recipient)
      return
    }
    const refused = this.queue.offer({ recipient, message, sender })
    if (refused !== undefined) {
      this.drop(recipient.wirePath, 'queue-full', refused)
      return
    }
    this.claimOnly = false // this node sends here on its own account now
    this.connect()
  }

  /** Sends a system message reliably (watch, unwatch, death-watch notification). */
  sendSystem(recipient: RemoteActorRef, message: SystemMessage): void {
    if (isFinal(this.state)) {
      answerWatchOfEnded(message)
      return
    }
    const wire = toWireSystemMessage(recipient.wirePath, message, (ref) => this.host.wirePathOf(ref))
    if (wire === undefined) return // terminate is local only
    // The peer is monitored (heartbeats, failure detector) while an actor here watches one there.
    if (message.kind === 'watch') this.watcher.watch(recipient.wirePath)
    else if (message.kind === 'unwatch') this.watcher.unwatch(recipient.wirePath)
    let entry
    try {
      entry = this.sender.add(wire)
    } catch (err) {
      if (err instanceof SystemMessageOverflowError) {
        this.quarantine(err.message, 'overflow')
        return
      }
      throw err
    }
    this.claimOnly = false
    if (this.flowing && this.control.ready) this.writeSystem(entry.seq, entry.message)
    else this.connect()
  }

  private writeUser(recipient: RemoteActorRef, message: unknown, sender: ActorRef | undefined): void {
    let frames: Uint8Array[]
    try {
      frames = this.codec.encodeUserMessage(recipient.wirePath, message, sender === undefined ? undefined : this.host.wirePathOf(sender))
    } catch (err) {
      const code = (err as { code?: unknown }).code
      const kind = code === 'ERR_MESSAGE_TOO_LARGE' || code === 'ERR_FRAME_TOO_LONG' ? 'too-large' : 'not-serializable'
      this.drop(recipient.wirePath, kind, `cannot encode: ${(err as Error).message}`, err)
      return
    }
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i] as Uint8Array
      this.user.write(f)
      this.stats.bytesSent += f.byteLength
    }
    this.stats.framesSent += frames.length
    this.stats.messagesSent++
    this.host.scheduleFlush(this)
  }

  private writeSystem(seq: number, m: WireSystemMessage): void {
    let frames: Uint8Array[]
    try {
      frames = this.codec.encodeSystemMessage(seq, m.recipient, m.message, m.sender)
    } catch (err) {
      // Our own small fixed-shape messages cannot fail to encode; if they did, the peer could never
      // get this sequence number, so the association cannot go on.
      this.quarantine(`cannot encode system message: ${(err as Error).message}`, 'encode')
      return
    }
    for (const f of frames) this.writeControl(f)
    this.stats.systemMessagesSent++
  }

  /** @internal Writes one control frame (not flushed). */
  writeControl(payload: Uint8Array): void {
    this.control.write(payload)
    this.stats.framesSent++
    this.stats.bytesSent += payload.byteLength
    this.host.scheduleFlush(this)
  }

  private writeControlPdu(pdu: Pdu): void {
    if (!this.control.ready) return
    for (const f of this.codec.encode(pdu)) this.writeControl(f)
  }

  /** @internal Called once per turn by the remoting's flush: the ack owed, compression frames, then both lanes. */
  flush(): void {
    this.flushScheduled = false
    if (this.control.ready) {
      const ack = this.acker.take()
      if (ack !== undefined) this.writeControlPdu(ack)
      // Compression advertisements and acks wait for a confirmed connection, like envelopes: a peer
      // that forgot the association must not take them for its new one.
      if (this.codec.hasControlFrames && this.control.confirmed) for (const f of this.codec.takeControlFrames()) this.control.write(f)
      this.control.flush()
    }
    if (this.user.ready) this.user.flush()
  }

  /** @internal */
  scheduleFlush(): void {
    this.host.scheduleFlush(this)
  }

  private drainQueue(): void {
    if (!this.flowing || !this.user.ready) return
    this.queue.drain(
      () => this.user.writable,
      (m) => this.writeUser(m.recipient, m.message, m.sender),
    )
  }

  /** Resends the unacknowledged system messages and drains the user queue: the connection is confirmed. */
  private resume(): void {
    if (!this.flowing || !this.control.ready) return
    this.sender.resendAll(this.host.clock.now())
    this.drainQueue()
    this.host.scheduleFlush(this)
  }

  private drop(recipient: string, kind: DropKind, reason: string, cause?: unknown): void {
    this.stats.dropped++
    this.lossEpoch++
    this.host.events.dropped({ remote: this.remoteAddress, recipient, kind, reason, ...(cause !== undefined ? { cause } : {}) })
  }

  /**
   * Why the peer could not be reached lately: the last connect failure or refusal, or a handshake
   * that timed out (kept by the registry across successors; cleared once established). Asks and
   * `resolveOne` that time out towards the peer say it.
   */
  get lastFailure(): string | undefined {
    return this.registry.failureOf(this.key)
  }

  private failed(reason: string): void {
    this.registry.noteFailure(this.key, reason)
  }

  /** Starts the handshake (idle → handshaking) and the lanes; each link decides whether it needs to connect. */
  connect(): void {
    if (isFinal(this.state) || this.host.isShuttingDown) return
    if (this.state.kind === 'idle') this.state = { kind: 'handshaking', uid: undefined, since: this.host.clock.now() }
    this.control.ensure()
    this.user.ensure()
  }

  /** @internal The peer's connection on a lane passed its handshake here: that lane may write on it. */
  lendConnection(channel: Channel, lane: LaneId): void {
    if (!isFinal(this.state)) (lane === LaneId.control ? this.control : this.user).lend?.(channel)
  }

  /** Takes over user messages of an ended predecessor that were sent by path (they are for whoever lives there). */
  adoptQueued(messages: readonly QueuedUserMessage[]): void {
    for (const m of messages) this.sendUser(m.recipient, m.message, m.sender)
  }

  // ------------------------------------------------------------------ links (LinkOwner)

  handshakeRequest(): Uint8Array {
    this.requestedAt ??= this.host.clock.now()
    return this.handshake.request()
  }

  newControlConnectionRequest(): Uint8Array {
    this.requestedAt ??= this.host.clock.now()
    return this.handshake.renewNonce()
  }

  handshakeResponse(): Uint8Array | undefined {
    return this.handshake.response()
  }

  onLinkUp(lane: LaneId): void {
    if (lane === LaneId.control) {
      // The request went first; the response we owe the peer follows on every new connection.
      const response = this.handshake.response()
      if (response !== undefined && !isFinal(this.state)) this.writeControl(response)
      // A connection the peer opened speaks for its uid already: traffic resumes on it at once.
      if (this.control.confirmed) this.resume()
    } else {
      this.drainQueue()
    }
    this.host.scheduleFlush(this)
  }

  onLinkDown(lane: LaneId, reason: string): void {
    this.lossEpoch++
    if (lane !== LaneId.control || this.state.kind !== 'established') return
    if (this.lostAt === undefined) {
      this.lostAt = this.host.clock.now()
      this.stats.reconnects++
      this.host.events.disassociated(this, reason)
    }
  }

  onConnectFailed(lane: LaneId, error: Error): void {
    const reason = describeConnectFailure(error, this.remoteAddress)
    this.failed(reason)
    this.host.events.connectFailed(this, lane, error, reason)
    if (isOutOfDescriptors(error)) {
      // This node's own limit, not the peer's silence: what the detector did not hear meanwhile is forgiven.
      this.watcher.forgivePause()
      this.host.events.warn(
        'HELIOS_EMFILE',
        'EMFILE',
        `helios: out of file descriptors connecting to ${this.key}: existing associations go on, this one retries with backoff; raise the descriptor limit (ulimit -n) or lower remote.maxAssociations`,
      )
      return
    }
    // Reset or closed, then refused: nothing listens at the address any more, that incarnation is gone.
    if (lane !== LaneId.control || this.state.kind !== 'established' || this.lostAt === undefined) return
    if (!this.host.settings.downOnConnectionRefused || !isConnectionRefused(error)) return
    const { host, port } = this.remoteAddress
    this.quarantine(`down: ${host}:${port} refused the connection after the connection to it was lost`, 'down', false)
  }

  /**
   * udp: the peer's port answered a datagram with ICMP port unreachable (the peer's own socket,
   * connected to `endpoint`, reported ECONNREFUSED): nothing listens there any more, so that
   * incarnation is gone (it crashed, or was restarted and has not bound the port yet). Acted on
   * only for the endpoint that answered this node's handshake, and only once the peer stayed
   * silent for a round trip (`srtt + 4 rttvar`, at least 100 ms) after a heartbeat sent to it:
   * the error is reported before the datagrams the peer sent just before it went, still unread in
   * the socket's buffer, and those are read first; a live peer answers the heartbeat (the ICMP
   * message was stale or forged) and stays. Not over dtls: an ICMP message is not authenticated,
   * and a DTLS association ends only on what its peer proves or on silence.
   */
  onPortUnreachable(endpoint: string): void {
    const host = this.host
    if (host.settings.transport !== 'udp' || !host.settings.downOnConnectionRefused || host.isShuttingDown) return
    if (this.state.kind !== 'established' || endpoint !== this.verifiedEndpoint || this.unreachableCheck !== undefined) return
    let seen = this.stats.bytesReceived
    let checks = 0
    const probe = (): void => {
      this.writeControlPdu({ type: 'heartbeat' })
      this.unreachableCheck = host.clock.setTimeout(check, this.roundTrip.resendAfterMs(PORT_UNREACHABLE_QUIET_MS))
    }
    const check = (): void => {
      this.unreachableCheck = undefined
      if (host.isShuttingDown || this.state.kind !== 'established' || endpoint !== this.verifiedEndpoint) return
      if (this.stats.bytesReceived !== seen) {
        // It spoke since: its last datagrams read late, or a live peer. Ask again, up to a bound.
        if (++checks >= PORT_UNREACHABLE_CHECKS) return
        seen = this.stats.bytesReceived
        probe()
        return
      }
      const { host: h, port } = this.remoteAddress
      this.quarantine(`down: ${h}:${port} answered with port unreachable (nothing listens there any more)`, 'down', false)
    }
    probe()
  }

  /** Stops a pending port-unreachable check (the association ends, or the node shuts down). */
  private cancelUnreachableCheck(): void {
    if (this.unreachableCheck === undefined) return
    this.host.clock.clearTimeout(this.unreachableCheck)
    this.unreachableCheck = undefined
  }

  onWritable(): void {
    this.drainQueue()
  }

  acceptorAnswered(pdu: HandshakeResponsePdu, lane: LaneId): boolean {
    // On our own control connection it answers the request written there (its nonce is the current
    // one): it confirms that connection. On the user lane it proves the uid but not the control lane.
    return this.onHandshakeResponse(pdu.from.uid, pdu.nonce, pdu, lane === LaneId.user) === this
  }

  /** Our uid claim of the peer is unconfirmed: the control lane needs a connection of our own to its address. */
  get needsOwnControlConnection(): boolean {
    return this.state.kind === 'handshaking'
  }

  /** User messages written that the peer has not acked yet. */
  get unconfirmedUserMessages(): number {
    return this.userLedger.unconfirmed(this.codec.lastUserSeq)
  }

  acceptorRefused(pdu: QuarantinedPdu | DisassociatePdu): void {
    if (pdu.type === 'quarantined' || pdu.reason !== DisassociateReason.notAssociated) {
      const why =
        pdu.type === 'quarantined' || pdu.reason === DisassociateReason.quarantined
          ? 'it quarantined this node'
          : pdu.reason === DisassociateReason.shutdown
            ? 'it is shutting down'
            : pdu.detail !== ''
              ? pdu.detail
              : `reason ${pdu.reason}`
      this.failed(`${this.key} refused the connection: ${why}`)
    }
    if (pdu.type === 'quarantined') {
      if (pdu.to.uid === this.localUid)
        this.registry.quarantinedByPeer(this, pdu.from.uid, `${this.key} refused a connection: it quarantined this node`)
      return
    }
    this.onDisassociate(pdu, true)
  }

  linkRefused(reason: string): void {
    this.failed(`${this.key} refused the connection: ${reason}`)
    this.host.events.handshakeFailed(this.key, reason, false)
  }

  inboundUserLaneClosed(source: object): void {
    if (this.userFramesFrom !== source) return
    this.userFramesFrom = undefined
    this.codec.reassembler.clear()
  }

  inboundControlLaneClosed(): void {
    // Before the handshake completed, what the peer's messages in progress hold is released with
    // its control connection: a claimant that left does not keep it until its handshake times out
    // (a message's fragments never continue on another connection).
    if (this.state.kind === 'handshaking' && this.codec.reassembler.pendingMessages > 0) this.codec.reassembler.clear()
  }

  /**
   * Nobody vouched for the address yet: the association was created on another peer's word (see
   * {@link sponsor}) or by a claim alone (see {@link claimOnly}), and no handshake confirmed it.
   */
  get unverified(): boolean {
    return this.sponsor !== undefined || this.claimOnly
  }

  /** On whose word the address is dialled: another peer's frames, a claim alone, or verified. */
  get connectKind(): ConnectKind {
    return this.sponsor !== undefined ? 'sponsored' : this.claimOnly ? 'claimed' : 'verified'
  }

  /**
   * Whether a frame of `bytes` (its payload, as {@link AssociationStats.bytesReceived} counts the
   * peer's) may go to this address now: always once verified; before, only within what the
   * sponsor sent this node (charged to it), or over datagrams within what the claimant sent, so
   * that nobody can make this node send a third party more than they sent (amplification at most
   * 1). A refused introduction is owed: sent when more credit arrives.
   */
  mayIntroduce(bytes: number): boolean {
    const sponsor = this.sponsor
    if (sponsor !== undefined && this.host.settings.transport === 'udp') {
      if (sponsor.stats.bytesReceived - sponsor.sponsoredBytes < bytes) return this.owe()
      sponsor.sponsoredBytes += bytes
      return true
    }
    // Over DTLS every peer was authenticated by its certificate before it could claim anything.
    if (!this.claimOnly || this.host.settings.transport !== 'udp') return true
    if (this.stats.bytesReceived + this.introductionCredit < bytes) return this.owe()
    this.introductionCredit -= bytes
    return true
  }

  private owe(): false {
    this.introductionOwed = true
    return false
  }

  /** @internal Over datagrams: a handshake request of `bytes` (its payload) from the claimant arrived (credit for the answers to its address). */
  creditIntroduction(bytes: number): void {
    this.introductionCredit += bytes
    if (this.introductionOwed) this.payIntroduction()
  }

  /** Sends what waited for credit: the response to the claimant's request, then our own request. */
  private payIntroduction(): void {
    this.introductionOwed = false
    if (this.responseOwed) {
      this.responseOwed = false
      this.respond()
    }
    if (this.state.kind === 'handshaking') this.control.sendHandshake()
  }

  /** Whether the links should (re)connect: a handshake in progress or an established peer. */
  get wantsConnection(): boolean {
    const k = this.state.kind
    return (k === 'handshaking' || k === 'established') && !this.host.isShuttingDown
  }

  /** Nothing in progress, nothing waiting: the remoting may forget it. */
  get idle(): boolean {
    return this.state.kind === 'idle' && this.queuedMessages === 0 && this.sender.size === 0
  }

  // ------------------------------------------------------------------ inbound (InboundPeer)

  accepts(uid: bigint): boolean {
    const s = this.state
    return (s.kind === 'established' || s.kind === 'handshaking') && s.uid === uid
  }

  verifying(uid: bigint): boolean {
    return this.handshake.claim?.uid === uid && this.state.kind === 'established'
  }

  park(channel: Channel, uid: bigint): void {
    this.handshake.park(channel, uid)
  }

  unpark(channel: Channel): void {
    this.handshake.unpark(channel)
  }

  parkedFrame(frame: Uint8Array, uid: bigint): boolean {
    let pdu: Pdu
    try {
      pdu = this.host.codec.decode(frame, 0, frame.length)
    } catch {
      return false
    }
    // A claimant gets no answer before its claim is confirmed, so it sends nothing but handshakes.
    if (pdu.type === 'handshake-request' && pdu.from.uid === uid) {
      this.onHandshakeRequest(uid, pdu.nonce, pdu)
      return true
    }
    if (pdu.type === 'handshake-response' && pdu.from.uid === uid) {
      this.onHandshakeResponse(uid, pdu.nonce, pdu)
      return true
    }
    return false
  }

  quarantinedNoticeFor(uid: bigint): Uint8Array | undefined {
    return this.registry.quarantine.has(this.key, uid) ? this.handshake.quarantinedNotice(uid) : undefined
  }

  /**
   * @internal A frame payload arrived on a connection (or datagram) of this association; `source`
   * names the connection's handler for user-lane frames.
   */
  receive(buf: Uint8Array, start: number, end: number, source?: object): void {
    if (source !== undefined && source !== this.userFramesFrom) {
      // The peer writes its user frames on one connection at a time: fragments of a message
      // begun on the one it left can never complete.
      if (this.userFramesFrom !== undefined) this.codec.reassembler.clear()
      this.userFramesFrom = source
    }
    this.stats.framesReceived++
    this.stats.bytesReceived += end - start
    this.watcher.heard = true
    // Only a handshake's deadline looks at it (no clock read per frame once established).
    if (this.state.kind === 'handshaking') this.heardAt = this.host.clock.now()
    if (this.introductionOwed && this.claimOnly) this.payIntroduction()
    // Paths read from these frames are this peer's word (see Remoting.resolveCached).
    const host = this.host
    const outer = host.receivingFrom
    host.receivingFrom = this
    try {
      this.decodeAndHandle(buf, start, end)
    } finally {
      host.receivingFrom = outer
    }
  }

  private decodeAndHandle(buf: Uint8Array, start: number, end: number): void {
    // Written for an association this node forgot (the peer has not caught up yet): not for this one.
    if (this.peerBehind && (buf[start] as number) > PduTag.quarantined) return
    let pdu: Pdu | undefined
    try {
      pdu = this.codec.decode(buf, start, end)
    } catch (err) {
      this.stats.decodeErrors++
      const code = (err as { code?: string }).code
      // The reassembler already dropped the message in error (out of order, beyond a bound, refused
      // by the budget); the peer's other messages in progress go on. Only when the count of
      // messages in progress is full (partial messages whose last fragments were lost over udp
      // never complete) is the partial state dropped, so that new messages can start.
      if (
        code === 'ERR_REASSEMBLY_OVERFLOW' &&
        this.codec.reassembler.pendingMessages >= this.host.codec.options.maxPendingFragmentedMessages
      ) {
        this.codec.reassembler.clear()
      }
      // A message cut short (its fragments out of order) is counted once, as a gap in the numbering.
      if (code === 'ERR_FRAGMENT_OUT_OF_ORDER') return
      // Any other failure is counted once, as undecodable: its number arrived (no gap to report).
      const envelope = err instanceof CodecError ? err.envelope : undefined
      if (envelope?.type === 'user-envelope' && envelope.seq !== undefined) this.userLedger.receive(envelope.seq)
      this.host.events.decodeFailed(this, err)
      return
    }
    if (pdu !== undefined) this.handle(pdu)
  }

  /** @internal Dispatches one decoded PDU. */
  handle(pdu: Pdu): void {
    const s = this.state
    switch (pdu.type) {
      case 'user-envelope':
        if (s.kind !== 'established' && s.kind !== 'handshaking') return
        if (!this.userLedger.receive(pdu.seq)) {
          // A number no peer writes (far beyond the last): that envelope fails alone.
          this.stats.decodeErrors++
          this.host.events.decodeFailed(
            this,
            new CorruptedFrameError(
              `user envelope numbered ${pdu.seq}, more than ${MAX_USER_SEQ_JUMP} beyond the last received (${this.userLedger.highestReceived})`,
            ),
          )
          return
        }
        this.stats.messagesReceived++
        try {
          this.host.deliverUser(pdu.recipient, pdu.message, pdu.sender)
        } catch (err) {
          // e.g. a malformed sender path: that one message fails, the connection goes on
          this.stats.decodeErrors++
          this.host.events.decodeFailed(this, err)
        }
        return
      case 'system-envelope':
        if (s.kind !== 'established' && s.kind !== 'handshaking') return
        this.receiveSystem(pdu.seq, pdu.recipient, pdu.sender, pdu.message)
        return
      case 'ack':
        this.sender.acked(pdu.cumulative, this.host.clock.now())
        return
      case 'nack':
        this.sender.nacked(pdu.cumulative, this.host.clock.now())
        return
      case 'heartbeat':
        if (s.kind === 'established' || (s.kind === 'handshaking' && s.uid !== undefined)) {
          this.writeControlPdu({ type: 'heartbeat-reply', uid: this.localUid })
        }
        return
      case 'heartbeat-reply':
        if (s.kind === 'established' && pdu.uid === s.uid) {
          const roundTrip = this.watcher.heartbeatReplied()
          if (roundTrip !== undefined) this.roundTrip.sample(roundTrip)
        }
        return
      case 'user-ack':
        this.userLedger.confirm(pdu.seq)
        this.user.onUserAck?.()
        return
      case 'handshake-request':
        this.onHandshakeRequest(pdu.from.uid, pdu.nonce, pdu)
        return
      case 'handshake-response':
        this.onHandshakeResponse(pdu.from.uid, pdu.nonce, pdu)
        return
      case 'disassociate':
        this.onDisassociate(pdu, false)
        return
      case 'quarantined':
        // About our uid on this pair, from the peer's current uid, or from one we know nothing of
        // yet or quarantined ourselves (after a partition both sides may have).
        if (
          pdu.to.uid === this.localUid &&
          pdu.from.address === this.key &&
          (this.uid === undefined || pdu.from.uid === this.uid || this.registry.quarantine.has(this.key, pdu.from.uid))
        ) {
          this.registry.quarantinedByPeer(this, pdu.from.uid, 'the peer quarantined this node')
        }
        return
      default:
        // compression advertisements and acks were applied by the codec; send what it owes
        this.countCompression()
        this.host.scheduleFlush(this)
    }
  }

  private onDisassociate(pdu: DisassociatePdu, writtenBack: boolean): void {
    const detail = pdu.detail ? `: ${pdu.detail}` : ''
    switch (pdu.reason) {
      case DisassociateReason.shutdown:
        if (!writtenBack) this.quarantine(`peer shut down${detail}`, 'shutdown', false)
        return
      case DisassociateReason.quarantined:
        this.registry.quarantinedByPeer(this, undefined, `the peer quarantined this node${detail}`)
        return
      case DisassociateReason.notAssociated:
        this.reintroduce()
        return
      default:
        if (writtenBack) this.host.events.handshakeFailed(this.key, `refused by ${this.key}${detail}`, false)
    }
  }

  /** UDP: the peer does not know this incarnation pair (it restarted, or forgot us): introduce us again. */
  private reintroduce(): void {
    const now = this.host.clock.now()
    if (isFinal(this.state) || now - this.lastReintroduceAt < REINTRODUCE_MIN_INTERVAL_MS) return
    this.lastReintroduceAt = now
    this.control.sendHandshake()
  }

  private receiveSystem(seq: number, recipient: string, sender: string | undefined, message: unknown): void {
    const decision = this.acker.receive(seq)
    this.host.scheduleFlush(this)
    if (decision !== 'deliver') return
    this.stats.systemMessagesReceived++
    if (!Array.isArray(message) || sender === undefined) return
    if (message[0] === WIRE_DEATH_WATCH_NOTIFICATION) this.watcher.ended(sender)
    try {
      this.host.deliverSystem(recipient, sender, message[0] as number, message[1] === 1)
    } catch (err) {
      this.stats.decodeErrors++
      this.host.events.decodeFailed(this, err)
    }
  }

  // ------------------------------------------------------------------ handshake

  /**
   * The peer's incarnation `uid` introduced itself (a handshake request with its nonce), on a
   * connection it opened or in a datagram. `parked`: a restart claim, answered only once it is
   * confirmed at the address.
   */
  onHandshakeRequest(uid: bigint, nonce: bigint, sessions: HandshakeSessions): InboundVerdict {
    this.heardAt = this.host.clock.now()
    const verdict = this.handshake.judgeRequest(uid, this.state, this.registry.quarantine.has(this.key, uid))
    switch (verdict) {
      case 'refuse-quarantined':
        this.host.events.handshakeFailed(this.key, `handshake from quarantined node ${this.key} uid ${uid}`, true)
        this.noticeQuarantined(uid)
        return 'refused'
      case 'refuse-final':
        return 'refused'
      case 'adopt':
        if (!this.adoptClaim(uid, sessions)) return 'refused'
        this.handshake.peerNonce = nonce
        this.respond()
        this.connect()
        return 'accepted'
      case 'same': {
        const step = this.keepInStep(uid, sessions)
        // A stale session: a request from an association the peer ended (its connection is refused).
        if (step === 'stale') return 'refused'
        this.handshake.peerNonce = nonce
        this.respond()
        // The peer started afresh: what it did not ack goes again, numbered from 1.
        if (step === 'restarted') this.resume()
        return 'accepted'
      }
      case 'claim':
        this.verifyClaim(uid, nonce, sessions)
        return 'parked'
    }
  }

  /**
   * A handshake response from the peer's incarnation `uid` echoing `nonce`. `onOwnConnection`: it
   * was written back on a connection this node opened (the user lane). Returns the association that
   * now speaks with `uid` (this one, or its successor after a proven restart), or undefined when
   * refused.
   */
  onHandshakeResponse(uid: bigint, nonce: bigint, sessions: HandshakeSessions, onOwnConnection = false): Association | undefined {
    const verdict = this.handshake.judgeResponse(uid, nonce, this.state, this.registry.quarantine.has(this.key, uid), onOwnConnection)
    switch (verdict) {
      case 'refuse-unproven':
        this.host.events.handshakeFailed(
          this.key,
          `a handshake response naming uid ${uid} does not echo a nonce this node sent to ${this.key}: ignored`,
          true,
        )
        return undefined
      case 'stale':
      case 'refuse-final':
        return undefined
      case 'refuse-quarantined':
        // The quarantined incarnation still answers there: tell it (it may come back under a new
        // uid for this node), and go on waiting for a new incarnation until the handshake timeout.
        this.noticeQuarantined(uid)
        return undefined
      case 'establish':
        if (!this.establish(uid, sessions)) return undefined
        return this
      case 'confirm': {
        const step = this.keepInStep(uid, sessions)
        if (step === 'stale') return undefined
        if (!onOwnConnection) this.confirmControl()
        if (step === 'restarted') {
          this.resume()
          // Tells the peer that this side is in step with its new session now.
          this.control.sendHandshake()
        }
        if (this.handshake.claim !== undefined) this.refuseClaim(`uid ${uid} still answers at ${this.key}`)
        return this
      }
      case 'restart':
        return this.registry.restarted(this, uid, sessions)
    }
  }

  /**
   * The peer claims `uid` (its association `session`) before any is confirmed: it is answered, and
   * our own request confirms it (or another). False for a stale session of the uid in step here.
   */
  private adoptClaim(uid: bigint, sessions: HandshakeSessions): boolean {
    const s = this.state
    // Another claimant than the last gets fresh compression state and numbering.
    if (this.keepInStep(uid, sessions) === 'stale') return false
    // Nothing here asked for this address: until confirmed, it is the claimant's word alone.
    if (s.kind === 'idle') this.claimOnly = true
    // A new claimant gets the whole handshake timeout, even when this association has been looking
    // for whoever answers at the address for a while (it would otherwise time out at once).
    const since = s.kind === 'handshaking' && s.uid === uid ? s.since : this.host.clock.now()
    this.state = { kind: 'handshaking', uid, since }
    return true
  }

  /**
   * Keeps what this association holds in step with the peer (compression tables, system-message
   * and user-message numbering) in step with the peer's incarnation `uid` and its association
   * `session`: kept for the ones it is in step with; started afresh for another uid, or a later
   * session of the same uid (the peer forgot the association, e.g. when its handshake timed out
   * while ours completed, and numbers from 1 again with empty tables): 'restarted', and the caller
   * resends what the peer did not ack. 'stale' for an earlier session of the uid: a handshake from
   * an association the peer ended, to be ignored.
   */
  private keepInStep(uid: bigint, { session, toSession }: HandshakeSessions): 'kept' | 'restarted' | 'stale' {
    const known = this.codec.remoteUid
    let step: 'kept' | 'restarted' = 'kept'
    if (known === uid) {
      const verdict = this.handshake.judgeSession(session)
      if (verdict === 'stale') return 'stale'
      if (verdict === 'newer') {
        this.stats.peerSessionRestarts++
        debug(
          '%s uid %s started a new association (session %d after %d): starting afresh',
          this.key,
          uid,
          session,
          this.handshake.peerSession,
        )
        this.startOver(`${this.key} started the association afresh`)
        this.codec.setRemoteUid(uid)
        step = 'restarted'
      }
    } else {
      if (known !== undefined) this.startOver(`another incarnation of ${this.key} (uid ${uid}) answers`)
      this.codec.setRemoteUid(uid)
    }
    this.handshake.peerSession = session
    // Does the peer's side know this association, or does it hold one this node forgot?
    const behind = toSession !== 0 && toSession !== this.handshake.session
    if (behind !== this.peerBehind) {
      this.peerBehind = behind
      if (behind) {
        debug(
          '%s is in step with an association this node forgot (our session %d, not %d): its frames wait for it to catch up',
          this.key,
          toSession,
          this.handshake.session,
        )
        // Our request tells it our session; its response (or its next request) names it.
        this.control.sendHandshake()
      }
    }
    return step
  }

  /**
   * Forgets everything kept in step with the peer's side of the association: compression tables
   * and reassembly (a new codec state), the numbering of system messages both ways (what the peer
   * did not ack is numbered from 1 again) and of user messages (what it did not confirm is
   * reported).
   */
  private startOver(why: string): void {
    this.lossEpoch++
    if (this.state.kind === 'established') this.reportUnconfirmed(why)
    this.reportLost(true)
    this.userLedger.stop()
    this.userLedger = this.newUserLedger()
    this.codec = this.newCodec(this.localUid)
    this.acker = new SystemMessageAcker()
    this.sender.renumber()
    this.userFramesFrom = undefined
  }

  /** Our handshake response to the peer's latest request: now, or when the control lane is up. */
  private respond(): void {
    const response = this.handshake.response()
    if (response === undefined) return
    if (this.host.settings.transport === 'udp' && this.unverified && !this.mayIntroduce(response.byteLength)) {
      this.responseOwed = true
      return
    }
    if (this.control.ready) this.writeControl(response)
    else this.control.ensure()
  }

  /**
   * @internal The peer's uid is confirmed at its address (its association `session`): established.
   * False (nothing changes) for a stale session.
   */
  establish(uid: bigint, sessions: HandshakeSessions): boolean {
    if (this.keepInStep(uid, sessions) === 'stale') return false
    const now = this.host.clock.now()
    this.handshakeAnswered(now)
    this.state = { kind: 'established', uid, since: now }
    this.sponsor = undefined
    this.claimOnly = false
    this.introductionOwed = false
    this.responseOwed = false
    this.registry.clearFailure(this.key)
    this.control.confirm()
    this.user.confirm()
    this.lostAt = undefined
    this.watcher.start()
    this.registry.quarantine.stopProbing(this.key)
    this.host.events.associated(this)
    this.user.ensure()
    this.resume()
    return true
  }

  /**
   * Our request was answered (a first handshake, or a reconnect's): the time since the first request
   * of it is a round-trip sample (an upper bound: copies may have followed).
   */
  private handshakeAnswered(now: number): void {
    if (this.requestedAt !== undefined) this.roundTrip.sample(now - this.requestedAt)
    this.requestedAt = undefined
    const source = this.host.datagramSource
    if (source !== undefined) this.verifiedEndpoint = source
  }

  /** A response of the established uid on the current control connection: traffic resumes on it. */
  private confirmControl(): void {
    this.handshakeAnswered(this.host.clock.now())
    this.user.confirm()
    if (this.control.confirmed) return
    this.control.confirm()
    this.lostAt = undefined
    this.resume()
  }

  /** Starts verifying a restart claim: whoever answers our request at the address tells the truth. */
  private verifyClaim(uid: bigint, nonce: bigint, sessions: HandshakeSessions): void {
    // One verification at a time; its answer settles every claim of it.
    if (!this.handshake.startClaim(uid, nonce, sessions, this.host.clock.now())) return
    debug('%s claims a new incarnation (uid %s); asking the address', this.key, uid)
    this.control.sendHandshake()
    this.host.scheduleFlush(this)
  }

  /** The claim is false (or unproven): its connections are refused with the reason. */
  private refuseClaim(why: string): void {
    const uid = this.handshake.claim?.uid
    if (uid === undefined) return
    const reason = `restart claim of ${this.key} uid ${uid} refused: ${why}`
    this.handshake.endClaim(reason)
    this.host.events.handshakeFailed(this.key, reason, true)
  }

  /** Tells the peer's incarnation `uid` that this node quarantined it (best effort). */
  private noticeQuarantined(uid: bigint): void {
    if (!this.control.ready) return
    this.writeControl(this.handshake.quarantinedNotice(uid))
  }

  // ------------------------------------------------------------------ time

  /** @internal Once per heartbeat interval: heartbeats, failure detection, resends, timeouts. */
  tick(now: number): void {
    const s = this.state
    switch (s.kind) {
      case 'idle':
        if (this.idle) this.registry.evict(this)
        return
      case 'handshaking':
        if (this.handshakeOverdue(s.since, now)) this.handshakeTimedOut(this.handshakeTimeoutReason(s.since, now))
        else if (this.host.isUdp || this.peerBehind) this.control.sendHandshake() // datagrams get lost
        return
      case 'established':
        break
      default:
        return
    }
    const settings = this.host.settings
    // The peer has not named our session yet: ask again (a datagram may have been lost).
    if (this.peerBehind) this.control.sendHandshake()
    const claim = this.handshake.claim
    if (claim !== undefined && now - claim.since >= settings.handshakeTimeoutMs) {
      this.refuseClaim(`no answer naming it at ${this.key} within ${settings.handshakeTimeoutMs} ms`)
    }
    // Heartbeats only while an actor here watches one there; traffic from the peer counts as one.
    const beat = this.watcher.tick(now)
    if (beat === 'heartbeat' && this.control.ready) this.writeControlPdu({ type: 'heartbeat' })
    this.reportLost()
    if (!this.watcher.available()) {
      const phi = this.watcher.phi
      this.host.events.unreachable(this, phi)
      this.quarantine(`unreachable (phi ${phi.toFixed(1)} >= ${this.watcher.threshold})`, 'unreachable')
      return
    }
    // Datagrams can be lost, and over TCP a lane that moved to the peer's connection may have lost
    // what was on the one it left: acks that stall for a resend interval bring a resend.
    if (this.flowing && this.sender.stalled(now)) this.sender.resendAll(now)
    if (this.host.isUdp) {
      // After three silent heartbeats, introduce ourselves again: a restarted peer answers with its new uid.
      if (beat !== 'off' && now - this.watcher.lastReplyAt > 3 * settings.heartbeatIntervalMs) this.control.sendHandshake()
    }
    // resends, new generations of the compression tables, the peer's previous generation freed
    this.codec.tick(now, this.roundTrip.resendAfterMs(settings.heartbeatIntervalMs))
    this.countCompression()
    this.host.scheduleFlush(this)
  }

  /**
   * Publishes the user messages from the peer found missing since the last report (that waited
   * for late envelopes in vain; with `all`, every one missing: the peer's numbering ends).
   */
  private reportLost(all = false): void {
    const lost = this.userLedger.takeLost(all)
    if (lost === 0) return
    this.stats.lostInTransit += lost
    this.host.events.dropped({
      remote: this.remoteAddress,
      recipient: '(unknown)',
      kind: 'lost-in-transit',
      count: lost,
      reason: `${lost} user message${lost === 1 ? '' : 's'} from ${this.key} never arrived (lost in transit: a connection was cut or datagrams were lost)`,
    })
  }

  /** At the end of an established association: what the peer never confirmed is reported, not lost silently (an upper bound). */
  private reportUnconfirmed(why: string): void {
    const n = this.userLedger.unconfirmed(this.codec.lastUserSeq)
    if (n === 0) return
    this.stats.dropped += n
    this.host.events.dropped({
      remote: this.remoteAddress,
      recipient: '(unknown)',
      kind: 'unconfirmed',
      count: n,
      reason: `${n} user message${n === 1 ? '' : 's'} sent to ${this.key} not confirmed before ${why} (delivered in its last 100 ms, or lost)`,
    })
  }

  /** @internal This process was paused (SIGSTOP, GC, a blocked loop): the peer's silence meanwhile is forgiven. */
  forgivePause(): void {
    this.watcher.forgivePause()
  }

  /**
   * `handshakeTimeoutMs`, or half of it for an association on a claimant's word alone (nothing of
   * this node waits for the peer; a claimant that went silent holds what it sent no longer than
   * before the deadline counted silence).
   */
  private get handshakeTimeout(): number {
    const timeout = this.host.settings.handshakeTimeoutMs
    return this.claimOnly ? Math.ceil(timeout / 2) : timeout
  }

  /**
   * A handshake is given up when the peer said nothing for `handshakeTimeoutMs`, or after
   * {@link HANDSHAKE_MAX_TIMEOUTS} times that whatever it said. An overloaded peer (its process
   * gets little CPU) answers late but keeps sending its own handshake and frames: giving up on it
   * would drop what waits here and start the handshake again, work that makes it later still.
   */
  private handshakeOverdue(since: number, now: number): boolean {
    const timeout = this.handshakeTimeout
    return now - Math.max(since, this.heardAt) >= timeout || now - since >= HANDSHAKE_MAX_TIMEOUTS * timeout
  }

  /** Why {@link handshakeOverdue}: silence from the start, silence after the peer was heard, or the peer never answered. */
  private handshakeTimeoutReason(since: number, now: number): string {
    const timeout = this.handshakeTimeout
    if (this.heardAt <= since) return `handshake with ${this.key} timed out after ${timeout} ms`
    const silent = now - this.heardAt
    if (silent >= timeout) return `handshake with ${this.key} timed out after ${now - since} ms (nothing heard from it for ${silent} ms)`
    return `handshake with ${this.key} timed out after ${now - since} ms (it talked, but never answered this node's request)`
  }

  private handshakeTimedOut(reason: string): void {
    debug(reason)
    const before = this.lastFailure
    this.failed(before === undefined ? `no answer to the handshake within ${this.handshakeTimeout} ms` : before)
    this.host.events.handshakeFailed(this.key, reason, false)
    if (this.sender.size > 0) {
      // Watches wait for this node: one that never answers is as good as down for them.
      this.quarantine(reason, 'handshake-timeout')
      return
    }
    this.dropQueued(reason)
    this.state = IDLE
    this.control.close(false)
    this.user.close(false)
  }

  private dropQueued(reason: string): void {
    for (const m of this.queue.takeAll()) {
      this.drop(m.recipient.wirePath, 'undelivered', reason)
      this.host.deadLetter(m.message, m.sender, m.recipient)
    }
  }

  // ------------------------------------------------------------------ ending

  /**
   * Ends all traffic with the peer's current incarnation: its uid is refused from now on, the
   * peer is told (when `notify`), watchers of its actors get Terminated. Messages queued for
   * actors by path move to a successor, which looks for a new incarnation at the address; those
   * for one actor incarnation (`#uid`) go to dead letters.
   */
  quarantine(reason: string, cause: QuarantineCause, notify = true): void {
    const s = this.state
    if (isFinal(s)) return
    const uid = peerUidOf(s)
    const now = this.host.clock.now()
    // Only a confirmed uid is refused from now on: a claim that never got confirmed (a handshake
    // that timed out) ends this association, not that incarnation's chances.
    if (uid !== undefined && s.kind === 'established') {
      const probeAfter = cause === 'unreachable' ? PROBE_AFTER_INTERVALS * this.host.settings.heartbeatIntervalMs : undefined
      this.registry.quarantine.add(this.key, uid, now, probeAfter)
      if (notify) {
        this.noticeQuarantined(uid)
        this.flush()
      }
    }
    this.state = { kind: 'quarantined', uid, confirmed: s.kind === 'established', since: now, reason }
    if (s.kind === 'established') this.reportUnconfirmed(`it was quarantined (${reason})`)
    debug('quarantined %s uid %s: %s', this.key, uid, reason)
    // Quarantined because the peer quarantined us: the registry publishes that (byPeer) instead.
    if (cause !== 'peer') this.host.events.quarantined(this, uid, reason, undefined, cause)
    this.end(`quarantined: ${reason}`)
  }

  /**
   * Ends this association without judging the peer: this node takes a new uid towards it (the
   * peer quarantined the old one), or forgets an idle association (`terminateWatchers` false:
   * nothing was ever watched through it). A successor takes over.
   */
  retire(reason: string, terminateWatchers = true): void {
    const s = this.state
    if (isFinal(s)) return
    this.state = { kind: 'retired', uid: peerUidOf(s), confirmed: s.kind === 'established', reason }
    if (s.kind === 'established') this.reportUnconfirmed(`the association was replaced (${reason})`)
    debug('retired association with %s: %s', this.key, reason)
    this.end(reason, terminateWatchers)
  }

  private end(reason: string, terminateWatchers = true): void {
    this.cancelUnreachableCheck()
    // What the peer made this node hold goes with the association.
    this.releaseCodec()
    this.reportLost(true)
    this.userLedger.stop()
    this.handshake.endClaim(reason)
    this.handshake.closeParked(undefined, reason)
    this.handOverQueued(reason)
    if (terminateWatchers) this.host.addressTerminated(this.remoteAddress)
    this.control.close(true)
    this.user.close(true)
  }

  /** Queued user messages: by path to the successor (a new incarnation may be there), the rest to dead letters. */
  private handOverQueued(reason: string): void {
    const byPath: QueuedUserMessage[] = []
    for (const m of this.queue.takeAll()) {
      if (m.recipient.path.uid === undefined) byPath.push(m)
      else {
        this.drop(m.recipient.wirePath, 'undelivered', reason)
        this.host.deadLetter(m.message, m.sender, m.recipient)
      }
    }
    if (byPath.length > 0 && !this.host.isShuttingDown) this.registry.associationFor(this.remoteAddress).adoptQueued(byPath)
  }

  /** @internal Shutdown: tell the peer, give unacked system messages a moment, close the links. */
  async shutdown(): Promise<void> {
    this.cancelUnreachableCheck()
    if (this.state.kind === 'established' && this.control.ready) {
      const clock = this.host.clock
      const deadline = clock.now() + this.host.settings.shutdownFlushTimeoutMs
      this.flush()
      while (this.sender.size > 0 && this.control.ready && clock.now() < deadline) {
        await new Promise<void>((resolve) => {
          clock.setTimeout(resolve, 20, { keepAlive: true })
        })
      }
      // What arrived from the peer, so that it does not report those messages as unconfirmed.
      this.userLedger.sendAck()
      this.writeControlPdu({ type: 'disassociate', reason: DisassociateReason.shutdown, detail: 'actor system terminated' })
      this.flush()
    }
    this.control.close(true)
    this.user.close(true)
  }
}

/** A watch sent to an ended incarnation is answered at once, like Akka does. */
function answerWatchOfEnded(message: SystemMessage): void {
  if (message.kind === 'watch') {
    internalRef(message.watcher).sendSystemMessage({
      kind: 'deathWatchNotification',
      ref: message.watchee,
      existenceConfirmed: false,
      addressTerminated: true,
    })
  }
}

/** True for a connect that failed because this process (EMFILE) or the system (ENFILE) ran out of file descriptors. */
function isOutOfDescriptors(error: Error): boolean {
  const cause = (error as { cause?: { code?: unknown } }).cause
  const code = (error as { code?: unknown }).code
  return code === 'EMFILE' || code === 'ENFILE' || cause?.code === 'EMFILE' || cause?.code === 'ENFILE'
}

/** True for a connect that the peer's host refused (ECONNREFUSED: nothing listens at the port). */
export function isConnectionRefused(error: Error): boolean {
  const cause = (error as { cause?: { code?: unknown } }).cause
  return (error as { code?: unknown }).code === 'ECONNREFUSED' || cause?.code === 'ECONNREFUSED'
}

/**
 * A connect failure in a few words, for log lines and the messages of asks that time out:
 * `connection refused at 127.0.0.1:5000`, `cannot connect to 10.0.0.9:5000 (EHOSTUNREACH)`,
 * `connect to 127.0.0.1:5000 timed out after 10000 ms`, or the TLS handshake's failure.
 */
export function describeConnectFailure(error: Error, address: Address): string {
  const at = `${address.host}:${address.port}`
  const code = (error as { code?: unknown }).code
  const errno = (error as { cause?: { code?: unknown } }).cause?.code
  if (isConnectionRefused(error)) return `connection refused at ${at}`
  if (code === 'ERR_CONNECT_REFUSED') return `cannot connect to ${at}${typeof errno === 'string' ? ` (${errno})` : `: ${error.message}`}`
  return error.message
}

/** A small non-negative hash of a string (FNV-1a, 31 bits). */
function hashOf(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 1
}
