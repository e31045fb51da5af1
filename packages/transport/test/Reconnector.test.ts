import test from 'ava'
import fc from 'fast-check'
import { ManualClock } from '../src/testing.js'
import { Reconnector, ReconnectCancelledError, ReconnectExhaustedError, backoffDelay, reconnect } from '../src/Reconnector.js'
import { ConnectRefusedError } from '../src/errors.js'

const settle = () => new Promise<void>((r) => setImmediate(r))

/** A connect() that fails `failures` times, recording the clock time of every attempt. */
function flakyConnect(clock: ManualClock, failures: number) {
  const times: number[] = []
  const connect = async (attempt: number): Promise<string> => {
    times.push(clock.now())
    if (attempt <= failures) throw new ConnectRefusedError('127.0.0.1:1')
    return `connection #${attempt}`
  }
  return { times, connect }
}

/** Advances the clock to the next timer (if any) and lets promises settle. */
async function runTimers(clock: ManualClock, rounds: number, stepMs = 1_000_000): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await settle()
    clock.advance(stepMs)
  }
  await settle()
}

/** After each failure, advances the clock by exactly the announced delay (minus 1 ms first, to see nothing happens early). */
async function driveExactly(t: { is(a: unknown, b: unknown): void }, clock: ManualClock, times: number[], delays: number[]): Promise<void> {
  await settle()
  while (delays.length > 0 && clock.pendingTimers > 0) {
    const d = delays.shift()!
    const before = times.length
    if (d >= 1) {
      clock.advance(d - 1)
      await settle()
      t.is(times.length, before)
      clock.advance(1)
    } else clock.advance(d)
    await settle()
    t.is(times.length, before + 1)
  }
}

test('retries with the exponential sequence capped at maxDelayMs when jitter is 0', async (t) => {
  const clock = new ManualClock()
  const { times, connect } = flakyConnect(clock, 6)
  const announced: number[] = []
  const r = reconnect({
    connect,
    clock,
    baseDelayMs: 100,
    factor: 2,
    maxDelayMs: 1000,
    jitter: 0,
    onRetry: (e) => announced.push(e.delayMs),
  })
  await driveExactly(t, clock, times, announced)
  const gaps = times.slice(1).map((x, i) => x - times[i]!)
  t.deepEqual(gaps, [100, 200, 400, 800, 1000, 1000])
  t.is(await r.result, 'connection #7')
  t.is(r.attempts, 7)
  t.false(r.isRunning)
})

test('with previousFailures the first attempt waits and the delays continue the sequence', async (t) => {
  const clock = new ManualClock()
  const { times, connect } = flakyConnect(clock, 2)
  const r = reconnect({ connect, clock, baseDelayMs: 100, factor: 2, maxDelayMs: 10_000, jitter: 0, previousFailures: 2 })
  await settle()
  t.deepEqual(times, [], 'no attempt before the backoff of the third retry')
  clock.advance(199)
  await settle()
  t.deepEqual(times, [])
  clock.advance(1)
  await settle()
  t.deepEqual(times, [200])
  clock.advance(400)
  await settle()
  clock.advance(800)
  await settle()
  t.is(await r.result, 'connection #3')
  t.deepEqual(times, [200, 600, 1400], 'then 400 and 800, as retries 3 and 4')
})

test('with full jitter every delay lies in [0, cap) and follows the injected randomness', async (t) => {
  const clock = new ManualClock()
  const { times, connect } = flakyConnect(clock, 5)
  const draws = [0.5, 0.999, 0, 0.25, 0.75]
  let k = 0
  const announced: number[] = []
  const r = reconnect({
    connect,
    clock,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    random: () => draws[k++]!,
    onRetry: (e) => announced.push(e.delayMs),
  })
  await driveExactly(t, clock, times, announced)
  t.is(await r.result, 'connection #6')
  const gaps = times.slice(1).map((x, i) => x - times[i]!)
  const caps = [100, 200, 400, 800, 1000]
  const expected = caps.map((c, i) => draws[i]! * c)
  for (const [i, g] of gaps.entries()) {
    t.true(Math.abs(g - expected[i]!) < 1e-9)
    t.true(g >= 0 && g < caps[i]!)
  }
  t.is(gaps.length, 5)
})

test('gives up after maxAttempts with the last error as cause', async (t) => {
  const clock = new ManualClock()
  const { times, connect } = flakyConnect(clock, Infinity)
  const retries: number[] = []
  const r = reconnect({ connect, clock, maxAttempts: 3, jitter: 0, onRetry: (e) => retries.push(e.delayMs) })
  await runTimers(clock, 4)
  const err = await t.throwsAsync(r.result, { instanceOf: ReconnectExhaustedError })
  t.is(err.code, 'ERR_RECONNECT_EXHAUSTED')
  t.is(err.attempts, 3)
  t.true(err.cause instanceof ConnectRefusedError)
  t.is(times.length, 3)
  t.deepEqual(retries, [100, 200])
  t.is(clock.pendingTimers, 0)
})

test('stops at once when shouldRetry says so', async (t) => {
  const clock = new ManualClock()
  const { times, connect } = flakyConnect(clock, Infinity)
  const r = reconnect({ connect, clock, shouldRetry: (e) => !(e instanceof ConnectRefusedError) })
  await settle()
  await t.throwsAsync(r.result, { instanceOf: ReconnectExhaustedError })
  t.is(times.length, 1)
})

test('cancel during the backoff wait clears the timer and rejects with ReconnectCancelledError', async (t) => {
  const clock = new ManualClock()
  const { times, connect } = flakyConnect(clock, Infinity)
  const r = reconnect({ connect, clock })
  await settle()
  t.is(clock.pendingTimers, 1)
  const reason = new Error('shutting down')
  r.cancel(reason)
  t.is(clock.pendingTimers, 0)
  const err = await t.throwsAsync(r.result, { instanceOf: ReconnectCancelledError })
  t.is(err.code, 'ERR_RECONNECT_CANCELLED')
  t.is(err.cause, reason)
  clock.advance(1_000_000)
  await settle()
  t.is(times.length, 1)
})

test('cancel aborts the attempt in flight and disposes a connection that completes afterwards', async (t) => {
  const clock = new ManualClock()
  let resolveAttempt!: (v: { closed: boolean; close(): void }) => void
  let signal!: AbortSignal
  const disposed: unknown[] = []
  const r = new Reconnector({
    clock,
    connect: (_n, s) => {
      signal = s
      return new Promise((res) => {
        resolveAttempt = res
      })
    },
    dispose: (c) => disposed.push(c),
  })
  const result = r.start()
  r.cancel()
  t.true(signal.aborted)
  const late = {
    closed: false,
    close() {
      this.closed = true
    },
  }
  resolveAttempt(late)
  await settle()
  t.deepEqual(disposed, [late])
  await t.throwsAsync(result, { instanceOf: ReconnectCancelledError })
})

test('closes a late connection by default, and cancelling without awaiting leaves no unhandled rejection', async (t) => {
  let resolveAttempt!: (v: { closed: boolean; close(): void }) => void
  const r = reconnect({
    clock: new ManualClock(),
    connect: () =>
      new Promise((res) => {
        resolveAttempt = res
      }),
  })
  r.cancel()
  const late = {
    closed: false,
    close() {
      this.closed = true
    },
  }
  resolveAttempt(late)
  await settle()
  t.true(late.closed)
})

test('a connect that throws synchronously counts as a failed attempt', async (t) => {
  const clock = new ManualClock()
  let n = 0
  const r = reconnect({
    clock,
    jitter: 0,
    connect: () => {
      if (++n < 2) throw new Error('sync')
      return Promise.resolve(n)
    },
  })
  await runTimers(clock, 2)
  t.is(await r.result, 2)
})

test('rejects inconsistent options', (t) => {
  const connect = () => Promise.resolve(1)
  t.throws(() => new Reconnector({ connect, baseDelayMs: -1 }), { instanceOf: RangeError })
  t.throws(() => new Reconnector({ connect, baseDelayMs: 100, maxDelayMs: 10 }), { instanceOf: RangeError })
  t.throws(() => new Reconnector({ connect, factor: 0.5 }), { instanceOf: RangeError })
  t.throws(() => new Reconnector({ connect, jitter: 2 }), { instanceOf: RangeError })
  t.throws(() => new Reconnector({ connect, maxAttempts: 0 }), { instanceOf: RangeError })
})

test('property: every backoff delay lies between (1 - jitter) * cap and the cap, and the cap never exceeds maxDelayMs', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2000 }),
      fc.integer({ min: 1, max: 10_000 }),
      fc.integer({ min: 0, max: 100_000 }),
      fc.double({ min: 1, max: 10, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (retry, base, extra, factor, jitter, r) => {
        const max = base + extra
        const cap = Math.min(max, base * factor ** retry)
        const d = backoffDelay(retry, { baseDelayMs: base, maxDelayMs: max, factor, jitter }, () => r)
        return d >= 0 && d <= cap && d >= (1 - jitter) * cap - 1e-9 && d <= max
      },
    ),
    { numRuns: 1000 },
  )
  t.pass()
})

test('caps the delay at maxDelayMs however many retries, and a zero base stays zero', (t) => {
  t.is(backoffDelay(100_000, { baseDelayMs: 50, maxDelayMs: 5000, jitter: 0 }), 5000)
  t.is(backoffDelay(100_000, { baseDelayMs: 0, maxDelayMs: 5000, jitter: 0 }), 0)
  t.is(backoffDelay(3, { baseDelayMs: 10, factor: 3, jitter: 0 }), 270)
})
