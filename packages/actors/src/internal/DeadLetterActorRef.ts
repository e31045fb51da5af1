import type { ActorPath } from '../ActorPath.js'
import type { ActorRef } from '../ActorRef.js'
import { InternalActorRef, internalRef } from './InternalActorRef.js'
import type { SystemMessage } from './SystemMessage.js'

/** Where dead letters are reported; implemented by the system core. */
export interface DeadLetterSink {
  deadLetter(message: unknown, sender: ActorRef | undefined, recipient: ActorRef): void
}

/**
 * A ref that delivers nothing: every message becomes a dead letter (recipient = this ref, so the event
 * shows the path that was meant), and a watch is answered at once with a Terminated whose
 * `existenceConfirmed` is false. Used for `system.deadLetters`, for paths with no live actor, for
 * old incarnations (uid mismatch), and for remote paths on a local-only system.
 */
export class DeadLetterActorRef extends InternalActorRef {
  readonly path: ActorPath
  readonly isLocal = true
  readonly #sink: DeadLetterSink

  constructor(sink: DeadLetterSink, path: ActorPath) {
    super()
    this.#sink = sink
    this.path = path
  }

  tell(message: unknown, sender?: ActorRef): void {
    this.#sink.deadLetter(message, sender, this)
  }

  sendSystemMessage(message: SystemMessage): void {
    if (message.kind === 'watch') {
      internalRef(message.watcher).sendSystemMessage({
        kind: 'deathWatchNotification',
        ref: message.watchee,
        existenceConfirmed: false,
        addressTerminated: false,
      })
    }
  }
}
