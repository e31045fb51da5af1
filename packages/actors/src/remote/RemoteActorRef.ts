import type { ActorPath } from '../ActorPath.js'
import type { ActorRef } from '../ActorRef.js'
import { InternalActorRef, internalRef } from '../internal/InternalActorRef.js'
import type { SystemMessage } from '../internal/SystemMessage.js'
import type { Association } from './Association.js'
import { endedIncarnation, isFinal } from './AssociationState.js'

/**
 * A ref to an actor on another node. `tell` enqueues a user envelope on the node's association
 * (never throws, never blocks: a full queue drops with a 'dropped' event); system messages
 * (watch, unwatch, death-watch notifications) go on the association's reliable control lane.
 *
 * A ref is bound to the association current when it was made. When that association ends (the
 * peer's uid was quarantined or replaced), a ref that names one actor incarnation (`#uid`) of a
 * confirmed peer incarnation is dead: its messages go to dead letters and a watch is answered
 * with `Terminated` at once, so nothing its watchers were told is gone comes back under it. A ref
 * by path moves on to the address's current association, which looks for whoever lives there now.
 */
export class RemoteActorRef extends InternalActorRef {
  readonly isLocal = false
  readonly path: ActorPath
  /** `path.toSerializationFormat()`, computed once: it is written into every envelope. */
  readonly wirePath: string
  /** @internal The association it sends through (moved on when the bound one ended, see the class doc). */
  association: Association

  constructor(path: ActorPath, association: Association) {
    super()
    this.path = path
    this.wirePath = path.toSerializationFormat()
    this.association = association
  }

  tell(message: unknown, sender?: ActorRef): void {
    const a = this.current()
    if (a !== undefined) a.sendUser(this, message, sender)
    else this.association.host.deadLetter(message, sender, this)
  }

  sendSystemMessage(message: SystemMessage): void {
    const a = this.current()
    if (a !== undefined) a.sendSystem(this, message)
    else if (message.kind === 'watch') {
      // The incarnation this ref names is gone: like a watch of a stopped actor, answered at once.
      internalRef(message.watcher).sendSystemMessage({
        kind: 'deathWatchNotification',
        ref: this,
        existenceConfirmed: false,
        addressTerminated: true,
      })
    }
  }

  /** The association to send through, or undefined when this ref's incarnation ended. */
  private current(): Association | undefined {
    const a = this.association
    if (!isFinal(a.state)) return a
    if (this.path.uid !== undefined && endedIncarnation(a.state)) return undefined
    return (this.association = a.registry.associationFor(this.path.address))
  }
}
