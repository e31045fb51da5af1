import type { MessageRegistry } from '@helios/codec'
import type { ActorRef } from '../ActorRef.js'

/**
 * Asks a node whether a live actor sits at the recipient path (Akka's Identify); remoting answers
 * it itself with an {@link ActorIdentity}, it never reaches the actor.
 */
export class Identify {
  constructor(readonly id: number) {}
}

/** The answer to {@link Identify}: the actor's ref (with uid), or null when there is none. */
export class ActorIdentity {
  constructor(
    readonly id: number,
    readonly ref: ActorRef | null,
  ) {}
}

/** Registers the classes remoting itself sends, unless the registry already knows them. */
export function registerBuiltInMessages(registry: MessageRegistry): void {
  if (registry.manifestOf(Identify) === undefined) registry.register(Identify, 'helios.Identify', { fields: ['id'] })
  if (registry.manifestOf(ActorIdentity) === undefined) registry.register(ActorIdentity, 'helios.ActorIdentity', { fields: ['id', 'ref'] })
}
