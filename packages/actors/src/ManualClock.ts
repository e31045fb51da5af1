import type { Clock, ScheduledTimer } from './Clock.js'

interface PendingTimer {
  at: number
  seq: number
  callback: () => void
  cancelled: boolean
}

/**
 * A {@link Clock} that moves only when told to: for tests of timeouts and failure detectors.
 *
 * @example
 * const clock = new ManualClock()
 * const detector = new PhiAccrualFailureDetector({ clock })
 * clock.advance(1000)
 */
export class ManualClock implements Clock {
  #now: number
  #timers: PendingTimer[] = []
  #seq = 0

  /** @param start the initial time in ms. */
  constructor(start = 0) {
    this.#now = start
  }

  /** The current fake time. */
  now(): number {
    return this.#now
  }

  /** Registers a timer that fires when {@link ManualClock.advance} passes its due time. */
  schedule(delayMs: number, callback: () => void): ScheduledTimer {
    const timer = { at: this.#now + Math.max(0, delayMs), seq: this.#seq++, callback, cancelled: false }
    this.#timers.push(timer)
    return { cancel: () => { timer.cancelled = true } }
  }

  /** Number of timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length
  }

  /** Moves time forward by `ms`, firing due timers in due-time order. */
  advance(ms: number): void {
    const target = this.#now + ms
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled)
      let next: PendingTimer | undefined
      for (const t of this.#timers) if (t.at <= target && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t
      if (next === undefined) break
      this.#now = next.at
      next.cancelled = true
      next.callback()
    }
    this.#now = target
  }
}
