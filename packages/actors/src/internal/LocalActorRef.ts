import type { ActorPath } from '../ActorPath.js'
import type { ActorRef } from '../ActorRef.js'
import type { ActorCell } from './ActorCell.js'
import { InternalActorRef } from './InternalActorRef.js'
import type { SystemMessage } from './SystemMessage.js'

/** The ref of an actor living in this process: a thin handle on its {@link ActorCell}. */
export class LocalActorRef extends InternalActorRef {
  readonly path: ActorPath
  readonly isLocal = true
  /** @internal */
  readonly cell: ActorCell

  constructor(path: ActorPath, cell: ActorCell) {
    super()
    this.path = path
    this.cell = cell
  }

  tell(message: unknown, sender?: ActorRef): void {
    this.cell.enqueue(message, sender)
  }

  sendSystemMessage(message: SystemMessage): void {
    this.cell.sendSystemMessage(message)
  }
}
