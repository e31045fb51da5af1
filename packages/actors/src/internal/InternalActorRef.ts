import { ActorRef } from '../ActorRef.js'
import type { SystemMessage } from './SystemMessage.js'

/**
 * Every ref the system creates is an InternalActorRef: it can also receive {@link SystemMessage}s.
 * The remoting engineer's `RemoteActorRef` extends this class: its `tell` enqueues a user envelope on
 * the association, its `sendSystemMessage` puts watch / unwatch / deathWatchNotification on the
 * reliable system-message channel.
 */
export abstract class InternalActorRef extends ActorRef {
  /** True when the ref lives in this process (a cell, a temp ref, dead letters). */
  abstract readonly isLocal: boolean
  /** Delivers a system message; never throws. */
  abstract sendSystemMessage(message: SystemMessage): void
}

/** Casts a public ref to its internal side. Every ActorRef made by this package is an InternalActorRef. */
export function internalRef(ref: ActorRef): InternalActorRef {
  return ref as InternalActorRef
}
