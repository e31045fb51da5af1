import { encodePreamble, type Preamble, PROTOCOL_VERSION, UnsupportedVersionError } from '@helios/codec'
import {
  Bootstrap,
  LengthFieldBasedFrameDecoder,
  Reconnector,
  type Channel,
  type ChannelHandler,
  type ChannelHandlerContext,
} from '@helios/transport'
import { debug } from '../internal/debug.js'
import type { LinkHost, LinkOwner } from './AssociationContext.js'
import { PreambleStep } from './PreambleStep.js'
import { FrameBatch, framed } from './FrameBatch.js'
import { LaneId, type OutboundLink } from './OutboundLink.js'

/** Frames are packed into buffers of up to this many bytes (one write each). */
const BATCH_BYTES = 256 * 1024

/**
 * One lane of an association over TCP/TLS. Connects on demand, writes the preamble and the
 * handshake request first, and reconnects through the transport's {@link Reconnector} (capped
 * exponential backoff with jitter, on the node's clock) while the association wants it; the
 * association's queues survive reconnects. A connection that closes after the peer confirmed it is
 * followed by an immediate attempt (so that a refused reconnect tells at once that the peer's
 * incarnation is gone); one that closes unconfirmed continues the backoff.
 *
 * User lane only: when the peer opened a user-lane connection to us (and we accepted its
 * handshake), the link is {@link lend lent} that connection. It answers on it at once with its
 * own preamble and handshake response (docs/PROTOCOL.md §10.1), and while the link has no
 * connection of its own it writes its frames there instead of opening one: a request and its
 * reply then travel on one TCP connection, whose ACKs ride on the data (two connections cost an
 * extra pure ACK per message: see bench/RESULTS.md). The link switches connections only when the
 * one it writes on closed, so frames never overtake each other.
 */
export class TcpOutboundLink implements OutboundLink {
  /** The connection this link opened. */
  private channel: Channel | undefined
  /** The peer's connection on this lane, accepted by this node (user lane only). */
  private lent: Channel | undefined
  /** The connection frames are written on: {@link channel} or {@link lent}, whichever came first. */
  private active: Channel | undefined
  private reconnector: Reconnector<Channel> | undefined
  private closedForGood = false
  /** Connections that failed or closed unconfirmed since the peer last confirmed one. */
  private failures = 0
  /** The peer confirmed {@link active}. */
  private activeConfirmed = false
  /** The peer confirmed {@link channel}. */
  private channelConfirmed = false
  private readonly preamble: Uint8Array
  private readonly batch = new FrameBatch(BATCH_BYTES)
  /** A full batch went to the channel since the last flush. */
  private unflushed = false

  constructor(
    private readonly host: LinkHost,
    private readonly owner: LinkOwner,
    private readonly lane: LaneId,
  ) {
    this.preamble = encodePreamble(lane)
  }

  get ready(): boolean {
    return this.active !== undefined
  }

  get writable(): boolean {
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
    this.active?.flush()
  }

  /**
   * The peer's connection on this lane passed its handshake here: answer with our preamble and
   * handshake response (so the peer can read what we may write on it), and write on it while this
   * link has no connection of its own.
   */
  lend(ch: Channel): void {
    if (this.closedForGood || this.lane !== LaneId.user) return
    const response = this.owner.handshakeResponse()
    if (response === undefined) return
    ch.write(this.preamble)
    ch.write(framed(response))
    ch.flush()
    // The peer has one user connection at a time: a newer one means it gave up the older one,
    // which it no longer reads. Nothing written there could still arrive after this one's frames.
    const older = this.lent
    this.lent = ch
    void ch.closed.then(() => this.lentClosed(ch))
    // Move off the replaced connection (to our own, when we have one) or start writing here.
    if (this.active === undefined || this.active === older) this.use(this.channel ?? ch)
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
    this.activeConfirmed = true
    if (this.active === this.channel) this.channelConfirmed = true
  }

  close(forGood: boolean): void {
    if (forGood) this.closedForGood = true
    this.reconnector?.cancel()
    this.reconnector = undefined
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

  /**
   * Starts writing on `ch`. Frames not yet flushed to the previous connection are dropped (user
   * messages are at most once; they may carry compression indexes of a previous incarnation).
   */
  private use(ch: Channel): void {
    if (this.active === ch) return
    this.active = ch
    this.activeConfirmed = ch === this.channel && this.channelConfirmed
    this.batch.take()
    this.unflushed = false
    this.owner.onLinkUp(this.lane)
  }

  private lentClosed(ch: Channel): void {
    if (this.lent === ch) this.lent = undefined
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
   * Whether this link needs a connection of its own: the control lane while the association wants
   * one; the user lane only for messages that wait and when no lent connection carries them (a
   * node that only answers writes its replies on the peer's connection, docs/PROTOCOL.md §10.1).
   */
  private get wanted(): boolean {
    if (this.closedForGood || !this.owner.wantsConnection) return false
    return this.lane === LaneId.control || (this.lent === undefined && this.owner.queuedMessages > 0)
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
        ...(s.transport === 'tls' ? { tls: this.host.tlsClientOptions() } : {}),
      })
      .handler((ch) => {
        ch.pipeline
          .addLast('preamble', new AcceptorPreambleHandler(this.owner, this.lane))
          .addLast(
            'frames',
            new LengthFieldBasedFrameDecoder({ maxFrameLength: s.maxFrameSize + 4, lengthFieldLength: 4, initialBytesToStrip: 4 }),
          )
          .addLast('link', new AcceptorFrameReader(this.host, this.owner, this.lane))
      })
    const reconnector: Reconnector<Channel> = new Reconnector<Channel>({
      connect: () => bootstrap.connect(port as number, host as string),
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
  }

  private closed(ch: Channel): void {
    if (this.channel !== ch) return
    this.channel = undefined
    if (!this.channelConfirmed) this.failures++
    this.channelConfirmed = false
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
 * first may be a refusal (`quarantined` or `disassociate`, on either lane), handed to the
 * association before the connection closes. On the user lane it is otherwise the acceptor's
 * handshake response for this node's association, naming the uid that writes on this connection;
 * later frames go to the association while that uid is the peer's current one (a replaced or
 * quarantined incarnation's connection is closed). On the control lane nothing else may come.
 */
class AcceptorFrameReader implements ChannelHandler {
  private uid: bigint | undefined

  constructor(
    private readonly host: LinkHost,
    private readonly owner: LinkOwner,
    private readonly lane: LaneId,
  ) {}

  channelRead(ctx: ChannelHandlerContext, message: unknown): void {
    const frame = message as Uint8Array
    const owner = this.owner
    if (this.uid === undefined) {
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
      if (this.lane === LaneId.control || pdu.type !== 'handshake-response') {
        this.refuse(
          ctx,
          `protocol error: the acceptor's first frame must be its handshake response on the user lane or a refusal, got ${pdu.type}`,
        )
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
      if (!owner.acceptorAnswered(pdu)) {
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
    owner.receive(frame, 0, frame.length, this)
  }

  channelReadComplete(ctx: ChannelHandlerContext): void {
    this.host.inboundReadComplete()
    ctx.fireChannelReadComplete()
  }

  channelInactive(ctx: ChannelHandlerContext): void {
    // Fragments of a message cut short on this connection will never complete.
    if (this.uid !== undefined) this.owner.inboundUserLaneClosed(this)
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
