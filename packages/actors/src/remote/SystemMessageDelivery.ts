/**
 * Reliable delivery of system messages (watch, unwatch, termination notices) over an association:
 * every message gets a sequence number, stays in a bounded resend buffer until the peer's
 * cumulative ack covers it, and is sent again after a reconnect or when acks stall. The receiver
 * delivers a sequence number only when it is the next one expected, so delivery is exactly once
 * and in order across reconnects.
 */

/** A system message waiting for its ack. */
export interface PendingSystemMessage<T> {
  readonly seq: number
  readonly message: T
}

/** Thrown by {@link SystemMessageSendBuffer.add} when the resend buffer is full: the association must be quarantined. */
export class SystemMessageOverflowError extends Error {
  readonly code = 'ERR_SYSTEM_MESSAGE_OVERFLOW'
  constructor(capacity: number) {
    super(`system message resend buffer full (${capacity} unacknowledged)`)
    this.name = 'SystemMessageOverflowError'
  }
}

/** The sending side: sequence numbers and the resend buffer. */
export class SystemMessageSendBuffer<T> {
  private nextSeq = 1
  private readonly unacked: PendingSystemMessage<T>[] = []
  private head = 0

  constructor(readonly capacity: number) {}

  /** Number of messages not yet acknowledged. */
  get size(): number {
    return this.unacked.length - this.head
  }

  /** Highest sequence number handed out so far (0 before the first). */
  get lastSeq(): number {
    return this.nextSeq - 1
  }

  /**
   * Assigns the next sequence number and keeps the message until acked.
   * @throws {SystemMessageOverflowError} when `capacity` messages are already unacknowledged.
   */
  add(message: T): PendingSystemMessage<T> {
    if (this.size >= this.capacity) throw new SystemMessageOverflowError(this.capacity)
    const entry = { seq: this.nextSeq++, message }
    this.unacked.push(entry)
    return entry
  }

  /** Drops every message with `seq <= cumulative`. Returns how many were released. */
  ack(cumulative: number): number {
    let n = 0
    while (this.head < this.unacked.length && this.unacked[this.head]!.seq <= cumulative) {
      this.head++
      n++
    }
    if (this.head > 1024 && this.head * 2 > this.unacked.length) {
      this.unacked.splice(0, this.head)
      this.head = 0
    }
    return n
  }

  /**
   * Numbers the unacknowledged messages 1, 2, 3, ... again, in order (the peer's side of the
   * association started afresh and expects 1 next).
   */
  renumber(): void {
    const pending = this.pending()
    this.unacked.length = 0
    this.head = 0
    this.nextSeq = 1
    for (const e of pending) this.unacked.push({ seq: this.nextSeq++, message: e.message })
  }

  /** The unacknowledged messages in order, for a resend. */
  pending(): PendingSystemMessage<T>[] {
    return this.unacked.slice(this.head)
  }
}

/** What the receiver does with an arriving sequence number. */
export type ReceiveDecision = 'deliver' | 'duplicate' | 'gap'

/** The receiving side: which sequence number comes next. */
export class SystemMessageReceiveState {
  private expected = 1

  /** The highest sequence number delivered so far: the cumulative ack to send. */
  get cumulativeAck(): number {
    return this.expected - 1
  }

  /**
   * `deliver` when `seq` is the next expected (and advances), `duplicate` when it was delivered
   * already (ack again, do not deliver), `gap` when earlier ones are missing (drop it and nack:
   * the sender resends from the cumulative ack on).
   */
  receive(seq: number): ReceiveDecision {
    if (seq === this.expected) {
      this.expected++
      return 'deliver'
    }
    return seq < this.expected ? 'duplicate' : 'gap'
  }
}
