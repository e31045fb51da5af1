import test from 'ava'
import { ManualClock, PhiAccrualFailureDetector } from '../src/index.js'

function detector(options: ConstructorParameters<typeof PhiAccrualFailureDetector>[0] = {}) {
  const clock = new ManualClock(1_000_000)
  return { clock, fd: new PhiAccrualFailureDetector({ clock, ...options }) }
}

test('uses Akka remote-watch defaults', (t) => {
  const { fd } = detector()
  t.is(fd.threshold, 10)
  t.is(fd.maxSampleSize, 200)
  t.is(fd.minStdDeviationMs, 100)
  t.is(fd.acceptableHeartbeatPauseMs, 10_000)
  t.is(fd.firstHeartbeatEstimateMs, 1_000)
})

test('reports phi 0 and available before the first heartbeat', (t) => {
  const { fd, clock } = detector()
  clock.advance(60_000)
  t.false(fd.isMonitoring)
  t.is(fd.phi(), 0)
  t.true(fd.isAvailable())
})

test('computes phi like Akka for known inputs', (t) => {
  // Values from Akka's AccrualFailureDetectorSpec: phi(0, mean 0, std 100) ~ 0.3; grows with timeDiff.
  t.true(Math.abs(PhiAccrualFailureDetector.phiOf(0, 0, 100) - 0.3) < 0.05)
  t.true(PhiAccrualFailureDetector.phiOf(200, 0, 100) > PhiAccrualFailureDetector.phiOf(100, 0, 100))
  t.true(Math.abs(PhiAccrualFailureDetector.phiOf(1000, 1000, 100) - 0.3) < 0.05)
})

test('phi grows monotonically with silence after regular heartbeats', (t) => {
  const { fd, clock } = detector({ acceptableHeartbeatPauseMs: 0 })
  for (let i = 0; i < 20; i++) {
    fd.heartbeat()
    clock.advance(1000)
  }
  let previous = -1
  for (let i = 0; i < 30; i++) {
    const phi = fd.phi()
    t.true(phi >= previous, `phi ${phi} after ${i * 100} ms more`)
    previous = phi
    clock.advance(100)
  }
  t.true(previous > 10)
  t.false(fd.isAvailable())
})

test('stays available with regular heartbeats', (t) => {
  const { fd, clock } = detector()
  for (let i = 0; i < 1000; i++) {
    fd.heartbeat()
    clock.advance(1000 + ((i * 37) % 50))
    t.true(fd.isAvailable())
  }
  t.true(fd.phi() < 1)
})

test('tolerates the acceptable heartbeat pause, not much more', (t) => {
  const { fd, clock } = detector({ acceptableHeartbeatPauseMs: 3000, threshold: 8 })
  for (let i = 0; i < 50; i++) {
    fd.heartbeat()
    clock.advance(1000)
  }
  clock.advance(3000 - 1000) // 1 s interval + 3 s pause in total since the last heartbeat
  t.true(fd.isAvailable(), `phi ${fd.phi()} within the pause`)
  clock.advance(2000) // 1 s beyond mean interval + pause, with a 100 ms std deviation
  t.false(fd.isAvailable(), `phi ${fd.phi()} well past the pause`)
})

test('declares a node silent for the default pause unavailable within a few seconds after it', (t) => {
  const { fd, clock } = detector()
  for (let i = 0; i < 10; i++) {
    fd.heartbeat()
    clock.advance(1000)
  }
  clock.advance(10_000)
  t.true(fd.isAvailable())
  clock.advance(2_000)
  t.false(fd.isAvailable())
})

test('does not record the interval of a heartbeat that arrives after a failure', (t) => {
  const { fd, clock } = detector({ acceptableHeartbeatPauseMs: 0 })
  for (let i = 0; i < 10; i++) {
    fd.heartbeat()
    clock.advance(1000)
  }
  clock.advance(60_000)
  t.false(fd.isAvailable())
  fd.heartbeat() // back; the 61 s gap must not become part of the statistics
  clock.advance(1000)
  t.true(fd.isAvailable(), `phi ${fd.phi()}`)
})

test('refuses invalid settings', (t) => {
  t.throws(() => new PhiAccrualFailureDetector({ threshold: 0 }), { instanceOf: RangeError })
  t.throws(() => new PhiAccrualFailureDetector({ maxSampleSize: 0 }), { instanceOf: RangeError })
  t.throws(() => new PhiAccrualFailureDetector({ minStdDeviationMs: 0 }), { instanceOf: RangeError })
})
