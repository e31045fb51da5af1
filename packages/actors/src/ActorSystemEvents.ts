import { channel, type Channel } from 'node:diagnostics_channel'
import type { ActorRef } from './ActorRef.js'
import type { Address } from './Address.js'
import type { DeadLetter } from './DeadLetter.js'
import { debug } from './internal/debug.js'

/** An association with a remote node completed its uid handshake. */
export interface AssociatedEvent {
  /** This node. */
  readonly local: Address
  /** The remote node. */
  readonly remote: Address
  /** The remote node's uid (64-bit). */
  readonly remoteUid: bigint
  /** The uid this node presents to it (the node uid, unless that peer once quarantined it). */
  readonly localUid?: bigint
}

/** An association lost its connection(s) (it may reconnect; this is not a dead node). */
export interface DisassociatedEvent {
  /** This node. */
  readonly local: Address
  /** The remote node. */
  readonly remote: Address
  /** Its uid, when a handshake told it. */
  readonly remoteUid?: bigint | undefined
  /** Why the connection was lost. */
  readonly reason: string
}

/**
 * A remote node uid was quarantined: no traffic either way from now on. With `byPeer`, the other
 * way round: the remote node quarantined this node's uid `localUid` (and with
 * `quarantineRecovery: 'new-uid'`, this node talks to it as `newLocalUid` from now on).
 */
export interface QuarantinedEvent {
  /** This node. */
  readonly local: Address
  /** The remote node. */
  readonly remote: Address
  /** The quarantined uid (or, with `byPeer`, the peer's uid). */
  readonly remoteUid?: bigint | undefined
  /** Why. */
  readonly reason: string
  /** True when the remote node quarantined this node (not this node the remote one). */
  readonly byPeer?: boolean
  /** With `byPeer`: this node's uid that the peer quarantined. */
  readonly localUid?: bigint
  /** With `byPeer` and `quarantineRecovery: 'new-uid'`: the uid this node presents to that peer from now on. */
  readonly newLocalUid?: bigint
}

/** The failure detector declared a remote node unreachable. */
export interface UnreachableEvent {
  /** This node. */
  readonly local: Address
  /** The remote node. */
  readonly remote: Address
  /** Its uid. */
  readonly remoteUid?: bigint | undefined
  /** Phi when the node was declared unreachable. */
  readonly phi: number
}

/**
 * Why remoting dropped a message (see {@link DroppedEvent}):
 * - `queue-full`: the association's outbound queue (`outboundQueueSize`) was full;
 * - `not-serializable`: it could not be encoded (an unregistered class, a function...);
 * - `too-large`: larger than `maxMessageSize` (or a frame than `maxFrameSize`);
 * - `unknown-manifest`: it arrived as a class this node has not registered;
 * - `undecodable`: it arrived and failed to decode otherwise;
 * - `lost-in-transit`: messages from the peer that never arrived (a cut connection, lost datagrams);
 * - `unconfirmed`: messages sent to the peer and not confirmed when the association ended;
 * - `undelivered`: queued messages dropped when the association was quarantined or its handshake timed out;
 * - `misdirected`: it arrived for an actor of another node (never relayed).
 */
export type DropKind =
  | 'queue-full'
  | 'not-serializable'
  | 'too-large'
  | 'unknown-manifest'
  | 'undecodable'
  | 'lost-in-transit'
  | 'unconfirmed'
  | 'undelivered'
  | 'misdirected'

/** A message was dropped by remoting (full outbound queue, too large, quarantined peer…). */
export interface DroppedEvent {
  /** This node. */
  readonly local: Address
  /** The remote node, when the message was for or from one. */
  readonly remote?: Address | undefined
  /** Recipient path (serialization format) when known. */
  readonly recipient?: string | undefined
  /** Why, as a word to match on (the `reason` says it for people). */
  readonly kind: DropKind
  /** Why, for people (the `kind` says it for code). */
  readonly reason: string
  /** Encoded size in bytes when known. */
  readonly size?: number | undefined
  /** The error behind the drop, if any (e.g. a MessageTooLargeError). */
  readonly cause?: unknown
  /**
   * How many messages the event stands for, when more than one: messages from the peer that never
   * arrived, or sent to it and not confirmed when its association ended (recipient `(unknown)`).
   */
  readonly count?: number
}

/**
 * A connection to or from a remote node was refused before it could carry traffic: a TLS
 * handshake that failed (untrusted or wrong certificate, plaintext peer), a bad preamble (not a
 * Helios peer, or another protocol version), a handshake meant for another address, a handshake
 * timeout, too many connections in handshake.
 *
 * Rate-limited, so that a peer refused thousands of times cannot flood listeners: the first refusal
 * of a kind (the peer's source address, or its address when this node dialled, and the reason with
 * its numbers and addresses left out) is published at once; the refusals of that kind that follow
 * within the interval (the logger's `repeatIntervalMs`, default 10 s) are published as one event
 * when it ends, the latest of them with their `count`. Summing `count` (1 when absent) over the
 * events gives every refusal; pending counts are published at `terminate()`. More than 64 new
 * kinds in one interval are counted together (one event per direction).
 */
export interface HandshakeFailedEvent {
  /** This node. */
  readonly local: Address
  /** The peer: its address when it told one, else `ip:port`. */
  readonly remote: string
  /** True when the peer connected to us, false when we tried to reach it. */
  readonly inbound: boolean
  /** Why the connection was refused: which check failed. */
  readonly reason: string
  /** The error behind it, if any (e.g. a TLS handshake error). */
  readonly error?: unknown
  /**
   * How many refusals of this kind the event stands for, when it sums up the ones that followed the
   * first within an interval (this event is the latest of them); absent for one refusal.
   */
  readonly count?: number
}

/** A behavior threw or rejected; the actor was stopped (see the failure policy on {@link Behavior}). */
export interface ActorFailedEvent {
  /** The actor that failed (it is stopped). */
  readonly ref: ActorRef
  /** What its behavior threw or rejected with. */
  readonly error: unknown
  /** The message being handled when it failed. */
  readonly message: unknown
}

/** Event name → payload of {@link ActorSystemEvents}. */
export interface SystemEventMap {
  /** An association completed its handshake. */
  associated: AssociatedEvent
  /** An association lost its connection. */
  disassociated: DisassociatedEvent
  /** A node uid was quarantined (or this node, by a peer). */
  quarantined: QuarantinedEvent
  /** The failure detector gave up on a node. */
  unreachable: UnreachableEvent
  /** Remoting dropped one or more messages. */
  dropped: DroppedEvent
  /** A connection was refused before it carried traffic. */
  handshakeFailed: HandshakeFailedEvent
  /** A message could not be delivered. */
  deadLetter: DeadLetter
  /** A behavior threw or rejected; its actor was stopped. */
  actorFailed: ActorFailedEvent
}

/** One of the event names. */
export type SystemEventName = keyof SystemEventMap

/** A listener of event `K`. */
export type SystemEventListener<K extends SystemEventName> = (event: SystemEventMap[K]) => void

/** All event names. */
export const SystemEventNames: readonly SystemEventName[] = Object.freeze([
  'associated',
  'disassociated',
  'quarantined',
  'unreachable',
  'dropped',
  'handshakeFailed',
  'deadLetter',
  'actorFailed',
])

/**
 * Names of the `node:diagnostics_channel` channels: `helios:<event>` (e.g. `helios:associated`).
 * Each published message is `{ system: Address, event }` since channels are process-wide.
 */
export const DiagnosticsChannelNames: { readonly [K in SystemEventName]: `helios:${K}` } = Object.freeze({
  associated: 'helios:associated',
  disassociated: 'helios:disassociated',
  quarantined: 'helios:quarantined',
  unreachable: 'helios:unreachable',
  dropped: 'helios:dropped',
  handshakeFailed: 'helios:handshakeFailed',
  deadLetter: 'helios:deadLetter',
  actorFailed: 'helios:actorFailed',
})

const channels = {} as { [K in SystemEventName]: Channel }
for (const name of SystemEventNames) channels[name] = channel(DiagnosticsChannelNames[name])

/**
 * The typed event API of an actor system (`system.events`). Events are also published on
 * `node:diagnostics_channel` (see {@link DiagnosticsChannelNames}). A listener that throws does not
 * disturb the system: the error is written to the system's logger (level `error`).
 *
 * @example
 * system.events.on('deadLetter', (d) => console.log('undelivered', d.message, 'to', d.recipient.path.toString()))
 */
export class ActorSystemEvents {
  readonly #listeners: { [K in SystemEventName]?: SystemEventListener<K>[] } = {}
  readonly #system: () => Address
  readonly #onListenerError: (name: SystemEventName, error: unknown) => void

  /** @internal created by the system. */
  constructor(system: () => Address, onListenerError: (name: SystemEventName, error: unknown) => void = () => {}) {
    this.#system = system
    this.#onListenerError = onListenerError
  }

  /** Adds a listener; returns this. */
  on<K extends SystemEventName>(name: K, listener: SystemEventListener<K>): this {
    const list = (this.#listeners[name] ?? []) as SystemEventListener<K>[]
    // Copy on write: an emit in progress keeps iterating its own array.
    ;(this.#listeners as Record<string, unknown>)[name] = [...list, listener]
    return this
  }

  /** Adds a listener called at most once; returns this. */
  once<K extends SystemEventName>(name: K, listener: SystemEventListener<K>): this {
    const wrapper: SystemEventListener<K> = (event) => {
      this.off(name, wrapper)
      listener(event)
    }
    return this.on(name, wrapper)
  }

  /** Removes a listener (the first registration of it); returns this. */
  off<K extends SystemEventName>(name: K, listener: SystemEventListener<K>): this {
    const list = this.#listeners[name] as SystemEventListener<K>[] | undefined
    if (list === undefined) return this
    const i = list.indexOf(listener)
    if (i >= 0) (this.#listeners as Record<string, unknown>)[name] = [...list.slice(0, i), ...list.slice(i + 1)]
    return this
  }

  /** Number of listeners of `name` (diagnostics subscribers not counted). */
  listenerCount(name: SystemEventName): number {
    return this.#listeners[name]?.length ?? 0
  }

  /**
   * True when someone listens to `name` here or on its diagnostics channel: build a payload only then.
   * @internal for the system and remoting.
   */
  wants(name: SystemEventName): boolean {
    return (this.#listeners[name]?.length ?? 0) > 0 || channels[name].hasSubscribers
  }

  /**
   * Publishes an event to listeners and to the diagnostics channel.
   * @internal for the system and remoting; check {@link ActorSystemEvents.wants} first on hot paths.
   */
  emit<K extends SystemEventName>(name: K, event: SystemEventMap[K]): void {
    const list = this.#listeners[name] as SystemEventListener<K>[] | undefined
    if (list !== undefined) {
      for (const listener of list) {
        try {
          listener(event)
        } catch (error) {
          debug('listener of %s threw: %o', name, error)
          this.#onListenerError(name, error)
        }
      }
    }
    const ch = channels[name]
    if (ch.hasSubscribers) ch.publish({ system: this.#system(), event })
  }
}
