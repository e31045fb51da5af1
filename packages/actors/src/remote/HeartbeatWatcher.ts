import type { Clock } from '../Clock.js'
import { PhiAccrualFailureDetector, type PhiAccrualFailureDetectorOptions } from '../PhiAccrualFailureDetector.js'

/** While the peer talks, a heartbeat still goes every this many intervals (its round trip is measured). */
const HEARTBEAT_EVEN_IF_HEARD_EVERY = 10
/** After an association forms, its peer is monitored this many heartbeat intervals even if nothing there is watched. */
const MONITOR_AFTER_ASSOCIATED_INTERVALS = 10

/**
 * Liveness of one peer incarnation, and whether anyone needs it. A node monitors a peer only while
 * one of its actors watches an actor there (and for a few intervals after the association
 * formed), as Akka's remote watch does: heartbeats to every association cost every node O(N)
 * frames per interval whatever it does.
 *
 * While monitoring, the phi-accrual failure detector is fed once per tick: by any frame that came
 * from the peer since the last tick (traffic counts, no heartbeat frame needed), or else by the
 * reply to the heartbeat this tick sends. A peer monitored again after a quiet time starts with
 * a fresh history, so old silence is not held against it.
 */
export class HeartbeatWatcher {
  private detector: PhiAccrualFailureDetector
  /** When the peer last gave a sign of life (a heartbeat reply, traffic, or the start). */
  lastReplyAt = 0
  /** Something arrived from the peer since the last tick. */
  heard = false
  /** Watches of actors at the peer, by path without uid. */
  private readonly watched = new Map<string, number>()
  private monitorUntil = 0
  private monitoringNow = false
  private heartbeatSentAt: number | undefined
  private heardTicks = 0
  /** The longest heartbeat round trip measured (ms): how long the control lane made a heartbeat wait. */
  maxRoundTripMs = 0

  constructor(
    private readonly options: Omit<PhiAccrualFailureDetectorOptions, 'clock'>,
    private readonly clock: Clock,
    private readonly heartbeatIntervalMs: number,
  ) {
    this.detector = new PhiAccrualFailureDetector({ ...options, clock })
  }

  /** Starts watching a newly established incarnation: monitored for a few intervals, with a fresh history. */
  start(): void {
    this.monitorUntil = this.clock.now() + MONITOR_AFTER_ASSOCIATED_INTERVALS * this.heartbeatIntervalMs
    this.restart()
  }

  /** An actor here watches `path` at the peer. */
  watch(path: string): void {
    const key = withoutUid(path)
    this.watched.set(key, (this.watched.get(key) ?? 0) + 1)
  }

  /** A watch of `path` was undone. */
  unwatch(path: string): void {
    const key = withoutUid(path)
    const n = (this.watched.get(key) ?? 0) - 1
    if (n > 0) this.watched.set(key, n)
    else this.watched.delete(key)
  }

  /** The actor at `path` stopped (its watches ended). */
  ended(path: string): void {
    this.watched.delete(withoutUid(path))
  }

  /** Actors at the peer watched from here. */
  get watchedActors(): number {
    return this.watched.size
  }

  /**
   * Once per heartbeat interval: whether the peer is monitored now, feeding the detector with the
   * traffic heard since the last tick. Returns `'heartbeat'` when a heartbeat must be sent (monitored,
   * nothing heard), `'heard'` when traffic counted instead, `'off'` when nobody needs the peer.
   */
  tick(now: number): 'heartbeat' | 'heard' | 'off' {
    const monitoring = this.watched.size > 0 || now < this.monitorUntil
    if (!monitoring) {
      this.monitoringNow = false
      this.heard = false
      return 'off'
    }
    if (!this.monitoringNow) {
      // Monitored again after a quiet time: what came (or not) meanwhile says nothing.
      this.monitoringNow = true
      this.restart()
    }
    if (this.heard) {
      this.heard = false
      this.replied()
      // Every tenth interval a heartbeat goes anyway: it measures the control lane's round trip.
      if (++this.heardTicks < HEARTBEAT_EVEN_IF_HEARD_EVERY) return 'heard'
    }
    this.heardTicks = 0
    this.heartbeatSentAt ??= now
    return 'heartbeat'
  }

  /** A heartbeat reply of the watched incarnation arrived. */
  replied(): void {
    if (!this.monitoringNow) return
    this.detector.heartbeat()
    this.lastReplyAt = this.clock.now()
  }

  /** A heartbeat reply arrived: it also measures the round trip of the heartbeat it answers (returned, when there was one). */
  heartbeatReplied(): number | undefined {
    const sentAt = this.heartbeatSentAt
    this.heartbeatSentAt = undefined
    const roundTrip = sentAt === undefined ? undefined : this.clock.now() - sentAt
    if (roundTrip !== undefined) this.maxRoundTripMs = Math.max(this.maxRoundTripMs, roundTrip)
    this.replied()
    return roundTrip
  }

  /** This process was paused (or could not connect for lack of descriptors): the peer's silence meanwhile is not held against it. */
  forgivePause(): void {
    this.detector.resetSilence()
    this.lastReplyAt = this.clock.now()
  }

  /** Current phi (0 before the first reply, and while not monitoring). */
  get phi(): number {
    return this.monitoringNow ? this.detector.phi() : 0
  }

  /** Phi at or above which the peer is declared unreachable. */
  get threshold(): number {
    return this.detector.threshold
  }

  /** False once phi reached the threshold while monitoring. */
  available(): boolean {
    return !this.monitoringNow || this.detector.isAvailable()
  }

  private restart(): void {
    this.detector = new PhiAccrualFailureDetector({ ...this.options, clock: this.clock })
    this.monitoringNow = true
    this.heard = false
    this.replied()
  }
}

function withoutUid(path: string): string {
  const i = path.indexOf('#')
  return i < 0 ? path : path.slice(0, i)
}
