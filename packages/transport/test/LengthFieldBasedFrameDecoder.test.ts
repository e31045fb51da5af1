import test from 'ava'
import fc from 'fast-check'
import { EmbeddedChannel } from '../src/testing.js'
import { feedChunks, forEverySplit } from './helpers/chunks.js'
import { isLentFrame, LengthFieldBasedFrameDecoder, type LengthFieldBasedFrameDecoderOptions } from '../src/LengthFieldBasedFrameDecoder.js'
import type { ChannelHandler, ChannelHandlerContext } from '../src/ChannelHandler.js'
import { CorruptedFrameError, FrameTooLongError } from '../src/errors.js'

const hex = (m: unknown) => Buffer.from(m as Uint8Array).toString('hex')
const HELLO = Buffer.from('HELLO, WORLD')
/** A frame with a 2-byte length: `n` bytes of `tag`. */
const frame = (tag: number, n: number): Buffer => Buffer.concat([Buffer.from([0, n]), Buffer.alloc(n, tag)])

const decodeChunks = (options: LengthFieldBasedFrameDecoderOptions, chunks: Uint8Array[]): EmbeddedChannel =>
  feedChunks(new LengthFieldBasedFrameDecoder(options), chunks)

// Netty's class-doc examples: [options, wire bytes, expected frame].
const docCases: [string, LengthFieldBasedFrameDecoderOptions, Buffer, Buffer][] = [
  [
    '2-byte length at offset 0, header kept',
    { maxFrameLength: 100, lengthFieldLength: 2 },
    Buffer.concat([Buffer.from('000c', 'hex'), HELLO]),
    Buffer.concat([Buffer.from('000c', 'hex'), HELLO]),
  ],
  [
    '2-byte length at offset 0, header stripped',
    { maxFrameLength: 100, lengthFieldLength: 2, initialBytesToStrip: 2 },
    Buffer.concat([Buffer.from('000c', 'hex'), HELLO]),
    HELLO,
  ],
  [
    '2-byte length counting the header',
    { maxFrameLength: 100, lengthFieldLength: 2, lengthAdjustment: -2 },
    Buffer.concat([Buffer.from('000e', 'hex'), HELLO]),
    Buffer.concat([Buffer.from('000e', 'hex'), HELLO]),
  ],
  [
    '3-byte length at the end of a 5-byte header',
    { maxFrameLength: 100, lengthFieldOffset: 2, lengthFieldLength: 3 },
    Buffer.concat([Buffer.from('cafe00000c', 'hex'), HELLO]),
    Buffer.concat([Buffer.from('cafe00000c', 'hex'), HELLO]),
  ],
  [
    '3-byte length at the start of a 5-byte header',
    { maxFrameLength: 100, lengthFieldLength: 3, lengthAdjustment: 2 },
    Buffer.concat([Buffer.from('00000ccafe', 'hex'), HELLO]),
    Buffer.concat([Buffer.from('00000ccafe', 'hex'), HELLO]),
  ],
  [
    '2-byte length in the middle of a 4-byte header, first fields stripped',
    { maxFrameLength: 100, lengthFieldOffset: 1, lengthFieldLength: 2, lengthAdjustment: 1, initialBytesToStrip: 3 },
    Buffer.concat([Buffer.from('ca000cfe', 'hex'), HELLO]),
    Buffer.concat([Buffer.from('fe', 'hex'), HELLO]),
  ],
  [
    '2-byte whole-message length in the middle of a 4-byte header',
    { maxFrameLength: 100, lengthFieldOffset: 1, lengthFieldLength: 2, lengthAdjustment: -3, initialBytesToStrip: 3 },
    Buffer.concat([Buffer.from('ca0010fe', 'hex'), HELLO]),
    Buffer.concat([Buffer.from('fe', 'hex'), HELLO]),
  ],
  [
    '1-byte length, little endian irrelevant',
    { maxFrameLength: 100, lengthFieldLength: 1, byteOrder: 'LE', initialBytesToStrip: 1 },
    Buffer.concat([Buffer.from('0c', 'hex'), HELLO]),
    HELLO,
  ],
  [
    '4-byte little-endian length',
    { maxFrameLength: 100, lengthFieldLength: 4, byteOrder: 'LE', initialBytesToStrip: 4 },
    Buffer.concat([Buffer.from('0c000000', 'hex'), HELLO]),
    HELLO,
  ],
  [
    '2-byte little-endian length',
    { maxFrameLength: 100, lengthFieldLength: 2, byteOrder: 'LE' },
    Buffer.concat([Buffer.from('0c00', 'hex'), HELLO]),
    Buffer.concat([Buffer.from('0c00', 'hex'), HELLO]),
  ],
  [
    '3-byte little-endian length',
    { maxFrameLength: 100, lengthFieldLength: 3, byteOrder: 'LE', initialBytesToStrip: 3 },
    Buffer.concat([Buffer.from('0c0000', 'hex'), HELLO]),
    HELLO,
  ],
]

for (const [name, options, wire, frame] of docCases) {
  test(`decodes the documented case "${name}" at every split offset, three frames per stream`, (t) => {
    const input = Buffer.concat([wire, wire, wire])
    forEverySplit(input, (chunks, label) => {
      const ch = decodeChunks(options, chunks)
      t.deepEqual(ch.inboundMessages.map(hex), [hex(frame), hex(frame), hex(frame)], label)
      t.is(ch.errors.length, 0, label)
    })
  })
}

test('decodes many frames fed one byte at a time', (t) => {
  const frames = Array.from({ length: 20 }, (_, i) => Buffer.alloc(i, i))
  const wire = Buffer.concat(frames.map((f) => Buffer.concat([Buffer.from([0, f.length]), f])))
  const ch = decodeChunks(
    { maxFrameLength: 100, lengthFieldLength: 2, initialBytesToStrip: 2 },
    [...wire].map((b) => Buffer.from([b])),
  )
  t.deepEqual(ch.inboundMessages.map(hex), frames.map(hex))
})

test('emits a frame within one chunk as a view of that chunk and copies only a frame that spans chunks', (t) => {
  const chunk = new Uint8Array([0, 0, 0, 2, 7, 8, 0, 0, 0, 3, 1])
  const ch = decodeChunks({ maxFrameLength: 100, initialBytesToStrip: 4 }, [chunk, new Uint8Array([2, 3])])
  const [inside, spanning] = ch.inboundMessages as Uint8Array[]
  t.true(inside!.buffer === chunk.buffer)
  t.is(inside!.byteOffset, 4)
  t.deepEqual([...inside!], [7, 8])
  t.false(spanning!.buffer === chunk.buffer)
  t.deepEqual([...spanning!], [1, 2, 3])
})

/** A synchronous handler that records, for each frame, whether it was lent and a copy of its bytes. */
class Recorder implements ChannelHandler {
  readonly seen: { lent: boolean; bytes: number[]; buffer: ArrayBufferLike }[] = []
  constructor(private readonly during?: () => void) {}
  channelRead(_ctx: ChannelHandlerContext, message: unknown): void {
    const frame = message as Uint8Array
    this.during?.()
    this.seen.push({ lent: isLentFrame(frame), bytes: [...frame], buffer: frame.buffer })
  }
}

test('with lendFrame, a frame it picks that spans reads is lent in one reused buffer; other frames are not', (t) => {
  const recorder = new Recorder()
  const asked: [number, number][] = []
  const lendFrame = (first: number, length: number) => {
    asked.push([first, length])
    return length >= 3
  }
  const ch = new EmbeddedChannel(new LengthFieldBasedFrameDecoder({ maxFrameLength: 100, initialBytesToStrip: 4, lendFrame }), recorder)
  const wire = (...bytes: number[]) => new Uint8Array([0, 0, 0, bytes.length, ...bytes])
  const one = wire(1, 2, 3, 4)
  ch.writeInbound(one.subarray(0, 6), one.subarray(6)) // spans: lent
  ch.writeInbound(wire(5, 6, 7)) // within one read: a view of it
  const two = wire(8, 9, 10)
  ch.writeInbound(two.subarray(0, 5), two.subarray(5)) // spans: lent again, the same buffer
  const small = wire(11, 12)
  ch.writeInbound(small.subarray(0, 5), small.subarray(5)) // spans, not picked: a fresh copy
  t.deepEqual(
    recorder.seen.map((s) => [s.lent, s.bytes]),
    [
      [true, [1, 2, 3, 4]],
      [false, [5, 6, 7]],
      [true, [8, 9, 10]],
      [false, [11, 12]],
    ],
  )
  t.is(recorder.seen[0]?.buffer, recorder.seen[2]?.buffer)
  t.deepEqual(asked, [
    [1, 4],
    [8, 3],
    [11, 2],
  ])
})

test('a frame lent while another is out is copied instead, so the one out keeps its bytes', (t) => {
  const options = { maxFrameLength: 100, initialBytesToStrip: 4, lendFrame: () => true }
  const inner = new Recorder()
  const other = new EmbeddedChannel(new LengthFieldBasedFrameDecoder(options), inner)
  const b = new Uint8Array([0, 0, 0, 3, 7, 7, 7])
  let outer: Uint8Array | undefined
  const recorder = new Recorder(() => {
    other.writeInbound(b.subarray(0, 5), b.subarray(5)) // re-entered while the outer frame is out
  })
  const ch = new EmbeddedChannel(new LengthFieldBasedFrameDecoder(options), {
    channelRead(ctx: ChannelHandlerContext, message: unknown) {
      outer = message as Uint8Array
      recorder.channelRead(ctx, message)
      t.deepEqual([...outer], [1, 2, 3], 'unchanged by the frame decoded meanwhile')
    },
  })
  const a = new Uint8Array([0, 0, 0, 3, 1, 2, 3])
  ch.writeInbound(a.subarray(0, 5), a.subarray(5))
  t.true(recorder.seen[0]?.lent)
  t.deepEqual(
    inner.seen.map((s) => [s.lent, s.bytes]),
    [[false, [7, 7, 7]]],
  )
})

test('a frame another decoder fires while a lent frame is out does not give the buffer back', (t) => {
  const lending = { maxFrameLength: 100, initialBytesToStrip: 4, lendFrame: () => true }
  const spanning = (...bytes: number[]) => {
    const wire = new Uint8Array([0, 0, 0, bytes.length, ...bytes])
    return [wire.subarray(0, 5), wire.subarray(5)]
  }
  const third = new Recorder()
  const thirdCh = new EmbeddedChannel(new LengthFieldBasedFrameDecoder(lending), third)
  const secondCh = new EmbeddedChannel(new LengthFieldBasedFrameDecoder({ maxFrameLength: 100, initialBytesToStrip: 4 }), new Recorder())
  let outer: number[] = []
  const ch = new EmbeddedChannel(new LengthFieldBasedFrameDecoder(lending), {
    channelRead(_ctx: ChannelHandlerContext, message: unknown) {
      const frame = message as Uint8Array
      // While this frame is out: a decoder that lends nothing fires a frame, then a lending one decodes another.
      secondCh.writeInbound(...spanning(5, 5, 5))
      thirdCh.writeInbound(...spanning(9, 9, 9))
      outer = [...frame]
    },
  })
  ch.writeInbound(...spanning(1, 2, 3))
  t.deepEqual(outer, [1, 2, 3], 'the outer lent frame kept its bytes')
  t.deepEqual(
    third.seen.map((s) => [s.lent, s.bytes]),
    [[false, [9, 9, 9]]],
  )
})

test('refuses a frame longer than maxFrameLength from its header, before its body is buffered', async (t) => {
  const decoder = new LengthFieldBasedFrameDecoder({ maxFrameLength: 1024, initialBytesToStrip: 4 })
  const ch = new EmbeddedChannel(decoder)
  // header declares 1 MiB; only the header and three body bytes arrive
  ch.writeInbound(Buffer.from([0x00, 0x10, 0x00, 0x00, 1, 2, 3]))
  const err = ch.errors[0] as FrameTooLongError
  t.true(err instanceof FrameTooLongError)
  t.is(err.code, 'ERR_FRAME_TOO_LONG')
  t.is(err.frameLength, 0x100000 + 4)
  t.is(err.maxFrameLength, 1024)
  t.is(decoder.bufferedBytes, 0)
  ch.writeInbound(Buffer.alloc(4096))
  t.is(decoder.bufferedBytes, 0)
  await ch.closed
  t.is(ch.closeReason, err)
  t.is(ch.inboundMessages.length, 0)
})

test('refuses an oversized frame from a header that arrives split', (t) => {
  forEverySplit(Buffer.from([0xff, 0xff, 0xff, 0xff, 9, 9]), (chunks, label) => {
    const ch = decodeChunks({ maxFrameLength: 64 }, chunks)
    t.true(ch.errors[0] instanceof FrameTooLongError, label)
    t.is(ch.errors.length, 1, label)
  })
})

test('counts maxFrameLength against the adjusted frame before stripping', (t) => {
  const ok = decodeChunks({ maxFrameLength: 6, initialBytesToStrip: 4 }, [Buffer.from([0, 0, 0, 2, 1, 2])])
  t.deepEqual(ok.inboundMessages.map(hex), ['0102'])
  const tooLong = decodeChunks({ maxFrameLength: 6, initialBytesToStrip: 4 }, [Buffer.from([0, 0, 0, 3, 1, 2, 3])])
  t.true(tooLong.errors[0] instanceof FrameTooLongError)
})

test('without failFast, discards the whole oversized frame first, then reports it and decodes the next frame', (t) => {
  const ch = new EmbeddedChannel(
    new LengthFieldBasedFrameDecoder({
      maxFrameLength: 8,
      lengthFieldLength: 1,
      initialBytesToStrip: 1,
      failFast: false,
      closeOnDecodeError: false,
    }),
  )
  ch.writeInbound(Buffer.from([20, 1, 2, 3]))
  t.is(ch.errors.length, 0)
  ch.writeInbound(Buffer.alloc(10))
  t.is(ch.errors.length, 0)
  ch.writeInbound(Buffer.from([0, 0, 0, 0, 0, 0, 0, 2, 0xaa, 0xbb]))
  t.is(ch.errors.length, 1)
  t.is((ch.errors[0] as FrameTooLongError).frameLength, 21)
  t.deepEqual(ch.inboundMessages.map(hex), ['aabb'])
  t.true(ch.isActive)
})

test('with failFast and closeOnDecodeError false, reports at the header and keeps the stream in sync after the discarded body', (t) => {
  const ch = new EmbeddedChannel(
    new LengthFieldBasedFrameDecoder({
      maxFrameLength: 8,
      lengthFieldLength: 1,
      initialBytesToStrip: 1,
      closeOnDecodeError: false,
    }),
  )
  ch.writeInbound(Buffer.from([20, 1, 2, 3]))
  t.is(ch.errors.length, 1)
  ch.writeInbound(Buffer.alloc(17), Buffer.from([1, 0xcc]))
  t.is(ch.errors.length, 1)
  t.deepEqual(ch.inboundMessages.map(hex), ['cc'])
})

test('refuses a negative adjusted length as a corrupted frame', async (t) => {
  const ch = decodeChunks({ maxFrameLength: 100, lengthFieldLength: 2, lengthAdjustment: -10 }, [Buffer.from([0, 3, 1, 2, 3])])
  const err = ch.errors[0] as CorruptedFrameError
  t.true(err instanceof CorruptedFrameError)
  t.is(err.code, 'ERR_CORRUPTED_FRAME')
  await ch.closed
  t.is(ch.closeReason, err)
})

test('refuses a frame shorter than initialBytesToStrip as a corrupted frame', (t) => {
  const ch = decodeChunks({ maxFrameLength: 100, lengthFieldLength: 1, initialBytesToStrip: 5 }, [Buffer.from([1, 9])])
  t.true(ch.errors[0] instanceof CorruptedFrameError)
})

test('decodes an empty frame', (t) => {
  const ch = decodeChunks({ maxFrameLength: 100, initialBytesToStrip: 4 }, [Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 5])])
  t.deepEqual(ch.inboundMessages.map(hex), ['', '05'])
})

test('rejects inconsistent options', (t) => {
  t.throws(() => new LengthFieldBasedFrameDecoder({ maxFrameLength: 0 }), { instanceOf: RangeError })
  t.throws(() => new LengthFieldBasedFrameDecoder({ maxFrameLength: 10, lengthFieldLength: 5 as 4 }), { instanceOf: RangeError })
  t.throws(() => new LengthFieldBasedFrameDecoder({ maxFrameLength: 10, lengthFieldOffset: 8 }), { instanceOf: RangeError })
  t.throws(() => new LengthFieldBasedFrameDecoder({ maxFrameLength: 10, initialBytesToStrip: -1 }), { instanceOf: RangeError })
})

test('property: random frames under random chunking come out unchanged and in order', (t) => {
  const fieldLength = fc.constantFrom<1 | 2 | 3 | 4>(1, 2, 3, 4)
  fc.assert(
    fc.property(
      fieldLength,
      fc.constantFrom<'BE' | 'LE'>('BE', 'LE'),
      fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }),
      fc.array(fc.integer({ min: 0, max: 64 }), { maxLength: 40 }),
      (len, order, frames, cuts) => {
        const max = len === 1 ? 255 : 1000
        const kept = frames.filter((f) => f.length <= max - len)
        const wire = Buffer.concat(
          kept.flatMap((f) => {
            const h = Buffer.alloc(len)
            if (order === 'BE') h.writeUIntBE(f.length, 0, len)
            else h.writeUIntLE(f.length, 0, len)
            return [h, f]
          }),
        )
        const chunks: Uint8Array[] = []
        let at = 0
        for (const c of cuts) {
          if (at >= wire.length) break
          chunks.push(wire.subarray(at, at + c))
          at += c
        }
        chunks.push(wire.subarray(at))
        const ch = decodeChunks({ maxFrameLength: max, lengthFieldLength: len, byteOrder: order, initialBytesToStrip: len }, chunks)
        return ch.errors.length === 0 && JSON.stringify(ch.inboundMessages.map(hex)) === JSON.stringify(kept.map(hex))
      },
    ),
    { numRuns: 300 },
  )
  t.pass()
})

test('property: random garbage never throws out of the pipeline and never buffers past maxFrameLength', (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { maxLength: 30 }), (chunks) => {
      const decoder = new LengthFieldBasedFrameDecoder({ maxFrameLength: 64, lengthFieldLength: 2, lengthAdjustment: -3 })
      const ch = new EmbeddedChannel(decoder)
      for (const c of chunks) {
        ch.writeInbound(c)
        if (decoder.bufferedBytes > 64 + c.length) return false
      }
      return true
    }),
    { numRuns: 300 },
  )
  t.pass()
})

test('bytes a handler fires back into the decoder while it emits the frames of a chunk come after the rest of that chunk', (t) => {
  // Frames A and B arrive whole, C only half; on seeing A a handler feeds the other half of C and
  // a frame D: the stream order must be A, B, C, D.
  const c = frame(3, 4)
  const decoder = new LengthFieldBasedFrameDecoder({ maxFrameLength: 100, lengthFieldLength: 2, initialBytesToStrip: 2 })
  const seen: number[] = []
  let fed = false
  const ch = new EmbeddedChannel(decoder, {
    channelRead(ctx, message) {
      const m = message as Uint8Array
      seen.push(m[0]!)
      if (!fed) {
        fed = true
        ctx.pipeline.fireChannelRead(Buffer.concat([c.subarray(3), frame(4, 2)]))
      }
    },
  })
  ch.writeInbound(Buffer.concat([frame(1, 3), frame(2, 1), c.subarray(0, 3)]))
  t.deepEqual(seen, [1, 2, 3, 4])
})

test('a decoder removed while it emits the frames of a chunk hands the rest of the chunk to the next handler', (t) => {
  const decoder = new LengthFieldBasedFrameDecoder({ maxFrameLength: 100, lengthFieldLength: 2, initialBytesToStrip: 2 })
  const seen: string[] = []
  const ch = new EmbeddedChannel(decoder, {
    channelRead(ctx, message) {
      seen.push(Buffer.from(message as Uint8Array).toString('hex'))
      if (seen.length === 1) ctx.pipeline.remove(decoder)
    },
  })
  ch.writeInbound(Buffer.concat([frame(1, 1), frame(2, 1)]))
  t.deepEqual(seen, ['01', '000102'])
})
