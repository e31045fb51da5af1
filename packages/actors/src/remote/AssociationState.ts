/**
 * The state of one association: which incarnation of the peer it talks to, and how far. Every
 * decision of an association reads this one value (docs/ARCHITECTURE.md draws the transitions):
 *
 * ```
 *  idle ──send, or the peer's request──▶ handshaking ──response echoing our nonce──▶ established
 *   ▲                                     │ (uid: the peer's claim, not yet confirmed)   │
 *   └──────── handshake timeout ──────────┘                                              │
 *  handshaking/established ──unreachable, refused after a loss, shutdown, overflow──▶ quarantined
 *  established ──another uid confirmed at the address (restart)──▶ quarantined (a successor takes over)
 *  any ──the peer quarantined this node's uid: a new local uid for this pair──▶ retired (successor)
 *  idle ──forgotten by the remoting──▶ retired
 * ```
 *
 * `quarantined` and `retired` are final: the remoting puts a successor in place for the address
 * when there is something to send or someone to answer. Refs that name one actor incarnation
 * (`#uid`) and were bound to an association that had a confirmed peer uid go to dead letters once
 * it is final; refs by path move to the successor.
 */
export type AssociationState =
  | { readonly kind: 'idle' }
  | {
      readonly kind: 'handshaking'
      /** The uid the peer claimed in its handshake request, not yet confirmed at its address. */
      readonly uid: bigint | undefined
      /** When the handshake started (its timeout counts from here). */
      readonly since: number
    }
  | { readonly kind: 'established'; readonly uid: bigint; readonly since: number }
  | {
      readonly kind: 'quarantined'
      readonly uid: bigint | undefined
      /** True when `uid` had been confirmed (the association was established with it). */
      readonly confirmed: boolean
      readonly since: number
      readonly reason: string
    }
  | { readonly kind: 'retired'; readonly uid: bigint | undefined; readonly confirmed: boolean; readonly reason: string }

/** The kinds of {@link AssociationState}. */
export type AssociationStateKind = AssociationState['kind']

/** The state of a new association. */
export const IDLE: AssociationState = Object.freeze({ kind: 'idle' })

/** True for the final states. */
export function isFinal(s: AssociationState): boolean {
  return s.kind === 'quarantined' || s.kind === 'retired'
}

/** True when the state is final and its peer uid had been confirmed: refs naming one actor incarnation there are dead. */
export function endedIncarnation(s: AssociationState): boolean {
  return (s.kind === 'quarantined' || s.kind === 'retired') && s.confirmed
}

/** The peer uid the state names (claimed, confirmed or quarantined), if any. */
export function peerUidOf(s: AssociationState): bigint | undefined {
  return s.kind === 'idle' ? undefined : s.uid
}
