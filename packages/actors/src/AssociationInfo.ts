import type { Address } from './Address.js'

/** State and counters of one association (see {@link ActorSystem.associations}). */
export interface AssociationInfo {
  readonly remote: Address
  /** The remote node's uid, once a handshake told it (claimed while handshaking, confirmed once established). */
  readonly remoteUid: bigint | undefined
  /** The uid this node presents to it. */
  readonly localUid: bigint
  /**
   * `idle` (nothing in progress), `handshaking` (waiting for the peer's uid to be confirmed at its
   * address), `established`, `quarantined` (that uid ended), `retired` (replaced, e.g. this node
   * took a new uid towards the peer). docs/ARCHITECTURE.md draws the transitions.
   */
  readonly state: 'idle' | 'handshaking' | 'established' | 'quarantined' | 'retired'
  /** User messages waiting in the bounded outbound queue. */
  readonly queued: number
  /** System messages sent but not yet acknowledged. */
  readonly unackedSystemMessages: number
  /** Current phi of the failure detector (0 before the first heartbeat reply). */
  readonly phi: number
  readonly messagesSent: number
  readonly messagesReceived: number
  readonly bytesSent: number
  readonly bytesReceived: number
  readonly framesSent: number
  readonly framesReceived: number
  /** User messages dropped (full queue, too large, not encodable, quarantine, handshake failure, unconfirmed when the association ended). */
  readonly dropped: number
  /** User messages from the peer that never arrived (cut connections, lost datagrams). */
  readonly lostInTransit: number
  /** Frames that failed to decode, each failing alone. */
  readonly decodeErrors: number
  readonly systemMessagesSent: number
  readonly systemMessagesResent: number
  readonly systemMessagesReceived: number
  /** Times the control connection was lost while established. */
  readonly reconnects: number
}
