import type { SocketAddress } from '@helios/transport'
import type { LinkHost, LinkOwner } from './AssociationContext.js'
import { FrameBatch } from './FrameBatch.js'
import { LaneId, type OutboundLink } from './OutboundLink.js'

/** Bytes sent per event-loop turn; the rest waits for the next turn so the receiver's buffer can drain. */
const BURST_BYTES = 256 * 1024
/** Above this many bytes waiting, the lane reports itself unwritable (the association queue, bounded, takes over). */
const HIGH_WATER_BYTES = 1024 * 1024
const EMPTY = new Uint8Array(0)

/**
 * A lane over the node's one UDP socket. Frames are packed into datagrams with the same framing
 * as TCP (u32 big-endian length, payload), as many as fit in one datagram (`settings.datagramPayload`: 65 000 bytes over UDP, one record
 * within the MTU over DTLS), so a burst of
 * small messages costs one syscall per datagram instead of one per message. There is no
 * connection to lose, so the link is ready as soon as the socket is bound; the handshake request
 * is sent with the first traffic and again on every tick until the peer answers (the association
 * decides when).
 *
 * Datagrams leave in bursts of {@link BURST_BYTES} per event-loop turn: UDP has no flow control,
 * and a receiver's socket buffer that overflows loses datagrams (a large fragmented message would
 * lose a fragment and so the whole message).
 */
export class UdpOutboundLink implements OutboundLink {
  private readonly remote: SocketAddress
  private handshakeSent = false
  private everConfirmed = false
  private readonly batch: FrameBatch
  private outq: Uint8Array[] = []
  private outqHead = 0
  private outqBytes = 0
  private pumping = false
  private blocked = false

  constructor(
    private readonly host: LinkHost,
    private readonly owner: LinkOwner,
    private readonly lane: LaneId,
  ) {
    this.remote = { address: owner.remoteAddress.host as string, port: owner.remoteAddress.port as number }
    this.batch = new FrameBatch(host.settings.datagramPayload)
  }

  get ready(): boolean {
    return this.host.udpChannel?.isActive ?? false
  }
  get writable(): boolean {
    if (this.outqBytes < HIGH_WATER_BYTES && (this.host.udpChannel?.isWritable ?? false)) return true
    this.blocked = true
    return false
  }

  get confirmed(): boolean {
    return this.everConfirmed
  }

  ensure(): void {
    if (!this.handshakeSent) this.sendHandshake()
  }

  write(payload: Uint8Array): void {
    const full = this.batch.add(payload)
    if (full !== undefined) this.send(full)
  }

  flush(): void {
    const data = this.batch.take()
    if (data !== undefined) this.send(data)
    if (!this.pumping) this.pump()
  }

  private send(data: Uint8Array): void {
    this.outq.push(data)
    this.outqBytes += data.byteLength
  }

  private readonly pump = (): void => {
    this.pumping = false
    const ch = this.host.udpChannel
    if (ch === undefined || !ch.isActive) {
      this.outq = []
      this.outqHead = 0
      this.outqBytes = 0
      return
    }
    let burst = 0
    while (this.outqHead < this.outq.length && burst < BURST_BYTES) {
      const d = this.outq[this.outqHead] as Uint8Array
      this.outq[this.outqHead++] = EMPTY
      burst += d.byteLength
      this.outqBytes -= d.byteLength
      ch.write({ data: d, remote: this.remote })
    }
    ch.flush()
    if (this.outqHead < this.outq.length) {
      this.pumping = true
      setImmediate(this.pump)
      return
    }
    this.outq = []
    this.outqHead = 0
    if (this.blocked) {
      this.blocked = false
      this.owner.onWritable()
    }
  }

  sendHandshake(): void {
    if (!this.ready || this.lane !== LaneId.control) return
    const request = this.owner.handshakeRequest()
    // To an address nobody vouched for: within what whoever named it sent.
    if (this.owner.unverified && !this.owner.mayIntroduce(request.byteLength)) return
    this.handshakeSent = true
    this.write(request)
    this.owner.scheduleFlush()
  }

  confirm(): void {
    // No connection to lose, no backoff: confirmed for good.
    this.everConfirmed = true
  }

  close(): void {
    this.handshakeSent = false
  }
}
