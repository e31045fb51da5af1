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
