/**
 * The PDUs (protocol data units) of the association protocol. Each frame payload carries exactly
 * one PDU; its first byte is the {@link PduTag}. docs/PROTOCOL.md gives every layout byte by byte.
 */

/** First byte of every frame payload. */
export const PduTag = {
  handshakeRequest: 0x01,
  handshakeResponse: 0x02,
  heartbeat: 0x03,
  heartbeatReply: 0x04,
  disassociate: 0x05,
  quarantined: 0x06,
  userEnvelope: 0x10,
  systemEnvelope: 0x11,
  ack: 0x12,
  nack: 0x13,
  userAck: 0x14,
  fragment: 0x20,
  compressionAdvertisement: 0x30,
  compressionAck: 0x31,
} as const;
/** A PDU tag byte. */
export type PduTag = (typeof PduTag)[keyof typeof PduTag];

/** A node's unique address: its address string plus the random 64-bit uid of this incarnation. */
export interface UniqueAddress {
  /** e.g. `helios.tcp://sys@10.0.0.1:2552`. */
  readonly address: string;
  /** Unsigned 64-bit random node uid, `0n <= uid < 2n ** 64n`. */
  readonly uid: bigint;
}

/** Sent first on every new connection: who I am, whom I meant to reach, and a nonce to echo. */
export interface HandshakeRequestPdu {
  readonly type: 'handshake-request';
  readonly from: UniqueAddress;
  /** The address the sender meant to reach; a node refuses a request for another address. */
  readonly to: string;
  /**
   * Random 64-bit value the sender sends only to `to`; a response that echoes it proves that the
   * responder received a request sent to that address (an incarnation confirmed there, not claimed).
   */
  readonly nonce: bigint;
}

/** Accepts a handshake: the responder's unique address, the requester it answers, and that request's nonce. */
export interface HandshakeResponsePdu {
  readonly type: 'handshake-response';
  readonly from: UniqueAddress;
  readonly to: string;
  /** The nonce of the latest request the responder received from `to`. */
  readonly nonce: bigint;
}

/** Failure-detector heartbeat (control lane). */
export interface HeartbeatPdu {
  readonly type: 'heartbeat';
}

/** Reply to a heartbeat, carrying the replying node's uid. */
export interface HeartbeatReplyPdu {
  readonly type: 'heartbeat-reply';
  readonly uid: bigint;
}

/** Why an association is being closed (wire codes 0..6; unknown codes decode as `"unknown"`). */
export const DisassociateReason = {
  unknown: 0,
  normal: 1,
  shutdown: 2,
  quarantined: 3,
  handshakeFailed: 4,
  protocolError: 5,
  /**
   * UDP: a frame came from a peer this node has no association with (it restarted, or never met
   * it): the peer should introduce itself again with a handshake request.
   */
  notAssociated: 6,
} as const;
/** A disassociate reason code. */
export type DisassociateReason = (typeof DisassociateReason)[keyof typeof DisassociateReason];

/** The sender closes the association. */
export interface DisassociatePdu {
  readonly type: 'disassociate';
  readonly reason: DisassociateReason;
  /** Human-readable detail, may be empty. */
  readonly detail: string;
}

/** Tells a node that `from` has quarantined it (`to`): no more traffic between these incarnations. */
export interface QuarantinedPdu {
  readonly type: 'quarantined';
  readonly from: UniqueAddress;
  readonly to: UniqueAddress;
}

/** A user message for one actor. */
export interface UserEnvelopePdu {
  readonly type: 'user-envelope';
  /**
   * Per-association sequence number of user envelopes (1, 2, 3, ...): not for redelivery (user
   * messages are at most once) but so that the receiver counts what never arrived.
   */
  readonly seq: number;
  /** Full path of the recipient actor. */
  readonly recipient: string;
  /** Full path of the sender actor, if any. */
  readonly sender: string | undefined;
  readonly message: unknown;
}

/** A system message (watch, unwatch, terminated...) with its sequence number for reliable delivery. */
export interface SystemEnvelopePdu {
  readonly type: 'system-envelope';
  /** Sequence number, a non-negative safe integer. */
  readonly seq: number;
  readonly recipient: string;
  readonly sender: string | undefined;
  readonly message: unknown;
}

/**
 * The highest user-envelope `seq` received so far on this association (user messages are not
 * resent: this only tells the sender which of them arrived, so that none is lost silently).
 */
export interface UserAckPdu {
  readonly type: 'user-ack';
  readonly seq: number;
}

/** Cumulative ack of system messages up to `cumulative`, plus those received beyond it. */
export interface AckPdu {
  readonly type: 'ack';
  readonly cumulative: number;
  /** Sequence numbers above `cumulative` already received (selective ack). */
  readonly selective: readonly number[];
}

/** Cumulative ack up to `cumulative` and the sequence numbers missing after it (resend them). */
export interface NackPdu {
  readonly type: 'nack';
  readonly cumulative: number;
  readonly missing: readonly number[];
}

/** One piece of an envelope larger than the max frame size. */
export interface FragmentPdu {
  readonly type: 'fragment';
  /** Per-association id of the fragmented message. */
  readonly messageId: number;
  /** Size of the whole envelope payload. */
  readonly totalLength: number;
  /** Offset of `chunk` within the envelope payload. */
  readonly offset: number;
  /** The bytes (a view into the frame). */
  readonly chunk: Uint8Array;
}

/** Which compression table: actor paths or class manifests. */
export type CompressionTableKind = 'actor-ref' | 'manifest';

/** Binds small integers to actor paths or manifests, for envelopes the advertiser will send. */
export interface CompressionAdvertisementPdu {
  readonly type: 'compression-advertisement';
  /** uid of the advertising node. */
  readonly originUid: bigint;
  readonly table: CompressionTableKind;
  /** Version of this advertisement (per table, increasing). */
  readonly version: number;
  /** `[index, value]` pairs. */
  readonly entries: readonly (readonly [number, string])[];
}

/** Confirms an advertisement version has been applied; the advertiser may now use its indexes. */
export interface CompressionAckPdu {
  readonly type: 'compression-ack';
  /** uid of the acknowledging node. */
  readonly originUid: bigint;
  readonly table: CompressionTableKind;
  readonly version: number;
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
  | CompressionAckPdu;

/** PDUs that are not envelopes or fragments (no message value, never fragmented). */
export type ControlPdu = Exclude<Pdu, UserEnvelopePdu | SystemEnvelopePdu | FragmentPdu>;
