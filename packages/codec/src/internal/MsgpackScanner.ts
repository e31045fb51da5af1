import { CorruptedFrameError, ForbiddenKeyError, NestingTooDeepError, UnsupportedExtensionError } from '../errors.js'
import { ExtType, MAX_BIGINT_BYTES } from './ExtType.js'

/*
 * A structural pass over untrusted msgpack bytes before they are turned into values. It accepts
 * exactly the subset docs/PROTOCOL.md describes (and none of the other extensions msgpack
 * libraries speak: records, structured-clone pointers, errors, regexps, string bundles, 0xc1),
 * checks every length against the frame's end and bounds the nesting, so that the reader that
 * follows (ValueReader's readChecked) only ever sees bytes it reads without surprise. It
 * allocates nothing and costs one step per msgpack token.
 */

function truncated(): CorruptedFrameError {
  return new CorruptedFrameError('truncated msgpack value')
}

function u16(buf: Uint8Array, pos: number): number {
  return ((buf[pos] as number) << 8) | (buf[pos + 1] as number)
}

function u32(buf: Uint8Array, pos: number): number {
  return (
    (((buf[pos] as number) << 24) >>> 0) + (((buf[pos + 1] as number) << 16) | ((buf[pos + 2] as number) << 8) | (buf[pos + 3] as number))
  )
}

const PROTO_KEY = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f] // "__proto__"

/** Returns the position after the string at `pos`, checking it is a str; rejects `__proto__`. */
function scanKey(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) throw truncated()
  const token = buf[pos] as number
  let length: number
  let start: number
  if (token >= 0xa0 && token <= 0xbf) {
    length = token - 0xa0
    start = pos + 1
  } else if (token === 0xd9) {
    if (pos + 2 > end) throw truncated()
    length = buf[pos + 1] as number
    start = pos + 2
  } else if (token === 0xda) {
    if (pos + 3 > end) throw truncated()
    length = u16(buf, pos + 1)
    start = pos + 3
  } else if (token === 0xdb) {
    if (pos + 5 > end) throw truncated()
    length = u32(buf, pos + 1)
    start = pos + 5
  } else {
    throw new CorruptedFrameError(`map key must be a string, found token 0x${token.toString(16)}`)
  }
  if (length > end - start) throw truncated()
  if (length === 9) {
    let same = true
    for (let i = 0; i < 9; i++) {
      if (buf[start + i] !== PROTO_KEY[i]) {
        same = false
        break
      }
    }
    if (same) throw new ForbiddenKeyError('__proto__')
  }
  return start + length
}

function isStrOrUint(token: number): boolean {
  return token <= 0x7f || (token >= 0xa0 && token <= 0xbf) || (token >= 0xcc && token <= 0xcf) || (token >= 0xd9 && token <= 0xdb)
}

/** Array length at `pos`, or -1 if the token is not an array header. */
function arrayLength(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) throw truncated()
  const token = buf[pos] as number
  if (token >= 0x90 && token <= 0x9f) return token - 0x90
  if (token === 0xdc) {
    if (pos + 3 > end) throw truncated()
    return u16(buf, pos + 1)
  }
  if (token === 0xdd) {
    if (pos + 5 > end) throw truncated()
    return u32(buf, pos + 1)
  }
  return -1
}

function scanExtData(buf: Uint8Array, type: number, dataStart: number, length: number, end: number): number {
  if (length > end - dataStart) throw truncated()
  if (type === ExtType.timestamp) {
    if (length === 4 || length === 8 || length === 12) return dataStart + length
    if (length === 1 && buf[dataStart] === 0xff) return dataStart + 1 // msgpackr's invalid Date
    throw new UnsupportedExtensionError(-1, `timestamp extension with ${length} bytes`)
  }
  if (type === ExtType.bigint) {
    if (length === 0 || length > MAX_BIGINT_BYTES) throw new UnsupportedExtensionError(type, `big integer extension with ${length} bytes`)
    return dataStart + length
  }
  if (type === ExtType.typedArray) {
    if (length < 1 || buf[dataStart] !== 0x01) throw new UnsupportedExtensionError(type, 'only Uint8Array typed arrays are accepted')
    return dataStart + length
  }
  throw new UnsupportedExtensionError(type > 127 ? type - 256 : type)
}

/**
 * Checks that one msgpack value starts at `pos` and lies within `end`, uses only the accepted
 * subset, nests at most `maxDepth` levels, and returns the position after it.
 *
 * @throws {CodecError} a typed error naming the first violation.
 */
export function scanValue(buf: Uint8Array, pos: number, end: number, depth: number, maxDepth: number): number {
  if (pos >= end) throw truncated()
  const token = buf[pos++] as number
  if (token <= 0x7f || token >= 0xe0) return pos // fixints
  if (token <= 0x8f) return scanMap(buf, pos, end, token - 0x80, depth, maxDepth)
  if (token <= 0x9f) return scanArray(buf, pos, end, token - 0x90, depth, maxDepth)
  if (token <= 0xbf) {
    const length = token - 0xa0
    if (length > end - pos) throw truncated()
    return pos + length
  }
  switch (token) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
      return pos
    case 0xc1:
      throw new CorruptedFrameError('msgpack token 0xc1 is never used')
    case 0xc4:
    case 0xd9: {
      if (pos + 1 > end) throw truncated()
      const length = buf[pos] as number
      if (length > end - pos - 1) throw truncated()
      return pos + 1 + length
    }
    case 0xc5:
    case 0xda: {
      if (pos + 2 > end) throw truncated()
      const length = u16(buf, pos)
      if (length > end - pos - 2) throw truncated()
      return pos + 2 + length
    }
    case 0xc6:
    case 0xdb: {
      if (pos + 4 > end) throw truncated()
      const length = u32(buf, pos)
      if (length > end - pos - 4) throw truncated()
      return pos + 4 + length
    }
    case 0xc7:
      if (pos + 2 > end) throw truncated()
      return scanExtData(buf, buf[pos + 1] as number, pos + 2, buf[pos] as number, end)
    case 0xc8:
      if (pos + 3 > end) throw truncated()
      return scanExtData(buf, buf[pos + 2] as number, pos + 3, u16(buf, pos), end)
    case 0xc9:
      if (pos + 5 > end) throw truncated()
      return scanExtData(buf, buf[pos + 4] as number, pos + 5, u32(buf, pos), end)
    case 0xca:
    case 0xce:
    case 0xd2:
      if (pos + 4 > end) throw truncated()
      return pos + 4
    case 0xcb:
    case 0xcf:
    case 0xd3:
      if (pos + 8 > end) throw truncated()
      return pos + 8
    case 0xcc:
    case 0xd0:
      if (pos + 1 > end) throw truncated()
      return pos + 1
    case 0xcd:
    case 0xd1:
      if (pos + 2 > end) throw truncated()
      return pos + 2
    case 0xd4:
      return scanFixExt1(buf, pos, end, depth, maxDepth)
    case 0xd5:
      if (pos + 1 > end) throw truncated()
      return scanExtData(buf, buf[pos] as number, pos + 1, 2, end)
    case 0xd6:
      if (pos + 1 > end) throw truncated()
      return scanExtData(buf, buf[pos] as number, pos + 1, 4, end)
    case 0xd7:
      if (pos + 1 > end) throw truncated()
      return scanExtData(buf, buf[pos] as number, pos + 1, 8, end)
    case 0xd8:
      if (pos + 1 > end) throw truncated()
      return scanExtData(buf, buf[pos] as number, pos + 1, 16, end)
    case 0xdc: {
      if (pos + 2 > end) throw truncated()
      return scanArray(buf, pos + 2, end, u16(buf, pos), depth, maxDepth)
    }
    case 0xdd: {
      if (pos + 4 > end) throw truncated()
      return scanArray(buf, pos + 4, end, u32(buf, pos), depth, maxDepth)
    }
    case 0xde: {
      if (pos + 2 > end) throw truncated()
      return scanMap(buf, pos + 2, end, u16(buf, pos), depth, maxDepth)
    }
    case 0xdf: {
      if (pos + 4 > end) throw truncated()
      return scanMap(buf, pos + 4, end, u32(buf, pos), depth, maxDepth)
    }
    default:
      throw new CorruptedFrameError(`unexpected msgpack token 0x${token.toString(16)}`)
  }
}

function scanArray(buf: Uint8Array, pos: number, end: number, count: number, depth: number, maxDepth: number): number {
  if (depth >= maxDepth) throw new NestingTooDeepError(maxDepth)
  if (count > end - pos) throw truncated()
  for (let i = 0; i < count; i++) pos = scanValue(buf, pos, end, depth + 1, maxDepth)
  return pos
}

function scanMap(buf: Uint8Array, pos: number, end: number, count: number, depth: number, maxDepth: number): number {
  if (depth >= maxDepth) throw new NestingTooDeepError(maxDepth)
  if (count > (end - pos) / 2) throw truncated()
  for (let i = 0; i < count; i++) {
    pos = scanKey(buf, pos, end)
    pos = scanValue(buf, pos, end, depth + 1, maxDepth)
  }
  return pos
}

/** fixext1 (`d4 type data`): msgpackr's "tag" extensions are followed by one msgpack value. */
function scanFixExt1(buf: Uint8Array, pos: number, end: number, depth: number, maxDepth: number): number {
  if (pos + 2 > end) throw truncated()
  const type = buf[pos] as number
  const data = buf[pos + 1] as number
  pos += 2
  switch (type) {
    case ExtType.undefined:
      if (data !== 0) throw new UnsupportedExtensionError(type, 'undefined extension with non-zero data')
      return pos
    case ExtType.timestamp:
      if (data !== 0xff) throw new UnsupportedExtensionError(-1, 'timestamp extension with 1 byte')
      return pos
    case ExtType.bigint:
      return pos
    case ExtType.set:
    case ExtType.map:
    case ExtType.classInstance:
    case ExtType.ref: {
      if (data !== 0) throw new UnsupportedExtensionError(type, `extension 0x${type.toString(16)} with non-zero filler`)
      if (depth >= maxDepth) throw new NestingTooDeepError(maxDepth)
      if (type === ExtType.ref) {
        if (pos >= end) throw truncated()
        if (!isStrOrUint(buf[pos] as number)) throw new CorruptedFrameError('actor ref must be a path or an index')
      } else {
        const length = arrayLength(buf, pos, end)
        if (length < 0) throw new CorruptedFrameError(`extension 0x${type.toString(16)} must be followed by an array`)
        if (type === ExtType.map && length % 2 !== 0) throw new CorruptedFrameError('map extension needs an even number of items')
        if (type === ExtType.classInstance) {
          if (length !== 2) throw new CorruptedFrameError('class extension needs [manifest, data]')
          if (pos + 1 >= end || !isStrOrUint(buf[pos + 1] as number))
            throw new CorruptedFrameError('class manifest must be a string or an index')
        }
      }
      return scanValue(buf, pos, end, depth + 1, maxDepth)
    }
    default:
      throw new UnsupportedExtensionError(type > 127 ? type - 256 : type)
  }
}
