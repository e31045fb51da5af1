import { encodePreamble, Lane, type Preamble, UnsupportedVersionError } from '@helios/codec'
import type { ChannelHandler, ChannelHandlerContext, Datagram } from '@helios/transport'
import type { ScheduledTimer } from '../Clock.js'
import type { Association } from './Association.js'
import { PreambleStep } from './PreambleStep.js'
import type { Remoting } from './Remoting.js'

/**
 * First handler of an accepted connection: reads the 8-byte preamble (magic, version, lane) and
 * refuses a wrong peer at its first wrong byte; a peer of another version first gets this node's
 * preamble back (docs/PROTOCOL.md §2).
 */
export class PreambleHandler extends PreambleStep {
  constructor(private readonly remoting: Remoting, private readonly inbound: InboundConnectionHandler) {
    super()
  }

  protected refused(ctx: ChannelHandlerContext, error: Error, bytes: Uint8Array): void {
    if (error instanceof UnsupportedVersionError) {
      // Tell the peer which version we speak, then close.
      ctx.channel.writeAndFlush(encodePreamble(bytes[7] === Lane.user ? Lane.user : Lane.control))
    }
    this.remoting.refuseInbound(ctx.channel, `bad preamble: ${error.message}`, error)
  }

  protected accepted(_ctx: ChannelHandlerContext, preamble: Preamble): boolean {
    this.inbound.lane = preamble.lane
    return true
  }
}

/**
 * Last handler of an accepted TCP/TLS connection: the first frame must be a handshake request for
 * this node's address (within the handshake timeout); every later frame goes to the association.
 */
export class InboundConnectionHandler implements ChannelHandler {
  lane: Lane | undefined
  private assoc: Association | undefined
  private uid: bigint | undefined
  private timer: ScheduledTimer | undefined
  private counted = false

  constructor(private readonly remoting: Remoting) {}

  channelActive(ctx: ChannelHandlerContext): void {
    if (!this.remoting.admitInbound()) {
      this.remoting.refuseInbound(ctx.channel, 'too many connections in handshake')
      return
    }
    this.counted = true
    this.timer = this.remoting.clock.schedule(this.remoting.settings.handshakeTimeoutMs, () => {
      this.timer = undefined
      if (this.assoc === undefined) this.remoting.refuseInbound(ctx.channel, `no handshake within ${this.remoting.settings.handshakeTimeoutMs} ms`)
    })
    ctx.fireChannelActive()
  }

  channelRead(ctx: ChannelHandlerContext, message: unknown): void {
    const frame = message as Uint8Array
    const assoc = this.assoc
    if (assoc !== undefined) {
      // The connection belongs to one incarnation: once it is quarantined or replaced, stop reading.
      if (assoc.quarantined || assoc.uid !== this.uid) {
        this.remoting.refuseInbound(ctx.channel, `${assoc.key} uid ${this.uid} is quarantined or replaced`)
        return
      }
      assoc.receive(frame, 0, frame.length, this.lane === Lane.user ? this : undefined)
      return
    }
    const accepted = this.remoting.acceptHandshake(frame, this.lane, ctx.channel)
    if (accepted === undefined) return
    this.assoc = accepted
    this.uid = accepted.uid
    this.handshakeDone()
    // The peer's user-lane connection also carries our user envelopes back (docs/PROTOCOL.md §10.1).
    if (this.lane === Lane.user) accepted.lendUserConnection(ctx.channel)
  }

  channelReadComplete(ctx: ChannelHandlerContext): void {
    this.remoting.inboundReadComplete()
    ctx.fireChannelReadComplete()
  }

  channelWritabilityChanged(ctx: ChannelHandlerContext): void {
    if (ctx.channel.isWritable) this.assoc?.onWritable()
    ctx.fireChannelWritabilityChanged()
  }

  channelInactive(ctx: ChannelHandlerContext): void {
    this.handshakeDone()
    if (this.assoc !== undefined && this.lane === Lane.user) this.assoc.inboundUserLaneClosed(this)
    ctx.fireChannelInactive()
  }

  exceptionCaught(ctx: ChannelHandlerContext, error: Error): void {
    this.remoting.refuseInbound(ctx.channel, error.message, error)
  }

  private handshakeDone(): void {
    this.timer?.cancel()
    this.timer = undefined
    if (this.counted) {
      this.counted = false
      this.remoting.releaseInbound()
    }
  }
}

/** The handler of the node's UDP socket: every datagram is one frame payload. */
export class DatagramHandler implements ChannelHandler {
  constructor(private readonly remoting: Remoting) {}

  channelRead(_ctx: ChannelHandlerContext, message: unknown): void {
    const d = message as Datagram
    this.remoting.receiveDatagram(d)
  }

  channelReadComplete(): void {
    this.remoting.inboundReadComplete()
  }

  channelWritabilityChanged(ctx: ChannelHandlerContext): void {
    if (ctx.channel.isWritable) this.remoting.udpWritable()
  }

  exceptionCaught(_ctx: ChannelHandlerContext, error: Error): void {
    this.remoting.transportError(error)
  }
}
