import test from 'ava'
import {
  BadMagicError,
  Lane,
  PREAMBLE_LENGTH,
  PROTOCOL_VERSION,
  UnknownLaneError,
  UnsupportedVersionError,
  decodePreamble,
  encodePreamble,
} from '../src/index.js'

test('encodes the preamble as HELIOS, the version and the lane', (t) => {
  t.is(Buffer.from(encodePreamble(Lane.control)).toString('hex'), '48454c494f530400')
  t.is(Buffer.from(encodePreamble(Lane.user)).toString('hex'), '48454c494f530401')
  t.is(encodePreamble(Lane.user).length, PREAMBLE_LENGTH)
})

test('decodes its own preamble for every lane', (t) => {
  for (const lane of [Lane.control, Lane.user]) t.deepEqual(decodePreamble(encodePreamble(lane)), { version: PROTOCOL_VERSION, lane })
})

test('waits for more bytes while a prefix of the preamble is valid, at every split', (t) => {
  const bytes = encodePreamble(Lane.user)
  for (let n = 0; n < PREAMBLE_LENGTH; n++) t.is(decodePreamble(bytes.subarray(0, n)), undefined)
})

test('reads a preamble inside a larger buffer', (t) => {
  const buf = Buffer.concat([Buffer.from([9, 9]), encodePreamble(Lane.control), Buffer.from([7])])
  t.deepEqual(decodePreamble(buf, 2, 10), { version: PROTOCOL_VERSION, lane: Lane.control })
})

test('refuses a wrong peer at its first wrong byte', (t) => {
  t.throws(() => decodePreamble(Buffer.from([0x16, 0x03])), { instanceOf: BadMagicError, code: 'ERR_BAD_MAGIC' } as never)
  t.throws(() => decodePreamble(Buffer.from('GET / HTTP/1.1', 'latin1')), { instanceOf: BadMagicError })
  t.throws(() => decodePreamble(Buffer.from('HELIx', 'latin1')), { instanceOf: BadMagicError })
})

test('refuses a peer of another protocol version with its version', (t) => {
  const error = t.throws(() => decodePreamble(encodePreamble(Lane.user, 1)), { instanceOf: UnsupportedVersionError })
  t.is(error?.code, 'ERR_UNSUPPORTED_VERSION')
  t.is((error as UnsupportedVersionError).version, 1)
})

test('refuses an unknown lane', (t) => {
  t.throws(() => decodePreamble(encodePreamble(7 as Lane)), { instanceOf: UnknownLaneError, code: 'ERR_UNKNOWN_LANE' } as never)
})
