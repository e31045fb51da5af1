/**
 * The PDUs (protocol data units) of the association protocol. Each frame payload carries exactly
 * one PDU; its first byte is the {@link PduTag}. docs/PROTOCOL.md gives every layout byte by byte.
 */

/** First byte of every frame payload. */
export const PduTag = {
  /** {@link HandshakeRequestPdu}. */
  handshakeRequest: 0x01,
  /** {@link HandshakeResponsePdu}. */
  handshakeResponse: 0x02,
  /** {@link HeartbeatPdu}. */
  heartbeat: 0x03,
  /** {@link HeartbeatReplyPdu}. */
  heartbeatReply: 0x04,
  /** {@link DisassociatePdu}. */
  disassociate: 0x05,
  /** {@link QuarantinedPdu}. */
  quarantined: 0x06,
  /** {@link UserEnvelopePdu}. */
  userEnvelope: 0x10,
  /** {@link SystemEnvelopePdu}. */
  systemEnvelope: 0x11,
  /** {@link AckPdu}. */
  ack: 0x12,
  /** {@link NackPdu}. */
  nack: 0x13,
  /** {@link UserAckPdu}. */
  userAck: 0x14,
  /** {@link UserEnvelopePdu} whose compression indexes belong to a generation after 0 (the generation follows the seq). */
  userEnvelopeInGeneration: 0x15,
  /** {@link SystemEnvelopePdu} whose compression indexes belong to a generation after 0 (the generation follows the seq). */
  systemEnvelopeInGeneration: 0x16,
  /** {@link FragmentPdu}. */
  fragment: 0x20,
  /** {@link CompressionAdvertisementPdu}. */
  compressionAdvertisement: 0x30,
  /** {@link CompressionAckPdu}. */
  compressionAck: 0x31,
} as const
/** A PDU tag byte. */
export type PduTag = (typeof PduTag)[keyof typeof PduTag]

/** A node's unique address: its address string plus the random 64-bit uid of this incarnation. */
export interface UniqueAddress {
  /** e.g. `helios.tcp://sys@10.0.0.1:2552`. */
  readonly address: string
  /** Unsigned 64-bit random node uid, `0n <= uid < 2n ** 64n`. */
  readonly uid: bigint
}

/** Sent first on every new connection: who I am, whom I meant to reach, and a nonce to echo. */
export interface HandshakeRequestPdu {
  /** Discriminant of {@link Pdu}: `'handshake-request'`. */
  readonly type: 'handshake-request'
  /** The requesting node. */
  readonly from: UniqueAddress
  /** The address the sender meant to reach; a node refuses a request for another address. */
  readonly to: string
  /**
   * Random 64-bit value the sender sends only to `to`; a response that echoes it proves that the
   * responder received a request sent to that address (an incarnation confirmed there, not claimed).
   */
  readonly nonce: bigint
  /**
   * Which association of the sender's incarnation this is: a number (1 or more, below 2^53) that
   * grows with every association the sender starts. A larger one than before under the same uid
   * means the sender forgot the earlier association (compression tables, sequence numbers) and
   * starts afresh; a smaller one comes from an association it ended (docs/PROTOCOL.md §10.1).
   */
  readonly session: number
  /**
   * The receiver's session that the sender's side of the association is in step with (the last it
   * heard from `to`), or 0 when it heard none: one the receiver no longer has means the sender
   * still holds state of an association the receiver forgot.
   */
  readonly toSession: number
}

/** Accepts a handshake: the responder's unique address, the requester it answers, and that request's nonce. */
export interface HandshakeResponsePdu {
  /** Discriminant of {@link Pdu}: `'handshake-response'`. */
  readonly type: 'handshake-response'
  /** The responding node. */
  readonly from: UniqueAddress
  /** The address of the requester it answers. */
  readonly to: string
  /** The nonce of the latest request the responder received from `to`. */
  readonly nonce: bigint
  /** The responder's association with `to`, as in {@link HandshakeRequestPdu.session}. */
  readonly session: number
  /** As in {@link HandshakeRequestPdu.toSession}. */
  readonly toSession: number
}

/** Failure-detector heartbeat (control lane). */
export interface HeartbeatPdu {
  /** Discriminant of {@link Pdu}: `'heartbeat'`. */
  readonly type: 'heartbeat'
}

/** Reply to a heartbeat, carrying the replying node's uid. */
export interface HeartbeatReplyPdu {
  /** Discriminant of {@link Pdu}: `'heartbeat-reply'`. */
  readonly type: 'heartbeat-reply'
  /** The replying node's uid (the incarnation the heartbeat reached). */
  readonly uid: bigint
}

/** Why an association is being closed (wire codes 0..6; unknown codes decode as `"unknown"`). */
export const DisassociateReason = {
  /** A code this node does not know. */
  unknown: 0,
  /** An orderly close. */
  normal: 1,
  /** The sender's actor system is terminating. */
  shutdown: 2,
  /** The sender quarantined the receiver's uid. */
  quarantined: 3,
  /** The sender refused the receiver's handshake (the detail says why). */
  handshakeFailed: 4,
  /** The receiver broke the protocol. */
  protocolError: 5,
  /**
   * UDP: a frame came from a peer this node has no association with (it restarted, or never met
   * it): the peer should introduce itself again with a handshake request.
   */
  notAssociated: 6,
} as const
/** A disassociate reason code. */
export type DisassociateReason = (typeof DisassociateReason)[keyof typeof DisassociateReason]

/** The sender closes the association. */
export interface DisassociatePdu {
  /** Discriminant of {@link Pdu}: `'disassociate'`. */
  readonly type: 'disassociate'
  /** Why (a {@link DisassociateReason} code). */
  readonly reason: DisassociateReason
  /** Human-readable detail, may be empty. */
  readonly detail: string
}

/** Tells a node that `from` has quarantined it (`to`): no more traffic between these incarnations. */
export interface QuarantinedPdu {
  /** Discriminant of {@link Pdu}: `'quarantined'`. */
  readonly type: 'quarantined'
  /** The node that quarantined. */
  readonly from: UniqueAddress
  /** The node incarnation it quarantined. */
  readonly to: UniqueAddress
}

/** A user message for one actor. */
export interface UserEnvelopePdu {
  /** Discriminant of {@link Pdu}: `'user-envelope'`. */
  readonly type: 'user-envelope'
  /**
   * Per-association sequence number of user envelopes (1, 2, 3, ...): not for redelivery (user
   * messages are at most once) but so that the receiver counts what never arrived.
   */
  readonly seq: number
  /** Full path of the recipient actor. */
  readonly recipient: string
  /** Full path of the sender actor, if any. */
  readonly sender: string | undefined
  /** The message value. */
  readonly message: unknown
}

/** A system message (watch, unwatch, terminated...) with its sequence number for reliable delivery. */
export interface SystemEnvelopePdu {
  /** Discriminant of {@link Pdu}: `'system-envelope'`. */
  readonly type: 'system-envelope'
  /** Sequence number, a non-negative safe integer. */
  readonly seq: number
  /** Full path of the recipient actor. */
  readonly recipient: string
  /** Full path of the sender actor (the watcher, or the actor that terminated). */
  readonly sender: string | undefined
  /** The system message, in its wire form. */
  readonly message: unknown
}

/**
 * The highest user-envelope `seq` received so far on this association (user messages are not
 * resent: this only tells the sender which of them arrived, so that none is lost silently).
 */
export interface UserAckPdu {
  /** Discriminant of {@link Pdu}: `'user-ack'`. */
  readonly type: 'user-ack'
  /** The highest user-envelope `seq` received. */
  readonly seq: number
}

/** Cumulative ack of system messages up to `cumulative`, plus those received beyond it. */
export interface AckPdu {
  /** Discriminant of {@link Pdu}: `'ack'`. */
  readonly type: 'ack'
  /** Every system message up to this sequence number was received. */
  readonly cumulative: number
  /** Sequence numbers above `cumulative` already received (selective ack). */
  readonly selective: readonly number[]
}

/** Cumulative ack up to `cumulative` and the sequence numbers missing after it (resend them). */
export interface NackPdu {
  /** Discriminant of {@link Pdu}: `'nack'`. */
  readonly type: 'nack'
  /** Every system message up to this sequence number was received. */
  readonly cumulative: number
  /** Sequence numbers after `cumulative` that are missing: resend them. */
  readonly missing: readonly number[]
}

/** One piece of an envelope larger than the max frame size. */
export interface FragmentPdu {
  /** Discriminant of {@link Pdu}: `'fragment'`. */
  readonly type: 'fragment'
  /** Per-association id of the fragmented message. */
  readonly messageId: number
  /** Size of the whole envelope payload. */
  readonly totalLength: number
  /** Offset of `chunk` within the envelope payload. */
  readonly offset: number
  /** The bytes (a view into the frame). */
  readonly chunk: Uint8Array
}

/** Which compression table: actor paths or class manifests. */
export type CompressionTableKind = 'actor-ref' | 'manifest'

/** Binds small integers to actor paths or manifests, for envelopes the advertiser will send. */
export interface CompressionAdvertisementPdu {
  /** Discriminant of {@link Pdu}: `'compression-advertisement'`. */
  readonly type: 'compression-advertisement'
  /** uid of the advertising node. */
  readonly originUid: bigint
  /** The table it fills. */
  readonly table: CompressionTableKind
  /**
   * The generation of the table these entries belong to (0, 1, 2, ...; default 0): envelopes
   * carry the generation their indexes belong to (docs/PROTOCOL.md §5).
   */
  readonly generation?: number
  /** Version of this advertisement (per table, increasing). */
  readonly version: number
  /** `[index, value]` pairs. */
  readonly entries: readonly (readonly [number, string])[]
}

/** Confirms an advertisement version has been applied; the advertiser may now use its indexes. */
export interface CompressionAckPdu {
  /** Discriminant of {@link Pdu}: `'compression-ack'`. */
  readonly type: 'compression-ack'
  /** uid of the acknowledging node. */
  readonly originUid: bigint
  /** The table acknowledged. */
  readonly table: CompressionTableKind
  /** The generation of the advertisement applied (default 0). */
  readonly generation?: number
  /** The advertisement version applied. */
  readonly version: number
}

/** Every PDU. */
export type Pdu =
  | HandshakeRequestPdu
  | HandshakeResponsePdu
  | HeartbeatPdu
  | HeartbeatReplyPdu
  | UserAckPdu
  | DisassociatePdu
  | QuarantinedPdu
  | UserEnvelopePdu
  | SystemEnvelopePdu
  | AckPdu
  | NackPdu
  | FragmentPdu
  | CompressionAdvertisementPdu
  | CompressionAckPdu

/** PDUs that are not envelopes or fragments (no message value, never fragmented). */
export type ControlPdu = Exclude<Pdu, UserEnvelopePdu | SystemEnvelopePdu | FragmentPdu>
