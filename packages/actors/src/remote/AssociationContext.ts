import type { ConnectionOptions } from 'node:tls'
import type { Codec, DisassociatePdu, HandshakeResponsePdu, QuarantinedPdu } from '@helios/codec'
import type { Channel, Datagram } from '@helios/transport'
import type { ActorRef } from '../ActorRef.js'
import type { DropKind } from '../ActorSystemEvents.js'
import type { Address } from '../Address.js'
import type { Clock } from '../Clock.js'
import type { Association } from './Association.js'
import type { ConnectLimiter } from './ConnectLimiter.js'
import type { MemoryBudget } from './MemoryBudget.js'
import type { LaneId, OutboundLink } from './OutboundLink.js'
import type { RemoteSettings } from './RemoteSettings.js'
import type { ConnectKind } from './ConnectLimiter.js'

/**
 * The narrow interfaces between the parts of the remoting. An {@link Association} sees the node
 * around it only through {@link AssociationHost} (and the node's `AssociationRegistry`); a link sees its association only through
 * {@link LinkOwner} and the node through {@link LinkHost}; the inbound handlers see the node
 * through {@link InboundHost} and an association through {@link InboundPeer}. `Remoting`
 * implements the host sides; unit tests implement them with fakes (no sockets, a manual clock).
 */

/** Why an association was quarantined (decides whether the address is probed afterwards). */
export type QuarantineCause = 'unreachable' | 'down' | 'restarted' | 'shutdown' | 'overflow' | 'handshake-timeout' | 'peer' | 'encode'

/**
 * What an association (and the {@link AssociationRegistry} of the node's associations) needs from
 * the node: settings, time, the codec, links, delivery to local actors, events.
 */
export interface AssociationHost {
  readonly settings: RemoteSettings
  readonly clock: Clock
  readonly codec: Codec
  /** This node's advertised address. */
  readonly localAddress: Address
  /** This node's uid (presented to every peer that did not quarantine it). */
  readonly nodeUid: bigint
  /** A datagram transport (`'udp'`, or `'dtls'`: the same datagrams inside DTLS sessions). */
  readonly isUdp: boolean
  readonly isShuttingDown: boolean
  /** Creates one lane's link for `owner`. */
  makeLink(owner: Association, lane: LaneId): OutboundLink
  /** The wire path of a ref (with `#uid`). */
  wirePathOf(ref: ActorRef): string
  /** Flushes the association's lanes at the end of this turn. */
  scheduleFlush(a: Association): void
  /** Delivers an inbound user message to a local actor. */
  deliverUser(recipient: string, message: unknown, sender: string | undefined): void
  /** Delivers an inbound system message to a local actor. */
  deliverSystem(recipient: string, sender: string, kind: number, existenceConfirmed: boolean): void
  /** Counts and publishes an undeliverable message. */
  deadLetter(message: unknown, sender: ActorRef | undefined, recipient: ActorRef): void
  /** Every local watcher of an actor at `address` gets Terminated (addressTerminated). */
  addressTerminated(address: Address): void

  /** Where events go. */
  readonly events: AssociationEvents
  /** The association whose frames are being decoded and handled now (paths read from them are its word). */
  receivingFrom: Association | undefined
  /** udp and dtls: the sender (`ip:port`) of the datagram being handled now, undefined otherwise. */
  readonly datagramSource: string | undefined
  /** udp and dtls: whether `a`'s datagrams arrive on a socket of its own (`remote.udpPeerSockets`). */
  hasOwnSocket(a: Association): boolean
  /** The node's memory budget (reassembly buffers, queued user messages). */
  readonly memory: MemoryBudget
}

/** One or more user messages dropped or lost (see {@link AssociationEvents.dropped}). */
export interface DropReport {
  readonly remote: Address | undefined
  readonly recipient: string
  readonly kind: DropKind
  readonly reason: string
  readonly cause?: unknown
  /** How many messages, when more than one may be meant (lost in transit, unconfirmed). */
  readonly count?: number
}

/** What associations publish (events, log lines). */
export interface AssociationEvents {
  associated(a: Association): void
  disassociated(a: Association, reason: string): void
  /**
   * `byPeer`: the peer quarantined this node's `localUid` (and this node now presents
   * `newLocalUid`); else this node quarantined the peer's `uid` for `cause`.
   */
  quarantined(
    a: Association,
    uid: bigint | undefined,
    reason: string,
    byPeer?: { readonly byPeer: true; readonly localUid: bigint; readonly newLocalUid?: bigint },
    cause?: QuarantineCause,
  ): void
  unreachable(a: Association, phi: number): void
  /** User messages were dropped or lost. */
  dropped(d: DropReport): void
  decodeFailed(a: Association, err: unknown): void
  handshakeFailed(remote: string, reason: string, inbound: boolean, cause?: unknown): void
  /** A connection attempt to the peer failed; `reason` says it in a few words (`connection refused at 127.0.0.1:5000`). */
  connectFailed(a: Association, lane: LaneId, err: Error, reason: string): void
  /** A line the user must see without a listener (quarantined by a peer, a local pause), with a stable code. */
  warn(code: string, key: string, message: string): void
}

/** What a link needs from the node. */
export interface LinkHost {
  readonly settings: RemoteSettings
  /** This node's advertised address. */
  readonly localAddress: Address
  readonly clock: Clock
  readonly codec: Codec
  /** The node's datagram channel (UDP, or its DTLS endpoint): writes `Datagram { data, remote }`. */
  readonly udpChannel: Channel | undefined
  /** node:tls client options derived from the node's TLS options. */
  tlsClientOptions(): ConnectionOptions
  /** The end of a socket read: run the actors it woke and flush their replies. */
  inboundReadComplete(): void
  /** The node's bound on outbound connects in flight. */
  readonly connects: ConnectLimiter
}

/** What a link needs from its association. */
export interface LinkOwner {
  readonly key: string
  readonly remoteAddress: Address
  /** Whether the links should (re)connect. */
  readonly wantsConnection: boolean
  /** User messages waiting for the user lane. */
  readonly queuedMessages: number
  /** Nobody vouched for the address yet (a reply to a path read from the wire): only the control lane dials, within the share for such addresses. */
  readonly unverified: boolean
  /** On whose word the address is dialled: the share of the connect slots its connects take. */
  readonly connectKind: ConnectKind
  /** Over udp: whether `bytes` may be sent to the address before it is verified (charged to whoever named it, or to the claimant). */
  mayIntroduce(bytes: number): boolean
  /** Our handshake request, first frame of a user-lane connection (and of UDP introductions). */
  handshakeRequest(): Uint8Array
  /** Our handshake request for a new control connection: a fresh nonce, so its response confirms this connection. */
  newControlConnectionRequest(): Uint8Array
  /** Our response to the peer's latest request (written first on a lent user connection), if it sent one. */
  handshakeResponse(): Uint8Array | undefined
  scheduleFlush(): void
  onLinkUp(lane: LaneId): void
  onLinkDown(lane: LaneId, reason: string): void
  /** A connection attempt failed (called before the link decides whether to retry). */
  onConnectFailed(lane: LaneId, error: Error): void
  /** The lane's outbound buffer drained below its low watermark. */
  onWritable(): void
  /**
   * The acceptor of a user-lane connection this node opened answered on it with its handshake
   * response: true when frames of `pdu.from.uid` may be read from that connection.
   */
  acceptorAnswered(pdu: HandshakeResponsePdu, lane: LaneId): boolean
  /** The peer's claimed uid is not confirmed yet: the control lane needs a connection of our own to its address. */
  readonly needsOwnControlConnection: boolean
  /** User messages written that the peer has not acked yet (a user-lane move waits for them). */
  readonly unconfirmedUserMessages: number
  /** The acceptor of a connection this node opened refused it with a reason (written back, then closed). */
  acceptorRefused(pdu: QuarantinedPdu | DisassociatePdu): void
  /** The peer refused one of our connections in a way worth publishing (e.g. another protocol version). */
  linkRefused(reason: string): void
  /** True while frames of the peer's incarnation `uid` are accepted. */
  accepts(uid: bigint): boolean
  /** A frame payload from the peer (`source`: the connection's handler, for user-lane frames). */
  receive(buf: Uint8Array, start: number, end: number, source?: object): void
  /** A connection that carried the peer's user frames closed. */
  inboundUserLaneClosed(source: object): void
  /** The peer's control connection closed. */
  inboundControlLaneClosed(): void
}

/** How an inbound handshake request was taken. */
export type InboundVerdict = 'accepted' | 'parked' | 'refused'

/** The association side of an accepted connection. */
export interface InboundPeer {
  readonly key: string
  /** The uid this node presents on the association (a connection belongs to one pair of uids). */
  readonly localUid: bigint
  /** True while frames of the peer's incarnation `uid` are accepted. */
  accepts(uid: bigint): boolean
  /** The association that took over this one's address, if any. */
  readonly successor: InboundPeer | undefined
  /** True while a restart claim of `uid` is being verified (its connections wait, parked). */
  verifying(uid: bigint): boolean
  /** A frame on a parked connection of the claimant `uid`: false when the connection must be refused. */
  parkedFrame(frame: Uint8Array, uid: bigint): boolean
  /** Registers a claimant's parked connection (closed when the claim is refused). */
  park(channel: Channel, uid: bigint): void
  /** Removes a parked connection (it closed). */
  unpark(channel: Channel): void
  /** The notice telling incarnation `uid` that this node quarantined it, when it is quarantined. */
  quarantinedNoticeFor(uid: bigint): Uint8Array | undefined
  receive(buf: Uint8Array, start: number, end: number, source?: object): void
  onWritable(): void
  inboundUserLaneClosed(source: object): void
  inboundControlLaneClosed(): void
  /** The peer's user-lane connection passed its handshake: the user lane may write on it. */
  lendConnection(channel: Channel, lane: LaneId): void
}

/** An accepted connection's association and the peer incarnation it speaks for. */
export interface InboundBinding {
  readonly peer: InboundPeer
  readonly uid: bigint
  /** True when the uid is a restart claim under verification: the connection waits. */
  readonly parked: boolean
}

/** What the inbound handlers need from the node. */
export interface InboundHost {
  readonly settings: RemoteSettings
  readonly clock: Clock
  /**
   * Takes a slot among the connections in handshake for `channel` (another source's connection may
   * lose its slot and be closed); the reason it is refused, or undefined when admitted.
   */
  admitInbound(channel: Channel): string | undefined
  /** Frees the slot of `channel`, if it holds one. */
  releaseInbound(channel: Channel): void
  /**
   * True while half or more of the slots of connections in handshake are taken: then a connection
   * gets `preambleTimeoutMs` for its preamble and request, otherwise the whole `handshakeTimeoutMs`.
   */
  readonly inboundCrowded: boolean
  /**
   * Refuses an inbound connection with a logged, published reason. With `notice` (a `quarantined`
   * or `disassociate` PDU), writes the preamble and that one frame back first (docs/PROTOCOL.md §10.1).
   */
  refuseInbound(channel: Channel, reason: string, cause?: unknown, notice?: Uint8Array, lane?: number): void
  /** Validates the first frame of an inbound connection; undefined when refused (the connection is closed). */
  acceptHandshake(frame: Uint8Array, lane: number | undefined, channel: Channel): InboundBinding | undefined
  inboundReadComplete(): void
  receiveDatagram(d: Datagram): void
  udpWritable(): void
  transportError(err: Error): void
}
