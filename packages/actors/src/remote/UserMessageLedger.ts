import type { Clock, TimerHandle } from '../Clock.js'

/** User acks go out at most this often while user messages arrive, and once this long after the last. */
export const USER_ACK_INTERVAL_MS = 100

/**
 * Accounting of user messages on one association, so that none is lost silently. User envelopes
 * are numbered per association (1, 2, 3, ...) but never resent (at most once), so:
 *
 * - the receiving side counts the numbers it never received below the highest it did: messages
 *   lost in transit (a connection cut with bytes in flight, frames dropped when a lane switched
 *   connections, lost datagrams). A gap counts only once it has waited {@link LOSS_GRACE_MS} for
 *   late envelopes: a late datagram, or envelopes still on a connection that the sender's lane
 *   moved away from (a move that waited 30 s in vain for the peer's ack), fill it again;
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

/** How long a gap in the numbering waits for late envelopes before its numbers count as lost. */
export const LOSS_GRACE_MS = 5000

/** Gaps remembered at most; beyond, the oldest is forgotten and counts as lost at the next report. */
export const MAX_GAPS = 1024

/** Numbers `from` to `to - 1` not received yet, noticed missing `at`. */
interface Gap {
  from: number
  to: number
  readonly at: number
}

export class UserMessageLedger {
  /** Highest number received from the peer (0: none yet). */
  highestReceived = 0
  /** Highest of our numbers the peer confirmed (0: none yet). */
  confirmed = 0
  /** Numbers missing below {@link highestReceived}, lowest (and oldest) first. */
  private readonly gaps: Gap[] = []
  /** Missing numbers of gaps forgotten beyond {@link MAX_GAPS}: lost, reported at the next {@link takeLost}. */
  private forgottenLost = 0
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
    if (seq > this.highestReceived) {
      if (seq > this.highestReceived + 1) this.noteGap(this.highestReceived + 1, seq)
      this.highestReceived = seq
    } else this.fill(seq)
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

  /**
   * Messages found missing since the last call: numbers below the highest received that waited
   * {@link LOSS_GRACE_MS} in vain (every missing number with `all`, when the association ends).
   */
  takeLost(all = false): number {
    const since = this.clock.now() - LOSS_GRACE_MS
    let lost = this.forgottenLost
    this.forgottenLost = 0
    let n = 0
    while (n < this.gaps.length) {
      const gap = this.gaps[n] as Gap
      if (!all && gap.at > since) break
      lost += gap.to - gap.from
      n++
    }
    if (n > 0) this.gaps.splice(0, n)
    return lost
  }

  private noteGap(from: number, to: number): void {
    this.gaps.push({ from, to, at: this.clock.now() })
    // Too many gaps to remember (a peer skipping every other number): the oldest counts now.
    if (this.gaps.length > MAX_GAPS) {
      const oldest = this.gaps.shift() as Gap
      this.forgottenLost += oldest.to - oldest.from
    }
  }

  /** Gaps remembered now (at most {@link MAX_GAPS}). */
  get gapCount(): number {
    return this.gaps.length
  }

  /** A number below the highest arrived: late, it fills its gap (a duplicate changes nothing). */
  private fill(seq: number): void {
    const gaps = this.gaps
    let lo = 0
    let hi = gaps.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const gap = gaps[mid] as Gap
      if (seq < gap.from) hi = mid - 1
      else if (seq >= gap.to) lo = mid + 1
      else {
        if (gap.to - gap.from === 1) gaps.splice(mid, 1)
        else if (seq === gap.from) gap.from++
        else if (seq === gap.to - 1) gap.to--
        else {
          gaps.splice(mid + 1, 0, { from: seq + 1, to: gap.to, at: gap.at })
          gap.to = seq
        }
        return
      }
    }
  }

  /** Of our messages numbered up to `lastSent`, how many the peer has not confirmed. */
  unconfirmed(lastSent: number): number {
    return Math.max(0, lastSent - this.confirmed)
  }
}
