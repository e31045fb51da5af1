import { decodePreamble, encodePreamble, PROTOCOL_VERSION, UnsupportedVersionError } from '@helios/codec'
import {
  Bootstrap, backoffDelay,
  type Channel, type ChannelHandler, type ChannelHandlerContext,
} from '@helios/transport'
import type { ScheduledTimer } from '../Clock.js'
import { debug } from '../internal/debug.js'
import type { Association } from './Association.js'
import { FrameBatch } from './FrameBatch.js'
import type { LaneId, OutboundLink } from './OutboundLink.js'
import type { Remoting } from './Remoting.js'

/** Frames are packed into buffers of up to this many bytes (one write each). */
const BATCH_BYTES = 256 * 1024

/**
 * One outbound TCP/TLS connection of an association (one per lane). Connects on demand, writes
 * the preamble and the handshake request first, and reconnects with capped exponential backoff
 * and full jitter while the association wants it; the association's queues survive reconnects.
 */
export class TcpOutboundLink implements OutboundLink {
  ready = false
  private channel: Channel | undefined
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

  get writable(): boolean {
    return this.channel !== undefined && this.channel.isWritable
  }

  ensure(): void {
    if (this.closedForGood || this.channel !== undefined || this.connecting || this.retry !== undefined) return
    void this.connect()
  }

  write(payload: Uint8Array): void {
    const full = this.batch.add(payload)
    if (full !== undefined) {
      this.channel?.write(full)
      this.unflushed = true
    }
  }

  flush(): void {
    const data = this.batch.take()
    if (data !== undefined) this.channel?.write(data)
    else if (!this.unflushed) return // nothing written since the last flush
    this.unflushed = false
    this.channel?.flush()
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
    const ch = this.channel
    if (ch !== undefined) void ch.close()
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
        ch.pipeline.addLast('link', new OutboundGuard(this.assoc))
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
    this.batch.take() // frames of a previous connection are not resent: user messages are at most once
    ch.write(this.preamble)
    this.write(this.remoting.handshakeRequestFor(this.assoc))
    this.flush()
    this.ready = true
    void ch.closed.then(() => this.closed(ch))
    this.assoc.onLinkUp(this.lane)
  }

  private closed(ch: Channel): void {
    if (this.channel !== ch) return
    this.channel = undefined
    this.ready = false
    const reason = ch.closeReason?.message ?? 'connection closed'
    this.assoc.onLinkDown(this.lane, reason)
    if (!this.closedForGood && this.assoc.wantsConnection) this.scheduleRetry()
  }

  private scheduleRetry(): void {
    if (this.closedForGood || this.retry !== undefined || !this.assoc.wantsConnection) return
    const s = this.remoting.settings
    // Capped exponential backoff; half jitter keeps a floor while spreading reconnect storms.
    const delay = backoffDelay(this.attempts++, { baseDelayMs: s.reconnectMinBackoffMs, maxDelayMs: s.reconnectMaxBackoffMs, jitter: 0.5 })
    this.retry = this.remoting.clock.schedule(delay, () => {
      this.retry = undefined
      if (this.assoc.wantsConnection) this.ensure()
    })
  }
}

/** Handler of an outbound connection: the peer never writes on a connection it accepted. */
class OutboundGuard implements ChannelHandler {
  constructor(private readonly assoc: Association) {}

  channelRead(ctx: ChannelHandlerContext, message: unknown): void {
    // The only bytes an acceptor ever writes back are its own preamble, when it speaks another version.
    let reason = 'protocol error: data received on an outbound-only connection'
    try {
      decodePreamble(message as Uint8Array)
    } catch (err) {
      if (err instanceof UnsupportedVersionError) reason = `the peer speaks protocol version ${err.version}, this node ${PROTOCOL_VERSION}`
    }
    this.assoc.linkRefused(reason)
    void ctx.channel.close(new Error(reason))
  }

  channelWritabilityChanged(ctx: ChannelHandlerContext): void {
    if (ctx.channel.isWritable) this.assoc.onWritable()
  }

  exceptionCaught(ctx: ChannelHandlerContext, error: Error): void {
    debug('outbound connection to %s: %s', this.assoc.key, error.message)
    void ctx.channel.close(error)
  }
}
