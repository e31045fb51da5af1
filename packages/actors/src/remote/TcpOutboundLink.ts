import { encodePreamble, type Preamble, PROTOCOL_VERSION, UnsupportedVersionError } from '@helios/codec'
import { Bootstrap, Reconnector, type Channel, type ChannelHandler, type ChannelHandlerContext, type TimerHandle } from '@helios/transport'
import { debug } from '../internal/debug.js'
import type { LinkHost, LinkOwner } from './AssociationContext.js'
import { PreambleStep } from './PreambleStep.js'
import { FrameBatch, framed } from './FrameBatch.js'
import { ownFrame, remotingFrameDecoder } from './InboundFrames.js'
import { LaneId, type OutboundLink } from './OutboundLink.js'

/** Frames are packed into buffers of up to this many bytes (one write each). */
const BATCH_BYTES = 256 * 1024
/** How often a link looks at its own connection's idleness (and at a pending move). */
const IDLE_CHECK_MS = 250
/** A connection of our own that lost to the peer's closes after this long without traffic either way. */
const LOSER_IDLE_MS = 1000
/**
 * User lane: how long a move to the lane's connection waits for the peer to confirm what went on
 * the old one (which carries the envelopes meanwhile). The peer acks within 100 ms of reading; an
 * overloaded one reads late, and moving before then would let later envelopes overtake (they
 * would be counted as lost, then arrive). A safety valve, not a schedule.
 */
const MOVE_TIMEOUT_MS = 30_000

/**
 * One lane of an association over TCP/TLS. Both nodes of a pair use one connection per lane, in
 * both directions (docs/PROTOCOL.md §10.1):
 *
 * - A node opens a connection of its own for a lane only when there is none from the peer it can
 *   write on (and, on the control lane, to confirm a peer's claimed uid at its address). It writes
 *   the preamble and its handshake request first, and reconnects through the transport's
 *   {@link Reconnector} (capped exponential backoff with jitter, on the node's clock) while the
 *   association wants it. A connection that closes after the peer confirmed it is followed by an
 *   immediate attempt (a refused reconnect tells at once that the peer's incarnation is gone).
 * - The peer's connection on the lane, once its handshake was accepted here, is {@link lend lent}
 *   to the link: it answers on it with its preamble and handshake response, and writes its frames
 *   there while it has no connection of its own: a request and its reply travel on one TCP
 *   connection, whose ACKs ride on the data.
 * - When both exist (both nodes connected at once, or one confirmed the other's claim), the one
 *   opened by the node with the smaller address is the lane's: the other node moves to it and
 *   closes its own once idle. On the user lane the move waits until the peer confirmed (a user ack)
 *   what was written on the old connection, so that messages never overtake each other.
 * - A user-lane connection of our own closes after `idleUserConnectionMs` without traffic, and is
 *   opened again on demand.
 */
export class TcpOutboundLink implements OutboundLink {
  /** The connection this link opened. */
  private channel: Channel | undefined
  /** The peer's connection on this lane, accepted by this node. */
  private lent: Channel | undefined
  /** The connection frames are written on: {@link channel} or {@link lent}. */
  private active: Channel | undefined
  /** User lane: the connection to write on once the peer confirmed what went on {@link active}. */
  private moveTo: Channel | undefined
  private moveDeadline = 0
  private reconnector: Reconnector<Channel> | undefined
  private closedForGood = false
  /** Connections that failed or closed unconfirmed since the peer last confirmed one. */
  private failures = 0
  /** The peer confirmed {@link active}. */
  private activeConfirmed = false
  /** The peer confirmed {@link channel} (a response to the nonce of the request written on it). */
  private channelConfirmed = false
  /** The connection opened by this node is the lane's when both exist: this node's address is the smaller. */
  private readonly preferOwn: boolean
  private readonly preamble: Uint8Array
  private readonly batch = new FrameBatch(BATCH_BYTES)
  /** A full batch went to the channel since the last flush. */
  private unflushed = false
  /** Traffic on {@link channel} (written or read) since the last idle check. */
  private ownBusy = false
  private ownIdleSince = 0
  private idleTimer: TimerHandle | undefined

  constructor(
    private readonly host: LinkHost,
    private readonly owner: LinkOwner,
    private readonly lane: LaneId,
  ) {
    this.preamble = encodePreamble(lane)
    this.preferOwn = host.localAddress.toString() < owner.key
  }

  get ready(): boolean {
    return this.active !== undefined
  }

  get writable(): boolean {
    // During a user-lane move the old connection goes on carrying the envelopes: the move completes
    // once the peer acked everything written on it, so nothing written later can overtake them.
    return this.active !== undefined && this.active.isWritable
  }

  get confirmed(): boolean {
    return this.activeConfirmed
  }

  ensure(): void {
    if (this.channel !== undefined || this.reconnector !== undefined || !this.wanted) return
    this.connect()
  }

  write(payload: Uint8Array): void {
    const full = this.batch.add(payload)
    if (full !== undefined) {
      this.active?.write(full)
      this.unflushed = true
    }
  }

  flush(): void {
    const data = this.batch.take()
    if (data !== undefined) this.active?.write(data)
    else if (!this.unflushed) return // nothing written since the last flush
    this.unflushed = false
    if (this.active === this.channel) this.ownBusy = true
    this.active?.flush()
  }

  /**
   * The peer's connection on this lane passed its handshake here: answer with our preamble and
   * handshake response (so the peer can read what we may write on it), and write on it while this
   * link has no connection of its own, or for good when it is the lane's connection.
   */
  lend(ch: Channel): void {
    if (this.closedForGood) return
    const response = this.owner.handshakeResponse()
    if (response === undefined) return
    ch.write(this.preamble)
    ch.write(framed(response))
    ch.flush()
    // The peer has one connection per lane at a time: a newer one means it gave up the older one,
    // which it no longer reads. Nothing written there could still arrive after this one's frames.
    const older = this.lent
    this.lent = ch
    void ch.closed.then(() => this.lentClosed(ch))
    // Nothing to write on, or the peer gave up the connection we wrote on: start on the lane's one.
    if (this.active === undefined || this.active === older) this.use(this.preferOwn ? (this.channel ?? ch) : ch)
    else this.reconsider()
    if (older !== undefined) void older.close()
  }

  releaseLent(): void {
    const lent = this.lent
    if (lent === undefined) return
    this.lentClosed(lent)
    void lent.close()
  }

  sendHandshake(): void {
    if (this.active === undefined) {
      this.ensure()
      return
    }
    this.write(this.owner.handshakeRequest())
    this.owner.scheduleFlush()
  }

  confirm(): void {
    // Only a handshake proves the peer wants us: a port that accepts and then refuses keeps backing off.
    this.failures = 0
    // A response to our current nonce answers the request written on the connection we opened.
    if (this.channel !== undefined) this.channelConfirmed = true
    this.activeConfirmed = this.isConfirmed(this.active)
    // The peer's uid is confirmed: a connection of ours kept only to confirm it may now lose.
    this.watchIdle()
  }

  onUserAck(): void {
    if (this.moveTo !== undefined && this.owner.unconfirmedUserMessages === 0) this.completeMove()
  }

  close(forGood: boolean): void {
    if (forGood) this.closedForGood = true
    this.reconnector?.cancel()
    this.reconnector = undefined
    this.moveTo = undefined
    if (this.idleTimer !== undefined) this.host.clock.clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    const lent = this.lent
    if (lent !== undefined) {
      // Detached at once, without moving to our own connection: it closes too.
      this.lent = undefined
      if (this.active === lent) this.active = undefined
      void lent.close()
    }
    const ch = this.channel
    if (ch !== undefined) void ch.close()
  }

  /** @internal The acceptor wrote back on our connection: traffic there. */
  readOnOwn(): void {
    this.ownBusy = true
  }

  /** A lent connection speaks for the uid its accepted handshake named; ours needs a response to its nonce. */
  private isConfirmed(ch: Channel | undefined): boolean {
    return ch !== undefined && (ch === this.lent || (ch === this.channel && this.channelConfirmed))
  }

  /**
   * Starts writing on `ch`. Frames not yet flushed to the previous connection are dropped (user
   * messages are at most once, and counted by the peer as missing; they may carry compression
   * indexes of a previous incarnation).
   */
  private use(ch: Channel): void {
    if (this.active === ch) return
    this.moveTo = undefined
    this.active = ch
    this.activeConfirmed = this.isConfirmed(ch)
    this.batch.take()
    this.unflushed = false
    this.owner.onLinkUp(this.lane)
    this.watchIdle()
  }

  /** With two connections on the lane, writes on the lane's one (after a user-lane handover). */
  private reconsider(): void {
    const target = this.preferOwn ? (this.channel ?? this.lent) : (this.lent ?? this.channel)
    if (target !== undefined && target !== this.active && this.moveTo !== target) {
      if (this.active === undefined) this.use(target)
      else if (this.lane === LaneId.control || this.owner.unconfirmedUserMessages === 0) this.use(target)
      else {
        // What was written on the old connection must arrive first: move once the peer confirmed it.
        this.moveTo = target
        this.moveDeadline = this.host.clock.now() + MOVE_TIMEOUT_MS
      }
    }
    this.watchIdle()
  }

  private completeMove(): void {
    const target = this.moveTo
    this.moveTo = undefined
    if (target !== undefined && (target === this.channel || target === this.lent)) this.use(target)
  }

  /** Checks our own connection now and then: a loser that went idle closes, an idle user connection closes, a stuck move completes. */
  /** (Re)starts the checks of our own connection at the cadence the link's state asks for. */
  private watchIdle(): void {
    if (this.idleTimer !== undefined) this.host.clock.clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    if (this.channel === undefined || this.closedForGood) return
    const every = this.idleCheckEvery()
    if (every === undefined) return
    this.ownIdleSince = this.host.clock.now()
    this.idleTimer = this.host.clock.setTimeout(this.idleCheck, every)
  }

  /** Our own connection lost to the peer's (and is not needed to confirm its uid). */
  private get ownIsLoser(): boolean {
    const own = this.channel
    return (
      own !== undefined && own !== this.active && this.moveTo !== own && this.lent !== undefined && !this.owner.needsOwnControlConnection
    )
  }

  /**
   * How often to look at our own connection: often while it lost to the peer's or a move waits,
   * a quarter of the idle timeout for a user-lane connection we write on, never otherwise (an idle
   * node with many peers must not run timers for nothing).
   */
  private idleCheckEvery(): number | undefined {
    if (this.moveTo !== undefined || this.ownIsLoser) return IDLE_CHECK_MS
    if (this.lane === LaneId.user && this.channel !== undefined && this.channel === this.active)
      return this.host.settings.idleUserConnectionMs / 4
    return undefined
  }

  private readonly idleCheck = (): void => {
    this.idleTimer = undefined
    const own = this.channel
    if (own === undefined || this.closedForGood) return
    const now = this.host.clock.now()
    if (this.moveTo !== undefined && now >= this.moveDeadline) this.completeMove()
    if (this.ownBusy) {
      this.ownBusy = false
      this.ownIdleSince = now
    }
    const idleFor = now - this.ownIdleSince
    const loser = this.ownIsLoser
    const idleUser = this.lane === LaneId.user && own === this.active && idleFor >= this.host.settings.idleUserConnectionMs
    if ((loser && idleFor >= LOSER_IDLE_MS) || idleUser) {
      debug(
        'closing our %s connection to %s: %s',
        this.lane === LaneId.control ? 'control' : 'user',
        this.owner.key,
        loser ? "the peer's is the lane's" : 'idle',
      )
      void own.close()
      return
    }
    const every = this.idleCheckEvery()
    if (every !== undefined) this.idleTimer = this.host.clock.setTimeout(this.idleCheck, every)
  }

  private lentClosed(ch: Channel): void {
    if (this.lent === ch) this.lent = undefined
    if (this.moveTo === ch) this.moveTo = undefined
    if (this.active !== ch) return
    this.active = undefined
    this.activeConfirmed = false
    if (this.channel !== undefined) {
      this.use(this.channel)
      return
    }
    this.owner.onLinkDown(this.lane, ch.closeReason?.message ?? 'connection closed')
    // Messages wait for this lane: open a connection of our own instead of waiting for the peer.
    this.ensure()
  }

  /**
   * Whether this link needs a connection of its own: the control lane when no lent connection
   * carries it, or to confirm a peer's claimed uid at its address; the user lane only for messages
   * that wait and when no lent connection carries them (docs/PROTOCOL.md §10.1).
   */
  private get wanted(): boolean {
    if (this.closedForGood || !this.owner.wantsConnection) return false
    if (this.lane === LaneId.control) return this.lent === undefined || this.owner.needsOwnControlConnection
    return this.lent === undefined && this.owner.queuedMessages > 0 && !this.owner.unverified
  }

  private connect(): void {
    const { host, port } = this.owner.remoteAddress
    const s = this.host.settings
    const bootstrap = new Bootstrap()
      .transport(s.transport === 'tls' ? 'tls' : 'tcp')
      .options({
        noDelay: true,
        clock: this.host.clock,
        connectTimeoutMs: s.handshakeTimeoutMs,
        handshakeTimeoutMs: s.handshakeTimeoutMs,
        ...(s.transport === 'tls' ? { tls: this.host.tlsClientOptions(), tlsRefusalNotices: true } : {}),
      })
      .handler((ch) => {
        ch.pipeline
          .addLast('preamble', new AcceptorPreambleHandler(this.owner, this.lane))
          .addLast('frames', remotingFrameDecoder(s.maxFrameSize))
          .addLast('link', new AcceptorFrameReader(this.host, this.owner, this.lane, this))
      })
    const reconnector: Reconnector<Channel> = new Reconnector<Channel>({
      // Within the node's bound on connects in flight (addresses nobody vouched for get a small share).
      connect: (_attempt, signal) =>
        this.host.connects.run(this.owner.connectKind, signal, () => bootstrap.connect(port as number, host as string)),
      clock: this.host.clock,
      baseDelayMs: s.reconnectMinBackoffMs,
      maxDelayMs: s.reconnectMaxBackoffMs,
      // Half jitter keeps a floor while spreading reconnect storms.
      jitter: 0.5,
      previousFailures: this.failures,
      shouldRetry: (err: Error): boolean => {
        this.failures++
        debug('connect to %s (lane %d) failed: %s', this.owner.key, this.lane, err.message)
        // The association hears of it first: a refused reconnect may end it (and this link).
        this.owner.onConnectFailed(this.lane, err)
        return this.reconnector === reconnector && this.wanted
      },
    })
    this.reconnector = reconnector
    reconnector.start().then(
      (ch: Channel) => {
        if (this.reconnector === reconnector) this.reconnector = undefined
        this.connected(ch)
      },
      () => {
        // Cancelled, or no longer wanted: a later ensure() starts over.
        if (this.reconnector === reconnector) this.reconnector = undefined
      },
    )
  }

  private connected(ch: Channel): void {
    if (this.closedForGood || !this.owner.wantsConnection) {
      void ch.close()
      return
    }
    this.channel = ch
    this.channelConfirmed = false
    // Frames leave packed by FrameBatch (u32 length + payload), so the preamble is just the first bytes.
    ch.write(this.preamble)
    ch.write(framed(this.lane === LaneId.control ? this.owner.newControlConnectionRequest() : this.owner.handshakeRequest()))
    ch.flush()
    void ch.closed.then(() => this.closed(ch))
    if (this.active === undefined) this.use(ch)
    else this.reconsider()
  }

  private closed(ch: Channel): void {
    if (this.channel !== ch) return
    this.channel = undefined
    if (!this.channelConfirmed) this.failures++
    this.channelConfirmed = false
    if (this.moveTo === ch) this.moveTo = undefined
    if (this.idleTimer !== undefined) this.host.clock.clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    if (this.active === ch) {
      this.active = undefined
      this.activeConfirmed = false
      if (this.lent !== undefined) this.use(this.lent)
      else this.owner.onLinkDown(this.lane, ch.closeReason?.message ?? 'connection closed')
    }
    this.ensure()
  }
}

/**
 * First handler of a connection this node opened: reads what the acceptor writes back, which
 * starts with its preamble. A preamble of another version is the acceptor's refusal. One of this
 * version starts the acceptor's frames (on the user lane its handshake response, then envelopes;
 * on either lane a refusal with its reason: docs/PROTOCOL.md §10.1); the handler then steps out of
 * the pipeline.
 */
class AcceptorPreambleHandler extends PreambleStep {
  constructor(
    private readonly owner: LinkOwner,
    private readonly lane: LaneId,
  ) {
    super()
  }

  protected refused(ctx: ChannelHandlerContext, error: Error): void {
    this.refuse(
      ctx,
      error instanceof UnsupportedVersionError
        ? `the peer speaks protocol version ${error.version}, this node ${PROTOCOL_VERSION}`
        : `protocol error: ${error.message}`,
    )
  }

  protected accepted(ctx: ChannelHandlerContext, preamble: Preamble): boolean {
    if (preamble.lane === this.lane) return true
    this.refuse(ctx, 'protocol error: the acceptor wrote back for another lane')
    return false
  }

  private refuse(ctx: ChannelHandlerContext, reason: string): void {
    this.owner.linkRefused(reason)
    void ctx.channel.close(new Error(reason))
  }
}

/**
 * Last handler of a connection this node opened: reads the frames the acceptor writes back. The
 * first is a refusal (`quarantined` or `disassociate`), handed to the association before the
 * connection closes, or the acceptor's handshake response for this node's association, naming the
 * uid that writes on this connection; later frames go to the association while that uid is the
 * peer's current one (a replaced or quarantined incarnation's connection is closed).
 */
class AcceptorFrameReader implements ChannelHandler {
  private uid: bigint | undefined

  constructor(
    private readonly host: LinkHost,
    private readonly owner: LinkOwner,
    private readonly lane: LaneId,
    private readonly link: TcpOutboundLink,
  ) {}

  channelRead(ctx: ChannelHandlerContext, message: unknown): void {
    const owner = this.owner
    if (this.uid === undefined) {
      const frame = ownFrame(message as Uint8Array)
      let pdu
      try {
        pdu = this.host.codec.decode(frame, 0, frame.length)
      } catch (err) {
        this.refuse(ctx, `protocol error: undecodable frame from the acceptor: ${(err as Error).message}`)
        return
      }
      if (pdu.type === 'quarantined' || pdu.type === 'disassociate') {
        owner.acceptorRefused(pdu)
        void ctx.channel.close()
        return
      }
      if (pdu.type !== 'handshake-response') {
        this.refuse(ctx, `protocol error: the acceptor's first frame must be its handshake response or a refusal, got ${pdu.type}`)
        return
      }
      const local = this.host.localAddress.toString()
      if (pdu.from.address !== owner.key || pdu.to !== local) {
        this.refuse(
          ctx,
          `protocol error: handshake response from ${pdu.from.address} to ${pdu.to} on a connection from ${local} to ${owner.key}`,
        )
        return
      }
      // Like any handshake response it tells which incarnation answers (a restarted peer is noticed
      // here too); a quarantined uid is refused.
      if (!owner.acceptorAnswered(pdu, this.lane)) {
        void ctx.channel.close(new Error(`${owner.key} uid ${pdu.from.uid} is quarantined or replaced`))
        return
      }
      this.uid = pdu.from.uid
      return
    }
    if (!owner.accepts(this.uid)) {
      void ctx.channel.close(new Error(`${owner.key} uid ${this.uid} is quarantined or replaced`))
      return
    }
    const frame = message as Uint8Array // lent or not (see ownFrame)
    owner.receive(frame, 0, frame.length, this.lane === LaneId.user ? this : undefined)
  }

  channelReadComplete(ctx: ChannelHandlerContext): void {
    this.link.readOnOwn()
    this.host.inboundReadComplete()
    ctx.fireChannelReadComplete()
  }

  channelInactive(ctx: ChannelHandlerContext): void {
    // Fragments of a message cut short on this connection will never complete.
    if (this.uid !== undefined && this.lane === LaneId.user) this.owner.inboundUserLaneClosed(this)
    ctx.fireChannelInactive()
  }

  channelWritabilityChanged(ctx: ChannelHandlerContext): void {
    if (ctx.channel.isWritable) this.owner.onWritable()
  }

  exceptionCaught(ctx: ChannelHandlerContext, error: Error): void {
    debug('outbound connection to %s: %s', this.owner.key, error.message)
    void ctx.channel.close(error)
  }

  private refuse(ctx: ChannelHandlerContext, reason: string): void {
    this.owner.linkRefused(reason)
    void ctx.channel.close(new Error(reason))
  }
}
