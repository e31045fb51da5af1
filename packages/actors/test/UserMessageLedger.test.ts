import test from 'ava'
import { ManualClock } from '@helios/transport/testing'
import { LOSS_GRACE_MS, MAX_GAPS, UserMessageLedger } from '../src/remote/UserMessageLedger.js'

test('a peer that skips every other number holds at most MAX_GAPS gaps; the ones forgotten count as lost at the next report, the rest after the grace', (t) => {
  const clock = new ManualClock(0)
  const ledger = new UserMessageLedger(clock, () => true)
  const gaps = 3 * MAX_GAPS
  for (let i = 1; i <= gaps; i++) t.true(ledger.receive(2 * i))
  t.is(ledger.gapCount, MAX_GAPS, 'bounded, whatever the peer sends')
  t.is(ledger.takeLost(), gaps - MAX_GAPS, 'the forgotten gaps count at once')
  t.is(ledger.takeLost(), 0)
  ledger.receive(2 * gaps - 1) // late: fills the newest gap
  clock.advance(LOSS_GRACE_MS)
  t.is(ledger.takeLost(), MAX_GAPS - 1)
  t.is(ledger.gapCount, 0)
  ledger.stop()
})
