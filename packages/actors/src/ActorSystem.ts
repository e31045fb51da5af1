import type { SecureContextOptions, TlsOptions } from 'node:tls'
import type { MessageRegistry } from '@helios/codec'
import type { DtlsOptions } from '@helios/transport'
import type { ActorOptions, Behavior } from './ActorContext.js'
import type { ActorPath } from './ActorPath.js'
import type { ActorRef } from './ActorRef.js'
import { ActorSelection } from './ActorSelection.js'
import type { ActorSystemEvents } from './ActorSystemEvents.js'
import type { Address } from './Address.js'
import type { AssociationInfo, RemoteMemoryInfo } from './AssociationInfo.js'
import type { Clock } from './Clock.js'
import type { Logger, LoggerOption, LoggerOptions, LogLevel } from './Logger.js'
import type { ActorSystemCore } from './internal/ActorSystemCore.js'
import { createActorSystem } from './internal/createActorSystem.js'
import { internalRef } from './internal/InternalActorRef.js'
import type { PhiAccrualFailureDetectorOptions } from './PhiAccrualFailureDetector.js'
import { TERMINATE } from './internal/SystemMessage.js'

/**
 * Remoting settings of {@link ActorSystemOptions.remote}. `host`/`port` are where the transport binds;
 * the advertised (public) address, used in every path sent to peers, defaults to them (with the bound
 * port when `port` is 0).
 */
export interface RemoteOptions {
  /** `'tcp'`, `'tls'` (TCP over node:tls), `'udp'`, or `'dtls'` (UDP secured with DTLS 1.2: the semantics of `'udp'`, certificates as for `'tls'`). */
  readonly transport: 'tcp' | 'tls' | 'udp' | 'dtls'
  /** Bind host, e.g. `'127.0.0.1'` or `'0.0.0.0'`. */
  readonly host: string
  /** Bind port; 0 picks a free one. */
  readonly port: number
  /** Public host in this node's address (NAT, containers). Default `host`. */
  readonly advertisedHost?: string
  /** Public port in this node's address. Default the bound port. */
  readonly advertisedPort?: number
  /** node:tls options for `'tls'` and `'dtls'` (key, cert, ca, requestCert…); certificates are verified by default. */
  readonly tls?: TlsOptions & SecureContextOptions
  /**
   * `'dtls'` only: path MTU (default 1280: messages are fragmented into records of at most 1,215
   * bytes; every node of a cluster must use the same), retransmission, caps and idle expiry of sessions.
   */
  readonly dtls?: DtlsOptions
  /** Heartbeat interval on the control lane. Default 1000 ms. */
  readonly heartbeatIntervalMs?: number
  /**
   * A handshake (and a connect) is given up when the peer said nothing for this long, or after
   * three times this whatever it said (a peer heard from whose answers never arrive: a path broken
   * one way). Messages queued for the peer are then dropped ('dropped' events), and a watch waiting
   * for it ends the association with a quarantine. An overloaded peer answers late but keeps
   * talking, so it is waited for. Default 20 000 ms (as Akka Artery's).
   */
  readonly handshakeTimeoutMs?: number
  /** Failure detector of remote nodes (Akka's remote-watch defaults). */
  readonly failureDetector?: Omit<PhiAccrualFailureDetectorOptions, 'clock'>
  /** Max frame size in bytes, checked on both sides. Default 256 KiB. */
  readonly maxFrameSize?: number
  /** Max message size after reassembly. Default 16 MiB. */
  readonly maxMessageSize?: number
  /** Bound of the outbound user queue per association; beyond it messages are dropped ('dropped' event). Default 16 384. */
  readonly outboundQueueSize?: number
  /**
   * Bytes the outbound user queue of one association holds at most (estimated: exact for binary
   * data and strings); beyond, messages are dropped and reported like the count bound
   * (`queue-full`). Default 32 MiB.
   */
  readonly outboundQueueBytes?: number
  /**
   * The node's memory budget for what peers can make it hold: incomplete fragmented messages and
   * user messages queued for peers that do not read. When it is spent, the incomplete message that
   * grew least recently (whoever's) is dropped to make room, or the new fragment or message is
   * refused and reported. Default 128 MiB.
   */
  readonly memoryBudgetBytes?: number
  /** What the incomplete fragmented messages of one peer may hold at most, within the budget. Default 2 x maxMessageSize (32 MiB). */
  readonly peerMemoryBytes?: number
  /** Unacknowledged system messages per association; overflow quarantines the association. Default 20 000. */
  readonly systemMessageBufferSize?: number
  /** Unacknowledged system messages are sent again after this long without an ack. Default 1000 ms. */
  readonly systemMessageResendIntervalMs?: number
  /** First reconnect delay after a lost connection (doubles up to the max, with jitter). Default 100 ms. */
  readonly reconnectMinBackoffMs?: number
  /** Longest reconnect delay. Default 5000 ms. */
  readonly reconnectMaxBackoffMs?: number
  /**
   * TCP/TLS: inbound connections still in their handshake (preamble, handshake request, a restart
   * claim waiting for proof), at most. When all are taken, a connection from a source address
   * holding fewer of them than the largest holder takes the oldest of that holder's (closed with a
   * `handshakeFailed`), others are refused: one host cannot keep the others out. Default 64.
   */
  readonly maxPendingInboundHandshakes?: number
  /**
   * TCP/TLS: inbound connections in their handshake from one source address (an IPv4 address, an
   * IPv6 /64), at most; beyond, its new connections are refused. Default half of
   * `maxPendingInboundHandshakes` (32).
   */
  readonly maxPendingInboundHandshakesPerSource?: number
  /**
   * TCP/TLS: while half or more of the `maxPendingInboundHandshakes` slots are taken, an accepted
   * connection that has not sent its preamble and handshake request within this is closed
   * (`handshakeFailed`: no preamble / no handshake request within ...); while fewer are, it gets
   * `handshakeTimeoutMs` (an overloaded peer can be late). Over TLS a TLS handshake not done within
   * this is closed too. A node sends both at once when it connects. Default 2000 ms (at most
   * `handshakeTimeoutMs`).
   */
  readonly preambleTimeoutMs?: number
  /** On terminate, how long to wait for the peers to ack the last system messages. Default 2000 ms. */
  readonly shutdownFlushTimeoutMs?: number
  /**
   * A peer whose process is gone while its host still answers is declared down at once: its
   * watchers get `Terminated` within a round trip instead of after the failure detector's bound.
   * TCP/TLS: its connection was lost (reset or closed) and its address then refuses a new
   * connection (ECONNREFUSED: nothing listens there). UDP: its port answers a datagram (a
   * heartbeat, a message) with ICMP port unreachable, seen on the peer's own socket
   * (`udpPeerSockets`). Not over DTLS (an ICMP message is not authenticated). The detector stays
   * the bound for a hung process, a dead host and a partition (where nothing answers at all).
   * Default true.
   */
  readonly downOnConnectionRefused?: boolean
  /**
   * What this node does when a peer tells it that it quarantined this node's uid (after a
   * partition, or a pause longer than the peer's failure detector allows). `'new-uid'` (default):
   * this node takes a new uid towards that peer only and associates again (watchers here of actors
   * there are told `Terminated`, refs obtained before stay dead, every other association is
   * untouched). `'none'`: no traffic with that peer until this process restarts. Either way a
   * `quarantined` event with `byPeer: true` is published and a warning is written.
   */
  readonly quarantineRecovery?: 'new-uid' | 'none'
  /**
   * When the heartbeat tick runs this much later than due, this process was paused (SIGSTOP, a
   * long GC, a blocked event loop): the failure detectors forget the silence instead of blaming the
   * peers for heartbeats that wait unread in the sockets. Default max(1000, 2 x heartbeatIntervalMs).
   */
  readonly pauseThresholdMs?: number
  /**
   * TCP/TLS: a user-lane connection this node opened closes after this long without traffic either
   * way, and is opened again when a message is sent. Default 60 000 ms.
   */
  readonly idleUserConnectionMs?: number
  /**
   * Remote nodes this node associates with at most (each costs up to 2 TCP connections, buffers and
   * timers). Beyond it, messages to another node go to dead letters and its handshakes are refused,
   * with a warning. Default 10 000.
   */
  readonly maxAssociations?: number
  /**
   * A quarantined association is forgotten this long after its quarantine (its uid stays refused,
   * through a bounded list; probes of its address stop, so a partition longer than this heals on the
   * next message sent there). Default 300 000 ms.
   */
  readonly forgetQuarantinedAfterMs?: number
  /**
   * TCP/TLS: outbound connects (with their TLS handshake) in flight at once, at most; more wait for
   * a slot. An eighth of them (at least 1) may go to addresses nobody vouched for (replies to a
   * sender path read from the wire, to a node this one never talked to), and at most 8 times that
   * many such connects wait; beyond, they fail at once and are retried with backoff. Default 128.
   */
  readonly maxConnectsInFlight?: number
  /**
   * udp and dtls: established peers that get a socket of their own, at most: connected to the peer,
   * on this node's port, with a receive buffer of its own (1 MiB asked), so that a peer that sends
   * faster than this node reads overflows its own buffer and the kernel drops no other peer's
   * datagrams with its own. Each costs a file descriptor; peers beyond it share the node's socket.
   * 0 turns it off (the port is then bound without SO_REUSEADDR; docs/SECURITY.md). Default 128;
   * 0 on Windows, whose SO_REUSEADDR does not hand a peer's datagrams to its connected socket.
   */
  readonly udpPeerSockets?: number
  /**
   * The registry of message classes sent to or received from other nodes (both nodes register the
   * same classes under the same manifests). Default: an empty one; primitives, plain objects,
   * arrays, Map, Set, Date, bigint, Uint8Array and actor refs need no registration.
   */
  readonly registry?: MessageRegistry
}

/** Options of {@link ActorSystem.create}. */
export interface ActorSystemOptions {
  /** Enables remoting. Without it the system is local-only and its address is `helios://name`. */
  readonly remote?: RemoteOptions
  /** Time source for ask timeouts and remoting timers. Default the real clock. */
  readonly clock?: Clock
  /** Messages an actor handles before another ready actor gets its turn. Default 100. */
  readonly throughput?: number
  /** Messages handled per event-loop turn before yielding to I/O (`setImmediate`). Default 10 000. */
  readonly messagesPerTurn?: number
  /**
   * Where the system reports trouble without a listener: dropped messages, peers that refuse
   * connections, refused handshakes, quarantined nodes, failed actors (see {@link LogLevel} for
   * what each level carries). The first occurrence of each kind is written at once, repeats as one
   * count per interval. Default: standard error at level `'warn'` (or `HELIOS_LOG_LEVEL`);
   * `'silent'` writes nothing, another level more or less; or pass your own {@link Logger}
   * (`console` works), or {@link LoggerOptions}.
   *
   * @example
   * await ActorSystem.create('A', { logger: 'silent' })
   * await ActorSystem.create('A', { logger: { level: 'info', sink: console } })
   */
  readonly logger?: LoggerOption
}

/** Options of {@link ActorSystem.ask}. */
export interface AskOptions {
  /** Time to wait for the reply. Default 5000 ms. */
  readonly timeoutMs?: number
}

/**
 * An actor system: a tree of actors under `/user`, dead letters, death watch, asks, and (with
 * `remote`) the node's endpoint for remoting.
 *
 * Semantics in brief: each actor handles one message at a time in arrival order (async behaviors
 * included); messages from one sender to one receiver keep their order; `stop` stops children first;
 * a behavior that throws or rejects stops its actor (see {@link Behavior}); undeliverable messages
 * are counted and published as `'deadLetter'` events.
 *
 * @example
 * const system = await ActorSystem.create('A')
 * const echo = system.actorOf((message, ctx) => { ctx.sender?.tell(message, ctx.self) }, 'echo')
 * await system.ask(echo, 'hi', { timeoutMs: 1000 }) // 'hi'
 * await system.terminate()
 */
export class ActorSystem {
  readonly #core: ActorSystemCore

  /** @internal use {@link ActorSystem.create}. */
  constructor(core: ActorSystemCore) {
    this.#core = core
    core.system = this
  }

  /**
   * Creates and starts an actor system (binding its transport when `remote` is given).
   * @throws {InvalidAddressError} when `name` is not a valid system name ([A-Za-z0-9][A-Za-z0-9_-]*).
   * @throws {RemotingUnavailableError} when remoting cannot be started.
   */
  static create(name: string, options: ActorSystemOptions = {}): Promise<ActorSystem> {
    return createActorSystem(name, options)
  }

  /** The system's name. */
  get name(): string {
    return this.#core.name
  }

  /** `helios://name` when local-only, else the advertised remote address (bound port when 0 was asked). */
  get address(): Address {
    return this.#core.address
  }

  /** The random 64-bit uid of this node incarnation. */
  get nodeUid(): bigint {
    return this.#core.nodeUid
  }

  /** The typed event API (also mirrored on node:diagnostics_channel `helios:<event>`). */
  get events(): ActorSystemEvents {
    return this.#core.events
  }

  /** The dead-letters ref (`/deadLetters`): whatever is told to it is counted as a dead letter. */
  get deadLetters(): ActorRef {
    return this.#core.deadLetters
  }

  /** Number of dead letters so far. */
  get deadLetterCount(): number {
    return this.#core.deadLetterCount
  }

  /** The clock given in the options (or the real one). */
  get clock(): Clock {
    return this.#core.clock
  }

  /** True once {@link ActorSystem.terminate} has completed. */
  get isTerminated(): boolean {
    return this.#core.isTerminated
  }

  /**
   * Creates a top-level actor under `/user`.
   * @throws {InvalidActorNameError} on a malformed, reserved (`$…`) or taken name.
   * @throws {ActorSystemTerminatedError} once terminate() was called.
   */
  actorOf<M = unknown>(behavior: Behavior<M>, name?: string, options?: ActorOptions): ActorRef {
    return this.#core.actorOf(behavior as Behavior<unknown>, name, options)
  }

  /** Stops a local actor (children first); see `ctx.stop`. */
  stop(ref: ActorRef): void {
    internalRef(ref).sendSystemMessage(TERMINATE)
  }

  /**
   * The ref for a path: the live local actor (uid checked when the path has one), a dead-letters ref
   * for that path, or a remote ref.
   * @throws {InvalidActorPathError} on a malformed string.
   */
  resolveActorRef(path: string | ActorPath): ActorRef {
    return this.#core.resolveActorRef(path)
  }

  /**
   * A selection of an absolute path, or of a path starting with `/` under this system's address.
   * @throws {InvalidActorPathError} on a malformed string.
   */
  actorSelection(path: string | ActorPath): ActorSelection {
    return new ActorSelection(this.#core, ActorSelection.pathOf(this.#core, path))
  }

  /**
   * Sends `message` to `ref` with a temporary actor (`/temp/$n`) as sender and resolves with the first
   * message that temporary actor receives.
   * @throws {AskTimeoutError} (rejects, code `ERR_ASK_TIMEOUT`) when no reply came within `timeoutMs`.
   * @throws {ActorSystemTerminatedError} (rejects) when the system terminates first.
   */
  ask<T = unknown>(ref: ActorRef, message: unknown, options: AskOptions = {}): Promise<T> {
    return this.#core.ask(ref, message, options.timeoutMs ?? 5000) as Promise<T>
  }

  /**
   * Stops every actor (user actors first, children before parents), fails pending asks, shuts
   * remoting down; resolves when all is done. Idempotent: every call returns the same promise.
   */
  terminate(): Promise<void> {
    return this.#core.terminate()
  }

  /** State and counters of each association with a remote node (empty for a local-only system). */
  associations(): AssociationInfo[] {
    return this.#core.provider?.associations() ?? []
  }

  /**
   * The remoting's memory budget and what it holds now (incomplete fragmented messages from peers,
   * user messages queued for them); undefined for a local-only system.
   */
  remoteMemory(): RemoteMemoryInfo | undefined {
    return this.#core.provider?.memoryInfo?.()
  }

  /** `ActorSystem[<address>]`. */
  toString(): string {
    return `ActorSystem[${this.#core.address.toString()}]`
  }

  /** @internal the core, for the remote provider and tests; see `internal/RemoteProvider.ts`. */
  static internalsOf(system: ActorSystem): ActorSystemCore {
    return system.#core
  }
}
