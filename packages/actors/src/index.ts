/**
 * @helios/actors: an Akka-style actor system for Node.js (local core; remoting plugs in through
 * `src/internal/RemoteProvider.ts`).
 * @packageDocumentation
 */
export type { ActorContext, ActorOptions, Behavior } from './ActorContext.js'
export { ActorPath, isValidPathElement } from './ActorPath.js'
export { ActorRef } from './ActorRef.js'
export { ActorSelection, type ResolveOneOptions } from './ActorSelection.js'
export { ActorSystem, type ActorSystemOptions, type AskOptions, type RemoteOptions } from './ActorSystem.js'
export {
  ActorSystemEvents,
  DiagnosticsChannelNames,
  SystemEventNames,
  type ActorFailedEvent,
  type AssociatedEvent,
  type DisassociatedEvent,
  type DropKind,
  type DroppedEvent,
  type HandshakeFailedEvent,
  type QuarantinedEvent,
  type SystemEventListener,
  type SystemEventMap,
  type SystemEventName,
  type UnreachableEvent,
} from './ActorSystemEvents.js'
export type { AssociationInfo, RemoteMemoryInfo } from './AssociationInfo.js'
export { Address, AddressProtocols, type AddressProtocol } from './Address.js'
export { ManualClock, systemClock, type Clock, type TimerHandle, type TimerOptions } from './Clock.js'
export { DeadLetter } from './DeadLetter.js'
// The registry of message classes (`remote.registry`), so that an application that depends on
// @helios/actors alone can make one.
export { MessageRegistry, type MessageClass, type RegisterOptions } from '@helios/codec'
/** What {@link AssociationInfo.compression} reports (re-exported from @helios/codec). */
export type { CompressionStats } from '@helios/codec'
/** The DTLS settings of `remote.dtls` (re-exported from @helios/transport). */
export type { DtlsOptions } from '@helios/transport'
export { LogLevels, type Logger, type LoggerOption, type LoggerOptions, type LogLevel } from './Logger.js'
export {
  ActorNotFound,
  ActorSystemTerminatedError,
  AskTimeoutError,
  HeliosActorError,
  InvalidActorNameError,
  InvalidActorPathError,
  InvalidAddressError,
  RemotingUnavailableError,
} from './errors.js'
export { PhiAccrualFailureDetector, type PhiAccrualFailureDetectorOptions } from './PhiAccrualFailureDetector.js'
export { PoisonPill } from './PoisonPill.js'
export { Terminated } from './Terminated.js'
