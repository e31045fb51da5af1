import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram'
import type { Datagram, SocketAddress } from './Channel.js'
import type { WriteCallback } from './ChannelHandler.js'
import { unsupported } from './ChannelPipeline.js'
import { type Clock, systemClock } from './Clock.js'
import { SocketError } from './SocketError.js'
import { addressOf } from './SocketChannel.js'
import { DEFAULT_WATER_MARK, type WriteBufferWaterMark } from './internal/AbstractChannel.js'
import { PeerSocketChannel } from './internal/PeerSocketChannel.js'
import { PeerSockets } from './internal/PeerSockets.js'

/** Options of a {@link DatagramChannel}; bootstraps fill them from their own options. */
export interface DatagramChannelOptions {
  /** Time source of its timers. Default the real clock. */
  readonly clock?: Clock
  /** Outbound buffer watermarks. Default 32 KiB / 64 KiB. */
  readonly writeBufferWaterMark?: WriteBufferWaterMark
  /** The one remote this socket is connected to (`dgram` `connect()`), if any. */
  readonly remote?: SocketAddress
  /**
   * Peers that may be given their own socket with {@link DatagramChannel.openPeerSocket}, at most.
   * The socket must have been bound with `reuseAddr: true` (the bootstraps do so when this is above
   * 0). Default 0: none.
   */
  readonly maxPeerSockets?: number
  /** SO_RCVBUF of each peer socket, bytes (capped by net.core.rmem_max). Default: the OS default. */
  readonly peerReceiveBufferSize?: number | undefined
  /** SO_SNDBUF of each peer socket, bytes (capped by net.core.wmem_max). Default: the OS default. */
  readonly peerSendBufferSize?: number | undefined
}

/**
 * A UDP socket (`node:dgram`). Its pipeline carries {@link Datagram}s: inbound
 * `{ data, remote }` with `remote` the sender; outbound a `Datagram` with `remote` the destination,
 * or, when the channel is connected to one remote, a bare `Uint8Array` (a Datagram's `remote` is
 * then ignored: a connected UDP socket sends only to its peer).
 *
 * A flush sends the batch back to back in the same tick; Node.js has no `sendmmsg`, so each
 * datagram is one `send` syscall. Bytes queued in the socket's send queue count against the
 * write buffer watermarks. UDP has no end-to-end flow control: a datagram the OS drops is lost.
 * A send error fires `exceptionCaught(SocketError)` (or fails that write's callback) but does not
 * close the channel: on UDP one bad destination must not stop the others.
 *
 * **Peer sockets.** All peers of an unconnected channel share its socket's receive buffer: one
 * peer that sends faster than the process reads fills it, and the kernel then drops everyone's
 * datagrams alike. {@link openPeerSocket} gives one peer a socket of its own (bound to the same
 * address and port, connected to the peer), so that its datagrams queue in a buffer of their own:
 * a flood from it drops its own datagrams only. Datagrams from every socket reach the pipeline the
 * same way, `{ data, remote }`, and writes to a peer with a socket leave through it (same source
 * address and port) when their `remote` names it as its datagrams do (`remote.address` as in
 * `rinfo`: not a host name, not `::ffff:1.2.3.4` for `1.2.3.4`); others leave through the shared
 * socket, which reaches the peer all the same. A peer socket of a channel bound to a wildcard
 * address is tied to the local address its connect chose: on a host with several addresses, the
 * peer's datagrams to another of them reach the shared socket. This needs `maxPeerSockets` above 0 (the socket bound with SO_REUSEADDR);
 * see docs/SECURITY.md for what sharing the port means on a multi-user host. Linux and macOS hand
 * a datagram to the connected socket that matches it; Windows does not: do not use them there.
 * An error of a peer socket (an ICMP unreachable reported as ECONNREFUSED, to a read or to a send
 * through it) is fired as `exceptionCaught`, a {@link SocketError} whose `remote` names the peer,
 * and also given to the callback of the write whose send took it; the socket stays open.
 */
export class DatagramChannel extends PeerSocketChannel {
  /** The underlying dgram socket. */
  readonly socket: UdpSocket
  /** The address the socket is bound to. */
  readonly localAddress: SocketAddress | undefined
  /** The peer a connected channel (`Bootstrap.connect` over udp) sends to; undefined when each datagram names its own. */
  readonly remoteAddress: SocketAddress | undefined

  private started = false
  private done = false
  private inFlight = 0
  /** Datagrams that arrived while reads were suspended and were dropped (UDP cannot push back). */
  droppedWhileSuspended = 0
  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    const remote: SocketAddress = { address: rinfo.address, port: rinfo.port, family: rinfo.family }
    this.pipeline.fireChannelRead({ data: msg, remote } satisfies Datagram)
    this.pipeline.fireChannelReadComplete()
  }
  private readonly onError = (err: Error): void => {
    const error = new SocketError(`udp socket error: ${err.message}`, { cause: err })
    if (!this.done) this.pipeline.fireExceptionCaught(error)
    void this.close(error)
  }
  private readonly onClose = (): void => {
    // Closed from outside too (the public socket): its peer sockets must not outlive it on the port.
    this.peers?.closeAll()
    this.done = true
    this.closeCompleted()
  }
  private readonly onDropped = (): void => {
    this.droppedWhileSuspended++
  }
  private readonly onSent = (err: Error | null, bytes: number): void => {
    this.inFlight -= bytes
    if (err !== null && !this.done) this.pipeline.fireExceptionCaught(new SocketError(`udp send failed: ${err.message}`, { cause: err }))
    this.transportDrained()
  }

  /** Wraps a bound (and optionally connected) dgram socket; call {@link start} after adding handlers. */
  constructor(socket: UdpSocket, options: DatagramChannelOptions = {}) {
    super('udp', options.clock ?? systemClock, options.writeBufferWaterMark ?? DEFAULT_WATER_MARK)
    this.socket = socket
    const a = socket.address()
    this.localAddress = addressOf(a.address, a.port, a.family)
    this.remoteAddress = options.remote
    socket.on('error', this.onError)
    socket.on('close', this.onClose)
    const max = options.maxPeerSockets ?? 0
    if (max > 0 && options.remote === undefined)
      this.peers = new PeerSockets(
        socket,
        { max, receiveBufferSize: options.peerReceiveBufferSize, sendBufferSize: options.peerSendBufferSize },
        // Until start(), as the shared socket's, their datagrams reach nobody (counted as dropped).
        this.onDropped,
        this.onPeerError,
      )
  }

  protected override peerSocketsOff(): string {
    return this.remoteAddress !== undefined ? 'a connected UDP channel has no peer sockets' : super.peerSocketsOff()
  }

  /** Starts receiving and fires `channelActive`. */
  start(): void {
    if (this.started) return
    this.started = true
    this.activate()
    if (this.isClosing) return
    this.socket.on('message', this.isReadSuspended ? this.onDropped : this.onMessage)
    this.peers?.setListener(this.isReadSuspended ? this.onDropped : this.onMessage)
  }

  protected messageSize(message: unknown): number {
    if (message instanceof Uint8Array) {
      if (this.remoteAddress === undefined) throw unsupported(message, 'a Datagram { data, remote } (this UDP channel is not connected)')
      return message.byteLength
    }
    if (isDatagram(message)) return message.data.byteLength
    throw unsupported(message, this.remoteAddress === undefined ? 'a Datagram { data, remote }' : 'a Uint8Array or a Datagram')
  }

  protected doFlush(messages: readonly unknown[], callbacks: readonly (WriteCallback | undefined)[], count: number): void {
    const s = this.socket
    const connected = this.remoteAddress !== undefined
    for (let i = 0; i < count; i++) {
      const m = messages[i]
      const data = m instanceof Uint8Array ? m : (m as Datagram).data
      const cb = callbacks[i]
      const size = data.byteLength
      this.inFlight += size
      // dgram passes no byte count on error, so the size is captured here.
      const done =
        cb === undefined
          ? (err: Error | null): void => {
              this.onSent(err, size)
            }
          : (err: Error | null): void => {
              this.inFlight -= size
              cb(err ?? undefined)
              this.transportDrained()
            }
      if (connected) s.send(data, done)
      else {
        const r = (m as Datagram).remote
        const peers = this.peers
        const peer = peers?.socketFor(r)
        if (peer === undefined) s.send(data, r.port, r.address, done)
        else
          peer.send(data, (err: Error | null): void => {
            // A connected socket reports an ICMP error to the next send or read, whichever comes
            // first: one taken by a send is the peer's as much as one taken by a read.
            if (err !== null) (peers as PeerSockets).report(err, `${r.address}:${r.port}`)
            // Reported once: with the peer named, and to the write's callback if it has one.
            done(cb === undefined ? null : err)
          })
      }
    }
  }

  protected override transportPendingBytes(): number {
    return this.inFlight
  }

  protected doClose(): void {
    this.peers?.closeAll()
    if (this.done) return
    try {
      this.socket.close()
    } catch {
      this.onClose()
    }
  }

  // Node's dgram socket cannot pause receiving: while reads are suspended, arriving datagrams are
  // dropped and counted in droppedWhileSuspended (UDP has no backpressure to apply).
  /** Stops handing received datagrams to the pipeline. */
  protected doSuspendRead(): void {
    if (!this.started) return
    this.socket.off('message', this.onMessage)
    this.socket.on('message', this.onDropped)
    this.peers?.setListener(this.onDropped)
  }
  /** Hands received datagrams to the pipeline again. */
  protected doResumeRead(): void {
    if (!this.started) return
    this.socket.off('message', this.onDropped)
    this.socket.on('message', this.onMessage)
    this.peers?.setListener(this.onMessage)
  }
}

function isDatagram(m: unknown): m is Datagram {
  if (typeof m !== 'object' || m === null) return false
  const d = m as Partial<Datagram>
  return (
    d.data instanceof Uint8Array &&
    typeof d.remote === 'object' &&
    d.remote !== null &&
    typeof d.remote.port === 'number' &&
    typeof d.remote.address === 'string'
  )
}
