import type { ActorRef } from './ActorRef.js'

/**
 * The message a watcher receives when an actor it watches (`ctx.watch(ref)`) has stopped, or was
 * already dead when watched, or lives on a node declared down or restarted.
 *
 * @example
 * if (message instanceof Terminated && message.ref.equals(child)) ctx.stop()
 */
export class Terminated {
  /** The watched ref (the same object that was passed to `watch`). */
  readonly ref: ActorRef
  /** False when the actor was not known to exist (e.g. watched after it died, or never existed). */
  readonly existenceConfirmed: boolean
  /** True when sent because the actor's node was declared down (failure detector, restart, quarantine). */
  readonly addressTerminated: boolean

  constructor(ref: ActorRef, existenceConfirmed = true, addressTerminated = false) {
    this.ref = ref
    this.existenceConfirmed = existenceConfirmed
    this.addressTerminated = addressTerminated
  }
}
