/**
 * A message that stops its receiver when the receiver reaches it in its mailbox, after the messages
 * sent before it (unlike `ctx.stop(ref)`, which takes effect before queued messages). The behavior
 * never sees it.
 *
 * @example
 * ref.tell(PoisonPill)
 */
export const PoisonPill: {
  /** What tells it apart from any other message. */
  readonly kind: 'PoisonPill'
} = Object.freeze({ kind: 'PoisonPill' as const })
