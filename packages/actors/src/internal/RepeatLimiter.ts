import type { Clock, TimerHandle } from '../Clock.js'

/** Kinds remembered at most (the oldest quiet one is forgotten first). */
const MAX_KINDS = 1024

/** What one kind did in its current interval. */
interface RepeatState<E> {
  /** When the current interval began (the last time this kind was published). */
  since: number
  /** Occurrences counted but not published. */
  suppressed: number
  /** The latest of them: what the count says (its peer, reason, error). */
  last: E | undefined
  timer: TimerHandle | undefined
}

/** Options of a {@link RepeatLimiter}. */
export interface RepeatLimiterOptions<E> {
  readonly clock: Clock
  /** The interval of the counts. */
  readonly intervalMs: number
  /**
   * Publishes `event`: at once (`count` undefined), or as the count of the `count` occurrences of
   * its kind suppressed during the last `elapsedMs` (the event is the latest of them).
   */
  readonly publish: (event: E, count: number | undefined, elapsedMs: number) => void
  /**
   * New kinds published at once per interval, at most; beyond, occurrences of new kinds are
   * counted under the `overflowKey` given to {@link RepeatLimiter.occur}. Default: no limit.
   */
  readonly newKindsPerInterval?: number
}

/**
 * Rate limit by kind, for log lines and events about trouble: the first occurrence of a kind is
 * published at once; later ones within the interval are counted and published as one count (with
 * the latest occurrence) when it ends, and at {@link RepeatLimiter.flush}. Counts add up: what is
 * published accounts for every occurrence. Memory is bounded (1,024 kinds, the oldest quiet one
 * forgotten first), and so is what a flood of new kinds publishes (`newKindsPerInterval`).
 */
export class RepeatLimiter<E> {
  private readonly kinds = new Map<string, RepeatState<E>>()
  private readonly clock: Clock
  private readonly intervalMs: number
  private readonly publish: RepeatLimiterOptions<E>['publish']
  private readonly newKindsPerInterval: number
  private windowStart = Number.NEGATIVE_INFINITY
  private newKinds = 0

  constructor(o: RepeatLimiterOptions<E>) {
    this.clock = o.clock
    this.intervalMs = o.intervalMs
    this.publish = o.publish
    this.newKindsPerInterval = o.newKindsPerInterval ?? Number.POSITIVE_INFINITY
  }

  /**
   * `n` occurrences (default 1: more when one event stands for several) of kind `key`, counted
   * under `overflowKey` when too many new kinds came this interval.
   */
  occur(key: string, event: E, n = 1, overflowKey?: string): void {
    const now = this.clock.now()
    let k = key
    let s = this.kinds.get(k)
    if (s === undefined && overflowKey !== undefined) {
      if (now - this.windowStart >= this.intervalMs) {
        this.windowStart = now
        this.newKinds = 0
      }
      if (this.newKinds >= this.newKindsPerInterval) {
        k = overflowKey
        s = this.kinds.get(k)
      } else this.newKinds++
    }
    if (s === undefined) {
      if (this.kinds.size >= MAX_KINDS) this.forgetOne()
      this.kinds.set(k, { since: now, suppressed: 0, last: undefined, timer: undefined })
      this.publish(event, undefined, 0)
      return
    }
    if (s.suppressed === 0 && now - s.since >= this.intervalMs) {
      s.since = now
      this.publish(event, undefined, 0)
      return
    }
    s.suppressed += n
    s.last = event
    if (s.timer === undefined) {
      const state = s
      s.timer = this.clock.setTimeout(
        () => {
          state.timer = undefined
          this.publishCount(state)
        },
        Math.max(0, s.since + this.intervalMs - now),
      )
    }
  }

  /** Publishes every pending count now (at terminate: nothing counted is lost). */
  flush(): void {
    for (const s of this.kinds.values()) {
      if (s.timer !== undefined) this.clock.clearTimeout(s.timer)
      s.timer = undefined
      this.publishCount(s)
    }
  }

  private publishCount(s: RepeatState<E>): void {
    if (s.suppressed === 0 || s.last === undefined) return
    const n = s.suppressed
    const e = s.last
    const now = this.clock.now()
    const elapsed = now - s.since
    s.suppressed = 0
    s.last = undefined
    s.since = now
    this.publish(e, n, elapsed)
  }

  /** Forgets the oldest kind with nothing pending (or the oldest, after publishing its count). */
  private forgetOne(): void {
    for (const [k, s] of this.kinds) {
      if (s.suppressed === 0) {
        if (s.timer !== undefined) this.clock.clearTimeout(s.timer)
        this.kinds.delete(k)
        return
      }
    }
    const first = this.kinds.entries().next().value
    if (first === undefined) return
    const [k, s] = first
    if (s.timer !== undefined) this.clock.clearTimeout(s.timer)
    this.publishCount(s)
    this.kinds.delete(k)
  }
}
