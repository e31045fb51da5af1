import { RemotingUnavailableError } from '../errors.js'
import type { RemoteProviderFactory } from './RemoteProvider.js'

/**
 * The factory `ActorSystem.create` uses when given `remote` options. Replace the body with the real
 * remoting (see `RemoteProvider.ts`).
 * @throws {RemotingUnavailableError} until remoting is implemented.
 */
export const createRemoteProvider: RemoteProviderFactory = (settings) =>
  Promise.reject(new RemotingUnavailableError(`remoting over ${settings.transport} is not implemented yet`))
