import test from 'ava'
import fc from 'fast-check'
import {
  Codec,
  CorruptedFrameError,
  DuplicateRegistrationError,
  ForbiddenKeyError,
  MessageDecodeError,
  MessageRegistry,
  NestingTooDeepError,
  UnknownManifestError,
  UnsupportedExtensionError,
  UnsupportedValueError,
} from '../src/index.js'
import { Greet, Money, Point, RECIPIENT, SENDER, TestRef, makePair, makeRegistry, messageValue, refCodec, settle } from './helpers.js'

function roundTrip(codec: Codec, message: unknown): unknown {
  const decoded = codec.decode(codec.encode({ type: 'user-envelope', seq: 1, recipient: RECIPIENT, sender: SENDER, message }))
  if (decoded.type !== 'user-envelope') throw new Error('not an envelope')
  return decoded.message
}

const codec = new Codec({ registry: makeRegistry(), refCodec })

test('arbitrary message values round-trip unchanged, with and without compression', (t) => {
  const pair = makePair({ compressAfter: 1 })
  fc.assert(
    fc.property(messageValue, (message) => {
      t.deepEqual(roundTrip(codec, message), message)
      for (const payload of pair.ab.encodeUserMessage(RECIPIENT, message, SENDER)) {
        const pdu = pair.ba.decode(payload)
        t.deepEqual(pdu, { type: 'user-envelope', seq: pair.ab.lastUserSeq, recipient: RECIPIENT, sender: SENDER, message })
      }
      settle(pair)
    }),
    { numRuns: 2000 },
  )
})

test('registered class instances arrive as instances of their class', (t) => {
  const g = roundTrip(codec, new Greet('bob', 3))
  t.true(g instanceof Greet)
  t.deepEqual(g, new Greet('bob', 3))
  const p = roundTrip(codec, [new Point(1, 2)]) as Point[]
  t.true(p[0] instanceof Point)
  t.is(p[0]?.y, 2)
})

test('positional fields write an array instead of a map', (t) => {
  const withFields = codec.encode({ type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message: new Point(1, 2) })
  t.is(Buffer.from(withFields).toString('hex'), '1001a172c0d4430092aa746573742e506f696e74920102')
})

test('toWire and fromWire statics carry private state', (t) => {
  const m = roundTrip(codec, new Money(1234n)) as Money
  t.true(m instanceof Money)
  t.is(m.cents, 1234n)
})

test('a throwing fromWire fails that one message with ERR_MESSAGE_DECODE and its cause', (t) => {
  const bad = new MessageRegistry().register(Money, 'test.Money', { toWire: () => 'not a bigint', fromWire: Money.fromWire })
  const c = new Codec({ registry: bad })
  const payload = c.encode({ type: 'user-envelope', seq: 1, recipient: 'r', sender: 's', message: new Money(1n) })
  const error = t.throws(() => c.decode(payload), { instanceOf: MessageDecodeError })
  t.is(error?.code, 'ERR_MESSAGE_DECODE')
  t.true(error?.cause instanceof TypeError)
  t.deepEqual(error?.envelope, { type: 'user-envelope', seq: 1, recipient: 'r', sender: 's' })
})

test('actor refs at any depth go through the RefCodec', (t) => {
  const ref = new TestRef(RECIPIENT)
  const message = { a: [{ b: new Map([['k', new Set([ref])]]) }], c: new Greet('x', 1), d: ref }
  const decoded = roundTrip(codec, message) as typeof message
  t.true(decoded.d instanceof TestRef)
  const inner = [...(decoded.a[0]?.b.get('k') ?? [])][0]
  t.true(inner instanceof TestRef)
  t.is((inner as TestRef).path, RECIPIENT)
})

test('a ref without a RefCodec is refused on both sides', (t) => {
  const plain = new Codec({ registry: makeRegistry() })
  t.throws(() => plain.encode({ type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message: new TestRef('p') }), {
    instanceOf: UnsupportedValueError,
  })
  const payload = codec.encode({ type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message: new TestRef('p') })
  t.throws(() => plain.decode(payload), { instanceOf: UnsupportedValueError })
})

test('an unknown manifest fails only that message, naming its recipient and sender', (t) => {
  const sender = new Codec({ registry: makeRegistry() })
  const receiver = new Codec({ registry: new MessageRegistry() })
  const bad = sender.encode({
    type: 'system-envelope',
    seq: 9,
    recipient: RECIPIENT,
    sender: SENDER,
    message: { nested: [new Greet('a', 1)] },
  })
  const error = t.throws(() => receiver.decode(bad), { instanceOf: UnknownManifestError })
  t.is(error?.code, 'ERR_UNKNOWN_MANIFEST')
  t.is((error as UnknownManifestError).manifest, 'test.Greet')
  t.deepEqual(error?.envelope, { type: 'system-envelope', recipient: RECIPIENT, sender: SENDER, seq: 9 })
  const good = sender.encode({ type: 'user-envelope', seq: 1, recipient: RECIPIENT, sender: undefined, message: 'next' })
  t.is((receiver.decode(good) as { message: unknown }).message, 'next')
})

test('an unregistered class, a function or a symbol is refused at the sender', (t) => {
  class Unknown {}
  for (const message of [new Unknown(), () => 1, Symbol('s'), { f: () => 1 }, [Symbol('x')], new Float64Array(2), /re/, new Error('e')]) {
    t.throws(() => codec.encode({ type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message }), {
      instanceOf: UnsupportedValueError,
    })
  }
})

test('registering a class or a manifest twice is refused', (t) => {
  const r = new MessageRegistry().register(Greet, 'g')
  t.throws(() => r.register(Greet, 'g2'), { instanceOf: DuplicateRegistrationError })
  t.throws(() => r.register(Point, 'g'), { instanceOf: DuplicateRegistrationError })
  t.is(r.manifestOf(Greet), 'g')
})

test('a cyclic or too deeply nested message is refused with ERR_NESTING_TOO_DEEP', (t) => {
  const cyclic: Record<string, unknown> = {}
  cyclic['self'] = cyclic
  t.throws(() => codec.encode({ type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message: cyclic }), {
    instanceOf: NestingTooDeepError,
  })
  // 100 nested one-element arrays: 10 01 a1 72 c0 91 91 ... c0
  const deep = Buffer.concat([Buffer.from('1001a172c0', 'hex'), Buffer.alloc(100, 0x91), Buffer.from([0xc0])])
  t.throws(() => codec.decode(deep), { instanceOf: NestingTooDeepError, code: 'ERR_NESTING_TOO_DEEP' } as never)
  const veryDeep = Buffer.concat([Buffer.from('1001a172c0', 'hex'), Buffer.alloc(200_000, 0x91), Buffer.from([0xc0])])
  t.throws(() => new Codec({ maxFrameSize: 1 << 20 }).decode(veryDeep), { instanceOf: NestingTooDeepError })
})

test('arrays nested in arrays cannot claim more items than the frame has bytes', (t) => {
  // each level declares 60000 items, as many as the bytes that remain, 50 levels deep
  const levels = 50
  const parts: Buffer[] = [Buffer.from('1001a172c0', 'hex')]
  for (let i = 0; i < levels; i++) parts.push(Buffer.from([0xdc, 0xea, 0x60]))
  parts.push(Buffer.alloc(60000, 0xc0))
  const frame = Buffer.concat(parts)
  const big = new Codec({ maxFrameSize: 1 << 20 })
  const before = process.memoryUsage().heapUsed
  t.throws(() => big.decode(frame), { instanceOf: CorruptedFrameError })
  t.true(process.memoryUsage().heapUsed - before < 64 * 1024 * 1024)
})

test('a __proto__ key on the wire is refused and never reaches a prototype', (t) => {
  // envelope to "r" whose message is the map {"__proto__": {"polluted": true}}
  const payload = Buffer.from('1001a172c081a95f5f70726f746f5f5f81a8706f6c6c75746564c3', 'hex')
  const error = t.throws(() => codec.decode(payload), { instanceOf: ForbiddenKeyError })
  t.is(error?.code, 'ERR_FORBIDDEN_KEY')
  // the same key in str8 form
  const str8 = Buffer.from('1001a172c081d9095f5f70726f746f5f5fc3', 'hex')
  t.throws(() => codec.decode(str8), { instanceOf: ForbiddenKeyError })
  t.is(({} as Record<string, unknown>)['polluted'], undefined)
})

test('an own __proto__ property is refused at the sender', (t) => {
  const message = JSON.parse('{"__proto__": {"polluted": true}}') as unknown
  t.throws(() => codec.encode({ type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message }), {
    instanceOf: UnsupportedValueError,
  })
})

test('constructor and prototype keys stay plain data and touch no prototype', (t) => {
  const message = { constructor: { prototype: { polluted: true } }, prototype: { polluted: true } }
  const decoded = roundTrip(codec, message) as Record<string, unknown>
  t.deepEqual(decoded, message)
  t.is(Object.getPrototypeOf(decoded), Object.prototype)
  t.is(({} as Record<string, unknown>)['polluted'], undefined)
  t.is((Object.prototype as Record<string, unknown>)['polluted'], undefined)
  // a registered class instance with a "constructor" field keeps its class's prototype untouched
  const g = roundTrip(codec, Object.assign(new Greet('a', 1), { constructor: 'x' })) as Greet
  t.is(Object.getPrototypeOf(g), Greet.prototype)
  t.is(Greet.prototype.constructor, Greet)
})

test('msgpackr extensions the protocol does not register are refused', (t) => {
  const cases = [
    'd4720091a161', // record definition
    'd6690000000190', // structured-clone id
    'd67000000001', // structured-clone pointer
    'd4650093a54572726f72a161c0', // Error
    'd4780092a161a0', // RegExp
    'd6620000000a', // string bundle
    'c70274080000', // typed array other than Uint8Array (Float64)
    'd40100', // unknown ext 1
    'c1', // never-used token
  ]
  for (const hex of cases) {
    const payload = Buffer.from(`1001a172c0${hex}`, 'hex')
    const error = t.throws(() => codec.decode(payload))
    t.true(error instanceof UnsupportedExtensionError || error instanceof CorruptedFrameError, hex)
  }
})

test('a Uint8Array stays a Uint8Array and a Buffer stays a Buffer', (t) => {
  const decoded = roundTrip(codec, { u: new Uint8Array([1, 2, 3]), b: Buffer.from([4, 5]) }) as { u: Uint8Array; b: Buffer }
  t.is(Object.getPrototypeOf(decoded.u), Uint8Array.prototype)
  t.true(Buffer.isBuffer(decoded.b))
  t.deepEqual([...decoded.u], [1, 2, 3])
})

test("a registry with a parent knows the parent's classes, also those registered later, and leaves the parent unchanged", (t) => {
  class Late {
    constructor(readonly n: number) {}
  }
  class Own {
    constructor(readonly s: string) {}
  }
  const parent = new MessageRegistry()
  const child = new MessageRegistry(parent).register(Own, 'own')
  parent.register(Late, 'late')
  t.is(child.manifestOf(Late), 'late')
  t.is(parent.manifestOf(Own), undefined)
  t.throws(() => child.register(Late, 'again'), { code: 'ERR_DUPLICATE_REGISTRATION' } as never)
  const c = new Codec({ registry: child })
  const decoded = c.decode(
    c.encode({ type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message: [new Late(1), new Own('x')] }),
  )
  t.true(
    decoded.type === 'user-envelope' &&
      (decoded.message as unknown[])[0] instanceof Late &&
      (decoded.message as unknown[])[1] instanceof Own,
  )
})

test("bigints at the limit (8,192 bytes of two's complement) round-trip both ways; one bit beyond is refused both ways", (t) => {
  const limit = 2n ** 65535n // 8,192 bytes hold -2^65535 .. 2^65535 - 1
  for (const value of [limit - 1n, -limit, limit / 2n + 12345n, -(limit / 3n)]) {
    const payload = codec.encode({ type: 'user-envelope', seq: 1, recipient: RECIPIENT, sender: SENDER, message: value })
    t.is(roundTrip(codec, value), value)
    t.true(Buffer.from(payload).includes(Buffer.from([0xc8, 0x20, 0x00, 0x42])), 'an ext16 of 8,192 bytes')
  }
  for (const value of [limit, -limit - 1n, limit * 2n ** 100n]) {
    const error = t.throws(() => codec.encode({ type: 'user-envelope', seq: 1, recipient: RECIPIENT, sender: SENDER, message: value }), {
      instanceOf: UnsupportedValueError,
    })
    t.regex(error?.message ?? '', /more than 8192 bytes/)
  }
  // What any writer may send at the limit decodes, and encodes again: 8,192 bytes of 0xff ... (-1)
  // and of 0x7f ff ...; one byte more is refused by the decoder.
  const frameWith = (data: Buffer): Uint8Array => {
    const marker = Buffer.from('MARK')
    const framed = Buffer.from(codec.encode({ type: 'user-envelope', seq: 1, recipient: RECIPIENT, sender: SENDER, message: 'MARK' }))
    const at = framed.indexOf(marker) - 1 // the fixstr header
    const header = Buffer.alloc(4)
    header[0] = 0xc8
    header.writeUInt16BE(data.length, 1)
    header[3] = 0x42
    return Buffer.concat([framed.subarray(0, at), header, data, framed.subarray(at + 1 + marker.length)])
  }
  const decodeValue = (frame: Uint8Array): unknown => (codec.decode(frame) as { message: unknown }).message
  const max = Buffer.alloc(8192, 0xff)
  max[0] = 0x7f
  t.is(decodeValue(frameWith(max)), limit - 1n)
  t.is(decodeValue(frameWith(Buffer.alloc(8192, 0xff))), -1n)
  const odd = Buffer.alloc(8191, 0x80) // not whole words: sign-extended to 8,192 on the way back
  const oddValue = decodeValue(frameWith(odd)) as bigint
  t.is(roundTrip(codec, oddValue), oddValue)
  const beyond = Buffer.alloc(8193, 0x7f)
  t.throws(() => codec.decode(frameWith(beyond)), { instanceOf: UnsupportedExtensionError })
})
