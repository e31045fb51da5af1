import test from 'ava'
import { EmbeddedChannel } from '../src/testing.js'
import { ByteToMessageDecoder } from '../src/ByteToMessageDecoder.js'
import { ChunkQueue } from '../src/ChunkQueue.js'
import type { ChannelHandlerContext } from '../src/ChannelHandler.js'
import { CorruptedFrameError, DecoderError } from '../src/errors.js'

/** Emits every byte pair as a frame; what is left at the end is emitted by decodeLast. */
class PairDecoder extends ByteToMessageDecoder {
  protected decode(_ctx: ChannelHandlerContext, input: ChunkQueue): unknown {
    return input.length >= 2 ? input.consume(2) : undefined
  }
  protected override decodeLast(ctx: ChannelHandlerContext, input: ChunkQueue): unknown {
    return this.decode(ctx, input) ?? input.consume(input.length)
  }
}

class LazyDecoder extends ByteToMessageDecoder {
  protected decode(): unknown {
    return 'nothing consumed'
  }
}

class ThrowingDecoder extends ByteToMessageDecoder {
  protected decode(_ctx: ChannelHandlerContext, input: ChunkQueue): unknown {
    if (input.byteAt(0) === 0xff) throw new TypeError('bad byte')
    if (input.byteAt(0) === 0xfe) throw new CorruptedFrameError('corrupt')
    return input.consume(1)
  }
}

const bytes = (...b: number[]) => Buffer.from(b)
const arr = (m: unknown) => Array.from(m as Uint8Array)

test('fires decoded messages in order, several per chunk and across chunks', (t) => {
  const ch = new EmbeddedChannel(new PairDecoder())
  ch.writeInbound(bytes(1, 2, 3, 4, 5))
  ch.writeInbound(bytes(6, 7))
  t.deepEqual(ch.inboundMessages.map(arr), [
    [1, 2],
    [3, 4],
    [5, 6],
  ])
  t.is((ch.pipeline.get('handler-0') as PairDecoder).bufferedBytes, 1)
})

test('passes messages that are not Uint8Arrays on unchanged', (t) => {
  const ch = new EmbeddedChannel(new PairDecoder())
  const obj = { hello: 'world' }
  ch.writeInbound(obj, 'text')
  t.is(ch.readInbound(), obj)
  t.is(ch.readInbound(), 'text')
})

test('throws DecoderError when decode produced a message without consuming bytes, and closes the channel', async (t) => {
  const ch = new EmbeddedChannel(new LazyDecoder())
  ch.writeInbound(bytes(1))
  await ch.closed
  t.is(ch.inboundMessages.length, 0)
  t.true(ch.errors[0] instanceof DecoderError)
  t.is((ch.errors[0] as DecoderError).code, 'ERR_DECODER')
  t.is(ch.closeReason, ch.errors[0])
})

test('decodes what is left on channelInactive before passing channelInactive on', async (t) => {
  const seen: string[] = []
  const ch = new EmbeddedChannel(new PairDecoder(), {
    channelRead(_ctx, m) {
      seen.push(`read ${arr(m).join(',')}`)
    },
    channelInactive() {
      seen.push('inactive')
    },
  })
  ch.writeInbound(bytes(1, 2, 3))
  ch.disconnect()
  await ch.closed
  t.deepEqual(seen, ['read 1,2', 'read 3', 'inactive'])
})

test('wraps a non-transport error in DecoderError with cause, fires it and closes with it as reason', async (t) => {
  const decoder = new ThrowingDecoder()
  const ch = new EmbeddedChannel(decoder)
  ch.writeInbound(bytes(1, 2, 0xff, 3, 4))
  await ch.closed
  t.deepEqual(ch.inboundMessages.map(arr), [[1], [2]])
  const err = ch.errors[0] as DecoderError
  t.true(err instanceof DecoderError)
  t.true(err.cause instanceof TypeError)
  t.is(ch.closeReason, err)
  t.is(decoder.droppedBytes, 3)
  t.is(ch.errors.length, 1)
})

test('fires a typed TransportError as it is and drops bytes that arrive after the failure', (t) => {
  const decoder = new ThrowingDecoder()
  const ch = new EmbeddedChannel(decoder)
  ch.writeInbound(bytes(0xfe, 1))
  ch.writeInbound(bytes(2, 3))
  t.true(ch.errors[0] instanceof CorruptedFrameError)
  t.is(ch.inboundMessages.length, 0)
  t.is(decoder.droppedBytes, 4)
  t.is(decoder.bufferedBytes, 0)
})

test('with closeOnDecodeError false, reports the error and goes on decoding after the bytes the failed call consumed', (t) => {
  const ch = new EmbeddedChannel(
    new (class extends ByteToMessageDecoder {
      protected decode(_ctx: ChannelHandlerContext, input: ChunkQueue): unknown {
        const b = input.consume(1)
        if (b[0] === 0xff) throw new CorruptedFrameError('bad')
        return b
      }
    })({ closeOnDecodeError: false }),
  )
  ch.writeInbound(bytes(1, 0xff, 2))
  t.true(ch.isActive)
  t.is(ch.errors.length, 1)
  t.deepEqual(ch.inboundMessages.map(arr), [[1], [2]])
  ch.writeInbound(bytes(3))
  t.deepEqual(ch.inboundMessages.map(arr), [[1], [2], [3]])
})

test('passes buffered bytes on when the decoder is removed mid-stream', (t) => {
  const ch = new EmbeddedChannel(
    new (class extends ByteToMessageDecoder {
      protected decode(ctx: ChannelHandlerContext, input: ChunkQueue): unknown {
        if (input.length < 1) return undefined
        const first = input.consume(1)
        ctx.pipeline.remove(this) // hand the rest over, like a preamble check
        return first
      }
    })(),
  )
  ch.writeInbound(bytes(9, 1, 2, 3))
  t.deepEqual(ch.inboundMessages.map(arr), [[9], [1, 2, 3]])
  ch.writeInbound(bytes(4))
  t.deepEqual(arr(ch.inboundMessages.at(-1)), [4])
})

test('handles a re-entrant read fired from inside its own decode pass in order', (t) => {
  const ch = new EmbeddedChannel(new PairDecoder(), {
    channelRead(ctx, m) {
      if (arr(m)[0] === 1) ctx.pipeline.fireChannelRead(bytes(5, 6))
      ctx.fireChannelRead(m)
    },
  })
  ch.writeInbound(bytes(1, 2, 3, 4))
  t.deepEqual(ch.inboundMessages.map(arr), [
    [1, 2],
    [3, 4],
    [5, 6],
  ])
})

test('ChunkQueue returns a view inside one chunk and a copy across chunks', (t) => {
  // Own ArrayBuffers (Buffer.from would use the shared pool).
  const a = new Uint8Array([1, 2, 3, 4])
  const b = new Uint8Array([5, 6, 7])
  const q = new ChunkQueue()
  q.push(a)
  q.push(b)
  t.is(q.length, 7)
  t.is(q.readUint(2, 4, false), 0x03040506)
  t.is(q.readUint(2, 4, true), 0x06050403)
  t.is(q.readUint(0, 4, false), 0x01020304)
  t.is(q.indexOf(6), 5)
  t.is(q.indexOfSequence(Buffer.from([4, 5, 6])), 3)
  t.is(q.indexOfSequence(Buffer.from([4, 6])), -1)
  const v = q.consume(2)
  t.true(v.buffer === a.buffer)
  t.deepEqual(Array.from(v), [1, 2])
  const c = q.consume(3)
  t.false(c.buffer === a.buffer || c.buffer === b.buffer)
  t.deepEqual(Array.from(c), [3, 4, 5])
  t.is(q.indexOf(6), 0)
  q.skip(1)
  t.deepEqual(Array.from(q.consume(1)), [7])
  t.is(q.length, 0)
})

test('ChunkQueue reads unsigned 32-bit lengths above 2^31 without going negative', (t) => {
  const q = new ChunkQueue()
  q.push(Buffer.from([0xff, 0xff]))
  q.push(Buffer.from([0xff, 0xfe]))
  t.is(q.readUint(0, 4, false), 0xfffffffe)
  t.is(q.readUint(0, 4, true), 0xfeffffff)
})
