import type { Clock, TimerHandle } from '../Clock.js'

/** User acks go out at most this often while user messages arrive, and once this long after the last. */
export const USER_ACK_INTERVAL_MS = 100

/**
 * Accounting of user messages on one association, so that none is lost silently. User envelopes
 * are numbered per association (1, 2, 3, ...) but never resent (at most once), so:
 *
 * - the receiving side counts the numbers it never received below the highest it did: messages
 *   lost in transit (a connection cut with bytes in flight, frames dropped when a lane switched
 *   connections, lost datagrams; over UDP a late datagram fills its gap again);
 * - the sending side learns from the peer's user acks (every 100 ms while messages arrive, and
 *   once after the last) the highest number the peer received; what it wrote beyond that when the
 *   association ends is reported as unconfirmed (delivered in the last 100 ms, or lost: an upper
 *   bound).
 */
/**
 * How far ahead of the highest number received a user envelope's number may jump. Gaps come from
 * messages lost in transit (what was in flight on a cut connection, lost datagrams): far fewer than
 * this between two envelopes that arrive.
 */
export const MAX_USER_SEQ_JUMP = 1 << 20

export class UserMessageLedger {
  /** Highest number received from the peer (0: none yet). */
  highestReceived = 0
  /** Highest of our numbers the peer confirmed (0: none yet). */
  confirmed = 0
  private received = 0
  private reportedLost = 0
  private acked = 0
  private ackTimer: TimerHandle | undefined
  private readonly ackNow = (): void => {
    this.ackTimer = undefined
    this.sendAck()
  }

  /**
   * @param clock schedules the acks.
   * @param writeAck writes a user ack with the highest number received; false when it cannot go out now.
   */
  constructor(
    private readonly clock: Clock,
    private readonly writeAck: (seq: number) => boolean,
  ) {}

  /**
   * A user envelope numbered `seq` arrived: an ack follows within {@link USER_ACK_INTERVAL_MS}.
   * False (nothing counted) for a number no peer writes: not a positive integer, or more than
   * {@link MAX_USER_SEQ_JUMP} ahead of the highest received (it would make every number skipped
   * count as lost); the envelope is then refused.
   */
  receive(seq: number): boolean {
    if (!Number.isSafeInteger(seq) || seq <= 0 || seq > this.highestReceived + MAX_USER_SEQ_JUMP) return false
    this.received++
    if (seq > this.highestReceived) this.highestReceived = seq
    if (this.ackTimer === undefined) this.ackTimer = this.clock.setTimeout(this.ackNow, USER_ACK_INTERVAL_MS)
    return true
  }

  /** Acks now what arrived and was not acked yet (also before a shutdown). */
  sendAck(): void {
    const seq = this.highestReceived
    if (seq !== this.acked && this.writeAck(seq)) this.acked = seq
  }

  /** No more acks (the association ended). */
  stop(): void {
    if (this.ackTimer !== undefined) this.clock.clearTimeout(this.ackTimer)
    this.ackTimer = undefined
  }

  /** The peer confirmed our numbers up to `seq` (a user ack). */
  confirm(seq: number): void {
    if (seq > this.confirmed) this.confirmed = seq
  }

  /** Messages found missing since the last call (gaps below the highest number received). */
  takeLost(): number {
    const lost = this.highestReceived - this.received - this.reportedLost
    if (lost <= 0) return 0
    this.reportedLost += lost
    return lost
  }

  /** Of our messages numbered up to `lastSent`, how many the peer has not confirmed. */
  unconfirmed(lastSent: number): number {
    return Math.max(0, lastSent - this.confirmed)
  }
}
