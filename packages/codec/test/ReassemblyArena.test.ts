import { setTimeout as sleep } from 'node:timers/promises'
import test from 'ava'
import fc from 'fast-check'
import { Reassembler, ReassemblyArena } from '../src/index.js'

const MiB = 1024 * 1024

test('bytes written across cells read back the same, from any offset', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.integer({ min: 0, max: 700 }), (bytes, at) => {
      const arena = new ReassemblyArena({ cellBytes: 64, slabBytes: 64 * 16, releaseAfterMs: 0 })
      const cells = Array.from({ length: arena.cellsFor(at + bytes.length) }, () => arena.take())
      arena.write(cells, at, bytes)
      const out = new Uint8Array(at + bytes.length)
      arena.read(cells, out.length, out)
      t.deepEqual(out.subarray(at), bytes)
      for (const c of cells) arena.give(c)
      t.is(arena.cellsInUse, 0)
    }),
    { numRuns: 200 },
  )
})

test('new cells come from the oldest slab with room, so younger slabs empty and are released', async (t) => {
  const arena = new ReassemblyArena({ cellBytes: 16, slabBytes: 64, releaseAfterMs: 20 })
  const cells = Array.from({ length: 8 }, () => arena.take()) // two slabs of four cells
  t.is(arena.slabCount, 2)
  arena.give(cells[0] as number)
  arena.give(cells[1] as number)
  const again = [arena.take(), arena.take()]
  t.deepEqual(again.sort(), [cells[0], cells[1]].sort(), 'the first slab is filled again before the second')
  for (const c of cells.slice(4)) arena.give(c)
  t.is(arena.slabCount, 2, 'an empty slab is kept a while for reuse')
  await sleep(60)
  t.is(arena.slabCount, 1)
  t.is(arena.cellsInUse, 4)
  t.throws(() => arena.give(cells[5] as number), { message: /belongs to no slab/ })
})

test("an empty slab's memory goes back to the system without waiting for a garbage collection", async (t) => {
  const arena = new ReassemblyArena({ slabBytes: 48 * MiB, releaseAfterMs: 10 })
  const before = process.memoryUsage().rss
  const cells = Array.from({ length: arena.cellsFor(48 * MiB) }, () => arena.take())
  arena.write(cells, 0, new Uint8Array(48 * MiB).fill(7))
  const full = process.memoryUsage().rss
  t.true(full - before > 40 * MiB, `RSS grew by ${((full - before) / MiB).toFixed(1)} MiB`)
  for (const c of cells) arena.give(c)
  let now = full
  for (let i = 0; i < 50 && full - now < 40 * MiB; i++) {
    await sleep(20)
    now = process.memoryUsage().rss
  }
  t.is(arena.slabCount, 0)
  t.true(full - now >= 40 * MiB, `RSS fell by ${((full - now) / MiB).toFixed(1)} MiB`)
})

test('a reassembler gives its cells back when a message completes, is discarded or evicted, or it is cleared', (t) => {
  const arena = new ReassemblyArena({ cellBytes: 256, slabBytes: 256 * 64, releaseAfterMs: 0 })
  const r = new Reassembler({ maxMessageSize: 10_000, maxBufferedBytes: 20_000, maxPendingMessages: 8, arena })
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff)
  const fragment = (messageId: number, offset: number, end: number) =>
    r.push({ type: 'fragment', messageId, totalLength: bytes.length, offset, chunk: bytes.subarray(offset, end) })
  t.is(fragment(1, 0, 300), undefined)
  t.is(r.bufferedBytes, 512, 'whole cells')
  t.is(fragment(1, 300, 700), undefined)
  t.deepEqual(fragment(1, 700, 1000), Buffer.from(bytes))
  t.is(arena.cellsInUse, 0)
  fragment(2, 0, 10)
  fragment(3, 0, 10)
  fragment(4, 0, 10)
  r.discard(2)
  t.is(arena.cellsInUse, 2)
  t.is(r.evictStalest(), 256)
  t.is(arena.cellsInUse, 1)
  r.clear()
  t.is(arena.cellsInUse, 0)
  t.is(r.bufferedBytes, 0)
})

test('an arena refuses cells and slabs that do not fit each other', (t) => {
  t.throws(() => new ReassemblyArena({ cellBytes: 0 }), { instanceOf: RangeError })
  t.throws(() => new ReassemblyArena({ cellBytes: 4096, slabBytes: 10_000 }), { instanceOf: RangeError })
})
