import { systemClock, type Clock } from './Clock.js'
import { HeartbeatHistory } from './internal/HeartbeatHistory.js'

/** Settings of a {@link PhiAccrualFailureDetector}; every field is optional (Akka's remote-watch defaults). */
export interface PhiAccrualFailureDetectorOptions {
  /** Phi at or above which the resource is considered unavailable. Default 10. */
  readonly threshold?: number
  /** Number of heartbeat intervals kept for the statistics. Default 200. */
  readonly maxSampleSize?: number
  /** Floor of the standard deviation, so that very regular heartbeats do not make phi jumpy. Default 100 ms. */
  readonly minStdDeviationMs?: number
  /** Extra silence tolerated on top of the mean interval (GC pauses, hiccups). Default 10 000 ms. */
  readonly acceptableHeartbeatPauseMs?: number
  /** Assumed interval before any history exists (usually the heartbeat interval). Default 1 000 ms. */
  readonly firstHeartbeatEstimateMs?: number
  /** Time source. Default {@link systemClock}. */
  readonly clock?: Clock
}

/**
 * The phi accrual failure detector (Hayashibara et al.), exactly as Akka computes it: phi is
 * `-log10` of the probability that the next heartbeat arrives later than now, under a normal
 * distribution fitted to the recent intervals, with the mean shifted by the acceptable pause. Phi
 * grows with silence; the resource is available while `phi < threshold`.
 *
 * Before the first heartbeat phi is 0 (nothing is monitored). The first heartbeat seeds the history
 * with `firstHeartbeatEstimate ± estimate/4`. A heartbeat that arrives while the detector says
 * unavailable is not recorded as an interval, so one long pause does not skew the statistics.
 *
 * @example
 * const fd = new PhiAccrualFailureDetector({ clock })
 * fd.heartbeat()          // on every heartbeat reply
 * if (!fd.isAvailable()) markUnreachable()
 */
export class PhiAccrualFailureDetector {
  /** Phi at and above which the node is considered unavailable. */
  readonly threshold: number
  /** Heartbeat intervals kept for the estimate. */
  readonly maxSampleSize: number
  /** Lower bound of the standard deviation used (keeps phi sane with very regular heartbeats). */
  readonly minStdDeviationMs: number
  /** A pause this long is tolerated on top of the mean interval. */
  readonly acceptableHeartbeatPauseMs: number
  /** The interval assumed before any was measured. */
  readonly firstHeartbeatEstimateMs: number
  readonly #clock: Clock
  #history: HeartbeatHistory
  #lastTimestamp: number | undefined = undefined

  /** @throws {RangeError} on a non-positive threshold, sample size, std deviation or estimate, or a negative pause. */
  constructor(options: PhiAccrualFailureDetectorOptions = {}) {
    this.threshold = options.threshold ?? 10
    this.maxSampleSize = options.maxSampleSize ?? 200
    this.minStdDeviationMs = options.minStdDeviationMs ?? 100
    this.acceptableHeartbeatPauseMs = options.acceptableHeartbeatPauseMs ?? 10_000
    this.firstHeartbeatEstimateMs = options.firstHeartbeatEstimateMs ?? 1_000
    this.#clock = options.clock ?? systemClock
    if (!(this.threshold > 0)) throw new RangeError('threshold must be > 0')
    if (!(Number.isInteger(this.maxSampleSize) && this.maxSampleSize > 0)) throw new RangeError('maxSampleSize must be a positive integer')
    if (!(this.minStdDeviationMs > 0)) throw new RangeError('minStdDeviationMs must be > 0')
    if (!(this.acceptableHeartbeatPauseMs >= 0)) throw new RangeError('acceptableHeartbeatPauseMs must be >= 0')
    if (!(this.firstHeartbeatEstimateMs > 0)) throw new RangeError('firstHeartbeatEstimateMs must be > 0')
    this.#history = new HeartbeatHistory(this.maxSampleSize)
  }

  /** True once a heartbeat was recorded. */
  get isMonitoring(): boolean {
    return this.#lastTimestamp !== undefined
  }

  /** Records a heartbeat at `clock.now()`. */
  heartbeat(): void {
    const now = this.#clock.now()
    const last = this.#lastTimestamp
    if (last === undefined) {
      const mean = this.firstHeartbeatEstimateMs
      const stdDeviation = mean / 4
      this.#history = new HeartbeatHistory(this.maxSampleSize)
      this.#history.add(mean - stdDeviation)
      this.#history.add(mean + stdDeviation)
    } else if (this.isAvailable(now)) {
      this.#history.add(now - last)
    }
    this.#lastTimestamp = now
  }

  /**
   * Holds the silence so far against nobody: phi restarts from 0 at `clock.now()` without an
   * interval being recorded. For a pause of this process (SIGSTOP, a long GC, a blocked event
   * loop), during which it could not read the heartbeats that were sent. No-op before the first
   * heartbeat.
   */
  resetSilence(): void {
    if (this.#lastTimestamp !== undefined) this.#lastTimestamp = this.#clock.now()
  }

  /** Current suspicion level (0 when not monitoring). */
  phi(now: number = this.#clock.now()): number {
    const last = this.#lastTimestamp
    if (last === undefined) return 0
    const timeDiff = now - last
    const mean = this.#history.mean + this.acceptableHeartbeatPauseMs
    const stdDeviation = Math.max(this.#history.stdDeviation, this.minStdDeviationMs)
    return PhiAccrualFailureDetector.phiOf(timeDiff, mean, stdDeviation)
  }

  /** `phi() < threshold`. */
  isAvailable(now: number = this.#clock.now()): boolean {
    return this.phi(now) < this.threshold
  }

  /**
   * Akka's phi: a logistic approximation of the normal cumulative distribution, precise enough and
   * free of `erf`. Exposed for tests and tools.
   */
  static phiOf(timeDiff: number, mean: number, stdDeviation: number): number {
    const y = (timeDiff - mean) / stdDeviation
    const e = Math.exp(-y * (1.5976 + 0.070566 * y * y))
    return timeDiff > mean ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e))
  }
}
