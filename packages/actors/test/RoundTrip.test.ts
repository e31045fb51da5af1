import test from 'ava'
import { MAX_RESEND_AFTER_MS, RoundTrip } from '../src/remote/RoundTrip.js'

test('before any sample the floor is the resend interval; then srtt + 4 rttvar, within the floor and the cap', (t) => {
  const rt = new RoundTrip()
  t.is(rt.resendAfterMs(250), 250)
  rt.sample(1000) // srtt 1000, rttvar 500
  t.is(rt.resendAfterMs(250), 3000)
  for (let i = 0; i < 50; i++) rt.sample(20)
  t.true(rt.resendAfterMs(250) === 250, 'a fast peer again: back to the floor')
  t.true((rt.smoothedMs ?? 0) < 30)
  rt.sample(60_000)
  t.is(rt.resendAfterMs(250), MAX_RESEND_AFTER_MS, 'capped')
  rt.sample(Number.NaN)
  t.is(rt.resendAfterMs(250), MAX_RESEND_AFTER_MS, 'a bad sample is ignored')
})
