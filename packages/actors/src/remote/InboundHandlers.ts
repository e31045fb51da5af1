import { encodePreamble, Lane, type Preamble, UnsupportedVersionError } from '@helios/codec'
import {
  type Channel,
  type ChannelHandler,
  type ChannelHandlerContext,
  type Datagram,
  HandshakeSlots,
  sourceOf,
  type TimerHandle,
} from '@helios/transport'
import type { InboundHost, InboundPeer } from './AssociationContext.js'
import type { RemoteSettings } from './RemoteSettings.js'
import { ownFrame } from './InboundFrames.js'
import { LaneId } from './OutboundLink.js'
import { PreambleStep } from './PreambleStep.js'

/**
 * First handler of an accepted connection: reads the 8-byte preamble (magic, version, lane) and
 * refuses a wrong peer at its first wrong byte; a peer of another version first gets this node's
 * preamble back (docs/PROTOCOL.md §2).
 */
export class PreambleHandler extends PreambleStep {
  constructor(
    private readonly host: InboundHost,
    private readonly inbound: InboundConnectionHandler,
  ) {
    super()
  }

  protected refused(ctx: ChannelHandlerContext, error: Error, bytes: Uint8Array): void {
    if (error instanceof UnsupportedVersionError) {
      // Tell the peer which version we speak, then close.
      ctx.channel.writeAndFlush(encodePreamble(bytes[7] === Lane.user ? Lane.user : Lane.control))
    }
    this.host.refuseInbound(ctx.channel, `bad preamble: ${error.message}`, error)
  }

  protected accepted(_ctx: ChannelHandlerContext, preamble: Preamble): boolean {
    this.inbound.lane = preamble.lane
    return true
  }
}

/**
 * The slots of accepted connections in their handshake (from accept until their handshake request
 * is accepted, or while a restart claim waits for proof): `maxPendingInboundHandshakes` in all,
 * `maxPendingInboundHandshakesPerSource` per source address, shared fairly (a newcomer from a
 * source holding fewer takes the oldest slot of the largest holder, see `HandshakeSlots`).
 */
export class InboundAdmission {
  private readonly slots: HandshakeSlots<Channel>

  constructor(settings: Pick<RemoteSettings, 'maxPendingInboundHandshakes' | 'maxPendingInboundHandshakesPerSource'>) {
    this.slots = new HandshakeSlots<Channel>({
      max: settings.maxPendingInboundHandshakes,
      maxPerSource: settings.maxPendingInboundHandshakesPerSource,
    })
  }

  /** Connections in handshake now. */
  get pending(): number {
    return this.slots.size
  }

  /**
   * Takes a slot for `channel`; returns why it is refused, or undefined. A connection that loses
   * its slot to it is handed to `evict` with the reason (the caller closes it).
   */
  admit(channel: Channel, evict: (channel: Channel, reason: string) => void): string | undefined {
    const source = sourceOf(channel.remoteAddress?.address)
    const grant = this.slots.acquire(source, channel)
    if (!grant.admitted) {
      return grant.full === 'source'
        ? `too many connections in handshake from ${source} (${grant.held}, maxPendingInboundHandshakesPerSource)`
        : `too many connections in handshake (${this.slots.size}, maxPendingInboundHandshakes), none from a source holding more than ${source}`
    }
    if (grant.evicted !== undefined) {
      evict(
        grant.evicted.item,
        `too many connections in handshake: ${grant.evicted.source} held the most of the ${this.slots.max}, its oldest made room for ${source}`,
      )
    }
    return undefined
  }

  /** Frees the slot of `channel`, if it holds one. */
  release(channel: Channel): void {
    this.slots.release(channel)
  }
}

/**
 * Last handler of an accepted TCP/TLS connection: the first frame must be a handshake request for
 * this node's address, and it must come with the preamble within `preambleTimeoutMs` of the accept
 * while half or more of the handshake slots are taken, within `handshakeTimeoutMs` otherwise (a
 * node sends both at once, but an overloaded one can be late). It binds the connection to one incarnation of the peer (the uid of
 * the request); every later frame goes to the association while it accepts that uid, or to the
 * successor that took it over after a proven restart. A restart claim's connection waits (parked,
 * still holding its slot among the connections in handshake) until the claim is confirmed or
 * refused, `handshakeTimeoutMs` after the accept at most; a connection of a quarantined incarnation
 * is refused with a `quarantined` notice written back.
 */
export class InboundConnectionHandler implements ChannelHandler {
  lane: Lane | undefined
  private peer: InboundPeer | undefined
  private uid: bigint | undefined
  private parked = false
  private timer: TimerHandle | undefined
  private counted = false
  private acceptedAt = 0

  constructor(private readonly host: InboundHost) {}

  channelActive(ctx: ChannelHandlerContext): void {
    const refused = this.host.admitInbound(ctx.channel)
    if (refused !== undefined) {
      this.host.refuseInbound(ctx.channel, refused)
      return
    }
    this.counted = true
    this.acceptedAt = this.host.clock.now()
    this.arm(ctx, this.host.settings.preambleTimeoutMs, true)
    ctx.fireChannelActive()
  }

  /**
   * The deadline `ms` from now. When it passes, the verdict waits one more turn of the event loop
   * (`grace`): bytes that arrived while this process was busy (a long GC) are read first.
   */
  private arm(ctx: ChannelHandlerContext, ms: number, grace: boolean): void {
    this.timer = this.host.clock.setTimeout(() => {
      this.timer = undefined
      if (grace) this.arm(ctx, 0, false)
      else this.expired(ctx)
    }, ms)
  }

  private expired(ctx: ChannelHandlerContext): void {
    const s = this.host.settings
    if (this.peer === undefined) {
      // A node writes its preamble and request as soon as it is connected, but an overloaded one
      // (or this node, busy) can take seconds: while the slots are not crowded it gets the whole
      // handshake timeout, and the short deadline holds only when slow connections keep others out.
      const waited = this.host.clock.now() - this.acceptedAt
      const left = s.handshakeTimeoutMs - waited
      if (left > 0 && !this.host.inboundCrowded) {
        this.arm(ctx, Math.min(left, s.preambleTimeoutMs), true)
        return
      }
      const what = this.lane === undefined ? 'preamble' : 'handshake request'
      const limit = left > 0 ? `${s.preambleTimeoutMs} ms (half or more of the handshake slots taken)` : `${s.handshakeTimeoutMs} ms`
      this.host.refuseInbound(ctx.channel, `no ${what} within ${limit}`)
      return
    }
    if (!this.parked) return
    const left = this.acceptedAt + s.handshakeTimeoutMs - this.host.clock.now()
    if (left > 0) {
      this.arm(ctx, left, false)
      return
    }
    this.host.refuseInbound(
      ctx.channel,
      `restart claim of ${this.peer.key} uid ${this.uid} not confirmed within ${s.handshakeTimeoutMs} ms`,
    )
  }

  channelRead(ctx: ChannelHandlerContext, message: unknown): void {
    const peer = this.peer
    if (peer !== undefined) {
      const uid = this.uid as bigint
      if (peer.accepts(uid)) {
        const frame = message as Uint8Array // lent or not (see ownFrame)
        peer.receive(frame, 0, frame.length, this.lane === Lane.user ? this : undefined)
        return
      }
      this.rebind(ctx, peer, uid, ownFrame(message as Uint8Array))
      return
    }
    const frame = ownFrame(message as Uint8Array)
    const binding = this.host.acceptHandshake(frame, this.lane, ctx.channel)
    if (binding === undefined) return
    this.peer = binding.peer
    this.uid = binding.uid
    if (binding.parked) {
      this.parked = true
      binding.peer.park(ctx.channel, binding.uid)
      return
    }
    this.handshakeDone(ctx.channel)
    // The peer's user-lane connection also carries our user envelopes back (docs/PROTOCOL.md §10.1).
    binding.peer.lendConnection(ctx.channel, this.lane === Lane.user ? LaneId.user : LaneId.control)
  }

  /** The bound association no longer accepts the uid: follow a successor, wait (parked), or refuse. */
  private rebind(ctx: ChannelHandlerContext, peer: InboundPeer, uid: bigint, frame: Uint8Array): void {
    const next = successorAccepting(peer, uid)
    if (next !== undefined) {
      this.moveTo(ctx, peer, next)
      next.receive(frame, 0, frame.length, this.lane === Lane.user ? this : undefined)
      return
    }
    if (this.parked && peer.verifying(uid)) {
      if (!peer.parkedFrame(frame, uid)) {
        this.host.refuseInbound(ctx.channel, `${peer.key} uid ${uid} sent traffic before its restart claim was confirmed`)
        return
      }
      // That frame (the claimant's answer to our request) may have confirmed the claim.
      const confirmed = successorAccepting(peer, uid)
      if (confirmed !== undefined) this.moveTo(ctx, peer, confirmed)
      return
    }
    // The connection belongs to one incarnation: once it is quarantined or replaced, stop reading.
    this.host.refuseInbound(
      ctx.channel,
      `${peer.key} uid ${uid} is quarantined or replaced`,
      undefined,
      peer.quarantinedNoticeFor(uid),
      this.lane,
    )
  }

  /** The successor `to` took over this connection's incarnation from `from`. */
  private moveTo(ctx: ChannelHandlerContext, from: InboundPeer, to: InboundPeer): void {
    from.unpark(ctx.channel)
    this.peer = to
    if (!this.parked) return
    this.parked = false
    this.handshakeDone(ctx.channel)
    to.lendConnection(ctx.channel, this.lane === Lane.user ? LaneId.user : LaneId.control)
  }

  channelReadComplete(ctx: ChannelHandlerContext): void {
    this.host.inboundReadComplete()
    ctx.fireChannelReadComplete()
  }

  channelWritabilityChanged(ctx: ChannelHandlerContext): void {
    if (ctx.channel.isWritable) this.peer?.onWritable()
    ctx.fireChannelWritabilityChanged()
  }

  channelInactive(ctx: ChannelHandlerContext): void {
    this.handshakeDone(ctx.channel)
    if (this.peer !== undefined) {
      this.peer.unpark(ctx.channel)
      if (this.lane === Lane.user) this.peer.inboundUserLaneClosed(this)
      else this.peer.inboundControlLaneClosed()
    }
    ctx.fireChannelInactive()
  }

  exceptionCaught(ctx: ChannelHandlerContext, error: Error): void {
    this.host.refuseInbound(ctx.channel, error.message, error)
  }

  private handshakeDone(channel: Channel): void {
    if (this.timer !== undefined) this.host.clock.clearTimeout(this.timer)
    this.timer = undefined
    if (this.counted) {
      this.counted = false
      this.host.releaseInbound(channel)
    }
  }
}

/**
 * The first successor of `peer` that accepts frames of `uid` for the same pair of uids (after a
 * proven restart of the peer), if any. A successor that presents another uid of this node (a new
 * uid towards a peer that quarantined the old one) is another pair: connections of the old pair
 * never move to it, whatever still arrives on them.
 */
function successorAccepting(peer: InboundPeer, uid: bigint): InboundPeer | undefined {
  let next = peer.successor
  while (next !== undefined && !(next.accepts(uid) && next.localUid === peer.localUid)) next = next.successor
  return next
}

/** The handler of the node's UDP socket: every datagram carries frames of one peer. */
export class DatagramHandler implements ChannelHandler {
  constructor(private readonly host: InboundHost) {}

  channelRead(_ctx: ChannelHandlerContext, message: unknown): void {
    this.host.receiveDatagram(message as Datagram)
  }

  channelReadComplete(): void {
    this.host.inboundReadComplete()
  }

  channelWritabilityChanged(ctx: ChannelHandlerContext): void {
    if (ctx.channel.isWritable) this.host.udpWritable()
  }

  exceptionCaught(_ctx: ChannelHandlerContext, error: Error): void {
    this.host.transportError(error)
  }
}
