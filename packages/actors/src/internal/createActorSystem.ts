import { ActorSystem, type ActorSystemOptions } from '../ActorSystem.js'
import { ActorSystemCore } from './ActorSystemCore.js'
import { createRemoteProvider } from './createRemoteProvider.js'
import type { RemoteProviderFactory } from './RemoteProvider.js'

/**
 * Builds and starts a system with a given remote provider factory (tests inject a fake provider;
 * `ActorSystem.create` passes the real one).
 */
export async function createActorSystem(
  name: string,
  options: ActorSystemOptions,
  factory: RemoteProviderFactory = createRemoteProvider,
): Promise<ActorSystem> {
  const core = new ActorSystemCore(name, options)
  const system = new ActorSystem(core)
  await core.start(factory)
  return system
}
