import { randomBytes, randomInt } from 'node:crypto'
import type { Codec, HandshakeRequestPdu, UniqueAddress } from '@helios/codec'
import type { Channel } from '@helios/transport'
import { Address } from '../Address.js'
import type { AssociationState } from './AssociationState.js'

/** What to do with a handshake request from the peer's uid (see {@link Handshake.judgeRequest}). */
export type RequestVerdict =
  /** The uid is quarantined here: refuse, and tell the peer. */
  | 'refuse-quarantined'
  /** The association is final: the remoting must hand the request to a successor. */
  | 'refuse-final'
  /** No confirmed incarnation yet: take the uid as the peer's claim, answer, and confirm it by our own request. */
  | 'adopt'
  /** The established uid, e.g. after a reconnect: answer. */
  | 'same'
  /** Another uid than the established one: a restart claim, believed only once confirmed at the address. */
  | 'claim'

/** What to do with a handshake response (see {@link Handshake.judgeResponse}). */
export type ResponseVerdict =
  /** It does not echo any nonce of ours: not an answer to a request sent to the peer's address. */
  | 'refuse-unproven'
  /** It echoes an earlier nonce of ours: an answer to a request on an earlier connection, superseded. */
  | 'stale'
  | 'refuse-quarantined'
  | 'refuse-final'
  /** First confirmed incarnation: established. */
  | 'establish'
  /** The established uid answers at the address (a reconnect confirmed, or a restart claim disproved). */
  | 'confirm'
  /** Another uid answers at the address: the peer restarted (proven). */
  | 'restart'

/** The sessions a handshake carries (docs/PROTOCOL.md §4.1): the sender's, and ours as the sender knows it (0: none). */
export interface HandshakeSessions {
  readonly session: number
  readonly toSession: number
}

/** What a handshake's `session` says of the peer's side of the association (see {@link Handshake.judgeSession}). */
export type SessionVerdict =
  /** The one this association is in step with (or the first heard of). */
  | 'current'
  /** A later one: the peer forgot the association and started another; this one starts afresh too. */
  | 'newer'
  /** An earlier one: from an association the peer ended since; ignored. */
  | 'stale'

/**
 * Sessions start from a random number below 2^40, so that another incarnation of this node (a new
 * process at the same address) is unlikely to hand out a session a peer knew from this one.
 */
let lastSession = randomInt(1, 2 ** 40)

/**
 * The session of a new association: larger than every one this process handed out before, so
 * that a peer can tell a later association of this node's incarnation from an earlier one.
 */
export function newSession(): number {
  return ++lastSession
}

/** A random 64-bit nonce, never 0. */
export function newNonce(): bigint {
  for (;;) {
    const n = randomBytes(8).readBigUInt64BE(0)
    if (n !== 0n) return n
  }
}

/**
 * Why a handshake request must be refused whatever the association (it is meant for another
 * node, comes from a malformed address or another transport, or claims this node's own address),
 * or the peer's parsed address when it may go on.
 */
export function checkHandshakeRequest(
  pdu: HandshakeRequestPdu,
  local: Address,
): { readonly from: Address } | { readonly refused: string; readonly remote?: string } {
  if (pdu.to !== local.toString()) {
    return { refused: `handshake meant for ${pdu.to}, this node is ${local.toString()}`, remote: pdu.from.address }
  }
  let from: Address
  try {
    from = Address.parse(pdu.from.address)
  } catch {
    return { refused: `handshake from a malformed address ${JSON.stringify(pdu.from.address)}` }
  }
  if (from.protocol !== local.protocol)
    return { refused: `handshake from ${from.toString()} over ${local.protocol}`, remote: from.toString() }
  if (from.equals(local)) return { refused: "handshake from a node claiming this node's own address", remote: from.toString() }
  return { from }
}

/**
 * The handshake of one association: this node's uid on it, the nonce it sends only to the peer's
 * address, the nonce the peer sent last (echoed in our responses), and a restart claim under
 * verification.
 *
 * Incarnations are proven, not claimed: a handshake response counts only when it echoes
 * {@link nonce}, which this node writes only on connections (or datagrams) it sends to the
 * peer's address, so it proves that the uid answering there is the one in the response. A
 * request naming a uid other than the established one is a restart claim: the association sends
 * its own request to the address, and the claim holds only if the response names the claimed uid
 * (docs/PROTOCOL.md §10.1).
 */
export class Handshake {
  /** Our current nonce: in every request since the latest control connection opened. */
  nonce: bigint
  /** Our earlier nonces, newest last (a few). */
  private readonly earlier: bigint[] = []
  /** The uid this node presents on this association. */
  readonly localUid: bigint
  /** The nonce of the peer's latest request (echoed in our responses). */
  peerNonce: bigint | undefined
  /** This association's session, sent in every request and response (docs/PROTOCOL.md §10.1). */
  readonly session: number = newSession()
  /**
   * The session of the peer's association that this one is in step with (its compression tables
   * and numbering), for the peer uid the codec knows; undefined before any handshake.
   */
  peerSession: number | undefined
  /**
   * A restart claim (a request with another uid than the established one) being verified: the
   * claimed uid, when the verification started, and the claimant's nonce (answered if it holds).
   */
  claim: { readonly uid: bigint; readonly since: number; nonce: bigint; sessions: HandshakeSessions } | undefined
  private requestFrame: Uint8Array | undefined
  private requestToSession = 0
  /** Connections of restart claimants, waiting while their claim is verified. */
  private parked: Map<Channel, bigint> | undefined

  constructor(
    private readonly codec: Codec,
    private readonly localAddress: string,
    private readonly remoteAddress: string,
    localUid: bigint,
    nonce: bigint = newNonce(),
  ) {
    this.localUid = localUid
    this.nonce = nonce
  }

  /** This node's unique address on this association. */
  get local(): UniqueAddress {
    return { address: this.localAddress, uid: this.localUid }
  }

  /** Our request with the current nonce (encoded once per nonce and peer session). */
  request(): Uint8Array {
    const toSession = this.peerSession ?? 0
    if (this.requestFrame === undefined || this.requestToSession !== toSession) {
      this.requestToSession = toSession
      this.requestFrame = this.codec.encode({
        type: 'handshake-request',
        from: this.local,
        to: this.remoteAddress,
        nonce: this.nonce,
        session: this.session,
        toSession,
      })
    }
    return this.requestFrame
  }

  /**
   * Draws a new nonce (for a new control connection, so that only an answer to the request written
   * on it confirms it) and returns the request carrying it.
   */
  renewNonce(): Uint8Array {
    this.earlier.push(this.nonce)
    if (this.earlier.length > 4) this.earlier.shift()
    this.nonce = newNonce()
    this.requestFrame = undefined
    return this.request()
  }

  /** Our response to the peer's latest request, or undefined while it sent none. */
  response(): Uint8Array | undefined {
    if (this.peerNonce === undefined) return undefined
    return this.codec.encode({
      type: 'handshake-response',
      from: this.local,
      to: this.remoteAddress,
      nonce: this.peerNonce,
      session: this.session,
      toSession: this.peerSession ?? 0,
    })
  }

  /** The notice telling the peer's incarnation `uid` that this node quarantined it. */
  quarantinedNotice(uid: bigint): Uint8Array {
    return this.codec.encode({ type: 'quarantined', from: this.local, to: { address: this.remoteAddress, uid } })
  }

  /** Starts verifying a claim of `uid`; false when one is verified already (a claim of the same uid only updates its nonce and session). */
  startClaim(uid: bigint, nonce: bigint, sessions: HandshakeSessions, now: number): boolean {
    if (this.claim !== undefined) {
      if (this.claim.uid === uid) {
        this.claim.nonce = nonce
        this.claim.sessions = sessions
      }
      return false
    }
    this.claim = { uid, nonce, sessions, since: now }
    return true
  }

  /** How the peer's `session` (of the uid this association is in step with) compares with {@link peerSession}. */
  judgeSession(session: number): SessionVerdict {
    const known = this.peerSession
    if (known === undefined || session === known) return 'current'
    return session > known ? 'newer' : 'stale'
  }

  /** Ends the claim being verified (if any) and closes its parked connections with `reason`; returns it. */
  endClaim(reason: string): { readonly uid: bigint } | undefined {
    const claim = this.claim
    this.claim = undefined
    if (claim !== undefined) this.closeParked(claim.uid, reason)
    return claim
  }

  /** Keeps a claimant's connection (closed if its claim is refused). */
  park(channel: Channel, uid: bigint): void {
    ;(this.parked ??= new Map()).set(channel, uid)
  }

  /** Forgets a parked connection (it closed, or its claim was confirmed). */
  unpark(channel: Channel): void {
    this.parked?.delete(channel)
  }

  /** Closes the parked connections of `uid` (of every claimant when undefined). */
  closeParked(uid: bigint | undefined, reason: string): void {
    const parked = this.parked
    if (parked === undefined) return
    for (const [ch, u] of parked) {
      if (uid !== undefined && u !== uid) continue
      parked.delete(ch)
      void ch.close(new Error(reason))
    }
  }

  /** Judges a request from `uid` given the association's state and whether `uid` is quarantined here. */
  judgeRequest(uid: bigint, state: AssociationState, quarantined: boolean): RequestVerdict {
    if (quarantined) return 'refuse-quarantined'
    switch (state.kind) {
      case 'idle':
      case 'handshaking':
        return 'adopt'
      case 'established':
        return uid === state.uid ? 'same' : 'claim'
      default:
        return 'refuse-final'
    }
  }

  /**
   * Judges a response from `uid` carrying `nonce`. With `onOwnConnection` (written back on a
   * connection this node opened to the peer's address), an earlier nonce of ours proves the uid too.
   */
  judgeResponse(uid: bigint, nonce: bigint, state: AssociationState, quarantined: boolean, onOwnConnection = false): ResponseVerdict {
    if (nonce !== this.nonce) {
      if (!this.earlier.includes(nonce)) return 'refuse-unproven'
      if (!onOwnConnection) return 'stale'
    }
    if (quarantined) return 'refuse-quarantined'
    switch (state.kind) {
      case 'idle':
      case 'handshaking':
        return 'establish'
      case 'established':
        return uid === state.uid ? 'confirm' : 'restart'
      default:
        return 'refuse-final'
    }
  }
}
