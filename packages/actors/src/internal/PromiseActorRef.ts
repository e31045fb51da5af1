import type { ActorPath } from '../ActorPath.js'
import type { ActorRef } from '../ActorRef.js'
import type { TimerHandle } from '../Clock.js'
import type { DeadLetterSink } from './DeadLetterActorRef.js'
import { InternalActorRef, internalRef } from './InternalActorRef.js'
import type { SystemMessage } from './SystemMessage.js'

/**
 * The temporary actor behind `system.ask`: lives at `/temp/$n#uid`, completes its promise with the
 * first message it receives, then is gone (later messages are dead letters). Reachable from remote
 * nodes through its path like any actor.
 */
export class PromiseActorRef extends InternalActorRef {
  readonly path: ActorPath
  readonly isLocal = true
  readonly #sink: DeadLetterSink
  readonly #resolve: (value: unknown) => void
  readonly #reject: (error: Error) => void
  readonly #onDone: (ref: PromiseActorRef) => void
  /** The ask's timeout, cancelled by the system's `onDone` callback. */
  timer: TimerHandle | undefined
  #completed = false

  constructor(
    sink: DeadLetterSink,
    path: ActorPath,
    resolve: (value: unknown) => void,
    reject: (error: Error) => void,
    onDone: (ref: PromiseActorRef) => void,
  ) {
    super()
    this.#sink = sink
    this.path = path
    this.#resolve = resolve
    this.#reject = reject
    this.#onDone = onDone
  }

  get completed(): boolean {
    return this.#completed
  }

  tell(message: unknown, sender?: ActorRef): void {
    if (this.#completed) {
      this.#sink.deadLetter(message, sender, this)
      return
    }
    this.#finish()
    this.#resolve(message)
  }

  /** Rejects the pending ask (timeout or system termination); no-op once completed. */
  fail(error: Error): void {
    if (this.#completed) return
    this.#finish()
    this.#reject(error)
  }

  sendSystemMessage(message: SystemMessage): void {
    if (message.kind === 'watch' && this.#completed) {
      internalRef(message.watcher).sendSystemMessage({
        kind: 'deathWatchNotification',
        ref: message.watchee,
        existenceConfirmed: true,
        addressTerminated: false,
      })
    }
  }

  #finish(): void {
    this.#completed = true
    this.#onDone(this) // cancels the timer
    this.timer = undefined
  }
}
