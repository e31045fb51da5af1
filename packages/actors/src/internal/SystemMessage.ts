import type { ActorRef } from '../ActorRef.js'

/**
 * Messages between the system's parts (not seen by behaviors). They overtake user messages in a
 * mailbox. Remoting carries `watch`, `unwatch` and `deathWatchNotification` reliably over the wire
 * (the "system messages" of docs/PROTOCOL.md: sequence numbers, acks, resend); `terminate` is
 * local only.
 */
export type SystemMessage =
  | { readonly kind: 'terminate' }
  /** `watcher` wants a Terminated when `watchee` stops. Sent to the watchee. */
  | { readonly kind: 'watch'; readonly watchee: ActorRef; readonly watcher: ActorRef }
  /** Undoes a watch. Sent to the watchee. */
  | { readonly kind: 'unwatch'; readonly watchee: ActorRef; readonly watcher: ActorRef }
  /** `ref` has stopped (or never existed, or its node is down). Sent to each watcher. */
  | {
      readonly kind: 'deathWatchNotification'
      readonly ref: ActorRef
      readonly existenceConfirmed: boolean
      readonly addressTerminated: boolean
    }

/** The one `terminate` message (no allocation per stop). */
export const TERMINATE: SystemMessage = Object.freeze({ kind: 'terminate' as const })
