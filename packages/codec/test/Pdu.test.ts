import test from 'ava'
import fc from 'fast-check'
import { Codec, DisassociateReason, FrameTooLongError, InvalidPduError, PduTag, UnknownPduError } from '../src/index.js'
import type { Pdu } from '../src/index.js'
import { messageValue, makeRegistry, refCodec } from './helpers.js'

const codec = new Codec({ registry: makeRegistry(), refCodec })
const uid = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
const seq = fc.maxSafeNat()
const str = fc.string({ unit: 'binary', maxLength: 60 })
const uniqueAddress = fc.record({ address: str, uid })
const table = fc.constantFrom('actor-ref' as const, 'manifest' as const)
const reason = fc.constantFrom(...Object.values(DisassociateReason))
const generation = fc.nat({ max: 0xffffffff })
const session = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })

const pdu: fc.Arbitrary<Pdu> = fc.oneof(
  fc.record({ type: fc.constant('handshake-request' as const), from: uniqueAddress, to: str, nonce: uid, session, toSession: seq }),
  fc.record({ type: fc.constant('handshake-response' as const), from: uniqueAddress, to: str, nonce: uid, session, toSession: seq }),
  fc.constant({ type: 'heartbeat' as const }),
  fc.record({ type: fc.constant('heartbeat-reply' as const), uid }),
  fc.record({ type: fc.constant('user-ack' as const), seq }),
  fc.record({ type: fc.constant('disassociate' as const), reason, detail: str }),
  fc.record({ type: fc.constant('quarantined' as const), from: uniqueAddress, to: uniqueAddress }),
  fc.record({
    type: fc.constant('user-envelope' as const),
    seq,
    recipient: str,
    sender: fc.option(str, { nil: undefined }),
    message: messageValue,
  }),
  fc.record({
    type: fc.constant('system-envelope' as const),
    seq,
    recipient: str,
    sender: fc.option(str, { nil: undefined }),
    message: messageValue,
  }),
  fc.record({ type: fc.constant('ack' as const), cumulative: seq, selective: fc.array(seq, { maxLength: 10 }) }),
  fc.record({ type: fc.constant('nack' as const), cumulative: seq, missing: fc.array(seq, { maxLength: 10 }) }),
  fc.record({
    type: fc.constant('fragment' as const),
    messageId: fc.nat(),
    totalLength: seq,
    offset: seq,
    chunk: fc.uint8Array({ maxLength: 100 }),
  }),
  fc.record({
    type: fc.constant('compression-advertisement' as const),
    originUid: uid,
    table,
    generation,
    version: seq,
    entries: fc.array(fc.tuple(fc.nat({ max: 4095 }), str), { maxLength: 8 }),
  }),
  fc.record({ type: fc.constant('compression-ack' as const), originUid: uid, table, generation, version: seq }),
)

test('every PDU round-trips through encode and decode', (t) => {
  fc.assert(
    fc.property(pdu, (p) => {
      const payload = codec.encode(p)
      const decoded = codec.decode(payload)
      if (p.type === 'fragment' && decoded.type === 'fragment') {
        t.deepEqual({ ...decoded, chunk: Buffer.from(decoded.chunk) }, { ...p, chunk: Buffer.from(p.chunk) })
      } else {
        t.deepEqual(decoded, p)
      }
    }),
    { numRuns: 3000 },
  )
})

test('decodes a PDU inside a larger buffer without looking outside its bounds', (t) => {
  fc.assert(
    fc.property(pdu, fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (p, before, after) => {
      const payload = codec.encode(p)
      const buf = Buffer.concat([before, payload, after])
      const decoded = codec.decode(buf, before.length, before.length + payload.length)
      t.is(decoded.type, p.type)
    }),
    { numRuns: 500 },
  )
})

test('every PDU starts with its tag byte', (t) => {
  t.is(codec.encode({ type: 'heartbeat' })[0], PduTag.heartbeat)
  t.is(codec.encode({ type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message: 1 })[0], PduTag.userEnvelope)
  t.is(codec.encode({ type: 'system-envelope', seq: 1, recipient: 'r', sender: undefined, message: 1 })[0], PduTag.systemEnvelope)
})

test('decodes a fragment chunk as a view into the frame, not a copy', (t) => {
  const payload = codec.encode({ type: 'fragment', messageId: 1, totalLength: 10, offset: 0, chunk: Buffer.from('abc') })
  const decoded = codec.decode(payload)
  if (decoded.type !== 'fragment') return t.fail()
  t.is(decoded.chunk.buffer, payload.buffer)
})

test('refuses an unknown PDU tag with ERR_UNKNOWN_PDU', (t) => {
  const error = t.throws(() => codec.decode(Buffer.from([0x7f, 0x90])), { instanceOf: UnknownPduError })
  t.is(error?.code, 'ERR_UNKNOWN_PDU')
})

test('refuses to encode a PDU with an out-of-range field', (t) => {
  t.throws(() => codec.encode({ type: 'heartbeat-reply', uid: -1n }), { instanceOf: InvalidPduError })
  t.throws(() => codec.encode({ type: 'heartbeat-reply', uid: 2n ** 64n }), { instanceOf: InvalidPduError })
  t.throws(() => codec.encode({ type: 'ack', cumulative: -1, selective: [] }), { instanceOf: InvalidPduError })
  t.throws(() => codec.encode({ type: 'ack', cumulative: 1.5, selective: [] }), { instanceOf: InvalidPduError })
})

test('checks maxFrameSize the same way when encoding and when decoding', (t) => {
  const small = new Codec({ maxFrameSize: 64 })
  const pdu: Pdu = { type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message: 'x'.repeat(100) }
  t.throws(() => small.encode(pdu), { instanceOf: FrameTooLongError, code: 'ERR_FRAME_TOO_LONG' } as never)
  const payload = codec.encode(pdu)
  t.throws(() => small.decode(payload), { instanceOf: FrameTooLongError })
  const exact = codec.encode({ type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message: 'x'.repeat(64 - 7) }) // tag, seq, r, nil, str8 header (2)
  t.is(exact.length, 64)
  t.is(small.decode(exact).type, 'user-envelope')
})

test('accepts uids and sequence numbers written with any msgpack integer width', (t) => {
  // heartbeat-reply [uid] with uid as a fixint, user-ack [seq] with a uint64, and ack with uint64 fields, as another client may write them
  t.deepEqual(codec.decode(Buffer.from('049105', 'hex')), { type: 'heartbeat-reply', uid: 5n })
  t.deepEqual(codec.decode(Buffer.from('1491cf0000000000000003', 'hex')), { type: 'user-ack', seq: 3 })
  t.deepEqual(codec.decode(Buffer.from('1292cf000000000000000790', 'hex')), { type: 'ack', cumulative: 7, selective: [] })
})

test('decodes an unknown disassociate reason code as unknown', (t) => {
  t.deepEqual(codec.decode(Buffer.from('0592cc99a0', 'hex')), { type: 'disassociate', reason: DisassociateReason.unknown, detail: '' })
})
