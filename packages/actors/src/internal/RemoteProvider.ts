import type { ActorPath } from '../ActorPath.js'
import type { ActorRef } from '../ActorRef.js'
import type { ActorSystem, RemoteOptions } from '../ActorSystem.js'
import type { ActorSystemEvents } from '../ActorSystemEvents.js'
import type { Address } from '../Address.js'
import type { AssociationInfo, RemoteMemoryInfo } from '../AssociationInfo.js'
import type { Clock } from '../Clock.js'
import type { InternalActorRef } from './InternalActorRef.js'
import type { SystemLog } from './SystemLog.js'

/**
 * THE REMOTING SEAM (read this first if you implement remoting).
 *
 * `ActorSystem.create(name, { remote })` calls `createRemoteProvider(settings, internals)` in
 * `src/internal/createRemoteProvider.ts` (today it throws `RemotingUnavailableError`). The factory
 * binds the transport, and resolves with a {@link RemoteProvider} whose `address` is the advertised
 * address (bound port when port 0). Only after that are the guardians created; the await continuation
 * runs before any further I/O callback, so inbound traffic handled after the factory resolved sees a
 * complete system.
 *
 * Outbound: the system asks the provider for a ref whenever it meets a path whose address is not its
 * own (`resolveRemoteRef`). That ref (a `RemoteActorRef extends InternalActorRef`, yours) does the
 * work: `tell(message, sender)` enqueues a user envelope on the association (never throws, never
 * blocks; full queue → 'dropped' event); `sendSystemMessage(m)` carries `watch` / `unwatch` /
 * `deathWatchNotification` reliably (ignore `terminate`: remote actors cannot be stopped from here).
 * A local actor watching a remote ref sends `{kind:'watch', watchee: remoteRef, watcher: localRef}`
 * through `remoteRef.sendSystemMessage`; remember the watched node for heartbeats.
 *
 * Inbound (through {@link SystemInternals}):
 * - user envelope → `internals.deliver(recipientPath, message, senderRef)` where `senderRef` is
 *   `internals.resolveActorRef(senderPath)` (refs inside messages likewise, at any depth);
 * - system message `watch`/`unwatch` from a remote watcher → resolve the local watchee with
 *   `internals.resolveActorRef(path)` and call `watchee.sendSystemMessage({kind, watchee, watcher: remoteRef})`;
 *   when it stops, the cell calls `remoteRef.sendSystemMessage({kind:'deathWatchNotification', ref, ...})`
 *   which you send back; an already-dead or unknown watchee answers the same way at once;
 * - `deathWatchNotification` from a remote node → `localWatcher.sendSystemMessage(notification)` with
 *   `ref` resolved from the path (uid included);
 * - node declared down (phi ≥ threshold), quarantined, or restarted (new uid at handshake) →
 *   `internals.addressTerminated(address)`: every local watcher of a ref on that address gets a
 *   Terminated (addressTerminated = true), and watchers from that address are forgotten;
 * - selection request from a remote node (Identify) → `internals.findLocalActor(path)`.
 * Events: `internals.events.emit('associated' | 'disassociated' | 'quarantined' | 'unreachable' | 'dropped', …)`
 * (guard payload construction with `internals.events.wants(name)`).
 * `system.terminate()` stops every local actor first, then awaits `provider.shutdown()`.
 */
export interface RemoteProvider {
  /** This node's advertised address (`helios.tcp://name@publicHost:boundPort`); becomes `system.address`. */
  readonly address: Address
  /**
   * A ref for a path on another node (its address is not this system's). Must not throw and must not
   * do I/O synchronously; may cache refs per path. Unknown or quarantined nodes still get a ref whose
   * messages are dropped or dead-lettered.
   */
  resolveRemoteRef(path: ActorPath): InternalActorRef
  /**
   * `actorSelection(path).resolveOne({ timeoutMs })` for a remote path: ask the node whether a live
   * actor sits at `path` (Akka's Identify), resolve with its ref (uid included), reject with
   * `ActorNotFound` when it answers none, or `AskTimeoutError` / `ActorNotFound` on timeout.
   */
  resolveSelection(path: ActorPath, timeoutMs: number): Promise<ActorRef>
  /** Closes associations and the transport; called by `terminate()` after all actors stopped. */
  shutdown(): Promise<void>
  /** State and counters of every association. */
  associations(): AssociationInfo[]
  /** The node's memory budget and what it holds now (optional: a provider without one leaves it out). */
  memoryInfo?(): RemoteMemoryInfo
  /**
   * Why the node of a remote `ref` cannot be reached, when the remoting knows (the last connect
   * failure or refusal, a handshake without answer, a quarantine): added to the message of an ask
   * that timed out towards it. Undefined for a local ref or a node that answers.
   */
  unreachableReason?(ref: ActorRef): string | undefined
}

/** What the system offers its remote provider (and tests). Implemented by `ActorSystemCore`. */
export interface SystemInternals {
  /** The public facade. */
  readonly system: ActorSystem
  /** This system's name. */
  readonly name: string
  /** The 64-bit random uid of this node incarnation (for the handshake). */
  readonly nodeUid: bigint
  /** The system's clock (use it for heartbeats, timeouts, the failure detector). */
  readonly clock: Clock
  /** The event API (`emit`, `wants`). */
  readonly events: ActorSystemEvents
  /** The system's log (the `logger` option): what a user sees without a listener. */
  readonly log: SystemLog
  /** This system's address (throws before the provider resolved). */
  readonly address: Address
  /** True for this system's address or its local form `helios://name`. */
  isLocalAddress(address: Address): boolean
  /**
   * A ref for any path: the local actor (if alive and the uid matches when given), a dead-letter ref
   * for that path, or the provider's remote ref.
   * @throws {InvalidActorPathError} when given a malformed string.
   */
  resolveActorRef(path: string | ActorPath): InternalActorRef
  /** The live local actor (or temp ask ref) at a local path, uid checked when the path has one. */
  findLocalActor(path: ActorPath): InternalActorRef | undefined
  /**
   * Delivers an inbound user message to a local path (never forwarded to another node): to the
   * actor, or to dead letters when there is none or the uid does not match.
   * @throws {InvalidActorPathError} when given a malformed string.
   */
  deliver(recipient: string | ActorPath, message: unknown, sender: ActorRef | undefined): void
  /** The node at `address` is gone: see {@link RemoteProvider} doc. No-op for the own address. */
  addressTerminated(address: Address): void
  /**
   * `system.ask`, optionally telling the message again at doubling intervals from
   * `options.resendEveryMs` until the reply (for idempotent messages over lossy transports, e.g.
   * Identify over UDP), but not while `options.stillWaiting()` says the last one has not left this
   * node yet.
   */
  ask(target: ActorRef, message: unknown, timeoutMs: number, options?: AskOptions): Promise<unknown>
  /** Counts and publishes an undeliverable message. */
  deadLetter(message: unknown, sender: ActorRef | undefined, recipient: ActorRef): void
  /**
   * Runs the actors that have messages now, instead of in the microtask the dispatcher queued.
   * Call only from the top of an I/O callback, never from inside an actor: the remoting calls it
   * once a socket read is decoded, so that replies are written before the callback unwinds.
   */
  runActors(): void
}

/** Creates and binds the remote provider; see {@link RemoteProvider}. */
export type RemoteProviderFactory = (settings: RemoteOptions, internals: SystemInternals) => Promise<RemoteProvider>

/** Options of {@link SystemInternals.ask}. */
export interface AskOptions {
  /**
   * Tell the message again at doubling intervals from this (idempotent messages only); a function
   * is asked again before each resend (e.g. the peer's current retransmission timeout).
   */
  readonly resendEveryMs?: number | (() => number)
  /** While it returns true, the last message told has not left this node yet: nothing is told again. */
  readonly stillWaiting?: () => boolean
  /** The timeout keeps the process alive (default true, as `system.ask`). */
  readonly keepAlive?: boolean
}
