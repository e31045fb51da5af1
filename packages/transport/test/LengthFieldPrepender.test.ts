import test from 'ava'
import fc from 'fast-check'
import { EmbeddedChannel } from '../src/testing.js'
import { LengthFieldPrepender } from '../src/LengthFieldPrepender.js'
import { LengthFieldBasedFrameDecoder } from '../src/LengthFieldBasedFrameDecoder.js'
import { CorruptedFrameError, FrameTooLongError } from '../src/errors.js'

const hex = (m: unknown) => Buffer.from(m as Uint8Array).toString('hex')

test('writes the header and the payload as two buffers without copying the payload', (t) => {
  const ch = new EmbeddedChannel(new LengthFieldPrepender())
  const payload = Buffer.from('hello')
  let done = 0
  ch.pipeline.write(payload, (err) => {
    t.is(err, undefined)
    done++
  })
  ch.flush()
  t.is(ch.outboundMessages.length, 2)
  t.is(hex(ch.readOutbound()), '00000005')
  t.is(ch.readOutbound(), payload)
  t.is(done, 1)
})

test('writes 1, 2, 3 and 4-byte fields in both byte orders', (t) => {
  const payload = Buffer.alloc(0x0102)
  const cases: [1 | 2 | 3 | 4, 'BE' | 'LE', string][] = [
    [2, 'BE', '0102'],
    [2, 'LE', '0201'],
    [3, 'BE', '000102'],
    [3, 'LE', '020100'],
    [4, 'BE', '00000102'],
    [4, 'LE', '02010000'],
  ]
  for (const [len, order, header] of cases) {
    const ch = new EmbeddedChannel(new LengthFieldPrepender({ lengthFieldLength: len, byteOrder: order }))
    ch.writeOutbound(payload)
    t.is(hex(ch.readOutbound()), header, `${len} ${order}`)
  }
  const one = new EmbeddedChannel(new LengthFieldPrepender({ lengthFieldLength: 1 }))
  one.writeOutbound(Buffer.alloc(255))
  t.is(hex(one.readOutbound()), 'ff')
})

test('applies lengthAdjustment and lengthIncludesLengthFieldLength', (t) => {
  const ch = new EmbeddedChannel(
    new LengthFieldPrepender({ lengthFieldLength: 2, lengthAdjustment: 1, lengthIncludesLengthFieldLength: true }),
  )
  ch.writeOutbound(Buffer.alloc(3))
  t.is(hex(ch.readOutbound()), '0006')
})

test('rejects a payload that does not fit the field through the write callback, writing nothing', (t) => {
  const ch = new EmbeddedChannel(new LengthFieldPrepender({ lengthFieldLength: 1 }))
  let error: Error | undefined
  ch.pipeline.write(Buffer.alloc(256), (e) => {
    error = e
  })
  ch.flush()
  t.true(error instanceof FrameTooLongError)
  t.is((error as FrameTooLongError).maxFrameLength, 255)
  t.is(ch.outboundMessages.length, 0)
})

test('rejects a negative adjusted length, reporting exceptionCaught when there is no callback', (t) => {
  const ch = new EmbeddedChannel(new LengthFieldPrepender({ lengthAdjustment: -5 }))
  ch.writeOutbound(Buffer.alloc(2))
  t.true(ch.errors[0] instanceof CorruptedFrameError)
  t.is(ch.outboundMessages.length, 0)
})

test('passes messages that are not Uint8Arrays on unchanged', (t) => {
  const ch = new EmbeddedChannel(new LengthFieldPrepender())
  ch.writeOutbound('text')
  t.deepEqual(ch.outboundMessages, ['text'])
})

test('is sharable across pipelines', (t) => {
  const p = new LengthFieldPrepender()
  const a = new EmbeddedChannel(p)
  const b = new EmbeddedChannel(p)
  a.writeOutbound(Buffer.alloc(1))
  b.writeOutbound(Buffer.alloc(2))
  t.is(hex(a.readOutbound()), '00000001')
  t.is(hex(b.readOutbound()), '00000002')
})

test('property: what the prepender writes, the decoder with the same options reads back', (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom<1 | 2 | 3 | 4>(1, 2, 3, 4),
      fc.constantFrom<'BE' | 'LE'>('BE', 'LE'),
      fc.array(fc.uint8Array({ maxLength: 255 - 4 }), { maxLength: 10 }),
      (len, order, frames) => {
        const out = new EmbeddedChannel(
          new LengthFieldPrepender({ lengthFieldLength: len, byteOrder: order, lengthIncludesLengthFieldLength: true }),
        )
        out.writeOutbound(...frames)
        const wire = Buffer.concat(out.outboundMessages as Uint8Array[])
        const inbound = new EmbeddedChannel(
          new LengthFieldBasedFrameDecoder({
            maxFrameLength: 1000,
            lengthFieldLength: len,
            byteOrder: order,
            lengthAdjustment: -len,
            initialBytesToStrip: len,
          }),
        )
        inbound.writeInbound(wire)
        return JSON.stringify(inbound.inboundMessages.map(hex)) === JSON.stringify(frames.map(hex))
      },
    ),
    { numRuns: 200 },
  )
  t.pass()
})
