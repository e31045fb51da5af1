import type { ActorRef } from '../ActorRef.js'
import type { SystemMessage } from '../internal/SystemMessage.js'
import { SystemMessageSendBuffer, type PendingSystemMessage } from './SystemMessageDelivery.js'
import { WIRE_DEATH_WATCH_NOTIFICATION, WIRE_UNWATCH, WIRE_WATCH } from './SystemMessageWire.js'

/** A system message as it goes on the wire: recipient and sender paths and the message array. */
export interface WireSystemMessage {
  readonly recipient: string
  readonly sender: string
  readonly message: readonly number[]
}

/**
 * The wire form of a system message for the actor at `recipient` (its wire path), or undefined for
 * one that stays local (terminate).
 */
export function toWireSystemMessage(
  recipient: string,
  message: SystemMessage,
  wirePathOf: (ref: ActorRef) => string,
): WireSystemMessage | undefined {
  switch (message.kind) {
    case 'watch':
      return { recipient, sender: wirePathOf(message.watcher), message: [WIRE_WATCH] }
    case 'unwatch':
      return { recipient, sender: wirePathOf(message.watcher), message: [WIRE_UNWATCH] }
    case 'deathWatchNotification':
      return { recipient, sender: wirePathOf(message.ref), message: [WIRE_DEATH_WATCH_NOTIFICATION, message.existenceConfirmed ? 1 : 0] }
    default:
      return undefined
  }
}

/**
 * The sending half of reliable system-message delivery on one association: numbers each message,
 * keeps it until the peer's cumulative ack covers it, and sends everything unacknowledged again
 * when asked (a confirmed reconnect), on a nack (at most once per resend interval), or when acks
 * stall (datagrams only: a live TCP connection loses nothing).
 */
export class SystemMessageSender {
  private readonly buffer: SystemMessageSendBuffer<WireSystemMessage>
  private lastProgressAt = 0
  private lastNackResendAt = -Infinity

  /**
   * @param capacity unacknowledged messages at most; one more throws (the association is quarantined).
   * @param resendIntervalMs minimum time between two resends triggered by nacks or stalled acks.
   * @param transmit writes one message (with its sequence number) on the control lane.
   */
  constructor(
    capacity: number,
    private readonly resendIntervalMs: number,
    private readonly transmit: (seq: number, message: WireSystemMessage) => void,
  ) {
    this.buffer = new SystemMessageSendBuffer(capacity)
  }

  /** Messages not yet acknowledged. */
  get size(): number {
    return this.buffer.size
  }

  /**
   * Numbers `message` and keeps it until acked.
   * @throws {SystemMessageOverflowError} when `capacity` messages are unacknowledged.
   */
  add(message: WireSystemMessage): PendingSystemMessage<WireSystemMessage> {
    return this.buffer.add(message)
  }

  /** The peer's cumulative ack. */
  acked(cumulative: number, now: number): void {
    if (this.buffer.ack(cumulative) > 0) this.lastProgressAt = now
  }

  /** The peer's nack: acks what it covers and resends the rest, at most once per resend interval. */
  nacked(cumulative: number, now: number): void {
    this.acked(cumulative, now)
    if (now - this.lastNackResendAt < this.resendIntervalMs) return
    this.lastNackResendAt = now
    this.resendAll(now)
  }

  /** The peer's side started afresh: what it did not ack is numbered from 1 again (sent by the next {@link resendAll}). */
  renumber(): void {
    this.buffer.renumber()
  }

  /** Sends every unacknowledged message again, in order; returns how many. */
  resendAll(now: number): number {
    const pending = this.buffer.pending()
    for (const e of pending) this.transmit(e.seq, e.message)
    this.lastProgressAt = now
    return pending.length
  }

  /** True when messages wait and no ack progressed for the resend interval. */
  stalled(now: number): boolean {
    return this.buffer.size > 0 && now - this.lastProgressAt >= this.resendIntervalMs
  }
}
