import type { Address } from './Address.js'

/** State and counters of one association (see {@link ActorSystem.associations}). */
export interface AssociationInfo {
  readonly remote: Address
  /** The remote node's uid, once a handshake told it. */
  readonly remoteUid: bigint | undefined
  readonly state: 'connecting' | 'established' | 'quarantined'
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
  /** User messages dropped (full queue, too large, not encodable, quarantine, handshake failure). */
  readonly dropped: number
  /** Frames that failed to decode, each failing alone. */
  readonly decodeErrors: number
  readonly systemMessagesSent: number
  readonly systemMessagesResent: number
  readonly systemMessagesReceived: number
  /** Times the control connection was lost while established. */
  readonly reconnects: number
}
