import type { ActorPath } from '../ActorPath.js'
import type { ActorRef } from '../ActorRef.js'
import { InternalActorRef, internalRef } from '../internal/InternalActorRef.js'
import type { SystemMessage } from '../internal/SystemMessage.js'
import type { Association } from './Association.js'
import type { AssociationRegistry } from './AssociationRegistry.js'
import { endedIncarnation, isFinal } from './AssociationState.js'

/**
 * A ref to an actor on another node. `tell` enqueues a user envelope on the node's association
 * (never throws, never blocks: a full queue drops with a 'dropped' event); system messages
 * (watch, unwatch, death-watch notifications) go on the association's reliable control lane.
 *
 * A ref is bound to the association current when it was made, or, when there was none (a path
 * read from an envelope, naming a node this one never talked to), to the one its first message
 * creates: a path on the wire makes no association and no connection by itself. When that association ends (the
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
  /** @internal The association it sends through (moved on when the bound one ended, see the class doc); none before the first send when none existed. */
  association: Association | undefined
  /** @internal The node's associations. */
  readonly registry: AssociationRegistry
  /**
   * @internal The association whose frames named this path (a sender, or a ref inside a message),
   * when it came from the wire: an association the ref's first message creates is with a node
   * nobody vouched for, on that peer's word (see {@link Association.unverified}).
   */
  readonly sponsor: Association | undefined

  constructor(path: ActorPath, registry: AssociationRegistry, association?: Association, sponsor?: Association) {
    super()
    this.path = path
    this.wirePath = path.toSerializationFormat()
    this.registry = registry
    this.association = association
    this.sponsor = sponsor
  }

  tell(message: unknown, sender?: ActorRef): void {
    const a = this.current()
    if (a !== undefined) a.sendUser(this, message, sender)
    else this.registry.deadLetter(message, sender, this)
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
    if (a === undefined) return (this.association = this.registry.associationFor(this.path.address, this.sponsor))
    if (!isFinal(a.state)) return a
    if (this.path.uid !== undefined && endedIncarnation(a.state)) return undefined
    return (this.association = this.registry.associationFor(this.path.address))
  }

  /** @internal True when the association this ref sends through ended (a new one would be looked up). */
  get ended(): boolean {
    return this.association !== undefined && isFinal(this.association.state)
  }
}
