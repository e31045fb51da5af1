import type { Clock } from '../Clock.js'
import { PhiAccrualFailureDetector, type PhiAccrualFailureDetectorOptions } from '../PhiAccrualFailureDetector.js'

/**
 * Liveness of one peer incarnation: the phi-accrual failure detector that its heartbeat replies
 * feed, and when it last answered. The association sends the heartbeats (one per tick) and asks
 * {@link available} whether the peer is still there.
 */
export class HeartbeatWatcher {
  private detector: PhiAccrualFailureDetector
  /** When the peer last answered a heartbeat (or the watch started). */
  lastReplyAt = 0

  constructor(
    private readonly options: Omit<PhiAccrualFailureDetectorOptions, 'clock'>,
    private readonly clock: Clock,
  ) {
    this.detector = new PhiAccrualFailureDetector({ ...options, clock })
  }

  /** Starts watching a newly established incarnation (a fresh history, seeded now). */
  start(): void {
    this.detector = new PhiAccrualFailureDetector({ ...this.options, clock: this.clock })
    this.replied()
  }

  /** A heartbeat reply of the watched incarnation arrived. */
  replied(): void {
    this.detector.heartbeat()
    this.lastReplyAt = this.clock.now()
  }

  /** This process was paused: the peer's silence meanwhile is not held against it. */
  forgivePause(): void {
    this.detector.resetSilence()
    this.lastReplyAt = this.clock.now()
  }

  /** Current phi (0 before the first reply). */
  get phi(): number {
    return this.detector.phi()
  }

  /** Phi at or above which the peer is declared unreachable. */
  get threshold(): number {
    return this.detector.threshold
  }

  /** False once phi reached the threshold. */
  available(): boolean {
    return this.detector.isAvailable()
  }
}
