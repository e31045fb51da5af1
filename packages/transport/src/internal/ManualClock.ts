import type { Clock, TimerHandle } from '../Clock.js'

interface ManualTimer extends TimerHandle {
  due: number
  seq: number
  callback: (() => void) | undefined
}

/**
 * A clock that moves only when told to: `advance(ms)` runs every timer that falls due, in order
 * of due time (then of creation). For tests of timeouts, idle detection and backoff without sleeps.
 */
export class ManualClock implements Clock {
  private time: number
  private seq = 0
  private timers: ManualTimer[] = []

  constructor(start = 0) {
    this.time = start
  }

  now(): number {
    return this.time
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const t: ManualTimer = { due: this.time + Math.max(0, delayMs), seq: this.seq++, callback }
    this.timers.push(t)
    return t
  }

  clearTimeout(handle: TimerHandle): void {
    const t = handle as ManualTimer
    t.callback = undefined
    const i = this.timers.indexOf(t)
    if (i >= 0) this.timers.splice(i, 1)
  }

  /** Number of timers still scheduled. */
  get pendingTimers(): number {
    return this.timers.length
  }

  /** Moves time forward by `ms`, running due timers (also those they schedule within the span). */
  advance(ms: number): void {
    const target = this.time + ms
    for (;;) {
      let next: ManualTimer | undefined
      for (const t of this.timers) {
        if (t.due <= target && (next === undefined || t.due < next.due || (t.due === next.due && t.seq < next.seq))) next = t
      }
      if (next === undefined) break
      this.timers.splice(this.timers.indexOf(next), 1)
      this.time = Math.max(this.time, next.due)
      const cb = next.callback
      next.callback = undefined
      cb?.()
    }
    this.time = target
  }
}
