import type { ActorRef } from './ActorRef.js'

/**
 * A message that could not be delivered: its recipient was stopped, never existed, is an old
 * incarnation (uid mismatch), or its bounded mailbox was full. Published as the `'deadLetter'` event.
 */
export class DeadLetter {
  /** The undelivered message. */
  readonly message: unknown
  /** The sender given to `tell`, if any. */
  readonly sender: ActorRef | undefined
  /** The ref the message was sent to. */
  readonly recipient: ActorRef

  constructor(message: unknown, sender: ActorRef | undefined, recipient: ActorRef) {
    this.message = message
    this.sender = sender
    this.recipient = recipient
  }
}
