import { channel, type Channel } from 'node:diagnostics_channel'
import type { ActorRef } from './ActorRef.js'
import type { Address } from './Address.js'
import type { DeadLetter } from './DeadLetter.js'
import { debug } from './internal/debug.js'

/** An association with a remote node completed its uid handshake. */
export interface AssociatedEvent {
  readonly local: Address
  readonly remote: Address
  /** The remote node's uid (64-bit). */
  readonly remoteUid: bigint
  /** The uid this node presents to it (the node uid, unless that peer once quarantined it). */
  readonly localUid?: bigint
}

/** An association lost its connection(s) (it may reconnect; this is not a dead node). */
export interface DisassociatedEvent {
  readonly local: Address
  readonly remote: Address
  readonly remoteUid?: bigint | undefined
  readonly reason: string
}

/**
 * A remote node uid was quarantined: no traffic either way from now on. With `byPeer`, the other
 * way round: the remote node quarantined this node's uid `localUid` (and with
 * `quarantineRecovery: 'new-uid'`, this node talks to it as `newLocalUid` from now on).
 */
export interface QuarantinedEvent {
  readonly local: Address
  readonly remote: Address
  readonly remoteUid?: bigint | undefined
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
  readonly local: Address
  readonly remote: Address
  readonly remoteUid?: bigint | undefined
  /** Phi when the node was declared unreachable. */
  readonly phi: number
}

/** A message was dropped by remoting (full outbound queue, too large, quarantined peer…). */
export interface DroppedEvent {
  readonly local: Address
  readonly remote?: Address | undefined
  /** Recipient path (serialization format) when known. */
  readonly recipient?: string | undefined
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
 */
export interface HandshakeFailedEvent {
  readonly local: Address
  /** The peer: its address when it told one, else `ip:port`. */
  readonly remote: string
  /** True when the peer connected to us, false when we tried to reach it. */
  readonly inbound: boolean
  readonly reason: string
  readonly error?: unknown
}

/** A behavior threw or rejected; the actor was stopped (see the failure policy on {@link Behavior}). */
export interface ActorFailedEvent {
  readonly ref: ActorRef
  readonly error: unknown
  /** The message being handled when it failed. */
  readonly message: unknown
}

/** Event name → payload of {@link ActorSystemEvents}. */
export interface SystemEventMap {
  associated: AssociatedEvent
  disassociated: DisassociatedEvent
  quarantined: QuarantinedEvent
  unreachable: UnreachableEvent
  dropped: DroppedEvent
  handshakeFailed: HandshakeFailedEvent
  deadLetter: DeadLetter
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
 * disturb the system: the error is reported with `process.emitWarning` and debuglog.
 *
 * @example
 * system.events.on('deadLetter', (d) => console.log('undelivered', d.message, 'to', d.recipient.path.toString()))
 */
export class ActorSystemEvents {
  readonly #listeners: { [K in SystemEventName]?: SystemEventListener<K>[] } = {}
  readonly #system: () => Address

  /** @internal created by the system. */
  constructor(system: () => Address) {
    this.#system = system
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
          process.emitWarning(`helios: a '${name}' listener threw: ${String(error)}`, { code: 'HELIOS_LISTENER_ERROR' })
        }
      }
    }
    const ch = channels[name]
    if (ch.hasSubscribers) ch.publish({ system: this.#system(), event })
  }
}
