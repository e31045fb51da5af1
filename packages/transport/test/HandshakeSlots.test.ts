import test from 'ava'
import fc from 'fast-check'
import { HandshakeSlots, sourceOf } from '../src/index.js'

test('a source gets at most maxPerSource slots, the total at most max; release frees them', (t) => {
  const slots = new HandshakeSlots<string>({ max: 4, maxPerSource: 2 })
  t.deepEqual(slots.acquire('a', 'a1'), { admitted: true })
  t.deepEqual(slots.acquire('a', 'a2'), { admitted: true })
  t.deepEqual(slots.acquire('a', 'a3'), { admitted: false, full: 'source', held: 2 })
  t.deepEqual(slots.acquire('b', 'b1'), { admitted: true })
  t.deepEqual(slots.acquire('b', 'b2'), { admitted: true })
  t.is(slots.size, 4)
  // Full: a newcomer takes the oldest slot of a largest holder while one holds two more than it.
  t.deepEqual(slots.acquire('c', 'c1'), { admitted: true, evicted: { item: 'a1', source: 'a' } })
  t.deepEqual(slots.acquire('d', 'd1'), { admitted: true, evicted: { item: 'b1', source: 'b' } })
  // One each: nobody holds two more than e would.
  t.deepEqual(slots.acquire('e', 'e1'), { admitted: false, full: 'total', held: 0 })
  t.true(slots.release('a2'))
  t.false(slots.release('a2'), 'released once')
  t.false(slots.release('a1'), 'evicted: holds no slot')
  t.false(slots.release('never'), 'never admitted')
  t.deepEqual(slots.acquire('e', 'e1'), { admitted: true })
  t.is(slots.heldBy('a'), 0)
  t.is(slots.size, 4)
})

test('the default per-source cap is half of the total', (t) => {
  t.is(new HandshakeSlots({ max: 64 }).maxPerSource, 32)
  t.is(new HandshakeSlots({ max: 1 }).maxPerSource, 1)
  t.is(new HandshakeSlots({ max: 4, maxPerSource: 10 }).maxPerSource, 4)
  t.throws(() => new HandshakeSlots({ max: 0 }), { instanceOf: RangeError })
  t.throws(() => new HandshakeSlots({ max: 4, maxPerSource: 0 }), { instanceOf: RangeError })
})

test('when every slot is taken, a newcomer evicts the oldest slot of the largest holder', (t) => {
  const slots = new HandshakeSlots<string>({ max: 4, maxPerSource: 4 })
  for (const s of ['x1', 'x2', 'x3', 'x4']) t.true(slots.acquire('x', s).admitted)
  t.deepEqual(slots.acquire('x', 'x5'), { admitted: false, full: 'source', held: 4 })
  t.deepEqual(slots.acquire('y', 'y1'), { admitted: true, evicted: { item: 'x1', source: 'x' } })
  t.false(slots.has('x1'))
  t.false(slots.release('x1'), 'the evicted item holds no slot')
  t.deepEqual(slots.acquire('y', 'y2'), { admitted: true, evicted: { item: 'x2', source: 'x' } })
  // Two each: fair; neither may take from the other.
  t.deepEqual(slots.acquire('y', 'y3'), { admitted: false, full: 'total', held: 2 })
  t.deepEqual(slots.acquire('x', 'x6'), { admitted: false, full: 'total', held: 2 })
  t.deepEqual(slots.acquire('z', 'z1'), { admitted: true, evicted: { item: 'x3', source: 'x' } })
})

test('under any sequence, the caps hold and a source below every other never waits for lack of room', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 12 }),
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 30 })), { maxLength: 200 }),
      (max, perSource, ops) => {
        const slots = new HandshakeSlots<number>({ max, maxPerSource: perSource })
        const held = new Map<number, string>()
        let next = 0
        for (const [acquire, src, pick] of ops) {
          const source = `s${src}`
          if (!acquire) {
            const items = [...held.keys()]
            const item = items[pick % Math.max(1, items.length)]
            if (item !== undefined) {
              t.true(slots.release(item))
              held.delete(item)
            }
            continue
          }
          const item = next++
          const before = slots.heldBy(source)
          const largest = Math.max(0, ...[0, 1, 2, 3, 4].map((s) => slots.heldBy(`s${s}`)))
          const grant = slots.acquire(source, item)
          if (grant.admitted) {
            held.set(item, source)
            if (grant.evicted !== undefined) {
              t.is(held.get(grant.evicted.item), grant.evicted.source)
              held.delete(grant.evicted.item)
              t.true(slots.heldBy(grant.evicted.source) > before)
            }
          } else if (grant.full === 'total') {
            t.is(slots.size, max)
            t.true(largest < before + 2, 'refused only when nobody holds two more')
          } else t.is(before, slots.maxPerSource)
          t.true(slots.size <= max)
          t.true(slots.heldBy(source) <= slots.maxPerSource)
          t.is(slots.size, held.size)
        }
      },
    ),
    { numRuns: 300 },
  )
})

test('sources: IPv4 as is, IPv4-mapped IPv6 as IPv4, other IPv6 by their /64', (t) => {
  t.is(sourceOf('10.1.2.3'), '10.1.2.3')
  t.is(sourceOf('::ffff:10.1.2.3'), '10.1.2.3')
  t.is(sourceOf('::FFFF:10.1.2.3'), '10.1.2.3')
  t.is(sourceOf('0:0:0:0:0:ffff:a01:203'), '10.1.2.3')
  t.is(sourceOf('2001:db8:1:2::1'), '2001:db8:1:2::/64')
  t.is(sourceOf('2001:0db8:0001:0002:ffff:1:2:3'), '2001:db8:1:2::/64')
  t.is(sourceOf('fe80::1%eth0'), 'fe80:0:0:0::/64')
  t.is(sourceOf('::1'), '0:0:0:0::/64')
  t.is(sourceOf(undefined), '?')
})
