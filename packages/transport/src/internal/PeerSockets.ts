import * as dgram from 'node:dgram'
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram'
import type { SocketAddress } from '../Channel.js'
import { BindError, ChannelClosedError, TransportError } from '../errors.js'
import { SocketError } from '../SocketError.js'

/** What receives the datagrams of every socket of a channel. */
export type MessageListener = (msg: Buffer, rinfo: RemoteInfo) => void

/** Limits and buffer sizes of the peer sockets of one channel. */
export interface PeerSocketsOptions {
  /** Peer sockets at most (open and opening). */
  readonly max: number
  /** SO_RCVBUF of each, bytes (capped by net.core.rmem_max). Default: the OS default. */
  readonly receiveBufferSize?: number | undefined
  /** SO_SNDBUF of each, bytes (capped by net.core.wmem_max). Default: the OS default. */
  readonly sendBufferSize?: number | undefined
}

interface Entry {
  readonly socket: UdpSocket
  /** Settles when the socket is connected, or failed to open. */
  readonly opened: Promise<void>
  /** Fails {@link opened} (it cannot settle otherwise when the socket closes while it opens). */
  fail: (error: TransportError) => void
  /** Connected: datagrams to the peer may leave through it. */
  ready: boolean
  /** Closed (or never finished opening). */
  closed: boolean
}

/**
 * @internal The connected sockets that a bound UDP socket's peers were given (see
 * `DatagramChannel.openPeerSocket`): each is bound to the same local address and port as the
 * shared socket (both with SO_REUSEADDR) and connected to one peer. The kernel hands a datagram to
 * the socket that matches it best, so a connected socket receives its peer's datagrams, in a
 * receive buffer of its own, and the shared socket everyone else's. One peer that floods fills its
 * own buffer; the others' datagrams are not dropped with its own.
 *
 * Every socket delivers to the same listener (the channel's), with the sender in `rinfo`, so
 * nothing downstream can tell which socket a datagram came through. Between its bind and its
 * connect a new socket is not connected yet and may receive anyone's datagrams: they are
 * delivered all the same.
 */
export class PeerSockets {
  private readonly entries = new Map<string, Entry>()
  private listener: MessageListener
  private closedAll = false
  /** Errors the peer sockets reported (an ICMP port unreachable from a peer that went away comes back as ECONNREFUSED). */
  errors = 0

  constructor(
    private readonly shared: UdpSocket,
    private readonly options: PeerSocketsOptions,
    listener: MessageListener,
    private readonly onError: (error: SocketError) => void,
  ) {
    this.listener = listener
  }

  /** Peer sockets open or opening. */
  get size(): number {
    return this.entries.size
  }

  /** The connected socket of `remote`, if it has one. */
  socketFor(remote: SocketAddress): UdpSocket | undefined {
    const e = this.entries.get(keyOf(remote))
    return e?.ready === true ? e.socket : undefined
  }

  /** True when `remote` has a peer socket, open or opening. */
  has(remote: SocketAddress): boolean {
    return this.entries.has(keyOf(remote))
  }

  /**
   * An error of the peer socket of `remote` (`ip:port`), from a read or from a send through it:
   * counted, and handed on as a {@link SocketError} that names the peer. The socket stays open.
   */
  report(error: Error, remote: string): void {
    this.errors++
    this.onError(new SocketError(`udp peer socket for ${remote}: ${error.message}`, { cause: error, remote }))
  }

  /**
   * Opens a socket for `remote`: bound to the shared socket's address and port, connected to
   * `remote`. Resolves once connected (at once when it already is).
   * @throws (rejects) TransportError `ERR_PEER_SOCKETS_FULL` beyond `max`, BindError when the port
   * cannot be shared (the shared socket was bound without SO_REUSEADDR), TransportError
   * `ERR_PEER_SOCKET` when the connect fails, ChannelClosedError once closed.
   */
  open(remote: SocketAddress): Promise<void> {
    const key = keyOf(remote)
    if (this.closedAll) return Promise.reject(new ChannelClosedError(`channel closed: no peer socket for ${key}`))
    const existing = this.entries.get(key)
    if (existing !== undefined) return existing.opened
    if (this.entries.size >= this.options.max)
      return Promise.reject(
        new TransportError('ERR_PEER_SOCKETS_FULL', `${this.options.max} peer sockets are open: ${key} shares the channel's socket`),
      )
    const local = this.shared.address()
    const o = this.options
    const socket = dgram.createSocket({
      type: local.family === 'IPv6' ? 'udp6' : 'udp4',
      reuseAddr: true,
      ...(o.receiveBufferSize === undefined ? {} : { recvBufferSize: o.receiveBufferSize }),
      ...(o.sendBufferSize === undefined ? {} : { sendBufferSize: o.sendBufferSize }),
    })
    let settle!: (error?: TransportError) => void
    const opened = new Promise<void>((resolve, reject) => {
      let settled = false
      settle = (error) => {
        if (settled) return
        settled = true
        if (error === undefined) resolve()
        else reject(error)
      }
    })
    const entry: Entry = { socket, opened, fail: settle, ready: false, closed: false }
    this.entries.set(key, entry)
    const fail = (error: TransportError): void => {
      socket.off('error', onBindError)
      settle(error)
      this.drop(key, entry)
    }
    const onBindError = (err: Error): void => {
      fail(new BindError(`${local.address}:${local.port} (peer socket for ${key})`, { cause: err }))
    }
    socket.once('error', onBindError)
    // From its bind on, the socket may receive datagrams: they go where the shared socket's go.
    socket.on('message', this.listener)
    socket.bind(local.port, local.address, () => {
      if (entry.closed) return
      // dgram hands a failed connect to the callback, not to 'error'.
      socket.connect(remote.port, remote.address, (err?: Error | null) => {
        if (entry.closed) return
        socket.off('error', onBindError)
        if (err) {
          fail(new TransportError('ERR_PEER_SOCKET', `cannot connect a peer socket to ${key}: ${err.message}`, { cause: err }))
          return
        }
        // Errors after this (ICMP unreachable reported as ECONNREFUSED) leave the socket open: the
        // peer may come back on the same port, and whether it is gone is not the socket's call.
        socket.on('error', (e: Error) => {
          this.report(e, key)
        })
        entry.ready = true
        settle()
      })
    })
    return opened
  }

  /** Closes the peer socket of `remote`: its peer's datagrams go to the shared socket again. */
  close(remote: SocketAddress): boolean {
    const key = keyOf(remote)
    const e = this.entries.get(key)
    if (e === undefined) return false
    this.drop(key, e)
    return true
  }

  /** Closes every peer socket; {@link open} fails from now on. */
  closeAll(): void {
    this.closedAll = true
    for (const [key, e] of this.entries) this.drop(key, e)
  }

  /** Every socket delivers to `listener` from now on (the channel suspends and resumes reading). */
  setListener(listener: MessageListener): void {
    if (listener === this.listener) return
    for (const e of this.entries.values()) {
      e.socket.off('message', this.listener)
      e.socket.on('message', listener)
    }
    this.listener = listener
  }

  private drop(key: string, e: Entry): void {
    if (this.entries.get(key) === e) this.entries.delete(key)
    if (e.closed) return
    e.closed = true
    e.ready = false
    e.fail(new ChannelClosedError(`peer socket for ${key} closed before it was connected`))
    // A socket closed while its bind runs reports nothing more: errors are not listened for any longer.
    e.socket.on('error', ignore)
    try {
      e.socket.close()
    } catch {
      /* not bound yet, or closed already */
    }
  }
}

function ignore(): void {}

/** A peer's key, `ip:port`, as the channels name datagrams' senders. */
function keyOf(remote: SocketAddress): string {
  return `${remote.address}:${remote.port}`
}
