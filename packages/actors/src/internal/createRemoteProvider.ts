import { Remoting } from '../remote/Remoting.js'
import type { RemoteProviderFactory } from './RemoteProvider.js'

/**
 * The factory `ActorSystem.create` uses when given `remote` options: binds the transport and
 * starts the node's remoting (see `../remote/Remoting.ts`).
 * @throws {RemotingUnavailableError} (rejects) when the transport cannot be bound.
 */
export const createRemoteProvider: RemoteProviderFactory = (settings, internals) => Remoting.start(settings, internals)
