import test from 'ava'
import fc from 'fast-check'
import {
  CompressionConflictError,
  CompressionStaleError,
  CompressionTableFullError,
  CompressionUnknownIndexError,
  MAX_COMPRESSION_ENTRIES,
} from '../src/index.js'
import type { CompressionAdvertisementPdu, CompressionStats, Pdu } from '../src/index.js'
import { Greet, RECIPIENT, SENDER, TestRef, makePair, settle } from './helpers.js'

test('a steady-state envelope carrying "hit" between two known actors is at most 16 bytes', (t) => {
  const pair = makePair()
  for (let i = 0; i < 3; i++) {
    for (const f of pair.ab.encodeUserMessage(RECIPIENT, 'hit', SENDER)) pair.ba.decode(f)
    settle(pair)
  }
  const [payload, ...rest] = pair.ab.encodeUserMessage(RECIPIENT, 'hit', SENDER)
  t.is(rest.length, 0)
  t.true((payload?.length ?? 99) <= 16)
  t.is(Buffer.from(payload as Uint8Array).toString('hex'), '10040001a3686974', 'tag, seq 4, pong, ping, "hit"')
  t.deepEqual(pair.ba.decode(payload as Uint8Array), {
    type: 'user-envelope',
    seq: 4,
    recipient: RECIPIENT,
    sender: SENDER,
    message: 'hit',
  })
  // However many messages came before: the seq takes at most 5 bytes (uint32), 12 in all.
  for (let i = 0; i < 70_000; i++) pair.ab.encodeUserMessage(RECIPIENT, 'hit', SENDER)
  t.is(
    (pair.ab.encodeUserMessage(RECIPIENT, 'hit', SENDER)[0] as Uint8Array).length,
    12,
    'seq 70005 is a uint32 (ce + 4 bytes): 12 bytes, 16 with the length field',
  )
})

test('paths are sent literally until the peer acks their advertisement', (t) => {
  const pair = makePair({ compressAfter: 1 })
  const first = pair.ab.encodeUserMessage(RECIPIENT, 1)[0] as Uint8Array
  t.true(first.length > 40)
  const ads = pair.ab.takeControlFrames()
  t.is(ads.length, 1)
  // not acked yet: still literal
  t.true((pair.ab.encodeUserMessage(RECIPIENT, 1)[0] as Uint8Array).length > 40)
  for (const ad of ads) t.is(pair.ba.decode(ad)?.type, 'compression-advertisement')
  const acks = pair.ba.takeControlFrames()
  for (const ack of acks) t.is(pair.ab.decode(ack)?.type, 'compression-ack')
  t.is(
    Buffer.from(pair.ab.encodeUserMessage(RECIPIENT, 1)[0] as Uint8Array).toString('hex'),
    '100300c001',
    'tag, seq 3, index 0, no sender, 1',
  )
  const counts = (s: CompressionStats): number[] => [s.outboundActorRefs, s.outboundManifests, s.inboundActorRefs, s.inboundManifests]
  t.deepEqual(counts(pair.ab.compressionStats()), [1, 0, 0, 0])
  t.deepEqual(counts(pair.ba.compressionStats()), [0, 0, 1, 0])
  t.like(pair.ab.compressionStats(), { outboundGeneration: 0, actorRefsWritten: 3, actorRefsCompressed: 1 })
})

test('manifests and refs inside messages are compressed too', (t) => {
  const pair = makePair({ compressAfter: 1 })
  const message = { g: new Greet('a', 1), r: new TestRef(SENDER) }
  const before = (pair.ab.encodeUserMessage(RECIPIENT, message)[0] as Uint8Array).length
  settle(pair)
  const payload = pair.ab.encodeUserMessage(RECIPIENT, message)[0] as Uint8Array
  t.true(payload.length < before - 60)
  const pdu = pair.ba.decode(payload)
  t.deepEqual(pdu, { type: 'user-envelope', seq: 2, recipient: RECIPIENT, sender: undefined, message })
})

test('both directions compress independently', (t) => {
  const pair = makePair({ compressAfter: 1 })
  pair.ab.encodeUserMessage(RECIPIENT, 1, SENDER)
  pair.ba.encodeUserMessage(SENDER, 1, RECIPIENT)
  settle(pair)
  t.is((pair.ab.encodeUserMessage(RECIPIENT, 'hit', SENDER)[0] as Uint8Array).length, 8)
  const back = pair.ba.encodeUserMessage(SENDER, 'hit', RECIPIENT)[0] as Uint8Array
  t.is(back.length, 8)
  t.deepEqual(pair.ab.decode(back), { type: 'user-envelope', seq: 2, recipient: SENDER, sender: RECIPIENT, message: 'hit' })
})

test('out-of-order, repeated and duplicated advertisements and acks converge', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 60 }),
      fc.func(fc.integer()),
      fc.array(fc.nat(), { maxLength: 20 }),
      (actorIds, order, duplicates) => {
        const pair = makePair({ compressAfter: 1 })
        const paths = actorIds.map((i) => `${RECIPIENT}/child-${i}`)
        const control: Uint8Array[] = []
        for (const p of paths) {
          pair.ab.encodeUserMessage(p, 'x')
          control.push(...pair.ab.takeControlFrames())
        }
        pair.ab.resendUnackedAdvertisements()
        control.push(...pair.ab.takeControlFrames())
        for (const d of duplicates) if (control.length > 0) control.push(control[d % control.length] as Uint8Array)
        const shuffled = control
          .map((f, i) => ({ f, k: order(i) }))
          .sort((x, y) => x.k - y.k)
          .map((x) => x.f)
        const acks: Uint8Array[] = []
        for (const f of shuffled) {
          pair.ba.decode(f)
          acks.push(...pair.ba.takeControlFrames())
        }
        for (const a of [...acks].reverse()) pair.ab.decode(a)
        for (const a of acks) pair.ab.decode(a)
        for (const p of paths) {
          const payload = pair.ab.encodeUserMessage(p, 'x')[0] as Uint8Array
          t.true(payload.length <= 9)
          t.deepEqual(pair.ba.decode(payload), {
            type: 'user-envelope',
            seq: pair.ab.lastUserSeq,
            recipient: p,
            sender: undefined,
            message: 'x',
          })
        }
      },
    ),
    { numRuns: 200 },
  )
})

test('an unknown index fails that envelope with ERR_COMPRESSION_UNKNOWN_INDEX', (t) => {
  const pair = makePair()
  const error = t.throws(() => pair.ba.decode(Buffer.from('100105c0a3686974', 'hex')), { instanceOf: CompressionUnknownIndexError })
  t.is(error?.code, 'ERR_COMPRESSION_UNKNOWN_INDEX')
  t.is((error as CompressionUnknownIndexError).index, 5)
  // an unknown manifest index inside the message, and an unknown ref index
  t.throws(() => pair.ba.decode(Buffer.from('1001a172c0d443009207c0', 'hex')), { instanceOf: CompressionUnknownIndexError })
  t.throws(() => pair.ba.decode(Buffer.from('1001a172c0d4520009', 'hex')), { instanceOf: CompressionUnknownIndexError })
  // the stateless codec has no table at all
  t.is(pair.b.decode(Buffer.from('1001a172c0a161', 'hex')).type, 'user-envelope')
  t.throws(() => pair.b.decode(Buffer.from('100105c0a3686974', 'hex')), { code: 'ERR_CORRUPTED_FRAME' } as never)
})

test('an index the peer rebinds to another value is refused with ERR_COMPRESSION_CONFLICT', (t) => {
  const pair = makePair()
  const ad = (entries: [number, string][], version: number): Pdu => ({
    type: 'compression-advertisement',
    originUid: 1n,
    table: 'actor-ref',
    version,
    entries,
  })
  pair.ba.decode(pair.a.encode(ad([[0, 'a']], 1)))
  pair.ba.decode(pair.a.encode(ad([[0, 'a']], 1)))
  t.throws(() => pair.ba.decode(pair.a.encode(ad([[0, 'b']], 2))), {
    instanceOf: CompressionConflictError,
    code: 'ERR_COMPRESSION_CONFLICT',
  } as never)
  t.throws(
    () =>
      pair.ba.decode(
        pair.a.encode(
          ad(
            [
              [1, 'x'],
              [1, 'y'],
            ],
            3,
          ),
        ),
      ),
    { instanceOf: CompressionConflictError },
  )
  t.throws(() => pair.ba.decode(Buffer.from('100101c0a0', 'hex')), { instanceOf: CompressionUnknownIndexError })
  const decoded = pair.ba.decode(Buffer.from('100100c0a0', 'hex'))
  t.deepEqual(decoded, { type: 'user-envelope', seq: 1, recipient: 'a', sender: undefined, message: '' })
})

test('advertisements and acks from another incarnation of the peer are stale', (t) => {
  const pair = makePair()
  const stale: CompressionAdvertisementPdu = {
    type: 'compression-advertisement',
    originUid: 99n,
    table: 'manifest',
    version: 1,
    entries: [[0, 'm']],
  }
  const error = t.throws(() => pair.ba.decode(pair.a.encode(stale)), { instanceOf: CompressionStaleError })
  t.is(error?.code, 'ERR_COMPRESSION_STALE')
  t.throws(() => pair.ab.decode(pair.b.encode({ type: 'compression-ack', originUid: 98n, table: 'manifest', version: 1 })), {
    instanceOf: CompressionStaleError,
  })
  t.is(pair.ba.takeControlFrames().length, 0)
})

test('indexes and values beyond the protocol limits are refused', (t) => {
  const pair = makePair()
  const big = (entries: [number, string][]): Pdu => ({
    type: 'compression-advertisement',
    originUid: 1n,
    table: 'actor-ref',
    version: 1,
    entries,
  })
  t.throws(() => pair.ba.decode(pair.a.encode(big([[MAX_COMPRESSION_ENTRIES, 'x']]))), { instanceOf: CompressionTableFullError })
  t.throws(() => pair.ba.decode(pair.a.encode(big([[1, 'x'.repeat(2000)]]))), { instanceOf: CompressionTableFullError })
})

test('the outbound table stops allocating when full and keeps sending literals', (t) => {
  const pair = makePair({ compressAfter: 1, compressionMaxEntries: 4 })
  for (let i = 0; i < 10; i++) pair.ab.encodeUserMessage(`${RECIPIENT}/${i}`, 0)
  settle(pair)
  t.is(pair.ab.compressionStats().outboundActorRefs, 4)
  const literal = pair.ab.encodeUserMessage(`${RECIPIENT}/9`, 0)[0] as Uint8Array
  t.deepEqual(pair.ba.decode(literal), { type: 'user-envelope', seq: 11, recipient: `${RECIPIENT}/9`, sender: undefined, message: 0 })
})

test('one-off paths below compressAfter never take an index', (t) => {
  const pair = makePair({ compressAfter: 3 })
  for (let i = 0; i < 1000; i++) pair.ab.encodeUserMessage(`${RECIPIENT}/temp-${i}`, 0)
  t.is(pair.ab.takeControlFrames().length, 0)
})

test('tick resends an unacked advertisement only once resendAfterMs passed since it went (a slow peer gets no copy every tick)', (t) => {
  const pair = makePair({ compressAfter: 1 })
  pair.ab.tick(0)
  pair.ab.encodeUserMessage(RECIPIENT, 1)
  const first = pair.ab.takeControlFrames()
  t.is(first.length, 1)
  const sent = (): number => pair.ab.takeControlFrames().length
  pair.ab.tick(1000, 3000)
  t.is(sent(), 0, '1 s after: within the peer round trip')
  pair.ab.tick(2000, 3000)
  t.is(sent(), 0, '2 s after')
  pair.ab.tick(3000, 3000)
  t.is(sent(), 1, '3 s after: sent again')
  pair.ab.tick(4000)
  t.is(sent(), 1, 'without resendAfterMs: every tick, as before')
  // The ack of the last copy makes the path usable; nothing goes again.
  for (const f of first) pair.ba.decode(f)
  pair.ab.tick(5000)
  const copy = pair.ab.takeControlFrames()
  for (const f of copy) pair.ba.decode(f)
  for (const ack of pair.ba.takeControlFrames()) pair.ab.decode(ack)
  t.is((pair.ab.encodeUserMessage(RECIPIENT, 1)[0] as Uint8Array).length < 10, true, 'compressed once acked')
  pair.ab.tick(60_000)
  t.is(sent(), 0)
})
