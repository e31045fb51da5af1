import type { ActorRef } from './ActorRef.js'
import type { ActorSystem } from './ActorSystem.js'

/**
 * What an actor does with one message. May be async: the actor handles its next message only after
 * the returned promise settles, so messages are handled one at a time and in order.
 *
 * Failure policy: if the behavior throws or its promise rejects, the actor is stopped (its children
 * first), its watchers get {@link Terminated}, its pending messages go to dead letters, and the error
 * is published as the system's `'actorFailed'` event (and on `debuglog('helios')`). There is no
 * restart: create a new actor (it gets a new uid) if you want one.
 *
 * @example
 * const echo: Behavior = (message, ctx) => { ctx.sender?.tell(message, ctx.self) }
 */
export type Behavior<M = unknown> = (message: M, ctx: ActorContext) => void | PromiseLike<void>

/** Options for `actorOf`. */
export interface ActorOptions {
  /**
   * Maximum number of queued user messages; beyond it a message goes to dead letters. Unbounded when
   * omitted.
   */
  readonly mailboxCapacity?: number
}

/** The actor's view of itself and the world while it handles a message. One object per actor. */
export interface ActorContext {
  /** This actor's ref. */
  readonly self: ActorRef
  /** The sender of the message being handled; undefined when it was sent without one. */
  readonly sender: ActorRef | undefined
  /** The actor system. */
  readonly system: ActorSystem
  /** This actor's parent (the `/user` guardian for top-level actors). */
  readonly parent: ActorRef
  /** This actor's live children. */
  readonly children: readonly ActorRef[]
  /**
   * Watches `ref`: a {@link Terminated} for it arrives once it stops (immediately if it is already
   * dead or unknown). Idempotent; returns `ref`.
   */
  watch(ref: ActorRef): ActorRef
  /** Stops watching `ref`; no Terminated for it is delivered afterwards. Returns `ref`. */
  unwatch(ref: ActorRef): ActorRef
  /**
   * Stops `ref` (a child or any local actor), or this actor when called without argument. The
   * current message completes; then children stop first, then the actor; messages still queued go
   * to dead letters.
   */
  stop(ref?: ActorRef): void
  /**
   * Creates a child actor. `name` must be a valid path element not starting with `$` and not used by
   * a live sibling; omitted, a unique `$…` name is generated.
   * @throws {InvalidActorNameError} on a malformed, reserved or taken name.
   */
  actorOf<M = unknown>(behavior: Behavior<M>, name?: string, options?: ActorOptions): ActorRef
}
