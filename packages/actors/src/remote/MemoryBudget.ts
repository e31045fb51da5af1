import type { Reassembler, ReassemblyBudget } from '@helios/codec'

/**
 * The one memory budget of a node for what its peers can make it hold: buffers of fragmented
 * messages being reassembled (per peer at most `peerBytes`) and user messages queued for peers
 * that do not read (per association at most `outboundQueueBytes`, checked by the association),
 * and the compression tables of associations (per peer bounded by the protocol; a peer's
 * advertisement that does not fit is ignored and not acked, so its paths travel in full).
 *
 * When the budget is full, room is made by evicting the incomplete inbound message that grew
 * least recently, whoever's it is: fragments a peer parks and never completes go first, a message
 * that is streaming in keeps growing and stays. When nothing can be evicted, the request is
 * refused: that one message fails (and is reported), nothing else does.
 */
export class MemoryBudget implements ReassemblyBudget {
  private used = 0
  private reassembly = 0
  private outbound = 0
  private compression = 0
  /** Reassemblers holding bytes now. */
  private readonly holders = new Set<Reassembler>()
  /** The most {@link usedBytes} ever was. */
  peakBytes = 0
  /** Incomplete messages evicted to make room, since the start. */
  evictions = 0
  /** Requests refused for lack of room (a fragment, or a user message to queue), since the start. */
  refusals = 0

  /**
   * @param totalBytes the node's budget.
   * @param peerBytes what one peer's incomplete messages may hold at most.
   */
  constructor(
    readonly totalBytes: number,
    readonly peerBytes: number,
  ) {}

  /** Bytes accounted now: reassembly buffers, queued outbound messages and compression tables. */
  get usedBytes(): number {
    return this.used
  }

  /** Bytes of incomplete inbound messages now. */
  get reassemblyBytes(): number {
    return this.reassembly
  }

  /** Estimated bytes of user messages queued for peers now. */
  get outboundBytes(): number {
    return this.outbound
  }

  /** Estimated bytes of the associations' compression tables now. */
  get compressionBytes(): number {
    return this.compression
  }

  /**
   * Room for `bytes` more of a peer's compression entries (counted once the association reports
   * its tables with {@link adjustCompression}): false when there is none, even after evictions.
   */
  admitCompression(bytes: number): boolean {
    if (!this.makeRoom(bytes)) {
      this.refusals++
      return false
    }
    return true
  }

  /** An association's compression tables grew (or shrank, negative) by `delta` estimated bytes. */
  adjustCompression(delta: number): void {
    this.used += delta
    this.compression += delta
    if (this.used > this.peakBytes) this.peakBytes = this.used
  }

  acquire(owner: Reassembler, bytes: number): boolean {
    if (owner.bufferedBytes + bytes > this.peerBytes || !this.makeRoom(bytes)) {
      this.refusals++
      return false
    }
    this.used += bytes
    this.reassembly += bytes
    this.holders.add(owner)
    if (this.used > this.peakBytes) this.peakBytes = this.used
    return true
  }

  release(owner: Reassembler, bytes: number): void {
    this.used -= bytes
    this.reassembly -= bytes
    if (owner.bufferedBytes === 0) this.holders.delete(owner)
  }

  /** Room for `bytes` of a queued user message: false when there is none, even after evictions. */
  acquireOutbound(bytes: number): boolean {
    if (!this.makeRoom(bytes)) {
      this.refusals++
      return false
    }
    this.used += bytes
    this.outbound += bytes
    if (this.used > this.peakBytes) this.peakBytes = this.used
    return true
  }

  /** A queued user message of `bytes` left the queue (written, handed over or dropped). */
  releaseOutbound(bytes: number): void {
    this.used -= bytes
    this.outbound -= bytes
  }

  /** Evicts the stalest incomplete messages until `bytes` more fit; false when they cannot. */
  private makeRoom(bytes: number): boolean {
    while (this.used + bytes > this.totalBytes) {
      let victim: Reassembler | undefined
      let stalest = Number.POSITIVE_INFINITY
      for (const r of this.holders) {
        const s = r.stalest
        if (s < stalest) {
          stalest = s
          victim = r
        }
      }
      if (victim === undefined || victim.evictStalest() === 0) return false
      this.evictions++
    }
    return true
  }
}
