import { encodePreamble, type Preamble, PROTOCOL_VERSION, UnsupportedVersionError } from '@helios/codec'
import {
  Bootstrap, backoffDelay, LengthFieldBasedFrameDecoder,
  type Channel, type ChannelHandler, type ChannelHandlerContext,
} from '@helios/transport'
import type { ScheduledTimer } from '../Clock.js'
import { debug } from '../internal/debug.js'
import type { Association } from './Association.js'
import { PreambleStep } from './PreambleStep.js'
import { FrameBatch, framed } from './FrameBatch.js'
import { LaneId, type OutboundLink } from './OutboundLink.js'
import type { Remoting } from './Remoting.js'

/** Frames are packed into buffers of up to this many bytes (one write each). */
const BATCH_BYTES = 256 * 1024

/**
 * One lane of an association over TCP/TLS. Connects on demand, writes the preamble and the
 * handshake request first, and reconnects with capped exponential backoff and full jitter while
 * the association wants it; the association's queues survive reconnects.
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
  private connecting = false
  private closedForGood = false
  private attempts = 0
  private retry: ScheduledTimer | undefined
  private readonly preamble: Uint8Array
  private readonly batch = new FrameBatch(BATCH_BYTES)
  /** A full batch went to the channel since the last flush. */
  private unflushed = false

  constructor(
    private readonly remoting: Remoting,
    private readonly assoc: Association,
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

  ensure(): void {
    if (this.channel !== undefined || this.connecting || this.retry !== undefined || !this.wanted) return
    void this.connect()
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
    ch.write(this.preamble)
    ch.write(framed(this.remoting.handshakeResponseFor(this.assoc)))
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
    this.dropLent()
  }

  resendHandshake(): void {
    // TCP delivers the handshake request written at connect; nothing to resend.
  }

  confirmed(): void {
    // Only a handshake proves the peer wants us: a port that accepts and then refuses keeps backing off.
    this.attempts = 0
  }

  close(forGood: boolean): void {
    if (forGood) this.closedForGood = true
    this.retry?.cancel()
    this.retry = undefined
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

  /** Stops writing on the lent connection at once (not when its close completes) and closes it. */
  private dropLent(): void {
    const lent = this.lent
    if (lent === undefined) return
    this.lentClosed(lent)
    void lent.close()
  }

  /**
   * Starts writing on `ch`. Frames not yet flushed to the previous connection are dropped (user
   * messages are at most once; they may carry compression indexes of a previous incarnation).
   */
  private use(ch: Channel): void {
    if (this.active === ch) return
    this.active = ch
    this.batch.take()
    this.unflushed = false
    this.assoc.onLinkUp(this.lane)
  }

  private lentClosed(ch: Channel): void {
    if (this.lent === ch) this.lent = undefined
    if (this.active !== ch) return
    this.active = undefined
    if (this.channel !== undefined) {
      this.use(this.channel)
      return
    }
    this.assoc.onLinkDown(this.lane, ch.closeReason?.message ?? 'connection closed')
    // Messages wait for this lane: open a connection of our own instead of waiting for the peer.
    this.ensure()
  }

  /**
   * Whether this link needs a connection of its own: the control lane while the association wants
   * one; the user lane only for messages that wait and when no lent connection carries them (a
   * node that only answers writes its replies on the peer's connection, docs/PROTOCOL.md §10.1).
   */
  private get wanted(): boolean {
    if (this.closedForGood || !this.assoc.wantsConnection) return false
    return this.lane === LaneId.control || (this.lent === undefined && this.assoc.queuedMessages > 0)
  }

  private async connect(): Promise<void> {
    this.connecting = true
    const { host, port } = this.assoc.remoteAddress
    const s = this.remoting.settings
    const bootstrap = new Bootstrap()
      .transport(s.transport === 'tls' ? 'tls' : 'tcp')
      .options({
        noDelay: true,
        connectTimeoutMs: s.handshakeTimeoutMs,
        handshakeTimeoutMs: s.handshakeTimeoutMs,
        ...(s.transport === 'tls' ? { tls: this.remoting.tlsClientOptions() } : {}),
      })
      .handler((ch) => {
        ch.pipeline
          .addLast('preamble', new AcceptorPreambleHandler(this.assoc, this.lane))
          .addLast('frames', new LengthFieldBasedFrameDecoder({ maxFrameLength: s.maxFrameSize + 4, lengthFieldLength: 4, initialBytesToStrip: 4 }))
          .addLast('link', new AcceptorFrameReader(this.remoting, this.assoc))
      })
    let ch: Channel
    try {
      ch = await bootstrap.connect(port as number, host as string)
    } catch (err) {
      this.connecting = false
      const reason = (err as Error).message
      debug('connect to %s (lane %d) failed: %s', this.assoc.key, this.lane, reason)
      this.remoting.connectFailed(this.assoc, this.lane, err as Error)
      this.scheduleRetry()
      return
    }
    this.connecting = false
    if (this.closedForGood || !this.assoc.wantsConnection) {
      void ch.close()
      return
    }
    this.channel = ch
    // Frames leave packed by FrameBatch (u32 length + payload), so the preamble is just the first bytes.
    if (this.active === undefined) {
      this.active = ch
      this.batch.take() // frames of a previous connection are not resent: user messages are at most once
      this.unflushed = false
    }
    ch.write(this.preamble)
    ch.write(framed(this.remoting.handshakeRequestFor(this.assoc)))
    ch.flush()
    void ch.closed.then(() => this.closed(ch))
    if (this.active === ch) this.assoc.onLinkUp(this.lane)
  }

  private closed(ch: Channel): void {
    if (this.channel !== ch) return
    this.channel = undefined
    if (this.active === ch) {
      this.active = undefined
      if (this.lent !== undefined) this.use(this.lent)
      else this.assoc.onLinkDown(this.lane, ch.closeReason?.message ?? 'connection closed')
    }
    this.scheduleRetry()
  }

  private scheduleRetry(): void {
    if (this.retry !== undefined || !this.wanted) return
    const s = this.remoting.settings
    // Capped exponential backoff; half jitter keeps a floor while spreading reconnect storms.
    const delay = backoffDelay(this.attempts++, { baseDelayMs: s.reconnectMinBackoffMs, maxDelayMs: s.reconnectMaxBackoffMs, jitter: 0.5 })
    this.retry = this.remoting.clock.schedule(delay, () => {
      this.retry = undefined
      this.ensure()
    })
  }
}

/**
 * First handler of a connection this node opened: reads what the acceptor writes back, which
 * starts with its preamble. A preamble of another version is the acceptor's refusal. On the user
 * lane, a preamble of this version and lane starts the acceptor's frames (handshake response,
 * then envelopes: docs/PROTOCOL.md §10.1); the handler then steps out of the pipeline. Anything
 * else closes the connection as a protocol error.
 */
class AcceptorPreambleHandler extends PreambleStep {
  constructor(private readonly assoc: Association, private readonly lane: LaneId) {
    super()
  }

  protected refused(ctx: ChannelHandlerContext, error: Error): void {
    this.refuse(ctx, error instanceof UnsupportedVersionError
      ? `the peer speaks protocol version ${error.version}, this node ${PROTOCOL_VERSION}`
      : `protocol error: ${error.message}`)
  }

  protected accepted(ctx: ChannelHandlerContext, preamble: Preamble): boolean {
    if (this.lane === LaneId.user && preamble.lane === this.lane) return true
    this.refuse(ctx, 'protocol error: the acceptor wrote on a control connection or for another lane')
    return false
  }

  private refuse(ctx: ChannelHandlerContext, reason: string): void {
    this.assoc.linkRefused(reason)
    void ctx.channel.close(new Error(reason))
  }
}

/**
 * Last handler of a connection this node opened. On the user lane it reads the frames the acceptor
 * writes back: the first must be its handshake response for this node's association, naming the
 * uid that writes on this connection; later frames go to the association while that uid is the
 * peer's current one (a replaced or quarantined incarnation's connection is closed).
 */
class AcceptorFrameReader implements ChannelHandler {
  private uid: bigint | undefined

  constructor(private readonly remoting: Remoting, private readonly assoc: Association) {}

  channelRead(ctx: ChannelHandlerContext, message: unknown): void {
    const frame = message as Uint8Array
    const assoc = this.assoc
    if (this.uid === undefined) {
      let pdu
      try {
        pdu = this.remoting.codec.decode(frame, 0, frame.length)
      } catch (err) {
        this.refuse(ctx, `protocol error: undecodable first frame from the acceptor: ${(err as Error).message}`)
        return
      }
      if (pdu.type !== 'handshake-response') {
        this.refuse(ctx, `protocol error: the acceptor's first frame must be its handshake response, got ${pdu.type}`)
        return
      }
      const local = this.remoting.localUniqueAddress.address
      if (pdu.from.address !== assoc.key || pdu.to !== local) {
        this.refuse(ctx, `protocol error: handshake response from ${pdu.from.address} to ${pdu.to} on a connection from ${local} to ${assoc.key}`)
        return
      }
      // Like any handshake, it tells which incarnation answers (a restarted peer is noticed here
      // too); a quarantined uid is refused.
      if (!assoc.peerAnswered(pdu.from.uid)) {
        void ctx.channel.close(new Error(`${assoc.key} uid ${pdu.from.uid} is quarantined`))
        return
      }
      this.uid = pdu.from.uid
      return
    }
    if (assoc.quarantined || assoc.uid !== this.uid) {
      void ctx.channel.close(new Error(`${assoc.key} uid ${this.uid} is quarantined or replaced`))
      return
    }
    assoc.receive(frame, 0, frame.length, this)
  }

  channelReadComplete(ctx: ChannelHandlerContext): void {
    this.remoting.inboundReadComplete()
    ctx.fireChannelReadComplete()
  }

  channelInactive(ctx: ChannelHandlerContext): void {
    // Fragments of a message cut short on this connection will never complete.
    if (this.uid !== undefined) this.assoc.inboundUserLaneClosed(this)
    ctx.fireChannelInactive()
  }

  channelWritabilityChanged(ctx: ChannelHandlerContext): void {
    if (ctx.channel.isWritable) this.assoc.onWritable()
  }

  exceptionCaught(ctx: ChannelHandlerContext, error: Error): void {
    debug('outbound connection to %s: %s', this.assoc.key, error.message)
    void ctx.channel.close(error)
  }

  private refuse(ctx: ChannelHandlerContext, reason: string): void {
    this.assoc.linkRefused(reason)
    void ctx.channel.close(new Error(reason))
  }
}
