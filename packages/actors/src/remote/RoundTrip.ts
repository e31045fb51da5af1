/** The retransmission timeout never goes above this (a stale large estimate must not stall recovery for long). */
export const MAX_RESEND_AFTER_MS = 8000

/**
 * The round-trip time to one peer, smoothed as TCP does (RFC 6298: `srtt` and `rttvar`, gains 1/8
 * and 1/4), from the round trips the association can time: its handshake, heartbeat replies.
 * {@link resendAfterMs} is how long an answer may take before a copy is worth sending: over UDP,
 * a fixed short interval sends copies into a slow peer's socket buffer faster than it reads them,
 * and each is answered, which makes it slower still.
 */
export class RoundTrip {
  private srtt: number | undefined
  private rttvar = 0

  /** A measured round trip, in ms. */
  sample(ms: number): void {
    if (!(ms >= 0)) return
    if (this.srtt === undefined) {
      this.srtt = ms
      this.rttvar = ms / 2
      return
    }
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - ms)
    this.srtt = 0.875 * this.srtt + 0.125 * ms
  }

  /** The smoothed round trip in ms (undefined before the first sample). */
  get smoothedMs(): number | undefined {
    return this.srtt
  }

  /** `srtt + 4 rttvar`, at least `floorMs`, at most {@link MAX_RESEND_AFTER_MS}; `floorMs` before the first sample. */
  resendAfterMs(floorMs: number): number {
    if (this.srtt === undefined) return floorMs
    return Math.max(floorMs, Math.min(MAX_RESEND_AFTER_MS, Math.ceil(this.srtt + 4 * this.rttvar)))
  }
}
