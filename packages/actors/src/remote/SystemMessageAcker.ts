import type { AckPdu, NackPdu } from '@helios/codec'
import { SystemMessageReceiveState, type ReceiveDecision } from './SystemMessageDelivery.js'

const NOTHING = 0
const ACK = 1
const NACK = 2

/**
 * The receiving half of reliable system-message delivery on one association: decides what to do
 * with each sequence number and owes the peer one ack (or, after a gap, one nack) per flush,
 * however many envelopes arrived since the last one.
 */
export class SystemMessageAcker {
  private readonly state = new SystemMessageReceiveState()
  private owed: typeof NOTHING | typeof ACK | typeof NACK = NOTHING

  /** `deliver` the next expected number, `duplicate` an old one (acked again), `gap` a later one (nacked). */
  receive(seq: number): ReceiveDecision {
    const decision = this.state.receive(seq)
    if (decision === 'gap') this.owed = NACK
    else if (this.owed === NOTHING) this.owed = ACK
    return decision
  }

  /** True when an ack or nack is owed. */
  get owes(): boolean {
    return this.owed !== NOTHING
  }

  /** The ack or nack owed (once), or undefined. */
  take(): AckPdu | NackPdu | undefined {
    const owed = this.owed
    this.owed = NOTHING
    if (owed === NOTHING) return undefined
    const cumulative = this.state.cumulativeAck
    return owed === NACK ? { type: 'nack', cumulative, missing: [] } : { type: 'ack', cumulative, selective: [] }
  }
}
