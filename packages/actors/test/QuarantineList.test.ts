import test from 'ava'
import { QuarantineList } from '../src/remote/QuarantineList.js'

test('keeps quarantined uids per address, bounded per address and in addresses', (t) => {
  const q = new QuarantineList(2)
  for (let i = 0; i < 20; i++) q.add('a', BigInt(i), 0)
  t.false(q.has('a', 0n), 'the oldest uids of an address are forgotten first')
  t.true(q.has('a', 19n))
  t.false(q.has('b', 19n))
  q.add('b', 1n, 0)
  q.add('c', 1n, 0)
  t.is(q.size, 2)
  t.false(q.has('a', 19n), 'the least recently quarantined address is forgotten first')
  t.true(q.has('b', 1n) && q.has('c', 1n))
  q.forget('b')
  t.false(q.has('b', 1n))
})

test('probes an address quarantined for unreachability at doubling intervals up to the cap, until told to stop', (t) => {
  const q = new QuarantineList(10, 4000)
  q.add('a', 1n, 0, 1000)
  q.add('b', 1n, 0)
  t.deepEqual(q.dueProbes(999), [])
  t.deepEqual(q.dueProbes(1000), ['a'])
  t.deepEqual(q.dueProbes(2999), [])
  t.deepEqual(q.dueProbes(3000), ['a'])
  t.deepEqual(q.dueProbes(6999), [])
  t.deepEqual(q.dueProbes(7000), ['a'])
  t.deepEqual(q.dueProbes(11_000), ['a'], 'capped at 4000')
  q.stopProbing('a')
  t.deepEqual(q.dueProbes(100_000), [])
  t.true(q.has('a', 1n))
})
