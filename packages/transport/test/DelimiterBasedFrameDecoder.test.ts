import test from 'ava'
import fc from 'fast-check'
import { EmbeddedChannel } from '../src/testing.js'
import { feedChunks, forEverySplit } from './helpers/chunks.js'
import { DelimiterBasedFrameDecoder, type DelimiterBasedFrameDecoderOptions } from '../src/DelimiterBasedFrameDecoder.js'
import { FrameTooLongError } from '../src/errors.js'

const str = (m: unknown) => Buffer.from(m as Uint8Array).toString('latin1')
const b = (s: string) => Buffer.from(s, 'latin1')

const decode = (options: DelimiterBasedFrameDecoderOptions, chunks: Uint8Array[]): EmbeddedChannel =>
  feedChunks(new DelimiterBasedFrameDecoder(options), chunks)

test('splits at a single delimiter at every split offset with several frames per chunk', (t) => {
  forEverySplit(b('ABC\0DEF\0\0GHI'), (chunks, label) => {
    const ch = decode({ maxFrameLength: 10, delimiters: [b('\0')] }, chunks)
    t.deepEqual(ch.inboundMessages.map(str), ['ABC', 'DEF', ''], label)
  })
})

test('splits at the earliest of several multi-byte delimiters at every split offset', (t) => {
  forEverySplit(b('one--two<END>three<END>four--x'), (chunks, label) => {
    const ch = decode({ maxFrameLength: 10, delimiters: [b('<END>'), b('--')] }, chunks)
    t.deepEqual(ch.inboundMessages.map(str), ['one', 'two', 'three', 'four'], label)
  })
})

test('keeps the delimiter when stripDelimiter is false', (t) => {
  forEverySplit(b('a\r\nbc\r\n'), (chunks, label) => {
    const ch = decode({ maxFrameLength: 10, delimiters: [b('\r\n')], stripDelimiter: false }, chunks)
    t.deepEqual(ch.inboundMessages.map(str), ['a\r\n', 'bc\r\n'], label)
  })
})

test('emits a frame within one chunk as a view of that chunk', (t) => {
  const chunk = new Uint8Array(b('abc||de'))
  const ch = decode({ maxFrameLength: 10, delimiters: [b('||')] }, [chunk, new Uint8Array(b('f||'))])
  const [inside, spanning] = ch.inboundMessages as Uint8Array[]
  t.true(inside!.buffer === chunk.buffer)
  t.false(spanning!.buffer === chunk.buffer)
  t.is(str(spanning), 'def')
})

test('refuses a frame longer than maxFrameLength as soon as it is exceeded, without buffering it', async (t) => {
  const decoder = new DelimiterBasedFrameDecoder({ maxFrameLength: 4, delimiters: [b('\0')] })
  const ch = new EmbeddedChannel(decoder)
  ch.writeInbound(b('abcdef'))
  t.true(ch.errors[0] instanceof FrameTooLongError)
  t.is(decoder.bufferedBytes, 0)
  await ch.closed
  t.is(ch.closeReason, ch.errors[0])
})

test('refuses an oversized frame that arrives complete, after the frames before it', (t) => {
  const ch = decode({ maxFrameLength: 3, delimiters: [b(';')] }, [b('ab;abcd;')])
  t.deepEqual(ch.inboundMessages.map(str), ['ab'])
  t.is((ch.errors[0] as FrameTooLongError).frameLength, 4)
})

test('without failFast, discards up to the delimiter even when it is split across chunks, then reports and goes on', (t) => {
  const ch = decode({ maxFrameLength: 3, delimiters: [b('<>')], failFast: false, closeOnDecodeError: false }, [b('abcdef<'), b('>ok<>')])
  t.is(ch.errors.length, 1)
  t.is((ch.errors[0] as FrameTooLongError).frameLength, 6)
  t.deepEqual(ch.inboundMessages.map(str), ['ok'])
})

test('rejects missing or empty delimiters', (t) => {
  t.throws(() => new DelimiterBasedFrameDecoder({ maxFrameLength: 3, delimiters: [] }), { instanceOf: RangeError })
  t.throws(() => new DelimiterBasedFrameDecoder({ maxFrameLength: 3, delimiters: [b('')] }), { instanceOf: RangeError })
})

test('property: random frames under random chunking come out unchanged and in order', (t) => {
  const frame = fc
    .string({ unit: fc.constantFrom('a', 'b', '-', '='), maxLength: 15 })
    .filter((s) => !s.includes('==') && !s.endsWith('=') && !s.includes('--') && !s.endsWith('-'))
  fc.assert(
    fc.property(
      fc.array(fc.tuple(frame, fc.boolean()), { maxLength: 15 }),
      fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 30 }),
      (frames, cuts) => {
        const wire = b(frames.map(([f, eq]) => f + (eq ? '==' : '--')).join(''))
        const chunks: Uint8Array[] = []
        let at = 0
        for (const c of cuts) {
          chunks.push(wire.subarray(at, at + c))
          at += c
        }
        chunks.push(wire.subarray(at))
        const ch = decode({ maxFrameLength: 15, delimiters: [b('=='), b('--')] }, chunks)
        return ch.errors.length === 0 && JSON.stringify(ch.inboundMessages.map(str)) === JSON.stringify(frames.map(([f]) => f))
      },
    ),
    { numRuns: 300 },
  )
  t.pass()
})
