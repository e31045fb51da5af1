import { type Clock, type TimerHandle, systemClock } from './Clock.js'
import { TransportError, toError } from './errors.js'

/** Shape of a capped exponential backoff with jitter. */
export interface BackoffOptions {
  /** Delay cap before the first retry, in ms. Default 100. */
  readonly baseDelayMs?: number
  /** Largest delay, in ms. Default 30 000. */
  readonly maxDelayMs?: number
  /** Growth of the cap per retry. Default 2. */
  readonly factor?: number
  /**
   * Share of the delay that is random, 0 to 1. Default 1: "full jitter", a delay uniformly
   * drawn from [0, cap), which spreads reconnecting peers best. 0: exactly the cap.
   */
  readonly jitter?: number
}

/** Options of a {@link Reconnector}. */
export interface ReconnectOptions<T> extends BackoffOptions {
  /**
   * Makes one attempt (`attempt` counts from 1). `signal` aborts when the reconnector is
   * cancelled: pass it on to give up an attempt in flight.
   */
  readonly connect: (attempt: number, signal: AbortSignal) => Promise<T>
  /** Time source of the delays. Default the system clock; tests pass a `ManualClock`. */
  readonly clock?: Clock
  /** Attempts in all, the first included; then the result rejects. Default Infinity. */
  readonly maxAttempts?: number
  /**
   * Failures that came before this reconnector (e.g. connections that opened but closed before
   * they proved useful): the first attempt waits the backoff of the retry after them, and later
   * delays continue the sequence. Default 0: the first attempt starts at once.
   */
  readonly previousFailures?: number
  /** Source of randomness in [0, 1) for the jitter. Default `Math.random`. */
  readonly random?: () => number
  /** Return false to give up at once on this error (e.g. a TLS certificate error). Default: retry all. */
  readonly shouldRetry?: (error: Error, attempt: number) => boolean
  /** Called after a failed attempt that will be retried, with the delay chosen. */
  readonly onRetry?: (event: ReconnectRetryEvent) => void
  /**
   * Called with a connection that completed after the reconnector was cancelled, so it can be
   * closed instead of leaking. Default: close it if it has a `close()` method.
   */
  readonly dispose?: (value: T) => void
}

/** What {@link ReconnectOptions.onRetry} receives. */
export interface ReconnectRetryEvent {
  /** The attempt that failed (from 1). */
  readonly attempt: number
  /** Why it failed. */
  readonly error: Error
  /** Delay before the next attempt, in ms. */
  readonly delayMs: number
}

/** Every attempt of a {@link Reconnector} failed (or `shouldRetry` said stop); `cause` is the last error. */
export class ReconnectExhaustedError extends TransportError {
  /** Attempts made. */
  readonly attempts: number
  constructor(attempts: number, options?: { cause?: unknown }) {
    super('ERR_RECONNECT_EXHAUSTED', `gave up reconnecting after ${attempts} attempt${attempts === 1 ? '' : 's'}`, options)
    this.attempts = attempts
  }
}

/** The {@link Reconnector} was cancelled before an attempt succeeded; `cause` is the reason given, if any. */
export class ReconnectCancelledError extends TransportError {
  constructor(options?: { cause?: unknown }) {
    super('ERR_RECONNECT_CANCELLED', 'reconnect cancelled', options)
  }
}

/**
 * Delay in ms before retry number `retry` (0 before the second attempt): the cap
 * `min(maxDelayMs, baseDelayMs * factor^retry)`, of which the share `jitter` is random:
 * `cap * (1 - jitter) + jitter * random() * cap`, i.e. uniform in [cap * (1 - jitter), cap).
 * With full jitter (1) the delay is uniform in [0, cap); with 0 it is the cap.
 */
export function backoffDelay(retry: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const { baseDelayMs = 100, maxDelayMs = 30_000, factor = 2, jitter = 1 } = options
  // base 0 stays 0 (0 * Infinity would be NaN once factor^retry overflows).
  const cap = baseDelayMs === 0 ? 0 : Math.min(maxDelayMs, baseDelayMs * factor ** retry)
  // min: rounding of the sum must never push a delay past its cap
  return Math.min(cap, cap * (1 - jitter) + jitter * random() * cap)
}

const IDLE = 0
const RUNNING = 1
const SUCCEEDED = 2
const FAILED = 3
const CANCELLED = 4

/**
 * Calls `connect()` until it resolves, waiting a capped exponential backoff with jitter between
 * attempts (AWS's "full jitter" by default), on an injected {@link Clock}.
 *
 * ```
 * attempt 1 ──✗── wait [0,100) ── attempt 2 ──✗── wait [0,200) ── attempt 3 ──✓──> result
 *                                 (caps: base·factorⁿ, at most maxDelayMs)
 * ```
 *
 * The result is a typed promise: it resolves with what `connect()` resolved with, or rejects with
 * {@link ReconnectExhaustedError} (`ERR_RECONNECT_EXHAUSTED`, `cause`: the last error) after
 * `maxAttempts`, or with {@link ReconnectCancelledError} (`ERR_RECONNECT_CANCELLED`) on
 * {@link cancel}. Cancelling stops the timer and aborts the attempt in flight through its signal;
 * a connection that completes after cancellation is handed to `dispose`.
 *
 * @example
 * ```ts
 * const r = reconnect({ connect: () => bootstrap.connect(port, host), maxDelayMs: 10_000 })
 * const channel = await r.result
 * // elsewhere, on shutdown: r.cancel()
 * ```
 * @throws RangeError from the constructor for inconsistent options.
 */
export class Reconnector<T> {
  private readonly options: ReconnectOptions<T>
  private readonly clock: Clock
  private readonly maxAttempts: number
  private readonly previousFailures: number
  private readonly random: () => number
  private state = IDLE
  private attemptCount = 0
  private timer: TimerHandle | undefined
  private abort: AbortController | undefined
  private promise: Promise<T> | undefined
  private resolve!: (value: T) => void
  private reject!: (error: Error) => void
  private readonly nextAttempt = (): void => {
    this.timer = undefined
    this.attempt()
  }

  constructor(options: ReconnectOptions<T>) {
    const { baseDelayMs = 100, maxDelayMs = 30_000, factor = 2, jitter = 1, maxAttempts = Infinity } = options
    if (!(baseDelayMs >= 0) || !Number.isFinite(baseDelayMs))
      throw new RangeError(`baseDelayMs must be a finite number >= 0: ${baseDelayMs}`)
    if (!(maxDelayMs >= baseDelayMs)) throw new RangeError(`maxDelayMs (${maxDelayMs}) must be >= baseDelayMs (${baseDelayMs})`)
    if (!(factor >= 1) || !Number.isFinite(factor)) throw new RangeError(`factor must be a finite number >= 1: ${factor}`)
    if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`jitter must be between 0 and 1: ${jitter}`)
    if (!(maxAttempts >= 1) || (maxAttempts !== Infinity && !Number.isInteger(maxAttempts))) {
      throw new RangeError(`maxAttempts must be an integer >= 1 or Infinity: ${maxAttempts}`)
    }
    const previousFailures = options.previousFailures ?? 0
    if (!(Number.isInteger(previousFailures) && previousFailures >= 0))
      throw new RangeError(`previousFailures must be an integer >= 0: ${previousFailures}`)
    this.previousFailures = previousFailures
    this.options = options
    this.clock = options.clock ?? systemClock
    this.maxAttempts = maxAttempts
    this.random = options.random ?? Math.random
  }

  /** Attempts started so far. */
  get attempts(): number {
    return this.attemptCount
  }

  /** True until the result settled (resolved, gave up or cancelled). */
  get isRunning(): boolean {
    return this.state <= RUNNING
  }

  /** The result; starts the reconnector on first access. */
  get result(): Promise<T> {
    return this.start()
  }

  /** Starts the first attempt now (idempotent) and returns the result. */
  start(): Promise<T> {
    if (this.promise !== undefined) return this.promise
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    // The caller may only cancel and never await: that must not be an unhandled rejection.
    this.promise.catch(() => {})
    if (this.state === CANCELLED) this.reject(new ReconnectCancelledError())
    else {
      this.state = RUNNING
      if (this.previousFailures > 0)
        this.timer = this.clock.setTimeout(this.nextAttempt, backoffDelay(this.previousFailures - 1, this.options, this.random))
      else this.attempt()
    }
    return this.promise
  }

  /** Stops reconnecting: clears the timer, aborts the attempt in flight, rejects the result. */
  cancel(reason?: Error): void {
    if (this.state > RUNNING) return
    const wasRunning = this.state === RUNNING
    this.state = CANCELLED
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer)
      this.timer = undefined
    }
    this.abort?.abort(reason ?? new ReconnectCancelledError())
    if (wasRunning) this.reject(new ReconnectCancelledError(reason === undefined ? undefined : { cause: reason }))
  }

  private attempt(): void {
    if (this.state !== RUNNING) return
    const n = ++this.attemptCount
    const abort = new AbortController()
    this.abort = abort
    let pending: Promise<T>
    try {
      pending = Promise.resolve(this.options.connect(n, abort.signal))
    } catch (err) {
      pending = Promise.reject(err)
    }
    pending.then(
      (value) => {
        if (this.state !== RUNNING) {
          this.discard(value)
          return
        }
        this.state = SUCCEEDED
        this.abort = undefined
        this.resolve(value)
      },
      (err: unknown) => {
        if (this.state === RUNNING) this.failed(toError(err), n)
      },
    )
  }

  private failed(error: Error, attempt: number): void {
    const shouldRetry = this.options.shouldRetry
    if (attempt >= this.maxAttempts || (shouldRetry !== undefined && !safeCall(() => shouldRetry(error, attempt)))) {
      this.state = FAILED
      this.abort = undefined
      this.reject(new ReconnectExhaustedError(attempt, { cause: error }))
      return
    }
    const delayMs = backoffDelay(this.previousFailures + attempt - 1, this.options, this.random)
    const onRetry = this.options.onRetry
    if (onRetry !== undefined)
      safeCall(() => {
        onRetry({ attempt, error, delayMs })
        return true
      })
    if (this.state !== RUNNING) return // onRetry may cancel
    this.timer = this.clock.setTimeout(this.nextAttempt, delayMs)
  }

  private discard(value: T): void {
    const dispose = this.options.dispose
    try {
      if (dispose !== undefined) dispose(value)
      else if (value !== null && typeof value === 'object' && typeof (value as { close?: unknown }).close === 'function') {
        const closing = (value as unknown as { close(): unknown }).close()
        if (closing instanceof Promise) closing.catch(() => {})
      }
    } catch {
      // Disposing a connection nobody wants any more: nothing left to report it to.
    }
  }
}

/** Starts a {@link Reconnector} and returns it: `await r.result` for the connection, `r.cancel()` to stop. */
export function reconnect<T>(options: ReconnectOptions<T>): Reconnector<T> {
  const r = new Reconnector(options)
  r.start()
  return r
}

function safeCall(fn: () => boolean): boolean {
  try {
    return fn()
  } catch {
    return false
  }
}
