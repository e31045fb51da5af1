import test from 'ava'
import { Reassembler } from '@helios/codec'
import { estimateSize } from '../src/remote/estimateSize.js'
import { MemoryBudget } from '../src/remote/MemoryBudget.js'
import { UserMessageQueue } from '../src/remote/UserMessageQueue.js'
import type { RemoteActorRef } from '../src/remote/RemoteActorRef.js'

const KiB = 1024

function reassembler(budget: MemoryBudget): Reassembler {
  return new Reassembler({ maxMessageSize: 1024 * KiB, maxBufferedBytes: 2048 * KiB, maxPendingMessages: 8, budget })
}

/** Pushes `bytes` of message `id` (of `total` bytes) starting at `offset`. */
function push(r: Reassembler, id: number, offset: number, bytes: number, total = 1024 * KiB): Uint8Array | undefined {
  return r.push({ type: 'fragment', messageId: id, totalLength: total, offset, chunk: new Uint8Array(bytes) })
}

test('a full budget makes room by evicting the incomplete message that grew least recently, whoever holds it', (t) => {
  const budget = new MemoryBudget(296 * KiB, 200 * KiB)
  const [a, b, c] = [reassembler(budget), reassembler(budget), reassembler(budget)]
  const evicted: string[] = []
  a.onEvict = (id) => evicted.push(`a${id}`)
  b.onEvict = (id) => evicted.push(`b${id}`)
  c.onEvict = (id) => evicted.push(`c${id}`)
  push(a, 1, 0, 100 * KiB) // parked, never grows again
  push(b, 1, 0, 100 * KiB)
  push(c, 1, 0, 48 * KiB)
  push(b, 1, 100 * KiB, 48 * KiB) // b keeps streaming
  t.is(budget.usedBytes, 296 * KiB)
  // (sizes are whole 4 KiB cells of the arena, which is what the budget counts)
  // c needs 100 KiB more: a's message is the stalest.
  push(c, 1, 48 * KiB, 100 * KiB)
  t.deepEqual(evicted, ['a1'])
  t.is(a.bufferedBytes, 0)
  t.is(budget.usedBytes, 296 * KiB)
  t.is(budget.evictions, 1)
  t.true(budget.peakBytes <= 296 * KiB)
})

test('a peer beyond its share is refused (that message dropped), the others keep theirs', (t) => {
  const budget = new MemoryBudget(1024 * KiB, 200 * KiB)
  const [a, b] = [reassembler(budget), reassembler(budget)]
  push(b, 7, 0, 148 * KiB)
  push(a, 1, 0, 148 * KiB)
  const err = t.throws(() => push(a, 1, 148 * KiB, 100 * KiB))
  t.is((err as { code?: string }).code, 'ERR_REASSEMBLY_OVERFLOW')
  t.regex(err?.message ?? '', /memory budget/)
  t.is(a.bufferedBytes, 0)
  t.is(b.bufferedBytes, 148 * KiB)
  t.is(budget.usedBytes, 148 * KiB)
  t.is(budget.refusals, 1)
})

test('when nothing can be evicted (the only incomplete message is the one growing), the fragment is refused', (t) => {
  const budget = new MemoryBudget(100 * KiB, 1024 * KiB)
  const a = reassembler(budget)
  push(a, 1, 0, 80 * KiB)
  t.throws(() => push(a, 1, 80 * KiB, 40 * KiB))
  t.is(budget.usedBytes, 0)
})

test('completed, discarded and cleared messages give their bytes back; a complete message is returned whole', (t) => {
  const budget = new MemoryBudget(1024 * KiB, 1024 * KiB)
  const a = reassembler(budget)
  push(a, 1, 0, 10 * KiB, 20 * KiB)
  const whole = push(a, 1, 10 * KiB, 10 * KiB, 20 * KiB)
  t.is(whole?.byteLength, 20 * KiB)
  t.is(budget.usedBytes, 0)
  push(a, 2, 0, 10 * KiB)
  a.discard(2)
  t.is(budget.usedBytes, 0)
  push(a, 3, 0, 10 * KiB)
  push(a, 4, 0, 10 * KiB)
  a.clear()
  t.is(budget.usedBytes, 0)
  t.is(budget.reassemblyBytes, 0)
})

test('queued outbound bytes share the budget: stale incomplete messages are evicted for them, then they are refused', (t) => {
  const budget = new MemoryBudget(200 * KiB, 200 * KiB)
  const a = reassembler(budget)
  push(a, 1, 0, 150 * KiB)
  t.true(budget.acquireOutbound(100 * KiB))
  t.is(a.bufferedBytes, 0, 'the parked message made room')
  t.is(budget.outboundBytes, 100 * KiB)
  t.true(budget.acquireOutbound(100 * KiB))
  t.false(budget.acquireOutbound(1))
  budget.releaseOutbound(100 * KiB)
  t.is(budget.usedBytes, 100 * KiB)
})

test('the outbound queue is bounded by count, by bytes and by the node budget, and gives back what it releases', (t) => {
  const budget = new MemoryBudget(1000, 1000)
  const q = new UserMessageQueue(3, 600, budget)
  const recipient = {} as RemoteActorRef
  const m = (n: number) => ({ recipient, message: new Uint8Array(n), sender: undefined })
  t.is(q.offer(m(195)), undefined) // 200 estimated
  t.is(q.offer(m(295)), undefined) // 300
  t.regex(q.offer(m(195)) ?? '', /outboundQueueBytes 600/)
  t.is(q.offer(m(95)), undefined)
  t.regex(q.offer(m(1)) ?? '', /outboundQueueSize 3/)
  t.is(q.bytes, 600)
  t.is(budget.outboundBytes, 600)
  const written: number[] = []
  let room = 2
  q.drain(
    () => room-- > 0,
    (x) => written.push((x.message as Uint8Array).byteLength),
  )
  t.deepEqual(written, [195, 295])
  t.is(q.bytes, 100)
  t.is(q.takeAll().length, 1)
  t.is(budget.outboundBytes, 0)
  // The node budget, when others hold it.
  t.true(budget.acquireOutbound(950))
  t.regex(q.offer(m(95)) ?? '', /memory budget/)
})

test('estimateSize: exact for binary data and strings, bounded work for large structures', (t) => {
  t.is(estimateSize(new Uint8Array(1000)), 1005)
  t.is(estimateSize(new Float64Array(10)), 85)
  t.is(estimateSize('x'.repeat(100)), 105)
  t.true(estimateSize({ a: new Uint8Array(64 * 1024), b: 'hello' }) > 64 * 1024)
  const big = Array.from({ length: 100_000 }, (_, i) => ({ i, name: `item ${i}` }))
  const est = estimateSize(big)
  t.true(est > 100_000 * 20 && est < 100_000 * 80, `${est}`)
  t.is(estimateSize(new Map([[1, new Uint8Array(10)]])), 5 + 9 + 15)
  // a message that cannot be looked at is counted, not thrown out of the send
  const hostile = {
    get boom(): never {
      throw new Error('getter')
    },
  }
  t.is(estimateSize(hostile), 64)
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  t.is(estimateSize([proxy]), 64)
})

test("peers' compression entries share the budget: stale incomplete messages are evicted for them, then they are refused", (t) => {
  const budget = new MemoryBudget(300 * KiB, 200 * KiB)
  const r = reassembler(budget)
  push(r, 1, 0, 100 * KiB)
  t.true(budget.admitCompression(150 * KiB))
  budget.adjustCompression(150 * KiB)
  t.is(budget.compressionBytes, 150 * KiB)
  t.is(budget.usedBytes, 250 * KiB)
  // 100 KiB more: the parked fragment goes
  t.true(budget.admitCompression(100 * KiB))
  t.is(budget.evictions, 1)
  t.is(r.bufferedBytes, 0)
  budget.adjustCompression(100 * KiB)
  t.false(budget.admitCompression(100 * KiB), 'nothing left to evict')
  t.is(budget.refusals, 1)
  budget.adjustCompression(-250 * KiB)
  t.is(budget.usedBytes, 0)
  t.is(budget.peakBytes, 250 * KiB)
})
