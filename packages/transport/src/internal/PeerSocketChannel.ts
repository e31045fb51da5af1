import type { SocketAddress } from '../Channel.js'
import { ChannelClosedError, TransportError } from '../errors.js'
import type { SocketError } from '../SocketError.js'
import { AbstractChannel } from './AbstractChannel.js'
import type { PeerSockets } from './PeerSockets.js'

/**
 * @internal What the unconnected datagram channels (`DatagramChannel`, `DtlsDatagramChannel`)
 * share: the peer sockets of their one UDP socket (see `PeerSockets`), opened and closed by peer.
 */
export abstract class PeerSocketChannel extends AbstractChannel {
  /** @internal The peer sockets; undefined when `maxPeerSockets` is 0. */
  peers: PeerSockets | undefined

  /** Why {@link openPeerSocket} fails when the channel has no peer sockets. */
  protected peerSocketsOff(): string {
    return 'maxPeerSockets is 0: no peer sockets'
  }

  /** Peer sockets open or opening (see {@link openPeerSocket}). */
  get peerSocketCount(): number {
    return this.peers?.size ?? 0
  }

  /** Errors the peer sockets reported since the start (ECONNREFUSED: the peer's port answered with an ICMP unreachable). */
  get peerSocketErrors(): number {
    return this.peers?.errors ?? 0
  }

  /** True when `remote` has a peer socket, open or opening. */
  hasPeerSocket(remote: SocketAddress): boolean {
    return this.peers?.has(remote) ?? false
  }

  /**
   * Gives `remote` (an IP address and port, as datagrams from it name it) a socket of its own:
   * bound to this channel's address and port, connected to `remote`, so that its datagrams queue
   * in their own receive buffer and a flood from another peer cannot make the kernel drop its
   * datagrams. What it receives reaches this pipeline as the channel's socket's does. Resolves
   * once connected (at once when it is already).
   * @throws (rejects) TransportError `ERR_PEER_SOCKETS_OFF` (`maxPeerSockets` is 0, or the channel
   * is connected), `ERR_PEER_SOCKETS_FULL` (`maxPeerSockets` are open), `ERR_PEER_SOCKET` (the
   * connect failed); BindError (the port cannot be shared: bound without `reuseAddr`);
   * ChannelClosedError (the channel closed, or {@link closePeerSocket} ran, before it connected).
   */
  openPeerSocket(remote: SocketAddress): Promise<void> {
    if (this.peers === undefined) return Promise.reject(new TransportError('ERR_PEER_SOCKETS_OFF', this.peerSocketsOff()))
    if (this.isClosing) return Promise.reject(new ChannelClosedError('channel closed: no peer socket'))
    return this.peers.open(remote)
  }

  /**
   * Closes the socket of `remote` (see {@link openPeerSocket}): its datagrams come through the
   * channel's socket again; those still in its receive buffer are lost. False when it had none.
   */
  closePeerSocket(remote: SocketAddress): boolean {
    return this.peers?.close(remote) ?? false
  }

  /** @internal A peer socket's error (the socket stays open): fired while the channel is active. */
  readonly onPeerError = (error: SocketError): void => {
    if (this.isActive) this.pipeline.fireExceptionCaught(error)
  }
}
