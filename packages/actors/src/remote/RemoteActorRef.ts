import type { ActorPath } from '../ActorPath.js'
import type { ActorRef } from '../ActorRef.js'
import { InternalActorRef } from '../internal/InternalActorRef.js'
import type { SystemMessage } from '../internal/SystemMessage.js'
import type { Association } from './Association.js'

/**
 * A ref to an actor on another node. `tell` enqueues a user envelope on the node's association
 * (never throws, never blocks: a full queue drops with a 'dropped' event); system messages
 * (watch, unwatch, death-watch notifications) go on the association's reliable control lane.
 */
export class RemoteActorRef extends InternalActorRef {
  readonly isLocal = false
  readonly path: ActorPath
  /** `path.toSerializationFormat()`, computed once: it is written into every envelope. */
  readonly wirePath: string
  /** @internal Re-resolved when the remoting forgot an idle association. */
  association: Association

  constructor(path: ActorPath, association: Association) {
    super()
    this.path = path
    this.wirePath = path.toSerializationFormat()
    this.association = association
  }

  tell(message: unknown, sender?: ActorRef): void {
    this.current().sendUser(this, message, sender)
  }

  sendSystemMessage(message: SystemMessage): void {
    this.current().sendSystem(this, message)
  }

  private current(): Association {
    let a = this.association
    if (a.detached) a = this.association = a.reattach()
    return a
  }
}
