import test from 'ava'
import fc from 'fast-check'
import {
  Codec,
  CorruptedFrameError,
  DEFAULT_ARENA_CELL_BYTES,
  DEFAULT_MAX_MESSAGE_SIZE,
  FragmentOutOfOrderError,
  MessageTooLargeError,
  ReassemblyOverflowError,
} from '../src/index.js'
import type { Pdu } from '../src/index.js'
import { RECIPIENT, SENDER, makePair } from './helpers.js'

/** Envelope bytes besides a binary message of `size` bytes: tag, paths "r" and "s", bin header. */
/** Envelope bytes around a bin message of `size` bytes: tag, seq (one byte below 128), "r", "s", bin header. */
function overhead(size: number): number {
  return 1 + 1 + 2 + 2 + (size < 0x100 ? 2 : size < 0x10000 ? 3 : 5)
}

function deliver(pair: ReturnType<typeof makePair>, frames: Uint8Array[]): Pdu | undefined {
  let result: Pdu | undefined
  frames.forEach((f, i) => {
    const pdu = pair.ba.decode(f)
    if (i < frames.length - 1 && pdu !== undefined) throw new Error('complete before the last fragment')
    result = pdu
  })
  return result
}

test('messages of random sizes up to maxMessageSize are fragmented within maxFrameSize and reassembled', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 64, max: 600 }),
      fc.integer({ min: 0, max: 8192 }),
      fc.integer({ min: 0, max: 255 }),
      (maxFrameSize, size, fill) => {
        const maxMessageSize = 8192 + 16
        const pair = makePair({ maxFrameSize, maxMessageSize })
        const message = Buffer.alloc(size, fill)
        const frames = pair.ab.encodeUserMessage('r', message, 's')
        for (const f of frames) t.true(f.length <= maxFrameSize)
        const pdu = deliver(pair, frames)
        t.deepEqual(pdu, { type: 'user-envelope', seq: 1, recipient: 'r', sender: 's', message })
        t.is(pair.ba.reassembler.bufferedBytes, 0)
      },
    ),
    { numRuns: 300 },
  )
})

test('a message larger than maxMessageSize is refused at the sender and nothing is sent', (t) => {
  const pair = makePair({ maxFrameSize: 128, maxMessageSize: 1000 })
  const error = t.throws(() => pair.ab.encodeUserMessage('r', Buffer.alloc(1000), 's'), { instanceOf: MessageTooLargeError })
  t.is(error?.code, 'ERR_MESSAGE_TOO_LARGE')
  t.is(pair.ab.encodeUserMessage('r', Buffer.alloc(1000 - overhead(1000)), 's').length, Math.ceil(1000 / (128 - 16)))
})

test('fragments of different messages may interleave', (t) => {
  const pair = makePair({ maxFrameSize: 100 })
  const m1 = Buffer.alloc(500, 1)
  const m2 = { data: Buffer.alloc(300, 2), text: 'x'.repeat(100) }
  const f1 = pair.ab.encodeUserMessage(RECIPIENT, m1, SENDER)
  const f2 = pair.ab.encodeSystemMessage(7, RECIPIENT, m2)
  const results: Pdu[] = []
  for (let i = 0; i < Math.max(f1.length, f2.length); i++) {
    for (const f of [f1[i], f2[i]]) {
      if (f === undefined) continue
      const pdu = pair.ba.decode(f)
      if (pdu !== undefined) results.push(pdu)
    }
  }
  t.deepEqual(
    results.find((p) => p.type === 'user-envelope'),
    { type: 'user-envelope', seq: 1, recipient: RECIPIENT, sender: SENDER, message: m1 },
  )
  t.deepEqual(
    results.find((p) => p.type === 'system-envelope'),
    { type: 'system-envelope', seq: 7, recipient: RECIPIENT, sender: undefined, message: m2 },
  )
})

test('a fragment out of order drops that message with ERR_FRAGMENT_OUT_OF_ORDER and the next message still arrives', (t) => {
  const pair = makePair({ maxFrameSize: 100 })
  const frames = pair.ab.encodeUserMessage('r', Buffer.alloc(400), 's')
  t.is(pair.ba.decode(frames[0] as Uint8Array), undefined)
  const error = t.throws(() => pair.ba.decode(frames[2] as Uint8Array), { instanceOf: FragmentOutOfOrderError })
  t.is(error?.code, 'ERR_FRAGMENT_OUT_OF_ORDER')
  t.is(pair.ba.reassembler.pendingMessages, 0)
  t.throws(() => pair.ba.decode(frames[1] as Uint8Array), { instanceOf: FragmentOutOfOrderError })
  const next = pair.ab.encodeUserMessage('r', Buffer.alloc(400, 9), 's')
  t.deepEqual(deliver(pair, next), { type: 'user-envelope', seq: 2, recipient: 'r', sender: 's', message: Buffer.alloc(400, 9) })
})

test('reassembly is bounded per association', (t) => {
  const pair = makePair({ maxFrameSize: 100, maxReassemblyBytes: 250, maxPendingFragmentedMessages: 2 })
  const big = pair.ab.encodeUserMessage('r', Buffer.alloc(400), 's')
  pair.ba.decode(big[0] as Uint8Array)
  pair.ba.decode(big[1] as Uint8Array)
  const error = t.throws(() => pair.ba.decode(big[2] as Uint8Array), { instanceOf: ReassemblyOverflowError })
  t.is(error?.code, 'ERR_REASSEMBLY_OVERFLOW')
  t.is(pair.ba.reassembler.bufferedBytes, 0)
  const firsts = [1, 2, 3].map(() => pair.ab.encodeUserMessage('r', Buffer.alloc(200), 's')[0] as Uint8Array)
  pair.ba.decode(firsts[0] as Uint8Array)
  pair.ba.decode(firsts[1] as Uint8Array)
  t.throws(() => pair.ba.decode(firsts[2] as Uint8Array), { instanceOf: ReassemblyOverflowError })
  pair.ba.reassembler.clear()
  t.is(pair.ba.reassembler.pendingMessages, 0)
})

test('a small fragment declaring a huge message holds only the arena cell its own bytes need, and beyond maxMessageSize is refused', (t) => {
  const codec = new Codec()
  const pair = makePair()
  const declared = codec.encode({
    type: 'fragment',
    messageId: 1,
    totalLength: DEFAULT_MAX_MESSAGE_SIZE,
    offset: 0,
    chunk: Buffer.alloc(10),
  })
  t.is(pair.ba.decode(declared), undefined)
  t.is(pair.ba.reassembler.bufferedBytes, DEFAULT_ARENA_CELL_BYTES)
  const tooBig = codec.encode({
    type: 'fragment',
    messageId: 2,
    totalLength: DEFAULT_MAX_MESSAGE_SIZE + 1,
    offset: 0,
    chunk: Buffer.alloc(10),
  })
  t.throws(() => pair.ba.decode(tooBig), { instanceOf: MessageTooLargeError })
  const overrun = codec.encode({ type: 'fragment', messageId: 3, totalLength: 5, offset: 0, chunk: Buffer.alloc(10) })
  t.throws(() => pair.ba.decode(overrun), { instanceOf: CorruptedFrameError })
})

test('a reassembled message must be an envelope', (t) => {
  const pair = makePair()
  const heartbeat = pair.a.encode({ type: 'heartbeat' })
  const frame = pair.a.encode({ type: 'fragment', messageId: 1, totalLength: heartbeat.length, offset: 0, chunk: heartbeat })
  t.throws(() => pair.ba.decode(frame), { instanceOf: CorruptedFrameError })
})

test('large messages up to the default 16 MiB are fragmented at 256 KiB and reassembled', (t) => {
  const pair = makePair()
  for (const size of [300 * 1024, 1024 * 1024, DEFAULT_MAX_MESSAGE_SIZE - overhead(DEFAULT_MAX_MESSAGE_SIZE)]) {
    const message = Buffer.alloc(size)
    for (let i = 0; i < size; i += 4096) message[i] = i & 0xff
    const frames = pair.ab.encodeUserMessage('r', message, 's')
    t.true(frames.every((f) => f.length <= 256 * 1024))
    const pdu = deliver(pair, frames)
    if (pdu?.type !== 'user-envelope') return t.fail()
    t.true(Buffer.compare(pdu.message as Buffer, message) === 0)
  }
  t.throws(() => pair.ab.encodeUserMessage('r', Buffer.alloc(DEFAULT_MAX_MESSAGE_SIZE), 's'), { instanceOf: MessageTooLargeError })
})
