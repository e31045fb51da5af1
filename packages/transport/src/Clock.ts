/** Opaque handle of a timer started by a {@link Clock}. */
export interface TimerHandle {
  readonly __timer?: never
}

/**
 * Time, injected wherever timeouts, idle detection or backoff live, so that tests advance time
 * instead of sleeping. {@link systemClock} is the real one; `ManualClock` in
 * `@helios/transport/testing` is the controllable one.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number
  /** Runs `callback` once after `delayMs`. The timer never keeps the process alive. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle
  /** Cancels a timer; a no-op for a timer that already ran or was cancelled. */
  clearTimeout(handle: TimerHandle): void
}

/** The real clock: `performance.now()` and unref'd Node timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, delayMs) {
    const t = setTimeout(callback, delayMs)
    t.unref()
    return t as unknown as TimerHandle
  },
  clearTimeout(handle) {
    clearTimeout(handle as unknown as NodeJS.Timeout)
  },
}
