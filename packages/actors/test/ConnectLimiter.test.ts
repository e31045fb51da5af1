import test from 'ava'
import { ConnectLimiter, ConnectNotStartedError } from '../src/remote/ConnectLimiter.js'

/** A connect that completes when the test says so. */
function pending(): { promise: Promise<string>; resolve: (v: string) => void; started: boolean; start: () => Promise<string> } {
  let resolve!: (v: string) => void
  const promise = new Promise<string>((r) => {
    resolve = r
  })
  const c = {
    promise,
    resolve,
    started: false,
    start: () => {
      c.started = true
      return promise
    },
  }
  return c
}

test('at most max connects run at once; the others start as slots free, vouched-for peers first', async (t) => {
  const limiter = new ConnectLimiter(2, 1, 10)
  const a = pending()
  const b = pending()
  const stranger = pending()
  const c = pending()
  const ra = limiter.run('verified', undefined, a.start)
  const rb = limiter.run('verified', undefined, b.start)
  const rs = limiter.run('sponsored', undefined, stranger.start)
  const rc = limiter.run('verified', undefined, c.start)
  t.true(a.started && b.started)
  t.false(stranger.started)
  t.false(c.started)
  t.is(limiter.active, 2)
  t.is(limiter.queued, 2)
  a.resolve('a')
  t.is(await ra, 'a')
  // c waited after the stranger, but goes first.
  t.true(c.started)
  t.false(stranger.started)
  b.resolve('b')
  await rb
  t.true(stranger.started)
  stranger.resolve('s')
  c.resolve('c')
  t.deepEqual(await Promise.all([rs, rc]), ['s', 'c'])
  t.is(limiter.active, 0)
})

test('connects to unverified addresses get their share of the slots and a bounded waiting line', async (t) => {
  const limiter = new ConnectLimiter(8, 2, 3)
  const strangers = Array.from({ length: 5 }, () => pending())
  const results = strangers.map((s) => limiter.run('sponsored', undefined, s.start))
  t.deepEqual(
    strangers.map((s) => s.started),
    [true, true, false, false, false],
  )
  // A sixth finds the line full: it fails at once, without a connect.
  const extra = pending()
  const err = await t.throwsAsync(limiter.run('sponsored', undefined, extra.start), { instanceOf: ConnectNotStartedError })
  t.regex(err?.message ?? '', /already wait/)
  t.false(extra.started)
  // Vouched-for peers still get the free slots at once.
  const peer = pending()
  const rp = limiter.run('verified', undefined, peer.start)
  t.true(peer.started)
  peer.resolve('p')
  await rp
  for (const s of strangers.slice(0, 2)) s.resolve('x')
  await Promise.all(results.slice(0, 2))
  t.deepEqual(
    strangers.map((s) => s.started),
    [true, true, true, true, false],
  )
})

test("a node that connected and claims an address is dialled back within a share of its own: strangers' sponsored connects cannot crowd it out", async (t) => {
  const limiter = new ConnectLimiter(8, 2, 3)
  const strangers = Array.from({ length: 5 }, () => pending())
  const sponsored = strangers.map((s) => limiter.run('sponsored', undefined, s.start))
  // the sponsored share (2) is taken and its line (3) full
  await t.throwsAsync(limiter.run('sponsored', undefined, pending().start), { instanceOf: ConnectNotStartedError })
  const claimant = pending()
  const rc = limiter.run('claimed', undefined, claimant.start)
  t.true(claimant.started, 'started at once, in its own share')
  // when slots free up, waiting claimants go before waiting sponsored connects
  const more = [pending(), pending(), pending()]
  const waiting = more.map((c) => limiter.run('claimed', undefined, c.start))
  t.deepEqual(
    more.map((c) => c.started),
    [true, false, false],
  )
  claimant.resolve('c')
  await rc
  t.deepEqual(
    more.map((c) => c.started),
    [true, true, false],
  )
  t.deepEqual(
    strangers.map((s) => s.started),
    [true, true, false, false, false],
  )
  for (const c of more) c.resolve('m')
  for (const s of strangers) s.resolve('s')
  await Promise.all([...waiting, ...sponsored])
  t.is(limiter.active, 0)
  t.is(limiter.queued, 0)
})

test('a connect cancelled while it waits never starts and frees its place; a connect that throws frees its slot', async (t) => {
  const limiter = new ConnectLimiter(1, 1, 10)
  const first = pending()
  const r1 = limiter.run('verified', undefined, first.start)
  const waiting = pending()
  const abort = new AbortController()
  const r2 = limiter.run('verified', abort.signal, waiting.start)
  t.is(limiter.queued, 1)
  abort.abort()
  await t.throwsAsync(r2, { instanceOf: ConnectNotStartedError })
  t.is(limiter.queued, 0)
  first.resolve('1')
  await r1
  t.false(waiting.started)
  await t.throwsAsync(
    limiter.run('verified', undefined, () => {
      throw new Error('boom')
    }),
    { message: 'boom' },
  )
  t.is(limiter.active, 0)
})
