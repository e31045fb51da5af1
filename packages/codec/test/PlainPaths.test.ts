import test from 'ava';
import fc from 'fast-check';
import { Unpackr } from 'msgpackr';
import { packr } from '../src/internal/BodyCodec.js';
import { NOT_PLAIN, readPlain } from '../src/internal/PlainReader.js';
import { writePlain } from '../src/internal/PlainWriter.js';

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
    fc.dictionary(fc.string({ maxLength: 30 }).filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 20 }),
  ),
})).value;

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: true, int64AsType: 'bigint' });

test('the plain-data writer writes exactly the bytes msgpackr writes', (t) => {
  fc.assert(
    fc.property(plainValue, (value) => {
      const ours = writePlain(value, 0, 64);
      if (ours === undefined) return; // too large for the slab: msgpackr writes it
      t.is(Buffer.from(ours).toString('hex'), Buffer.from(packr.pack(value)).toString('hex'));
    }),
    { numRuns: 3000 },
  );
});

test('strings around the str8/str16 boundaries are written as msgpackr writes them', (t) => {
  const strings = [
    'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(255), 'x'.repeat(256), 'x'.repeat(2048), 'x'.repeat(2049),
    '\u20ac'.repeat(10), '\u20ac'.repeat(85), '\u20ac'.repeat(86), '\u00e9'.repeat(127), '\u00e9'.repeat(128),
    '\u00e9'.repeat(200), '\u{1f600}'.repeat(40), '\u{1f600}'.repeat(64), 'a' + '\u20ac'.repeat(2047), '\u20ac'.repeat(2049),
  ];
  for (const str of strings) {
    for (const value of [str, [1, str], { s: str }]) {
      const ours = writePlain(value, 3, 64);
      t.truthy(ours, `length ${str.length}`);
      t.is(Buffer.from(ours!.subarray(3)).toString('hex'), Buffer.from(packr.pack(value)).toString('hex'), `length ${str.length}`);
    }
  }
});

test('the plain-data reader reads what msgpackr reads', (t) => {
  fc.assert(
    fc.property(plainValue, (value) => {
      const bytes = packr.pack(value);
      const ours = readPlain(bytes, 0, bytes.length, 64);
      t.not(ours, NOT_PLAIN);
      t.deepEqual(ours, unpackr.unpack(bytes));
    }),
    { numRuns: 3000 },
  );
});

test('the plain-data paths give up on anything else', (t) => {
  for (const value of [new Map(), new Set(), new Date(0), Uint8Array.of(1), 2n ** 70n, () => 1, Object.create(null), [new Map()]]) {
    t.is(writePlain(value, 0, 64), undefined);
  }
  for (const hex of ['d40001', 'd6ff00000000', 'c1', '91', '81a1', '81a95f5f70726f746f5f5fc0', '81c0c0', '9191919190']) {
    t.is(readPlain(Buffer.from(hex, 'hex'), 0, hex.length / 2, 3), NOT_PLAIN, hex);
  }
});

test('a getter that encodes another message while a message is written does not corrupt either', (t) => {
  const inner: Buffer[] = [];
  const message = {
    a: 1,
    get b(): string {
      inner.push(packr.pack({ nested: true }));
      const nested = writePlain({ nested: true }, 0, 64);
      t.is(nested, undefined);
      return 'x';
    },
  };
  const bytes = writePlain(message, 0, 64);
  t.is(Buffer.from(bytes as Buffer).toString('hex'), Buffer.from(packr.pack({ a: 1, b: 'x' })).toString('hex'));
});
