import type { ActorPath } from './ActorPath.js'

/**
 * A handle to an actor, local or remote. The only way to talk to an actor is `tell`; refs are cheap,
 * immutable, and may be sent inside messages.
 *
 * Two refs denote the same actor incarnation when their paths and uids are equal
 * ({@link ActorRef.equals}); a ref keeps pointing at its incarnation: once that actor stopped, messages
 * to the ref go to dead letters even if a new actor was created under the same name.
 */
export abstract class ActorRef {
  /** The actor's path, with its uid when known. */
  abstract readonly path: ActorPath

  /**
   * Sends `message` asynchronously (fire and forget); never throws and never blocks. The receiver
   * sees `sender` as `ctx.sender` (undefined when omitted). A message to a stopped actor goes to dead
   * letters.
   */
  abstract tell(message: unknown, sender?: ActorRef): void

  /** Same path and same uid. */
  equals(other: ActorRef): boolean {
    return this === other || this.path.equals(other.path)
  }

  /** `Actor[<path>#<uid>]`, for logs. */
  toString(): string {
    return `Actor[${this.path.toSerializationFormat()}]`
  }
}
