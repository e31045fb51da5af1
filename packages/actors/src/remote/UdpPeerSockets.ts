import type { Clock, Datagram, SocketAddress } from '@helios/transport'
import { debug } from '../internal/debug.js'
import type { Association } from './Association.js'
import { isFinal } from './AssociationState.js'

/** After a peer socket failed to open, the next attempt for that address waits this long. */
const RETRY_MS = 10_000

/** Where the peer sockets find which association an address belongs to now. */
export interface EndpointTable {
  /** The association datagrams from `endpoint` (`ip:port`) belong to. */
  forEndpoint(endpoint: string): Association | undefined
}

/** The datagram channel whose peers get the sockets (`DatagramChannel`, `DtlsDatagramChannel`). */
export interface PeerSocketChannel {
  openPeerSocket(remote: SocketAddress): Promise<void>
  closePeerSocket(remote: SocketAddress): boolean
}

interface Peer {
  readonly remote: Datagram['remote']
  open: boolean
}

/**
 * Over udp and dtls: the established peers given a socket of their own (`remote.udpPeerSockets`),
 * so that a flood from one peer fills its own receive buffer and the kernel drops no other peer's
 * datagrams with it (`DatagramChannel.openPeerSocket`). A peer gets one when a datagram arrives
 * from it after its association is established, from the endpoint that answered this node's
 * handshake (`Association.verifiedEndpoint`: a spoofed source cannot answer, and a source that
 * only claims the peer's identity gets none); first come, first served, up to the limit; the others
 * share the node's socket, as everyone did before. The socket closes when its endpoint no longer
 * belongs to a live association (quarantined, forgotten) or the peer answered from another one:
 * checked once per heartbeat interval.
 */
export class UdpPeerSockets {
  private readonly peers = new Map<string, Peer>()
  private readonly retryAt = new Map<string, number>()

  constructor(
    private readonly channel: PeerSocketChannel,
    private readonly max: number,
    private readonly clock: Clock,
  ) {}

  /** True when `a` is live and its datagrams arrive on a socket of its own (the one of its verified endpoint). */
  isOpenFor(a: Association): boolean {
    const key = a.verifiedEndpoint
    return key !== undefined && !isFinal(a.state) && this.peers.get(key)?.open === true
  }

  /** A datagram came from `key` (its sender, `remote`): if it belongs to an established peer without a socket, that peer is given one. */
  offer(key: string, remote: Datagram['remote'], table: EndpointTable): void {
    if (this.peers.has(key) || this.peers.size >= this.max) return
    const assoc = table.forEndpoint(key)
    // Only where the peer answered this node's handshake: a source that merely claims to be an
    // established peer (its handshake is being verified) gets no socket.
    if (assoc === undefined || assoc.state.kind !== 'established' || assoc.verifiedEndpoint !== key) return
    const retry = this.retryAt.get(key)
    if (retry !== undefined) {
      if (this.clock.now() < retry) return
      this.retryAt.delete(key)
    }
    const peer: Peer = { remote: { address: remote.address, port: remote.port }, open: false }
    this.peers.set(key, peer)
    this.channel.openPeerSocket(peer.remote).then(
      () => {
        if (this.peers.get(key) !== peer) return
        peer.open = true
        debug('udp peer %s (%s) has its own socket', key, assoc.key)
      },
      (err: Error) => {
        if (this.peers.get(key) !== peer) return
        this.peers.delete(key)
        if (this.retryAt.size < this.max) this.retryAt.set(key, this.clock.now() + RETRY_MS)
        debug('udp peer %s: no socket of its own (%s); it shares the node socket', key, err.message)
      },
    )
  }

  /** Closes the sockets of endpoints that no live association answered from any longer. */
  sweep(table: EndpointTable): void {
    for (const [key, peer] of this.peers) {
      const a = table.forEndpoint(key)
      if (a === undefined || isFinal(a.state) || (a.state.kind === 'established' && a.verifiedEndpoint !== key)) {
        this.peers.delete(key)
        this.channel.closePeerSocket(peer.remote)
        debug(
          'udp peer %s: its socket closed (%s)',
          key,
          a === undefined ? 'forgotten' : isFinal(a.state) ? a.state.kind : 'the peer answers elsewhere',
        )
      }
    }
    if (this.retryAt.size > 0) {
      const now = this.clock.now()
      for (const [key, at] of this.retryAt) if (at <= now) this.retryAt.delete(key)
    }
  }
}
