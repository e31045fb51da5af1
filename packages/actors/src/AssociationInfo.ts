import type { CompressionStats } from '@helios/codec'
import type { Address } from './Address.js'

/** State and counters of one association (see {@link ActorSystem.associations}). */
export interface AssociationInfo {
  /** The remote node. */
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
  /** Their estimated bytes (bounded by `outboundQueueBytes`). */
  readonly queuedBytes: number
  /** Bytes of incomplete fragmented messages from the peer, held for reassembly. */
  readonly reassemblyBytes: number
  /** System messages sent but not yet acknowledged. */
  readonly unackedSystemMessages: number
  /** Actors at the peer watched from this node: the peer is monitored (heartbeats, failure detector) while there are any. */
  readonly watchedActors: number
  /**
   * udp and dtls: datagrams from the peer arrive on a socket of the peer's own
   * (`remote.udpPeerSockets`), in a receive buffer no other peer can fill. False over tcp and tls.
   */
  readonly ownSocket: boolean
  /** The longest round trip of a heartbeat and its reply measured on this association (ms; 0 before the first). */
  readonly maxHeartbeatRoundTripMs: number
  /** Current phi of the failure detector (0 before the first heartbeat reply). */
  readonly phi: number
  /** User messages written to the peer. */
  readonly messagesSent: number
  /** User messages received from the peer. */
  readonly messagesReceived: number
  /** Bytes of frames written (control and user lanes). */
  readonly bytesSent: number
  /** Bytes of frames received. */
  readonly bytesReceived: number
  /** Frames written. */
  readonly framesSent: number
  /** Frames received. */
  readonly framesReceived: number
  /** User messages dropped (full queue, too large, not encodable, quarantine, handshake failure, unconfirmed when the association ended). */
  readonly dropped: number
  /** User messages from the peer that never arrived (cut connections, lost datagrams). */
  readonly lostInTransit: number
  /** Frames that failed to decode, each failing alone. */
  readonly decodeErrors: number
  /** System messages (watch, unwatch, death-watch notices) sent, resends excluded. */
  readonly systemMessagesSent: number
  /** System messages sent again (unacknowledged in time, nacked, or after a reconnect). */
  readonly systemMessagesResent: number
  /** System messages received and delivered (duplicates excluded). */
  readonly systemMessagesReceived: number
  /** Times the control connection was lost while established. */
  readonly reconnects: number
  /**
   * Times the peer started its side of the association afresh under the same uid (it had forgotten
   * it, for instance when its handshake timed out while this node's completed): compression tables
   * and message numbering started over on both sides (docs/PROTOCOL.md §10.1, sessions).
   */
  readonly peerSessionRestarts: number
  /**
   * The association's compression of actor paths and manifests: entries each way, the generation
   * of this node's tables, how many paths went out compressed, and the tables' estimated bytes
   * (docs/PROTOCOL.md §5).
   */
  readonly compression: CompressionStats
}

/**
 * The memory budget of a node's remoting (`remote.memoryBudgetBytes`) and what it holds now: what
 * its peers can make it hold (docs/SECURITY.md). See {@link ActorSystem.remoteMemory}.
 */
export interface RemoteMemoryInfo {
  /** The budget. */
  readonly budgetBytes: number
  /** What one peer's incomplete messages may hold at most. */
  readonly peerBytes: number
  /** Held now: incomplete inbound messages, queued outbound ones and compression tables. */
  readonly usedBytes: number
  /** The most it ever held. */
  readonly peakBytes: number
  /** Of which incomplete fragmented messages from peers. */
  readonly reassemblyBytes: number
  /** Of which user messages queued for peers (estimated). */
  readonly outboundBytes: number
  /** Of which the associations' compression tables (estimated, both directions). */
  readonly compressionBytes: number
  /** Incomplete messages dropped to make room, since the start. */
  readonly evictions: number
  /** Fragments, queued messages or peers' compression entries refused for lack of room, since the start. */
  readonly refusals: number
}
