import type { Channel } from '@helios/transport'

/**
 * One lane of an association's outbound side: a connection this node opened (TCP/TLS), on the
 * user lane the peer's connection this node accepted (TCP/TLS, see {@link lend}), or the node's
 * datagram socket aimed at the peer (UDP).
 */
export interface OutboundLink {
  /** Connected, preamble and handshake request sent: frames may be written. */
  readonly ready: boolean
  /** Below the outbound buffer's high watermark. */
  readonly writable: boolean
  /**
   * The peer's handshake response confirmed the connection written on now (TCP/TLS: false from
   * each new connection until then; UDP: true once confirmed, there is no connection to lose).
   */
  readonly confirmed: boolean
  /** Starts connecting if not connected or connecting (and no retry is pending). */
  ensure(): void
  /** Writes one frame payload (not flushed). */
  write(payload: Uint8Array): void
  /** Sends what was written. */
  flush(): void
  /**
   * Sends our handshake request now: on the connection written on (connecting first if there is
   * none), or as a datagram. Used to introduce this node again over UDP and to verify a restart
   * claim: whoever answers at the peer's address tells its uid.
   */
  sendHandshake(): void
  /** The peer's handshake response confirmed the current connection: reconnect backoff starts over. */
  confirm(): void
  /** Closes the connection; with `forGood`, it is never reopened. */
  close(forGood: boolean): void
  /**
   * TCP/TLS: the peer opened this connection on the lane and this node accepted its handshake. The
   * link answers on it and writes there while it has no connection of its own, or for good when
   * the peer's is the lane's connection (docs/PROTOCOL.md §10.1).
   */
  lend?(channel: Channel): void
  /** Closes the connection lent by the peer, if any (its incarnation was replaced). */
  releaseLent?(): void
  /** User lane: the peer acked user messages (a move to the lane's connection may complete). */
  onUserAck?(): void
}

/** The two lanes. Control traffic (handshake, heartbeats, system messages, acks, compression) never waits behind user traffic. */
export const LaneId = { control: 0, user: 1 } as const
/** A lane number. */
export type LaneId = (typeof LaneId)[keyof typeof LaneId]
