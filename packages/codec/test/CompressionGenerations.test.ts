import test from 'ava'
import fc from 'fast-check'
import {
  CompressionTableFullError,
  CompressionUnknownIndexError,
  MAX_COMPRESSED_VALUE_BYTES,
  MAX_COMPRESSION_ENTRIES,
  MAX_COMPRESSION_TABLE_BYTES,
  PduTag,
} from '../src/index.js'
import type { AssociationCodec, CompressionAdvertisementPdu, Pdu } from '../src/index.js'
import { Greet, makePair, RECIPIENT, SENDER, settle } from './helpers.js'

const path = (name: string | number): string => `helios.tcp://sys@127.0.0.1:2552/user/${name}`
const tagOf = (frames: Uint8Array[]): number => (frames[0] as Uint8Array)[0] as number
const recipientOf = (assoc: AssociationCodec, frame: Uint8Array): string | undefined => {
  const pdu = assoc.decode(frame)
  return pdu?.type === 'user-envelope' || pdu?.type === 'system-envelope' ? pdu.recipient : undefined
}

test('a new generation is used only once the peer has acked it in both tables', (t) => {
  const pair = makePair({ compressAfter: 1 })
  const hit = (): Uint8Array[] => pair.ab.encodeUserMessage(RECIPIENT, new Greet('x', 1), SENDER)
  hit()
  settle(pair)
  t.is(tagOf(hit()), PduTag.userEnvelope)
  t.true(pair.ab.recycleCompression())
  t.false(pair.ab.recycleCompression(), 'one generation at a time')
  const ads = pair.ab.takeControlFrames().map((f) => ({ f, pdu: pair.b.decode(f) as CompressionAdvertisementPdu }))
  t.deepEqual(
    ads.map((a) => [a.pdu.table, a.pdu.generation, a.pdu.entries.length]),
    [
      ['actor-ref', 1, 2],
      ['manifest', 1, 1],
    ],
  )
  // nothing acked yet: envelopes stay in generation 0, and decode
  t.is(tagOf(hit()), PduTag.userEnvelope)
  const [refs, manifests] = ads
  pair.ba.decode(refs?.f as Uint8Array)
  for (const ack of pair.ba.takeControlFrames()) pair.ab.decode(ack)
  t.is(pair.ab.compressionStats().outboundGeneration, 0, 'the manifest table is not acked yet')
  const stillOld = hit()
  t.is(tagOf(stillOld), PduTag.userEnvelope)
  pair.ba.decode(manifests?.f as Uint8Array)
  for (const ack of pair.ba.takeControlFrames()) pair.ab.decode(ack)
  t.is(pair.ab.compressionStats().outboundGeneration, 1)
  const fresh = hit()
  t.is(
    Buffer.from(fresh[0] as Uint8Array)
      .toString('hex')
      .slice(0, 6),
    `15${pair.ab.lastUserSeq.toString(16).padStart(2, '0')}01`,
  )
  t.like(pair.ba.decode(fresh[0] as Uint8Array), { recipient: RECIPIENT, sender: SENDER, message: new Greet('x', 1) })
  t.like(pair.ba.decode(stillOld[0] as Uint8Array), { recipient: RECIPIENT, sender: SENDER }, 'generation 0 is still held')
  t.like(pair.ba.compressionStats(), { inboundGenerations: 2, inboundActorRefs: 2, inboundManifests: 1 })
})

test('a late envelope of the previous generation decodes while the receiver holds it, then fails alone, never as another value', (t) => {
  const pair = makePair({ compressAfter: 1, compressionGenerationMs: 1_000 })
  const x = path('x')
  const y = path('y')
  pair.ab.tick(0)
  pair.ba.tick(0)
  pair.ab.encodeUserMessage(x, 1)
  pair.ab.encodeUserMessage(y, 1)
  settle(pair)
  const lateX = pair.ab.encodeUserMessage(x, 'late')[0] as Uint8Array
  t.is(Buffer.from(lateX).toString('hex').slice(0, 6), '100300', 'x as index 0 of generation 0')
  // x = 0, y = 1 in generation 0; only y is used in the last two windows: generation 1 holds y = 0
  pair.ab.tick(1_000)
  pair.ab.tick(2_000)
  pair.ab.encodeUserMessage(y, 1)
  t.true(pair.ab.recycleCompression())
  settle(pair)
  t.is(pair.ab.compressionStats().outboundGeneration, 1)
  const newY = pair.ab.encodeUserMessage(y, 'new')[0] as Uint8Array
  t.is(Buffer.from(newY).toString('hex').slice(0, 8), '15050100', 'y as index 0 of generation 1')
  t.is(recipientOf(pair.ba, newY), y)
  // x is not in generation 1: sent literally
  const literalX = pair.ab.encodeUserMessage(x, 'literal')[0] as Uint8Array
  t.is(recipientOf(pair.ba, literalX), x)
  // the envelope of generation 0 arrives late, on another lane: it still means x
  t.is(recipientOf(pair.ba, lateX), x)
  // the receiver frees generation 0 once the new one has been in use for compressionGenerationMs
  pair.ba.tick(999)
  t.is(recipientOf(pair.ba, lateX), x)
  pair.ba.tick(1_000)
  t.like(pair.ba.compressionStats(), { inboundGenerations: 1 })
  const error = t.throws(() => pair.ba.decode(lateX), { instanceOf: CompressionUnknownIndexError })
  t.is(error?.code, 'ERR_COMPRESSION_UNKNOWN_INDEX')
  // literal envelopes of the freed generation still decode; the association goes on
  t.is(recipientOf(pair.ba, pair.a.encode({ type: 'user-envelope', seq: 3, recipient: x, sender: undefined, message: 0 })), x)
  t.is(recipientOf(pair.ba, pair.ab.encodeUserMessage(y, 'after')[0] as Uint8Array), y)
})

test('an envelope of a generation the receiver never held fails alone', (t) => {
  const pair = makePair()
  // user envelope of generation 7, recipient index 0: unknown; recipient literal "r": decodes
  t.throws(() => pair.ba.decode(Buffer.from('15010700c0a3686974', 'hex')), { instanceOf: CompressionUnknownIndexError })
  t.like(pair.ba.decode(Buffer.from('150107a172c0a3686974', 'hex')), { type: 'user-envelope', recipient: 'r', message: 'hit' })
  t.like(pair.ba.decode(Buffer.from('160507a172a173a57761746368', 'hex')), { type: 'system-envelope', seq: 5, sender: 's' })
  // the stateless codec reads the generation and refuses indexes as before
  t.like(pair.b.decode(Buffer.from('150107a172c0a3686974', 'hex')), { recipient: 'r' })
  t.throws(() => pair.b.decode(Buffer.from('15010700c0a3686974', 'hex')), { code: 'ERR_CORRUPTED_FRAME' } as never)
})

test('advertisements repeated, reordered and late across generations: every envelope decodes to its own paths or fails alone', (t) => {
  type Command =
    | { op: 'send'; path: number; hot: boolean }
    | { op: 'recycle' }
    | { op: 'tickA' }
    | { op: 'tickB' }
    | { op: 'control'; pick: number; keep: boolean }
    | { op: 'ack'; pick: number; keep: boolean }
    | { op: 'envelope'; pick: number }
  const command: fc.Arbitrary<Command> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('send' as const), path: fc.nat({ max: 20 }), hot: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constant({ op: 'recycle' as const }) },
    { weight: 2, arbitrary: fc.constant({ op: 'tickA' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'tickB' as const }) },
    {
      weight: 3,
      arbitrary: fc.record({ op: fc.constant('control' as const), pick: fc.nat(), keep: fc.nat({ max: 4 }).map((n) => n === 0) }),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('ack' as const), pick: fc.nat(), keep: fc.nat({ max: 4 }).map((n) => n === 0) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('envelope' as const), pick: fc.nat() }) },
  )
  const stats = { decoded: 0, generations: 0 }
  fc.assert(
    fc.property(fc.array(command, { minLength: 80, maxLength: 200 }), (commands) => {
      const pair = makePair({ compressAfter: 1, compressionMaxEntries: 6, compressionGenerationMs: 10 })
      let now = 0
      const control: Uint8Array[] = []
      const acks: Uint8Array[] = []
      const inFlight: { frame: Uint8Array; recipient: string; sender: string; generation: number; ticksB: number }[] = []
      let ticksB = 0
      let decoded = 0
      let advertised = 0
      // mostly in order (a connection), sometimes any one of them (reordered), sometimes kept for a duplicate
      const take = <T>(list: T[], pick: number, keep: boolean): T | undefined => {
        if (list.length === 0) return undefined
        const i = pick % 3 === 0 ? pick % list.length : 0
        const item = list[i] as T
        if (!keep) list.splice(i, 1)
        return item
      }
      for (const c of commands) {
        switch (c.op) {
          case 'send': {
            const recipient = path(c.hot ? 'hot' : c.path)
            const sender = path(`s${c.path % 3}`)
            const frame = pair.ab.encodeUserMessage(recipient, c.path, sender)[0] as Uint8Array
            inFlight.push({ frame, recipient, sender, generation: pair.ab.compressionStats().outboundGeneration, ticksB })
            break
          }
          case 'recycle':
            pair.ab.recycleCompression()
            break
          case 'tickA':
            now += 7
            pair.ab.tick(now)
            break
          case 'tickB':
            pair.ba.tick(now)
            ticksB++
            break
          case 'control': {
            const f = take(control, c.pick, c.keep)
            if (f !== undefined) pair.ba.decode(f) // never throws for what an honest sender writes
            break
          }
          case 'ack': {
            const f = take(acks, c.pick, c.keep)
            if (f !== undefined) pair.ab.decode(f)
            break
          }
          case 'envelope': {
            const e = take(inFlight, c.pick, false)
            if (e === undefined) break
            try {
              const pdu = pair.ba.decode(e.frame)
              t.like(pdu, { recipient: e.recipient, sender: e.sender })
              decoded++
            } catch (error) {
              t.true(error instanceof CompressionUnknownIndexError, String(error))
              // only a generation the receiver may have freed: drained on its timer, or two behind the newest advertised
              t.true(ticksB > e.ticksB || advertised >= e.generation + 2)
            }
            break
          }
        }
        for (const f of pair.ab.takeControlFrames()) {
          control.push(f)
          advertised = Math.max(advertised, (pair.b.decode(f) as CompressionAdvertisementPdu).generation ?? 0)
        }
        acks.push(...pair.ba.takeControlFrames())
      }
      t.true(pair.ba.compressionStats().inboundGenerations <= 2)
      // once everything is delivered in order, every path decodes (compressed where it can be)
      settle(pair)
      for (const p of [path('hot'), path(1)]) t.is(recipientOf(pair.ba, pair.ab.encodeUserMessage(p, 0)[0] as Uint8Array), p)
      stats.decoded += decoded
      stats.generations = Math.max(stats.generations, advertised)
    }),
    { numRuns: 300 },
  )
  t.true(stats.decoded > 3000 && stats.generations >= 2, JSON.stringify(stats))
})

test('advertisements beyond the limits are refused, owe no ack, and open no generation', (t) => {
  const pair = makePair()
  const ad = (generation: number, entries: [number, string][], table: 'actor-ref' | 'manifest' = 'actor-ref'): Uint8Array =>
    pair.a.encode({ type: 'compression-advertisement', originUid: 1n, table, generation, version: 1, entries })
  const refused = (frame: Uint8Array): void => {
    t.throws(() => pair.ba.decode(frame), { instanceOf: CompressionTableFullError })
    t.is(pair.ba.takeControlFrames().length, 0)
  }
  refused(ad(2, [[0, 'a']]))
  refused(ad(1, [[MAX_COMPRESSION_ENTRIES, 'a']]))
  refused(ad(1, [[0, 'v'.repeat(MAX_COMPRESSED_VALUE_BYTES + 1)]]))
  t.like(pair.ba.compressionStats(), { inboundGenerations: 1 })
  refused(ad(2, [[0, 'a']])) // generation 1 is still not open
  // one table of one generation holds at most 1 MiB of values, whatever the advertisements
  const value = (i: number): string => `${i}`.padEnd(MAX_COMPRESSED_VALUE_BYTES, '.')
  const perTable = Math.floor(MAX_COMPRESSION_TABLE_BYTES / MAX_COMPRESSED_VALUE_BYTES)
  for (let from = 0; from < perTable; from += 200) {
    const entries: [number, string][] = []
    for (let i = from; i < Math.min(perTable, from + 200); i++) entries.push([i, value(i)])
    pair.ba.decode(ad(0, entries))
  }
  t.is(pair.ba.takeControlFrames().length, Math.ceil(perTable / 200))
  refused(ad(0, [[perTable, value(perTable)]]))
  pair.ba.decode(ad(0, [[perTable, value(perTable)]], 'manifest'))
  t.is(pair.ba.takeControlFrames().length, 1, 'the other table has its own MiB')
  t.true(pair.ba.compressionBytes() < 2.2 * MAX_COMPRESSION_TABLE_BYTES)
  // a generation number beyond the protocol's is not even decoded (ack of generation 2^32)
  t.throws(() => pair.ba.decode(Buffer.from('3194d3000000000000000100cf000000010000000001', 'hex')), {
    code: 'ERR_CORRUPTED_FRAME',
  } as never)
  t.throws(() => pair.a.encode({ type: 'compression-ack', originUid: 1n, table: 'actor-ref', generation: 2 ** 32, version: 1 }), {
    code: 'ERR_INVALID_PDU',
  } as never)
})

test('memory stays bounded and hot paths stay compressed over hundreds of generations of churn', (t) => {
  const pair = makePair({ compressAfter: 2, compressionMaxEntries: 64, compressionGenerationMs: 10 })
  const hot = [path('hot-1'), path('hot-2')]
  let now = 0
  let serial = 0
  let bytesAt50 = 0
  for (let round = 0; round < 400; round++) {
    // 20 actors that live for one round: each sends twice, then is gone
    for (let i = 0; i < 20; i++) {
      const churned = path(`churn-${serial++}`)
      for (let k = 0; k < 2; k++) for (const f of pair.ab.encodeUserMessage(hot[0] as string, k, churned)) pair.ba.decode(f)
    }
    for (const h of hot) for (const f of pair.ab.encodeUserMessage(h, 'ping')) pair.ba.decode(f)
    now += 5
    pair.ab.tick(now)
    pair.ba.tick(now)
    settle(pair)
    if (round === 50) bytesAt50 = pair.ab.compressionBytes() + pair.ba.compressionBytes()
    t.true(pair.ba.compressionStats().inboundGenerations <= 2)
  }
  const a = pair.ab.compressionStats()
  t.true(a.outboundGeneration >= 50, `only ${a.outboundGeneration} generations`)
  const bytes = pair.ab.compressionBytes() + pair.ba.compressionBytes()
  // two directions' tables, at most two generations of 64 entries each, plus the hit counters
  t.true(bytes < 2 * 2 * 64 * 200 + 64 * 4 * 120, `${bytes} bytes`)
  t.true(bytes < 2 * bytesAt50 + 10_000, `${bytes} bytes after 400 rounds, ${bytesAt50} after 50`)
  // the hot paths are compressed: tag, seq, generation, index, nil, message
  const frame = pair.ab.encodeUserMessage(hot[1] as string, 0)[0] as Uint8Array
  t.is(frame[0], PduTag.userEnvelopeInGeneration)
  t.true(frame.length <= 10, `${frame.length} bytes`)
  t.is(recipientOf(pair.ba, frame), hot[1])
})

test('tick starts a new generation when the table is full and enough of it unused, not when everything is in use', (t) => {
  const setup = () => {
    const pair = makePair({ compressAfter: 1, compressionMaxEntries: 4, compressionGenerationMs: 100 })
    pair.ab.tick(0)
    for (let i = 0; i < 4; i++) pair.ab.encodeUserMessage(path(i), 0)
    settle(pair)
    return pair
  }
  const advertised = (pair: ReturnType<typeof makePair>): Pdu[] => pair.ab.takeControlFrames().map((f) => pair.b.decode(f))
  // everything in use, a fifth path in demand: no new generation, it would not help
  const busy = setup()
  for (let now = 50; now <= 400; now += 50) {
    for (let i = 0; i < 5; i++) busy.ab.encodeUserMessage(path(i), 0)
    busy.ab.tick(now)
  }
  t.deepEqual(advertised(busy), [])
  t.is(busy.ab.compressionStats().outboundGeneration, 0)
  // only path 3 in use, paths 4 and 5 in demand: a new generation with path 3 first, then 4 and 5
  const idle = setup()
  let ads: CompressionAdvertisementPdu[] = []
  for (let now = 50; now <= 500 && ads.length === 0; now += 50) {
    for (const i of [3, 4, 5]) idle.ab.encodeUserMessage(path(i), 0)
    idle.ab.tick(now)
    ads = advertised(idle) as CompressionAdvertisementPdu[]
  }
  t.deepEqual(
    ads.map((a) => [a.table, a.generation, a.entries]),
    [
      ['actor-ref', 1, [[0, path(3)]]],
      ['manifest', 1, []],
    ],
  )
  for (const f of ads.map((a) => idle.a.encode(a))) idle.ba.decode(f)
  settle(idle)
  for (const i of [3, 4, 5]) idle.ab.encodeUserMessage(path(i), 0)
  settle(idle)
  t.like(idle.ab.compressionStats(), { outboundGeneration: 1, outboundActorRefs: 3 })
  for (const i of [3, 4, 5]) t.is(recipientOf(idle.ba, idle.ab.encodeUserMessage(path(i), 0)[0] as Uint8Array), path(i))
})

test('a generation mostly unused for 12 windows is rebuilt to give memory back', (t) => {
  const pair = makePair({ compressAfter: 1, compressionMaxEntries: 4096, compressionGenerationMs: 10 })
  pair.ab.tick(0)
  for (let i = 0; i < 200; i++) pair.ab.encodeUserMessage(path(i), 0)
  settle(pair)
  const before = pair.ab.compressionBytes()
  for (let now = 10; now <= 200; now += 10) {
    for (const f of pair.ab.encodeUserMessage(path(0), 0)) pair.ba.decode(f)
    pair.ab.tick(now)
    pair.ba.tick(now)
    settle(pair)
  }
  t.like(pair.ab.compressionStats(), { outboundGeneration: 1, outboundActorRefs: 1 })
  t.true(pair.ab.compressionBytes() < before / 10)
  t.like(pair.ba.compressionStats(), { inboundGenerations: 1, inboundActorRefs: 1 })
})

test('releaseCompression drops both directions: literals still flow, advertisements are ignored, indexes fail', (t) => {
  const pair = makePair({ compressAfter: 1 })
  pair.ab.encodeUserMessage(RECIPIENT, 0, SENDER)
  pair.ba.encodeUserMessage(SENDER, 0, RECIPIENT)
  settle(pair)
  const compressed = pair.ab.encodeUserMessage(RECIPIENT, 0, SENDER)[0] as Uint8Array
  t.true(pair.ab.compressionBytes() > 0)
  pair.ab.releaseCompression()
  pair.ba.releaseCompression()
  t.is(pair.ab.compressionBytes(), 0)
  t.is(pair.ba.compressionBytes(), 0)
  t.like(pair.ba.compressionStats(), { inboundGenerations: 0, outboundActorRefs: 0 })
  const literal = pair.ab.encodeUserMessage(RECIPIENT, 0, SENDER)[0] as Uint8Array
  t.like(pair.ba.decode(literal), { recipient: RECIPIENT, sender: SENDER })
  t.throws(() => pair.ba.decode(compressed), { instanceOf: CompressionUnknownIndexError })
  pair.ba.decode(
    pair.a.encode({ type: 'compression-advertisement', originUid: 1n, table: 'actor-ref', generation: 0, version: 9, entries: [[5, 'x']] }),
  )
  t.deepEqual(pair.ba.takeControlFrames(), [])
  for (let i = 0; i < 5; i++) pair.ab.encodeUserMessage(`${RECIPIENT}/${i}`, 0)
  t.false(pair.ab.compressActorPath(RECIPIENT))
  t.false(pair.ab.recycleCompression())
  pair.ab.tick(1e9)
  t.deepEqual(pair.ab.takeControlFrames(), [])
  t.is(pair.ab.compressionBytes(), 0)
})

test('compressionBytes follows the entries held: their characters plus a small overhead each', (t) => {
  const pair = makePair({ compressAfter: 1, compressionMaxEntries: 4096 })
  t.is(pair.ab.compressionBytes(), 0)
  const paths = Array.from({ length: 1000 }, (_, i) => path(`actor-${i}`.padEnd(60, '-')))
  for (const p of paths) pair.ab.encodeUserMessage(p, 0)
  settle(pair)
  const chars = paths.reduce((n, p) => n + p.length, 0)
  for (const [side, bytes] of [
    ['sender', pair.ab.compressionBytes()],
    ['receiver', pair.ba.compressionBytes()],
  ] as const) {
    t.true(bytes > chars && bytes < chars + 1000 * 100, `${side}: ${bytes} bytes for ${chars} characters`)
  }
})

test('an advertisement the receiver does not admit (limitInboundCompression) is ignored and not acked: the sender goes on writing the value in full, and it is used once admitted', (t) => {
  const pair = makePair({ compressAfter: 1 })
  let room = false
  const asked: number[] = []
  pair.ba.limitInboundCompression((bytes) => {
    asked.push(bytes)
    return room
  })
  const hit = (): Uint8Array[] => pair.ab.encodeUserMessage(RECIPIENT, new Greet('x', 1), SENDER)
  hit()
  const ads = pair.ab.takeControlFrames()
  t.true(ads.length > 0)
  for (const f of ads) pair.ba.decode(f)
  t.true(asked.length > 0 && asked.every((b) => b > 0), 'asked with the estimated bytes')
  t.deepEqual(pair.ba.takeControlFrames(), [], 'no ack')
  t.is(pair.ba.compressionBytes(), 0)
  t.like(pair.ba.compressionStats(), { inboundActorRefs: 0, inboundManifests: 0 })
  // literal paths still decode
  t.like(pair.ba.decode(hit()[0] as Uint8Array), { recipient: RECIPIENT, sender: SENDER })
  // the sender advertises again (its resend); admitted now, acked and used
  room = true
  pair.ab.resendUnackedAdvertisements()
  settle(pair)
  t.true(pair.ba.compressionBytes() > 0)
  t.like(pair.ba.compressionStats(), { inboundActorRefs: 2, inboundManifests: 1 })
  t.like(pair.ba.decode(hit()[0] as Uint8Array), { recipient: RECIPIENT, sender: SENDER, message: new Greet('x', 1) })
  t.true(pair.ab.compressionStats().actorRefsCompressed > 0)
})
