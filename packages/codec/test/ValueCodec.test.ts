import test from 'ava'
import fc from 'fast-check'
import { Packr, Unpackr } from 'msgpackr'
import { MessageRegistry } from '../src/index.js'
import { NOT_PLAIN, readChecked, readPlain } from '../src/internal/ValueReader.js'
import { writeMessage } from '../src/internal/ValueWriter.js'
import { scanValue } from '../src/internal/MsgpackScanner.js'

/*
 * The value writer and reader against msgpackr, whose bytes the protocol's are: msgpackr with the
 * options Helios used while it encoded with msgpackr, and without any extension registered (this
 * test process registers none), for every type msgpackr knows natively. Maps, class instances and
 * refs are pinned by the golden examples of docs/PROTOCOL.md and the round-trip tests.
 */
const packr = new Packr({
  useRecords: false,
  moreTypes: true,
  structuredClone: false,
  useBigIntExtension: true,
  encodeUndefinedAsNil: false,
  variableMapSize: false,
})
const context = { registry: new MessageRegistry(), refCodec: undefined, maxDepth: 64, refs: undefined, manifests: undefined }

/** What the writer returns for `value` after `header` bytes of room. */
function writePlain(value: unknown, header: number, maxDepth: number): Buffer {
  return writeMessage(value, header, { ...context, maxDepth })
}

const plainValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.constant(undefined),
    fc.boolean(),
    fc.integer(),
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    fc.double(),
    fc.string({ unit: 'binary', maxLength: 70 }),
    fc.string({ unit: 'binary', minLength: 60, maxLength: 400 }),
    fc.string({ maxLength: 300 }),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(
      fc.string({ maxLength: 30 }).filter((k) => k !== '__proto__'),
      tie('value'),
      { maxKeys: 20 },
    ),
  ),
})).value

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: true, int64AsType: 'bigint' })

/** Plain data and the extension types msgpackr writes natively (Date, Set, Uint8Array, big bigints). */
const nativeValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    plainValue,
    fc.date(),
    fc.constant(new Date(Number.NaN)),
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((s) => new Date(s * 1000)),
    fc.bigInt({ min: -(2n ** 700n), max: 2n ** 700n }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('value'), { maxLength: 8 }).map((items) => new Set(items)),
    fc.array(tie('value'), { maxLength: 8 }),
  ),
})).value

test('the writer writes exactly the bytes msgpackr writes', (t) => {
  fc.assert(
    fc.property(plainValue, (value) => {
      const ours = writePlain(value, 0, 64)
      t.is(Buffer.from(ours).toString('hex'), Buffer.from(packr.pack(value)).toString('hex'))
    }),
    { numRuns: 3000 },
  )
})

test('the writer writes Date, Set, Uint8Array and big bigints as msgpackr does, and the checked reader reads them as msgpackr does', (t) => {
  fc.assert(
    fc.property(nativeValue, (value) => {
      const ours = writePlain(value, 0, 64)
      const theirs = packr.pack(value)
      t.is(Buffer.from(ours).toString('hex'), Buffer.from(theirs).toString('hex'))
      t.is(scanValue(theirs, 0, theirs.length, 0, 64), theirs.length)
      t.deepEqual(readChecked(theirs, 0, theirs.length, context), unpackr.unpack(theirs))
    }),
    { numRuns: 3000 },
  )
})

test('a value larger than the slab moves to a buffer of its own, header room included', (t) => {
  const big = { a: 'x'.repeat(100_000), b: Buffer.alloc(200_000, 1), c: [1, 2, 3] }
  const ours = writePlain(big, 7, 64)
  t.is(Buffer.from(ours.subarray(7)).toString('hex'), Buffer.from(packr.pack(big)).toString('hex'))
  const small = writePlain({ after: true }, 2, 64)
  t.is(Buffer.from(small.subarray(2)).toString('hex'), Buffer.from(packr.pack({ after: true })).toString('hex'))
})

test('strings around the str8/str16 boundaries are written as msgpackr writes them', (t) => {
  const strings = [
    'x'.repeat(31),
    'x'.repeat(32),
    'x'.repeat(255),
    'x'.repeat(256),
    'x'.repeat(2048),
    'x'.repeat(2049),
    '\u20ac'.repeat(10),
    '\u20ac'.repeat(85),
    '\u20ac'.repeat(86),
    '\u00e9'.repeat(127),
    '\u00e9'.repeat(128),
    '\u00e9'.repeat(200),
    '\u{1f600}'.repeat(40),
    '\u{1f600}'.repeat(64),
    `a${'\u20ac'.repeat(2047)}`,
    '\u20ac'.repeat(2049),
  ]
  for (const str of strings) {
    for (const value of [str, [1, str], { s: str }]) {
      const ours = writePlain(value, 3, 64)
      t.truthy(ours, `length ${str.length}`)
      t.is(Buffer.from(ours!.subarray(3)).toString('hex'), Buffer.from(packr.pack(value)).toString('hex'), `length ${str.length}`)
    }
  }
})

test('the plain-data reader reads what msgpackr reads', (t) => {
  fc.assert(
    fc.property(plainValue, (value) => {
      const bytes = packr.pack(value)
      const ours = readPlain(bytes, 0, bytes.length, 64)
      t.not(ours, NOT_PLAIN)
      t.deepEqual(ours, unpackr.unpack(bytes))
    }),
    { numRuns: 3000 },
  )
})

test('the plain reader gives up on anything else', (t) => {
  for (const hex of ['d40001', 'd6ff00000000', 'c1', '91', '81a1', '81a95f5f70726f746f5f5fc0', '81c0c0', '9191919190']) {
    t.is(readPlain(Buffer.from(hex, 'hex'), 0, hex.length / 2, 3), NOT_PLAIN, hex)
  }
})

test('a getter that encodes another message while a message is written does not corrupt either', (t) => {
  const inner: Buffer[] = []
  const message = {
    a: 1,
    get b(): string {
      inner.push(writePlain({ nested: 'x'.repeat(70_000) }, 1, 64))
      return 'x'
    },
    c: 'after',
  }
  const bytes = writePlain(message, 0, 64)
  t.is(Buffer.from(bytes).toString('hex'), Buffer.from(packr.pack({ a: 1, b: 'x', c: 'after' })).toString('hex'))
  t.is(
    Buffer.from((inner[0] as Buffer).subarray(1)).toString('hex'),
    Buffer.from(packr.pack({ nested: 'x'.repeat(70_000) })).toString('hex'),
  )
})
