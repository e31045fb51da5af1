/** Quarantined uids kept per address at most; the oldest is forgotten first. */
const UIDS_PER_ADDRESS = 16

interface Entry {
  /** Quarantined uids of that address, oldest first. */
  readonly uids: bigint[]
  /** When to probe the address next (a quarantine for unreachability only), or undefined. */
  probeAt: number | undefined
  probeIntervalMs: number
}

/**
 * The node uids this node has quarantined, per remote address: a handshake or a frame from one
 * of them is refused, whatever association object is current for the address. Bounded: at most
 * {@link UIDS_PER_ADDRESS} uids per address and `maxAddresses` addresses (the least recently
 * quarantined address is forgotten first).
 *
 * It also keeps the probe schedule of addresses quarantined for unreachability: after a
 * partition heals, nobody sends to a quarantined address, so the node probes it now and then
 * (a handshake that finds out whether the same incarnation, a new one, or nothing answers there).
 */
export class QuarantineList {
  private readonly entries = new Map<string, Entry>()

  /**
   * @param maxAddresses addresses kept at most.
   * @param maxProbeIntervalMs longest interval between two probes of an address.
   */
  constructor(
    private readonly maxAddresses = 10_000,
    private readonly maxProbeIntervalMs = 60_000,
  ) {}

  /** Number of addresses with quarantined uids. */
  get size(): number {
    return this.entries.size
  }

  /** True when `uid` is quarantined at `address`. */
  has(address: string, uid: bigint): boolean {
    const e = this.entries.get(address)
    return e !== undefined && e.uids.includes(uid)
  }

  /**
   * Adds `uid` for `address`. With `probeAfterMs`, the address is probed first after that long
   * (then at doubling intervals up to `maxProbeIntervalMs`).
   */
  add(address: string, uid: bigint, now: number, probeAfterMs?: number): void {
    let e = this.entries.get(address)
    if (e === undefined) {
      if (this.entries.size >= this.maxAddresses) {
        const oldest = this.entries.keys().next().value as string
        this.entries.delete(oldest)
      }
      e = { uids: [], probeAt: undefined, probeIntervalMs: 0 }
    } else {
      this.entries.delete(address) // re-inserted last: the least recently quarantined goes first
    }
    this.entries.set(address, e)
    if (!e.uids.includes(uid)) {
      e.uids.push(uid)
      if (e.uids.length > UIDS_PER_ADDRESS) e.uids.shift()
    }
    if (probeAfterMs !== undefined) {
      e.probeIntervalMs = Math.min(probeAfterMs, this.maxProbeIntervalMs)
      e.probeAt = now + e.probeIntervalMs
    }
  }

  /** Forgets every uid of `address` (this node starts over with that peer under a new uid of its own). */
  forget(address: string): void {
    this.entries.delete(address)
  }

  /** Stops probing `address` (an association with it is established again). */
  stopProbing(address: string): void {
    const e = this.entries.get(address)
    if (e !== undefined) e.probeAt = undefined
  }

  /** Addresses whose probe is due at `now`; each is rescheduled at twice its last interval. */
  dueProbes(now: number): string[] {
    let due: string[] | undefined
    for (const [address, e] of this.entries) {
      if (e.probeAt === undefined || e.probeAt > now) continue
      e.probeIntervalMs = Math.min(e.probeIntervalMs * 2, this.maxProbeIntervalMs)
      e.probeAt = now + e.probeIntervalMs
      ;(due ??= []).push(address)
    }
    return due ?? []
  }
}
