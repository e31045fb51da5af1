import { ActorPath } from './ActorPath.js'
import type { ActorRef } from './ActorRef.js'
import type { ActorSystemCore } from './internal/ActorSystemCore.js'

/** Options of {@link ActorSelection.resolveOne}. */
export interface ResolveOneOptions {
  /** How long a remote node may take to answer. Default 5000 ms. Local lookups answer at once. */
  readonly timeoutMs?: number
}

/**
 * A path that may or may not denote a live actor, made by `system.actorSelection(path)`. The uid
 * in the path, if any, is ignored: a selection finds whichever incarnation lives there now.
 *
 * @example
 * const echo = await system.actorSelection('helios.tcp://B@127.0.0.1:5000/user/echo').resolveOne({ timeoutMs: 3000 })
 */
export class ActorSelection {
  /** The selected path (without uid). */
  readonly path: ActorPath
  readonly #core: ActorSystemCore

  /** @internal use `system.actorSelection`. */
  constructor(core: ActorSystemCore, path: ActorPath) {
    this.#core = core
    this.path = path.withUid(undefined)
  }

  /**
   * The ref of the live actor at the path (with its uid).
   * @throws {ActorNotFound} (rejects) when no live actor is there;
   * remote lookups may also reject with {@link AskTimeoutError} when the node does not answer in time.
   */
  resolveOne(options: ResolveOneOptions = {}): Promise<ActorRef> {
    return this.#core.resolveSelection(this.path, options.timeoutMs ?? 5000)
  }

  /** Sends to the path's current actor (dead letters when none). */
  tell(message: unknown, sender?: ActorRef): void {
    this.#core.resolveActorRef(this.path).tell(message, sender)
  }

  /** The path as a string. */
  toString(): string {
    return `ActorSelection[${this.path.toString()}]`
  }

  /** Parses an absolute path, or one starting with `/` relative to the system's address. @internal */
  static pathOf(core: ActorSystemCore, path: string | ActorPath): ActorPath {
    if (typeof path !== 'string') return path
    return path.startsWith('/') ? ActorPath.parse(`${core.address.toString()}${path}`) : ActorPath.parse(path)
  }
}
