import { DisassociateReason, type AssociationCodec, type Pdu } from '@helios/codec'
import type { ActorRef } from '../ActorRef.js'
import type { Address } from '../Address.js'
import type { Channel } from '@helios/transport'
import type { AssociationInfo } from '../AssociationInfo.js'
import type { ScheduledTimer } from '../Clock.js'
import { debug } from '../internal/debug.js'
import { internalRef } from '../internal/InternalActorRef.js'
import type { SystemMessage } from '../internal/SystemMessage.js'
import { PhiAccrualFailureDetector } from '../PhiAccrualFailureDetector.js'
import { LaneId, type OutboundLink } from './OutboundLink.js'
import type { RemoteActorRef } from './RemoteActorRef.js'
import type { Remoting } from './Remoting.js'
import { WIRE_DEATH_WATCH_NOTIFICATION, WIRE_UNWATCH, WIRE_WATCH } from './SystemMessageWire.js'
import { SystemMessageOverflowError, SystemMessageReceiveState, SystemMessageSendBuffer } from './SystemMessageDelivery.js'

/** Per-association counters (see {@link Association.stats}). */
export interface AssociationStats {
  messagesSent: number
  messagesReceived: number
  bytesSent: number
  bytesReceived: number
  framesSent: number
  framesReceived: number
  /** User messages dropped: full queue, encode failure, quarantine, handshake failure. */
  dropped: number
  /** Frames that failed to decode (each failed alone; the association went on). */
  decodeErrors: number
  systemMessagesSent: number
  systemMessagesResent: number
  systemMessagesReceived: number
  reconnects: number
}


interface QueuedUser {
  recipient: RemoteActorRef
  message: unknown
  sender: ActorRef | undefined
}

interface PendingSystem {
  recipient: string
  sender: string
  message: readonly number[]
}

/**
 * Everything this node knows about one remote node: its uid (from the handshake), the two
 * outbound lanes, the bounded user queue, the reliable system-message buffers, the failure
 * detector, the codec state (compression tables, reassembly) and counters.
 *
 * States: not yet associated (messages queue, bounded) → established after the peer's handshake
 * response → (connection lost: reconnect with backoff, queues kept) → quarantined when the
 * failure detector declares the node unreachable, its system messages overflow, or it shut down.
 * A handshake with a new uid from the same address (a restarted node) ends the old incarnation
 * (watchers get Terminated) and starts afresh.
 */
export class Association {
  readonly remoteAddress: Address
  /** `remoteAddress.toString()`. */
  readonly key: string
  /** The peer's node uid, once a handshake told it. */
  uid: bigint | undefined = undefined
  established = false
  quarantined = false
  readonly stats: AssociationStats = {
    messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0, framesSent: 0, framesReceived: 0,
    dropped: 0, decodeErrors: 0, systemMessagesSent: 0, systemMessagesResent: 0, systemMessagesReceived: 0, reconnects: 0,
  }

  codec: AssociationCodec
  readonly control: OutboundLink
  readonly user: OutboundLink
  /** @internal Set by the remoting's flush scheduling. */
  flushScheduled = false

  private readonly remoting: Remoting
  private queue: QueuedUser[] = []
  private queueHead = 0
  private sysSend: SystemMessageSendBuffer<PendingSystem>
  private sysRecv = new SystemMessageReceiveState()
  private ackOwed = false
  private lastResendAt = 0
  private detector: PhiAccrualFailureDetector
  private handshakeStartedAt: number | undefined = undefined
  private quarantinedAt = 0
  private readonly quarantinedUids = new Set<bigint>()
  private shutdownTimer: ScheduledTimer | undefined
  private probing = false
  /**
   * False from the moment a control connection (re)connects until the peer's handshake response
   * on it confirms which incarnation answers: no system or user message goes out before, so
   * nothing meant for an old incarnation reaches a restarted one (docs/PROTOCOL.md §10.1).
   */
  private confirmed = false
  private nackOwed = false
  /** The handler of the connection the peer's latest user frame came on. */
  private userFramesFrom: object | undefined
  private lastNackResendAt = -Infinity
  private lastHeartbeatReplyAt = 0

  constructor(remoting: Remoting, remoteAddress: Address, makeLink: (assoc: Association, lane: LaneId) => OutboundLink) {
    this.remoting = remoting
    this.remoteAddress = remoteAddress
    this.key = remoteAddress.toString()
    this.codec = remoting.codec.createAssociation()
    this.sysSend = new SystemMessageSendBuffer(remoting.settings.systemMessageBufferSize)
    this.detector = this.newDetector()
    this.control = makeLink(this, LaneId.control)
    this.user = makeLink(this, LaneId.user)
  }

  /** Messages waiting in the outbound user queue. */
  get queuedMessages(): number { return this.queue.length - this.queueHead }
  /** System messages not yet acknowledged by the peer. */
  get unackedSystemMessages(): number { return this.sysSend.size }
  /** Current phi of the failure detector for this node. */
  get phi(): number { return this.detector.phi() }

  /** A snapshot of state and counters. */
  info(): AssociationInfo {
    return {
      remote: this.remoteAddress,
      remoteUid: this.uid,
      state: this.quarantined ? 'quarantined' : this.established ? 'established' : 'connecting',
      queued: this.queuedMessages,
      unackedSystemMessages: this.sysSend.size,
      phi: this.detector.phi(),
      ...this.stats,
    }
  }

  // ------------------------------------------------------------------ outbound

  /** Sends a user message; never throws, never blocks. */
  sendUser(recipient: RemoteActorRef, message: unknown, sender: ActorRef | undefined): void {
    if (this.quarantined) {
      this.probeAfterQuarantine()
      this.remoting.internals.deadLetter(message, sender, recipient)
      return
    }
    if (this.established && this.confirmed && this.queueHead === this.queue.length && this.user.ready && this.user.writable) {
      this.writeUser(recipient, message, sender)
      return
    }
    if (this.queuedMessages >= this.remoting.settings.outboundQueueSize) {
      this.drop(recipient.wirePath, `outbound queue full (${this.remoting.settings.outboundQueueSize})`)
      return
    }
    this.queue.push({ recipient, message, sender })
    this.connect()
  }

  /** Sends a system message reliably (watch, unwatch, death-watch notification). */
  sendSystem(recipient: RemoteActorRef, message: SystemMessage): void {
    if (this.quarantined) {
      // The node is gone for this incarnation: a watch is answered at once, like Akka does.
      if (message.kind === 'watch') {
        internalRef(message.watcher).sendSystemMessage({ kind: 'deathWatchNotification', ref: message.watchee, existenceConfirmed: false, addressTerminated: true })
      }
      return
    }
    let wire: PendingSystem
    switch (message.kind) {
      case 'watch':
        wire = { recipient: recipient.wirePath, sender: this.remoting.wirePathOf(message.watcher), message: [WIRE_WATCH] }
        break
      case 'unwatch':
        wire = { recipient: recipient.wirePath, sender: this.remoting.wirePathOf(message.watcher), message: [WIRE_UNWATCH] }
        break
      case 'deathWatchNotification':
        wire = {
          recipient: recipient.wirePath,
          sender: this.remoting.wirePathOf(message.ref),
          message: [WIRE_DEATH_WATCH_NOTIFICATION, message.existenceConfirmed ? 1 : 0],
        }
        break
      default:
        return // terminate is local only
    }
    let entry
    try {
      entry = this.sysSend.add(wire)
    } catch (err) {
      if (err instanceof SystemMessageOverflowError) {
        this.quarantine(err.message)
        return
      }
      throw err
    }
    if (this.established && this.confirmed && this.control.ready) this.writeSystem(entry.seq, entry.message)
    else this.connect()
  }

  private writeUser(recipient: RemoteActorRef, message: unknown, sender: ActorRef | undefined): void {
    let frames: Uint8Array[]
    try {
      frames = this.codec.encodeUserMessage(recipient.wirePath, message, sender === undefined ? undefined : this.remoting.wirePathOf(sender))
    } catch (err) {
      this.drop(recipient.wirePath, `cannot encode: ${(err as Error).message}`, err)
      return
    }
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i] as Uint8Array
      this.user.write(f)
      this.stats.bytesSent += f.byteLength
    }
    this.stats.framesSent += frames.length
    this.stats.messagesSent++
    this.remoting.scheduleFlush(this)
  }

  private writeSystem(seq: number, m: PendingSystem): void {
    let frames: Uint8Array[]
    try {
      frames = this.codec.encodeSystemMessage(seq, m.recipient, m.message, m.sender)
    } catch (err) {
      // Our own small fixed-shape messages cannot fail to encode; if they did, the peer could never
      // get this sequence number, so the association cannot go on.
      this.quarantine(`cannot encode system message: ${(err as Error).message}`)
      return
    }
    for (const f of frames) this.writeControl(f)
    this.stats.systemMessagesSent++
  }

  /** @internal */
  writeControl(payload: Uint8Array): void {
    this.control.write(payload)
    this.stats.framesSent++
    this.stats.bytesSent += payload.byteLength
    this.remoting.scheduleFlush(this)
  }

  /** @internal Called once per tick by the remoting's flush: acks, compression frames, then flushes both lanes. */
  flush(): void {
    this.flushScheduled = false
    if (this.control.ready) {
      if (this.nackOwed) {
        // One nack per flush, however many envelopes arrived out of order.
        this.nackOwed = false
        this.ackOwed = false
        this.writeControlPdu({ type: 'nack', cumulative: this.sysRecv.cumulativeAck, missing: [] })
      } else if (this.ackOwed) {
        this.ackOwed = false
        this.writeControlPdu({ type: 'ack', cumulative: this.sysRecv.cumulativeAck, selective: [] })
      }
      if (this.codec.hasControlFrames) for (const f of this.codec.takeControlFrames()) this.control.write(f)
      this.control.flush()
    }
    if (this.user.ready) this.user.flush()
  }

  private writeControlPdu(pdu: Pdu): void {
    if (!this.control.ready) return
    for (const f of this.codec.encode(pdu)) this.writeControl(f)
  }

  private drainQueue(): void {
    if (!this.established || !this.confirmed || !this.user.ready) return
    const q = this.queue
    while (this.queueHead < q.length && this.user.writable) {
      const m = q[this.queueHead] as QueuedUser
      q[this.queueHead++] = undefined as unknown as QueuedUser
      this.writeUser(m.recipient, m.message, m.sender)
    }
    if (this.queueHead === q.length) {
      this.queue = []
      this.queueHead = 0
    } else if (this.queueHead > 4096) {
      this.queue = q.slice(this.queueHead)
      this.queueHead = 0
    }
  }

  private resendSystem(): void {
    if (!this.established || !this.confirmed || !this.control.ready) return
    for (const e of this.sysSend.pending()) {
      this.writeSystem(e.seq, e.message)
      this.stats.systemMessagesResent++
    }
    this.lastResendAt = this.remoting.clock.now()
  }

  private drop(recipient: string, reason: string, cause?: unknown): void {
    this.stats.dropped++
    this.remoting.dropped(this.remoteAddress, recipient, reason, cause)
  }

  /** Starts the lanes (and the handshake clock) if they are not up; each link decides whether it needs to connect. */
  connect(): void {
    if (this.quarantined || this.remoting.isShuttingDown) return
    if (!this.established && this.handshakeStartedAt === undefined) this.handshakeStartedAt = this.remoting.clock.now()
    this.control.ensure()
    this.user.ensure()
  }

  /** @internal The peer's user-lane connection passed its handshake here: the user lane may write on it. */
  lendUserConnection(channel: Channel): void {
    if (!this.quarantined) this.user.lend?.(channel)
  }

  // ------------------------------------------------------------------ link events

  /** @internal A lane connected and sent its preamble and handshake request. */
  onLinkUp(lane: LaneId): void {
    if (lane === LaneId.control) {
      // Whoever answers on this new connection must confirm its uid before traffic resumes.
      this.confirmed = false
      // A peer that introduced itself is owed our handshake response, also on a new connection.
      if (this.uid !== undefined && !this.quarantined) this.sendHandshakeResponse()
    } else if (this.established) {
      this.drainQueue()
    }
    this.remoting.scheduleFlush(this)
  }

  /** @internal A lane's connection closed or failed; the link reconnects by itself while wanted. */
  onLinkDown(lane: LaneId, reason: string): void {
    if (lane === LaneId.control) this.confirmed = false
    if (lane === LaneId.control && this.established) {
      this.stats.reconnects++
      this.remoting.publishDisassociated(this, reason)
    }
  }

  /** @internal The peer refused one of our connections in a way worth publishing (e.g. another protocol version). */
  linkRefused(reason: string): void {
    this.remoting.handshakeFailed(this.key, reason)
  }

  /**
   * @internal A connection that brought the peer's user frames closed: fragments of a message cut
   * short on it will never complete. A connection that was not the peer's latest source of user
   * frames (the peer writes on one at a time) leaves the reassembly alone.
   */
  inboundUserLaneClosed(source: object): void {
    if (this.userFramesFrom !== source) return
    this.userFramesFrom = undefined
    this.codec.reassembler.clear()
  }

  /** @internal The user lane's writability changed. */
  onWritable(): void {
    this.drainQueue()
  }

  /**
   * Whether the links should (re)connect: an established peer, a handshake in progress, or work
   * waiting. A peer that never answered and for which nothing waits is not retried forever (a
   * handshake from a made-up address must not make this node dial it again and again).
   */
  get wantsConnection(): boolean {
    if (this.detached || this.remoting.isShuttingDown) return false
    if (this.quarantined) return this.probing
    return this.established || this.handshakeStartedAt !== undefined || this.queuedMessages > 0 || this.sysSend.size > 0
  }

  /** True once the remoting dropped this idle association from its table (a ref that still holds it re-resolves). */
  detached = false

  /** @internal The association now in the remoting's table for this address (after a detach). */
  reattach(): Association {
    return this.remoting.associationFor(this.remoteAddress)
  }

  /** Nothing established, nothing in progress, nothing waiting: the remoting may forget it. */
  get idle(): boolean {
    return !this.established && !this.quarantined && !this.probing && this.handshakeStartedAt === undefined &&
      this.queuedMessages === 0 && this.sysSend.size === 0
  }

  // ------------------------------------------------------------------ inbound

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
    let pdu: Pdu | undefined
    try {
      pdu = this.codec.decode(buf, start, end)
    } catch (err) {
      this.stats.decodeErrors++
      const code = (err as { code?: string }).code
      // A lost fragment (udp) or a cut connection leaves a partial message that can never
      // complete: drop the partial state instead of letting it fill the bounded buffer.
      if (code === 'ERR_FRAGMENT_OUT_OF_ORDER' || code === 'ERR_REASSEMBLY_OVERFLOW') this.codec.reassembler.clear()
      this.remoting.decodeFailed(this, err)
      return
    }
    if (pdu !== undefined) this.handle(pdu)
  }

  /** @internal Dispatches one decoded PDU. */
  handle(pdu: Pdu): void {
    switch (pdu.type) {
      case 'user-envelope':
        if (!this.acceptsTraffic()) return
        this.stats.messagesReceived++
        try {
          this.remoting.deliverUser(pdu.recipient, pdu.message, pdu.sender)
        } catch (err) {
          // e.g. a malformed sender path: that one message fails, the connection goes on
          this.stats.decodeErrors++
          this.remoting.decodeFailed(this, err)
        }
        return
      case 'system-envelope':
        if (!this.acceptsTraffic()) return
        this.receiveSystem(pdu.seq, pdu.recipient, pdu.sender, pdu.message)
        return
      case 'ack':
      case 'nack':
        if (this.sysSend.ack(pdu.cumulative) > 0) {
          this.lastResendAt = this.remoting.clock.now()
        }
        if (pdu.type === 'nack') {
          const now = this.remoting.clock.now()
          if (now - this.lastNackResendAt >= this.remoting.settings.systemMessageResendIntervalMs) {
            this.lastNackResendAt = now
            this.resendSystem()
          }
        }
        return
      case 'heartbeat':
        if (this.uid !== undefined && !this.quarantined) this.writeControlPdu({ type: 'heartbeat-reply', uid: this.remoting.internals.nodeUid })
        return
      case 'heartbeat-reply':
        if (pdu.uid === this.uid && !this.quarantined) {
          this.detector.heartbeat()
          this.lastHeartbeatReplyAt = this.remoting.clock.now()
        }
        return
      case 'handshake-request':
        this.onHandshakeRequest(pdu.from.uid)
        return
      case 'handshake-response':
        this.onHandshakeResponse(pdu.from.uid)
        return
      case 'disassociate':
        if (pdu.reason === DisassociateReason.shutdown || pdu.reason === DisassociateReason.quarantined) {
          this.quarantine(`peer ${pdu.reason === DisassociateReason.shutdown ? 'shut down' : 'quarantined us'}${pdu.detail ? `: ${pdu.detail}` : ''}`, false)
        }
        return
      case 'quarantined':
        if (pdu.to.uid === this.remoting.internals.nodeUid && pdu.from.uid === this.uid) {
          this.quarantine('the peer quarantined this node', false)
        }
        return
      default:
        // compression advertisements and acks were applied by the codec; send what it owes
        this.remoting.scheduleFlush(this)
    }
  }

  private acceptsTraffic(): boolean {
    return this.uid !== undefined && !this.quarantined
  }

  private receiveSystem(seq: number, recipient: string, sender: string | undefined, message: unknown): void {
    const decision = this.sysRecv.receive(seq)
    this.ackOwed = true
    this.remoting.scheduleFlush(this)
    if (decision !== 'deliver') {
      if (decision === 'gap') this.nackOwed = true
      return
    }
    this.stats.systemMessagesReceived++
    if (!Array.isArray(message) || sender === undefined) return
    try {
      this.remoting.deliverSystem(recipient, sender, message[0] as number, message[1] === 1)
    } catch (err) {
      this.stats.decodeErrors++
      this.remoting.decodeFailed(this, err)
    }
  }

  /**
   * @internal The peer answered on a user-lane connection this node opened (its handshake
   * response there): the uid is adopted like any handshake's (restart detection), without
   * confirming the control lane. False when the uid is quarantined.
   */
  peerAnswered(uid: bigint): boolean {
    return this.adoptUid(uid)
  }

  /** @internal The peer (uid) introduced itself (handshake request). Returns false when refused as quarantined. */
  onHandshakeRequest(uid: bigint): boolean {
    if (!this.adoptUid(uid)) return false
    // Sent now if our control lane is up, else as soon as it connects (onLinkUp).
    if (this.control.ready) this.sendHandshakeResponse()
    else this.control.ensure()
    return true
  }

  private sendHandshakeResponse(): void {
    this.writeControlPdu({ type: 'handshake-response', from: this.remoting.localUniqueAddress, to: this.key })
  }

  private onHandshakeResponse(uid: bigint): void {
    if (!this.adoptUid(uid)) return
    this.control.confirmed()
    this.user.confirmed()
    if (this.established) {
      if (!this.confirmed) {
        this.confirmed = true
        this.resendSystem()
        this.drainQueue()
        this.remoting.scheduleFlush(this)
      }
      return
    }
    this.established = true
    this.confirmed = true
    this.handshakeStartedAt = undefined
    this.detector.heartbeat()
    this.lastHeartbeatReplyAt = this.remoting.clock.now()
    debug('associated with %s (uid %s)', this.key, uid)
    this.remoting.publishAssociated(this)
    this.user.ensure()
    this.resendSystem()
    this.drainQueue()
    this.remoting.scheduleFlush(this)
  }

  /** Records the peer's uid; a new uid means the node restarted. False when the uid is quarantined. */
  private adoptUid(uid: bigint): boolean {
    if (this.quarantinedUids.has(uid)) {
      this.endProbe()
      this.writeControlPdu({ type: 'quarantined', from: this.remoting.localUniqueAddress, to: { address: this.key, uid } })
      this.remoting.handshakeFailed(this.key, `handshake from quarantined node ${this.key} uid ${uid}`, true)
      return false
    }
    if (this.uid === uid) return true
    if (this.uid === undefined && !this.quarantined) {
      // The first incarnation we hear of: what waits for it (watches, queued messages) is for it.
      this.uid = uid
      this.codec.setRemoteUid(uid)
      if (this.handshakeStartedAt === undefined) this.handshakeStartedAt = this.remoting.clock.now()
      this.connect()
      return true
    }
    if (this.uid !== undefined && !this.quarantined) {
      // The node restarted: the old incarnation is gone for good.
      const old = this.uid
      this.quarantinedUids.add(old)
      this.remoting.publishQuarantined(this, old, `node restarted (new uid ${uid})`)
      this.remoting.internals.addressTerminated(this.remoteAddress)
    }
    this.reset(uid)
    return true
  }

  /** Fresh state for a new incarnation of the peer. User messages still queued are kept for it. */
  private reset(uid: bigint): void {
    this.probing = false
    this.confirmed = false
    this.uid = uid
    this.established = false
    this.quarantined = false
    // A connection lent by the old incarnation must not carry what is meant for the new one.
    this.user.releaseLent?.()
    this.userFramesFrom = undefined
    this.codec = this.remoting.codec.createAssociation({ remoteUid: uid })
    this.sysSend = new SystemMessageSendBuffer(this.remoting.settings.systemMessageBufferSize)
    this.sysRecv = new SystemMessageReceiveState()
    this.ackOwed = false
    this.detector = this.newDetector()
    if (this.handshakeStartedAt === undefined) this.handshakeStartedAt = this.remoting.clock.now()
    this.connect()
  }

  private newDetector(): PhiAccrualFailureDetector {
    return new PhiAccrualFailureDetector({ ...this.remoting.settings.failureDetector, clock: this.remoting.clock })
  }

  // ------------------------------------------------------------------ time

  /** @internal Once per heartbeat interval: heartbeats, failure detection, resends, handshake timeout. */
  tick(now: number): void {
    if (this.idle) {
      this.remoting.evict(this)
      return
    }
    if (this.quarantined) {
      if (this.probing && now - this.quarantinedAt >= this.remoting.settings.handshakeTimeoutMs) {
        this.probing = false
        this.control.close(false)
      }
      return
    }
    if (!this.established) {
      if (this.handshakeStartedAt !== undefined) {
        if (now - this.handshakeStartedAt >= this.remoting.settings.handshakeTimeoutMs) this.handshakeTimedOut()
        else this.control.resendHandshake()
      }
      return
    }
    if (this.control.ready) this.writeControlPdu({ type: 'heartbeat' })
    if (!this.detector.isAvailable()) {
      const phi = this.detector.phi()
      this.remoting.publishUnreachable(this, phi)
      this.quarantine(`unreachable (phi ${phi.toFixed(1)} >= ${this.detector.threshold})`)
      return
    }
    // TCP loses nothing on a live connection (a new one resends everything); datagrams can be lost.
    if (this.remoting.isUdp && this.sysSend.size > 0 && now - this.lastResendAt >= this.remoting.settings.systemMessageResendIntervalMs) this.resendSystem()
    // UDP has no connection to tell us that the peer restarted: after three silent heartbeats,
    // introduce ourselves again; a new incarnation answers with its new uid.
    if (this.remoting.isUdp && now - this.lastHeartbeatReplyAt > 3 * this.remoting.settings.heartbeatIntervalMs) this.control.resendHandshake()
    this.codec.resendUnackedAdvertisements()
    this.remoting.scheduleFlush(this)
  }

  private handshakeTimedOut(): void {
    const reason = `handshake with ${this.key} timed out after ${this.remoting.settings.handshakeTimeoutMs} ms`
    debug(reason)
    this.handshakeStartedAt = undefined
    this.remoting.handshakeFailed(this.key, reason)
    if (this.sysSend.size > 0) {
      // Watches wait for this node: one that never answers is as good as down for them.
      this.quarantine(reason)
      return
    }
    this.dropQueued(reason)
    this.control.close(false)
    this.user.close(false)
  }

  private dropQueued(reason: string): void {
    const q = this.queue
    for (let i = this.queueHead; i < q.length; i++) {
      const m = q[i] as QueuedUser
      this.drop(m.recipient.wirePath, reason)
      this.remoting.internals.deadLetter(m.message, m.sender, m.recipient)
    }
    this.queue = []
    this.queueHead = 0
  }

  // ------------------------------------------------------------------ quarantine and shutdown

  /**
   * Ends all traffic with the current incarnation of the peer: queued messages are dropped,
   * the peer is told (when `notify`), watchers of its actors get Terminated. A later handshake
   * with a new uid starts a fresh association.
   */
  quarantine(reason: string, notify = true): void {
    if (this.quarantined) return
    this.quarantined = true
    this.established = false
    this.quarantinedAt = this.remoting.clock.now()
    const uid = this.uid
    if (uid !== undefined) this.quarantinedUids.add(uid)
    if (notify && uid !== undefined && this.control.ready) {
      this.writeControlPdu({ type: 'quarantined', from: this.remoting.localUniqueAddress, to: { address: this.key, uid } })
      this.flush()
    }
    this.dropQueued(`quarantined: ${reason}`)
    this.sysSend = new SystemMessageSendBuffer(this.remoting.settings.systemMessageBufferSize)
    this.remoting.publishQuarantined(this, uid, reason)
    this.remoting.internals.addressTerminated(this.remoteAddress)
    this.control.close(false)
    this.user.close(false)
  }

  /** After a quarantine, a send now and then reconnects to find out whether a new incarnation is there. */
  private probeAfterQuarantine(): void {
    const now = this.remoting.clock.now()
    if (this.probing || now - this.quarantinedAt < this.remoting.settings.reconnectMaxBackoffMs) return
    this.quarantinedAt = now
    // One connection attempt: its handshake request makes a new incarnation answer with its new
    // uid (a fresh association); the quarantined one is told so again and refused.
    this.probing = true
    this.control.ensure()
  }

  private endProbe(): void {
    if (!this.probing) return
    this.probing = false
    this.remoting.scheduleFlush(this)
    // Let the quarantined notice go out, then close again.
    queueMicrotask(() => { if (this.quarantined && !this.probing) this.control.close(false) })
  }

  /** @internal Shutdown: tell the peer, give unacked system messages a moment, close the links. */
  async shutdown(): Promise<void> {
    if (this.established && this.control.ready && !this.quarantined) {
      const deadline = this.remoting.clock.now() + this.remoting.settings.shutdownFlushTimeoutMs
      this.flush()
      while (this.sysSend.size > 0 && this.control.ready && this.remoting.clock.now() < deadline) {
        await new Promise<void>((resolve) => { this.shutdownTimer = this.remoting.clock.schedule(20, resolve) })
      }
      this.writeControlPdu({ type: 'disassociate', reason: DisassociateReason.shutdown, detail: 'actor system terminated' })
      this.flush()
    }
    this.shutdownTimer?.cancel()
    this.control.close(true)
    this.user.close(true)
  }
}
