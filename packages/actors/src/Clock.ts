/** A timer scheduled on a {@link Clock}. */
export interface ScheduledTimer {
  /** Cancels the timer; harmless when it already fired. */
  cancel(): void
}

/**
 * Time as seen by the actor system, the failure detector and timeouts. Injected so that tests advance
 * time (see {@link ManualClock}) instead of sleeping.
 */
export interface Clock {
  /** Monotonic milliseconds (any origin). */
  now(): number
  /** Runs `callback` once after `delayMs`. */
  schedule(delayMs: number, callback: () => void): ScheduledTimer
}

/** The real clock: `performance.now()` and `setTimeout`. Its timers keep the process alive. */
export const systemClock: Clock = {
  now: () => performance.now(),
  schedule(delayMs, callback) {
    const t = setTimeout(callback, delayMs)
    return { cancel: () => clearTimeout(t) }
  },
}
