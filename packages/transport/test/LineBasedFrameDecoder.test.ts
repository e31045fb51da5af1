import test from 'ava'
import fc from 'fast-check'
import { EmbeddedChannel } from '../src/testing.js'
import { feedChunks, forEverySplit } from './helpers/chunks.js'
import { LineBasedFrameDecoder, type LineBasedFrameDecoderOptions } from '../src/LineBasedFrameDecoder.js'
import { FrameTooLongError } from '../src/errors.js'
import { ChunkQueue } from '../src/ChunkQueue.js'

const str = (m: unknown) => Buffer.from(m as Uint8Array).toString('latin1')

const decode = (options: LineBasedFrameDecoderOptions, chunks: Uint8Array[]): EmbeddedChannel =>
  feedChunks(new LineBasedFrameDecoder(options), chunks)

const WIRE = Buffer.from('AB\r\nCDE\n\nF\rG\r\nlast', 'latin1')

test('splits at \\n and \\r\\n, stripping the delimiter, at every split offset with several lines per chunk', (t) => {
  forEverySplit(WIRE, (chunks, label) => {
    const ch = decode({ maxLength: 10 }, chunks)
    t.deepEqual(ch.inboundMessages.map(str), ['AB', 'CDE', '', 'F\rG'], label)
    t.is(ch.errors.length, 0, label)
  })
})

test('keeps the delimiter when stripDelimiter is false, at every split offset', (t) => {
  forEverySplit(WIRE, (chunks, label) => {
    const ch = decode({ maxLength: 10, stripDelimiter: false }, chunks)
    t.deepEqual(ch.inboundMessages.map(str), ['AB\r\n', 'CDE\n', '\n', 'F\rG\r\n'], label)
  })
})

test('emits a line within one chunk as a view of that chunk', (t) => {
  const chunk = new Uint8Array(Buffer.from('hello\nwor'))
  const ch = decode({ maxLength: 10 }, [chunk, new Uint8Array(Buffer.from('ld\n'))])
  const [inside, spanning] = ch.inboundMessages as Uint8Array[]
  t.true(inside!.buffer === chunk.buffer)
  t.false(spanning!.buffer === chunk.buffer)
  t.is(str(spanning), 'world')
})

test('accepts a line of exactly maxLength, also when its \\r\\n is split', (t) => {
  forEverySplit(Buffer.from('abcd\r\nxy\n'), (chunks, label) => {
    const ch = decode({ maxLength: 4 }, chunks)
    t.deepEqual(ch.inboundMessages.map(str), ['abcd', 'xy'], label)
  })
})

test('refuses a line longer than maxLength as soon as maxLength is exceeded, without buffering it', async (t) => {
  const decoder = new LineBasedFrameDecoder({ maxLength: 8 })
  const ch = new EmbeddedChannel(decoder)
  ch.writeInbound(Buffer.from('0123456789'))
  const err = ch.errors[0] as FrameTooLongError
  t.true(err instanceof FrameTooLongError)
  t.is(err.frameLength, -1)
  t.is(decoder.bufferedBytes, 0)
  await ch.closed
  t.is(ch.closeReason, err)
})

test('refuses an overlong line that arrives complete', (t) => {
  const ch = decode({ maxLength: 3 }, [Buffer.from('ab\nabcd\n')])
  t.deepEqual(ch.inboundMessages.map(str), ['ab'])
  t.is((ch.errors[0] as FrameTooLongError).frameLength, 4)
})

test('without failFast, discards the overlong line up to its end, then reports it and goes on', (t) => {
  const ch = decode({ maxLength: 3, failFast: false, closeOnDecodeError: false }, [
    Buffer.from('abcdef'),
    Buffer.from('gh'),
    Buffer.from('i\r\nok\n'),
  ])
  t.is(ch.errors.length, 1)
  t.is((ch.errors[0] as FrameTooLongError).frameLength, 9)
  t.deepEqual(ch.inboundMessages.map(str), ['ok'])
})

test('with failFast and closeOnDecodeError false, reports once and resynchronises at the next line end', (t) => {
  const ch = decode({ maxLength: 3, closeOnDecodeError: false }, [Buffer.from('abcdef'), Buffer.from('gh\nok\n')])
  t.is(ch.errors.length, 1)
  t.deepEqual(ch.inboundMessages.map(str), ['ok'])
})

test('does not rescan a long partial line for every byte that arrives', (t) => {
  const ch = new EmbeddedChannel(new LineBasedFrameDecoder({ maxLength: 100_000 }))
  // Count the bytes the decoder asks the queue to scan.
  const original = ChunkQueue.prototype.indexOf
  let scanned = 0
  ChunkQueue.prototype.indexOf = function (this: ChunkQueue, byte: number, fromIndex = 0) {
    scanned += this.length - fromIndex
    return original.call(this, byte, fromIndex)
  }
  try {
    const one = Buffer.from('x')
    for (let i = 0; i < 20_000; i++) ch.writeInbound(one)
    ch.writeInbound(Buffer.from('\n'))
  } finally {
    ChunkQueue.prototype.indexOf = original
  }
  t.is((ch.readInbound() as Uint8Array).length, 20_000)
  t.is(scanned, 20_001)
})

test('property: random lines under random chunking come out unchanged and in order', (t) => {
  const line = fc.string({ unit: fc.constantFrom('a', 'b', '\r', ' '), maxLength: 20 }).filter((s) => !s.endsWith('\r'))
  fc.assert(
    fc.property(
      fc.array(fc.tuple(line, fc.boolean()), { maxLength: 20 }),
      fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 30 }),
      (lines, cuts) => {
        const wire = Buffer.from(lines.map(([l, crlf]) => l + (crlf ? '\r\n' : '\n')).join(''), 'latin1')
        const chunks: Uint8Array[] = []
        let at = 0
        for (const c of cuts) {
          chunks.push(wire.subarray(at, at + c))
          at += c
        }
        chunks.push(wire.subarray(at))
        const ch = decode({ maxLength: 20 }, chunks)
        return ch.errors.length === 0 && JSON.stringify(ch.inboundMessages.map(str)) === JSON.stringify(lines.map(([l]) => l))
      },
    ),
    { numRuns: 300 },
  )
  t.pass()
})
