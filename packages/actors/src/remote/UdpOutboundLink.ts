import type { SocketAddress } from '@helios/transport'
import type { Association } from './Association.js'
import { LaneId, type OutboundLink } from './OutboundLink.js'
import type { Remoting } from './Remoting.js'

/**
 * A lane over the node's one UDP socket: each frame payload is one datagram to the peer. There
 * is no connection to lose, so the link is ready as soon as the socket is bound; the handshake
 * request is sent with the first traffic and again on every tick until the peer answers.
 */
export class UdpOutboundLink implements OutboundLink {
  private readonly remote: SocketAddress
  private handshakeSent = false

  constructor(private readonly remoting: Remoting, private readonly assoc: Association, private readonly lane: LaneId) {
    this.remote = { address: assoc.remoteAddress.host as string, port: assoc.remoteAddress.port as number }
  }

  get ready(): boolean { return this.remoting.udpChannel?.isActive ?? false }
  get writable(): boolean { return this.remoting.udpChannel?.isWritable ?? false }

  ensure(): void {
    if (!this.handshakeSent) this.resendHandshake()
  }

  write(payload: Uint8Array): void {
    this.remoting.udpChannel?.write({ data: payload, remote: this.remote })
  }

  flush(): void {
    this.remoting.udpChannel?.flush()
  }

  resendHandshake(): void {
    if (!this.ready || this.lane !== LaneId.control) return
    this.handshakeSent = true
    this.write(this.remoting.handshakeRequestFor(this.assoc))
    this.remoting.scheduleFlush(this.assoc)
  }

  close(): void {
    this.handshakeSent = false
  }
}
