import test from 'ava'
import fc from 'fast-check'
import { SystemMessageOverflowError, SystemMessageReceiveState, SystemMessageSendBuffer } from '../src/remote/SystemMessageDelivery.js'
import { FrameBatch } from '../src/remote/FrameBatch.js'

test('the send buffer numbers messages from 1, keeps them until a cumulative ack and overflows at its capacity', (t) => {
  const b = new SystemMessageSendBuffer<string>(3)
  t.deepEqual([b.add('a').seq, b.add('b').seq, b.add('c').seq], [1, 2, 3])
  t.throws(() => b.add('d'), { instanceOf: SystemMessageOverflowError })
  t.is(b.ack(2), 2)
  t.deepEqual(
    b.pending().map((e) => e.message),
    ['c'],
  )
  t.is(b.ack(2), 0, 'a repeated ack releases nothing')
  t.is(b.add('d').seq, 4)
  t.is(b.size, 2)
})

test('property: whatever the losses, duplicates and reorderings, resending until acked delivers each message exactly once, in order', (t) => {
  fc.assert(
    fc.property(fc.array(fc.nat(5), { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 40 }), (noise, count) => {
      const send = new SystemMessageSendBuffer<number>(1000)
      const recv = new SystemMessageReceiveState()
      for (let i = 0; i < count; i++) send.add(i)
      const delivered: number[] = []
      let step = 0
      // Each round "sends" the pending messages through a channel that drops, duplicates or
      // reorders them as the noise says, then acks cumulatively.
      for (let round = 0; round < 500 && send.size > 0; round++) {
        const wire = send.pending()
        const arrived: typeof wire = []
        for (const m of wire) {
          const n = noise[step++ % noise.length] as number
          if (n === 0) continue // lost
          arrived.push(m)
          if (n === 1) arrived.push(m) // duplicated
        }
        if ((noise[round % noise.length] as number) === 2) arrived.reverse() // reordered
        for (const m of arrived) if (recv.receive(m.seq) === 'deliver') delivered.push(m.message)
        send.ack(recv.cumulativeAck)
      }
      return send.size > 0 || (delivered.length === count && delivered.every((v, i) => v === i))
    }),
  )
  t.pass()
})

test('a frame batch packs frames with u32 lengths and hands out a full batch before it would overflow', (t) => {
  const batch = new FrameBatch(16)
  t.is(batch.add(Uint8Array.of(1, 2, 3)), undefined)
  t.is(batch.add(Uint8Array.of(4)), undefined)
  const full = batch.add(Uint8Array.of(5, 6, 7, 8, 9, 10))
  t.deepEqual([...full!], [0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 1, 4])
  t.deepEqual([...batch.take()!], [0, 0, 0, 6, 5, 6, 7, 8, 9, 10])
  t.is(batch.take(), undefined)
})
