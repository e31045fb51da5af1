import type { SocketAddress } from '@helios/transport'
import type { Association } from './Association.js'
import { FrameBatch } from './FrameBatch.js'
import { LaneId, type OutboundLink } from './OutboundLink.js'
import type { Remoting } from './Remoting.js'

/** Largest datagram we send (below IPv4's 65 507-byte UDP payload limit). */
export const MAX_DATAGRAM = 65_000

/**
 * A lane over the node's one UDP socket. Frames are packed into datagrams with the same framing
 * as TCP (u32 big-endian length, payload), as many as fit in {@link MAX_DATAGRAM}, so a burst of
 * small messages costs one syscall per datagram instead of one per message. There is no
 * connection to lose, so the link is ready as soon as the socket is bound; the handshake request
 * is sent with the first traffic and again on every tick until the peer answers.
 */
export class UdpOutboundLink implements OutboundLink {
  private readonly remote: SocketAddress
  private handshakeSent = false
  private readonly batch = new FrameBatch(MAX_DATAGRAM)

  constructor(private readonly remoting: Remoting, private readonly assoc: Association, private readonly lane: LaneId) {
    this.remote = { address: assoc.remoteAddress.host as string, port: assoc.remoteAddress.port as number }
  }

  get ready(): boolean { return this.remoting.udpChannel?.isActive ?? false }
  get writable(): boolean { return this.remoting.udpChannel?.isWritable ?? false }

  ensure(): void {
    if (!this.handshakeSent) this.resendHandshake()
  }

  write(payload: Uint8Array): void {
    const full = this.batch.add(payload)
    if (full !== undefined) this.send(full)
  }

  flush(): void {
    const data = this.batch.take()
    if (data !== undefined) this.send(data)
    this.remoting.udpChannel?.flush()
  }

  private send(data: Uint8Array): void {
    this.remoting.udpChannel?.write({ data, remote: this.remote })
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
