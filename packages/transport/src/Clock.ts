/** Opaque handle of a timer started by a {@link Clock}. */
export interface TimerHandle {
  /** A brand that keeps the handle opaque (never set): only a {@link Clock} makes one. */
  readonly __timer?: never
}

/** Options of {@link Clock.setTimeout}. */
export interface TimerOptions {
  /**
   * Keep the process alive while the timer waits (the real clock refs the Node timer). Default
   * false: a connect, handshake or idle timer never holds a process open by itself; an ask's
   * timeout does, so that it rejects instead of the process exiting under it.
   */
  readonly keepAlive?: boolean
}

/**
 * Time, injected wherever timeouts, idle detection, heartbeats or backoff live, so that tests
 * advance time instead of sleeping. One clock serves the transport and the actor system (an
 * actor system passes its clock to the bootstraps it uses). {@link systemClock} is the real one;
 * `ManualClock` in `@helios/transport/testing` is the controllable one.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number
  /** Runs `callback` once after `delayMs`. */
  setTimeout(callback: () => void, delayMs: number, options?: TimerOptions): TimerHandle
  /** Cancels a timer; a no-op for a timer that already ran or was cancelled. */
  clearTimeout(handle: TimerHandle): void
}

/** The real clock: `performance.now()` and Node timers (unref'd unless `keepAlive`). */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, delayMs, options) {
    const t = setTimeout(callback, delayMs)
    if (options?.keepAlive !== true) t.unref()
    return t as unknown as TimerHandle
  },
  clearTimeout(handle) {
    clearTimeout(handle as unknown as NodeJS.Timeout)
  },
}
