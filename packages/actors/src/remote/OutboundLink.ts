/**
 * One lane of an association's outbound side: a connection this node opened (TCP/TLS) or the
 * node's datagram socket aimed at the peer (UDP). Unidirectional: a node writes only on links it
 * opened and reads only on connections it accepted.
 */
export interface OutboundLink {
  /** Connected, preamble and handshake request sent: frames may be written. */
  readonly ready: boolean
  /** Below the outbound buffer's high watermark. */
  readonly writable: boolean
  /** Starts connecting if not connected or connecting (and no retry is pending). */
  ensure(): void
  /** Writes one frame payload (not flushed). */
  write(payload: Uint8Array): void
  /** Sends what was written. */
  flush(): void
  /** Sends the handshake request again (UDP: datagrams may be lost). */
  resendHandshake(): void
  /** The peer confirmed its uid on this connection: reconnect backoff starts over. */
  confirmed(): void
  /** Closes the connection; with `forGood`, it is never reopened. */
  close(forGood: boolean): void
}

/** The two lanes. Control traffic (handshake, heartbeats, system messages, acks, compression) never waits behind user traffic. */
export const LaneId = { control: 0, user: 1 } as const
/** A lane number. */
export type LaneId = (typeof LaneId)[keyof typeof LaneId]
