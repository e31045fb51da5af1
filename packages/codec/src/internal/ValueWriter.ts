import { MessageEncodeError, NestingTooDeepError, UnsupportedValueError } from '../errors.js'
import type { MessageRegistry } from '../MessageRegistry.js'
import type { RefCodec } from '../RefCodec.js'
import type { OutboundCompressionTable } from './CompressionTables.js'
import { ExtType, MAX_BIGINT_BYTES } from './ExtType.js'
import { RegistrationKind } from './Registration.js'

/*
 * Writes message values as msgpack, the subset docs/PROTOCOL.md describes: plain data (nil,
 * booleans, numbers, 64-bit bigints, strings, Buffers, arrays, plain objects) and the protocol's
 * extensions (undefined, big bigints, Date, Uint8Array, Set, Map, registered class instances,
 * actor refs). The bytes are the ones msgpackr writes for the same values (a property test
 * compares them for everything msgpackr knows natively; the golden examples pin the rest).
 *
 * Written by hand instead of through msgpackr: msgpackr keeps its extensions in process-wide
 * tables (`addExtension` affects every Packr and Unpackr in the process), so registering ours
 * would change how the application's own msgpackr behaves, and extensions the application
 * registers (on a type code we use, or on Date, Set or Uint8Array) would change what Helios
 * sends and receives. This writer shares nothing with anyone.
 *
 * Values are written into a shared slab and returned as views of it (a slab is never written
 * again once a view of it was handed out); a value that outgrows the slab moves to a buffer of
 * its own. A getter, a `toWire` or a RefCodec may encode another message while one is being
 * written: such a nested call gets a buffer of its own and leaves the outer state untouched.
 */

/** What encoding a message needs besides the value. */
export interface EncodeContext {
  readonly registry: MessageRegistry
  readonly refCodec: RefCodec | undefined
  readonly maxDepth: number
  readonly refs: OutboundCompressionTable | undefined
  readonly manifests: OutboundCompressionTable | undefined
}

const SLAB_SIZE = 64 * 1024
/** A new slab is started when less than this is left, so that common messages fit. */
const MIN_ROOM = 8 * 1024
const MIN_INT64 = -(2n ** 63n)
const MAX_INT64 = 2n ** 63n - 1n
const MAX_UINT64 = 2n ** 64n - 1n
const hasOwn = Object.prototype.hasOwnProperty

let slab: Buffer = Buffer.allocUnsafeSlow(SLAB_SIZE)
let slabPos = 0
/** The buffer being written: the slab, or a larger one of its own for a value that outgrew it. */
let buf: Buffer = slab
let start = 0
let pos = 0
let limit = 0
let ctx: EncodeContext | undefined
let writing = false

/** Makes room for `n` more bytes, moving the value written so far to a larger buffer if needed. */
function room(n: number): void {
  if (pos + n <= limit) return
  const used = pos - start
  const bigger = Buffer.allocUnsafeSlow(Math.max(2 * (used + n), SLAB_SIZE))
  buf.copy(bigger, 0, start, pos)
  buf = bigger
  start = 0
  pos = used
  limit = bigger.length
}

function writeU32(v: number): void {
  buf[pos] = v >>> 24
  buf[pos + 1] = (v >>> 16) & 0xff
  buf[pos + 2] = (v >>> 8) & 0xff
  buf[pos + 3] = v & 0xff
  pos += 4
}

function writeString(s: string): void {
  const n = s.length
  if (n < 32) {
    room(n * 3 + 1)
    let ascii = true
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) {
        ascii = false
        break
      }
      buf[pos + 1 + i] = c
    }
    if (ascii) {
      buf[pos] = 0xa0 | n
      pos += 1 + n
      return
    }
  }
  if (n >= 32 && n <= 2048) {
    // At least 32 bytes, at most 3n < 65536: a str8 or str16 header. Encode straight into the
    // buffer after a 2-byte header and move the bytes by one in the rare case they need str16
    // (one UTF-8 pass instead of measuring the string first). Longer strings are measured, so
    // that room for 3n bytes is never asked for.
    room(3 * n + 3)
    const written = buf.write(s, pos + 2, 'utf8')
    if (written < 0x100) {
      buf[pos] = 0xd9
      buf[pos + 1] = written
      pos += 2 + written
    } else {
      buf.copyWithin(pos + 3, pos + 2, pos + 2 + written)
      buf[pos] = 0xda
      buf[pos + 1] = written >>> 8
      buf[pos + 2] = written & 0xff
      pos += 3 + written
    }
    return
  }
  const length = Buffer.byteLength(s, 'utf8')
  room(length + 5)
  if (length < 0x20) {
    buf[pos++] = 0xa0 | length
  } else if (length < 0x100) {
    buf[pos++] = 0xd9
    buf[pos++] = length
  } else if (length < 0x10000) {
    buf[pos++] = 0xda
    buf[pos++] = length >>> 8
    buf[pos++] = length & 0xff
  } else {
    buf[pos++] = 0xdb
    writeU32(length)
  }
  pos += buf.write(s, pos, length, 'utf8')
}

function writeNumber(v: number): void {
  room(9)
  if (v >>> 0 === v) {
    if (v < 0x80) buf[pos++] = v
    else if (v < 0x100) {
      buf[pos++] = 0xcc
      buf[pos++] = v
    } else if (v < 0x10000) {
      buf[pos++] = 0xcd
      buf[pos++] = v >>> 8
      buf[pos++] = v & 0xff
    } else {
      buf[pos++] = 0xce
      writeU32(v)
    }
  } else if (v >> 0 === v) {
    if (v >= -0x20) buf[pos++] = 0x100 + v
    else if (v >= -0x80) {
      buf[pos++] = 0xd0
      buf[pos++] = v + 0x100
    } else if (v >= -0x8000) {
      buf[pos++] = 0xd1
      buf.writeInt16BE(v, pos)
      pos += 2
    } else {
      buf[pos++] = 0xd2
      buf.writeInt32BE(v, pos)
      pos += 4
    }
  } else {
    buf[pos++] = 0xcb
    buf.writeDoubleBE(v, pos)
    pos += 8
  }
}

/** The header of an ext of `length` data bytes and `type` (fixext for 1, 2, 4, 8 and 16 bytes). */
function writeExtHeader(length: number, type: number): void {
  room(6)
  switch (length) {
    case 1:
      buf[pos++] = 0xd4
      break
    case 2:
      buf[pos++] = 0xd5
      break
    case 4:
      buf[pos++] = 0xd6
      break
    case 8:
      buf[pos++] = 0xd7
      break
    case 16:
      buf[pos++] = 0xd8
      break
    default:
      if (length < 0x100) {
        buf[pos++] = 0xc7
        buf[pos++] = length
      } else if (length < 0x10000) {
        buf[pos++] = 0xc8
        buf[pos++] = length >>> 8
        buf[pos++] = length & 0xff
      } else {
        buf[pos++] = 0xc9
        writeU32(length)
      }
  }
  buf[pos++] = type
}

/** `d4 <type> 00`: a "tag" extension, followed by one ordinary value. */
function writeTag(type: number): void {
  room(3)
  buf[pos++] = 0xd4
  buf[pos++] = type
  buf[pos++] = 0
}

function writeArrayHeader(length: number): void {
  room(5)
  if (length < 0x10) buf[pos++] = 0x90 | length
  else if (length < 0x10000) {
    buf[pos++] = 0xdc
    buf[pos++] = length >>> 8
    buf[pos++] = length & 0xff
  } else {
    buf[pos++] = 0xdd
    writeU32(length)
  }
}

/**
 * Beyond 64 bits: ext 0x42, big-endian two's complement in whole 64-bit words. What decodes is
 * written back: any value of at most {@link MAX_BIGINT_BYTES} bytes of two's complement (65,535
 * bits and a sign), the reader's limit, takes at most that many bytes here too.
 */
function writeBigBigint(v: bigint): void {
  // More than 2 x MAX hex digits of magnitude is more than MAX bytes with the sign: refused before the loop.
  if ((v < 0n ? ~v : v).toString(16).length > MAX_BIGINT_BYTES * 2) throw tooWide()
  const sign = v < 0n ? -1n : 0n
  const words: bigint[] = []
  let rest = v
  for (;;) {
    words.push(BigInt.asUintN(64, rest))
    if (rest >> 63n === sign) break
    rest >>= 64n
  }
  if (words.length * 8 > MAX_BIGINT_BYTES) throw tooWide()
  writeExtHeader(words.length * 8, ExtType.bigint)
  room(words.length * 8)
  for (let i = words.length - 1; i >= 0; i--) {
    buf.writeBigUInt64BE(words[i] as bigint, pos)
    pos += 8
  }
}

function tooWide(): UnsupportedValueError {
  return new UnsupportedValueError(
    `bigint needs more than ${MAX_BIGINT_BYTES} bytes of two's complement (${MAX_BIGINT_BYTES * 8 - 1} bits and a sign), the protocol's limit`,
  )
}

/** Timestamp ext (-1) in the shortest of msgpack's three forms; `d4 ff ff` for an invalid Date. */
function writeDate(date: Date): void {
  room(15)
  const seconds = date.getTime() / 1000
  const millis = date.getMilliseconds()
  if (millis === 0 && seconds >= 0 && seconds < 0x100000000) {
    buf[pos++] = 0xd6
    buf[pos++] = 0xff
    writeU32(seconds)
  } else if (seconds > 0 && seconds < 0x400000000) {
    buf[pos++] = 0xd7
    buf[pos++] = 0xff
    writeU32(millis * 4000000 + ((seconds / 0x100000000) >> 0))
    writeU32(seconds >>> 0)
  } else if (Number.isNaN(seconds)) {
    buf[pos++] = 0xd4
    buf[pos++] = 0xff
    buf[pos++] = 0xff
  } else {
    buf[pos++] = 0xc7
    buf[pos++] = 12
    buf[pos++] = 0xff
    writeU32(millis * 1000000)
    buf.writeBigInt64BE(BigInt(Math.floor(seconds)), pos)
    pos += 8
  }
}

function writeBytes(bytes: Uint8Array): void {
  const length = bytes.length
  room(length + 5)
  if (length < 0x100) {
    buf[pos++] = 0xc4
    buf[pos++] = length
  } else if (length < 0x10000) {
    buf[pos++] = 0xc5
    buf[pos++] = length >>> 8
    buf[pos++] = length & 0xff
  } else {
    buf[pos++] = 0xc6
    writeU32(length)
  }
  buf.set(bytes, pos)
  pos += length
}

/** A Uint8Array that is not a Buffer: ext 0x74 (always ext 8/16/32) with data `01 <bytes>`. */
function writeTypedArray(bytes: Uint8Array): void {
  const length = bytes.length + 1
  room(length + 6)
  if (length < 0x100) {
    buf[pos++] = 0xc7
    buf[pos++] = length
  } else if (length < 0x10000) {
    buf[pos++] = 0xc8
    buf[pos++] = length >>> 8
    buf[pos++] = length & 0xff
  } else {
    buf[pos++] = 0xc9
    writeU32(length)
  }
  buf[pos++] = ExtType.typedArray
  buf[pos++] = 0x01
  buf.set(bytes, pos)
  pos += bytes.length
}

function writeValue(v: unknown, depth: number): void {
  switch (typeof v) {
    case 'string':
      writeString(v)
      return
    case 'number':
      writeNumber(v)
      return
    case 'boolean':
      room(1)
      buf[pos++] = v ? 0xc3 : 0xc2
      return
    case 'undefined':
      writeTag(ExtType.undefined)
      return
    case 'bigint':
      if (v >= MIN_INT64 && v <= MAX_INT64) {
        room(9)
        buf[pos++] = 0xd3
        buf.writeBigInt64BE(v, pos)
        pos += 8
      } else if (v > 0n && v <= MAX_UINT64) {
        room(9)
        buf[pos++] = 0xcf
        buf.writeBigUInt64BE(v, pos)
        pos += 8
      } else {
        writeBigBigint(v)
      }
      return
    case 'object':
      if (v === null) {
        room(1)
        buf[pos++] = 0xc0
        return
      }
      writeObject(v, depth)
      return
    default:
      throw new UnsupportedValueError(`a ${typeof v} cannot be sent`)
  }
}

/** Own enumerable properties as a map16 (its size is written once the properties are). */
function writeProperties(record: Record<string, unknown>, depth: number): void {
  if (depth >= (ctx as EncodeContext).maxDepth) throw new NestingTooDeepError((ctx as EncodeContext).maxDepth)
  room(3)
  buf[pos] = 0xde
  // relative to `start`: the value may move to a larger buffer while its properties are written
  const sizeAt = pos + 1 - start
  pos += 3
  let size = 0
  for (const key in record) {
    if (!hasOwn.call(record, key)) continue
    if (key === '__proto__') throw new UnsupportedValueError('an own "__proto__" property cannot be sent')
    writeString(key)
    writeValue(record[key], depth + 1)
    size++
  }
  if (size > 0xffff) throw new UnsupportedValueError(`an object with ${size} properties cannot be sent (at most 65535)`)
  buf[start + sizeAt] = size >>> 8
  buf[start + sizeAt + 1] = size & 0xff
}

function writeArray(array: readonly unknown[], depth: number): void {
  if (depth >= (ctx as EncodeContext).maxDepth) throw new NestingTooDeepError((ctx as EncodeContext).maxDepth)
  const length = array.length
  writeArrayHeader(length)
  for (let i = 0; i < length; i++) writeValue(array[i], depth + 1)
}

function writeObject(v: object, depth: number): void {
  const proto = Object.getPrototypeOf(v) as object | null
  if (proto === Object.prototype) return writeProperties(v as Record<string, unknown>, depth)
  if (proto === Array.prototype) return writeArray(v as unknown[], depth)
  if (proto === Buffer.prototype) return writeBytes(v as Buffer)
  if (proto === Uint8Array.prototype) return writeTypedArray(v as Uint8Array)
  if (proto === Date.prototype) return writeDate(v as Date)
  const c = ctx as EncodeContext
  if (depth >= c.maxDepth) throw new NestingTooDeepError(c.maxDepth)
  if (proto === Map.prototype) {
    const map = v as Map<unknown, unknown>
    writeTag(ExtType.map)
    writeArrayHeader(map.size * 2)
    for (const [key, value] of map) {
      writeValue(key, depth + 1)
      writeValue(value, depth + 1)
    }
    return
  }
  if (proto === Set.prototype) {
    const set = v as Set<unknown>
    writeTag(ExtType.set)
    writeArrayHeader(set.size)
    for (const value of set) writeValue(value, depth + 1)
    return
  }
  if (proto === null) return writeProperties(v as Record<string, unknown>, depth)
  const refCodec = c.refCodec
  if (refCodec !== undefined && refCodec.isRef(v)) {
    let path: string
    try {
      path = refCodec.toPath(v)
    } catch (error) {
      throw new MessageEncodeError('RefCodec.toPath failed', error)
    }
    const index = c.refs === undefined ? -1 : c.refs.lookup(path)
    writeTag(ExtType.ref)
    if (index >= 0) writeNumber(index)
    else writeString(path)
    return
  }
  writeInstance(v, proto, depth, c)
}

/** `d4 43 00 [manifest, data]`: a registered class instance. */
function writeInstance(v: object, proto: object, depth: number, c: EncodeContext): void {
  const registration = c.registry.byPrototype(proto)
  if (registration === undefined) {
    const name = (v as { constructor?: { name?: unknown } }).constructor?.name
    throw new UnsupportedValueError(`instance of unregistered class ${String(name)}; register it in the MessageRegistry`)
  }
  let wire: unknown
  if (registration.kind === RegistrationKind.custom) {
    try {
      wire = (registration.toWire as (value: object) => unknown)(v)
    } catch (error) {
      throw new MessageEncodeError(`toWire of ${registration.manifest} failed`, error)
    }
  }
  const manifestIndex = c.manifests === undefined ? -1 : c.manifests.lookup(registration.manifest)
  writeTag(ExtType.classInstance)
  writeArrayHeader(2)
  if (manifestIndex >= 0) writeNumber(manifestIndex)
  else writeString(registration.manifest)
  switch (registration.kind) {
    case RegistrationKind.custom:
      writeValue(wire, depth + 1)
      return
    case RegistrationKind.fields: {
      const record = v as Record<string, unknown>
      const fields = registration.fields
      if (depth + 1 >= c.maxDepth) throw new NestingTooDeepError(c.maxDepth)
      writeArrayHeader(fields.length)
      for (let i = 0; i < fields.length; i++) writeValue(record[fields[i] as string], depth + 2)
      return
    }
    default:
      writeProperties(v as Record<string, unknown>, depth + 1)
  }
}

/**
 * Writes `value` after `header` bytes of room and returns the whole (a view into a buffer that is
 * never written again); the caller fills the header.
 *
 * @throws {UnsupportedValueError} a value outside the protocol (function, symbol, unregistered
 *   class, own `__proto__` property, bigint beyond 8,192 bytes of two's complement, object of more than 65535 keys).
 * @throws {NestingTooDeepError} nesting beyond `context.maxDepth` (a cycle, for one).
 * @throws {MessageEncodeError} a `toWire` or `RefCodec.toPath` threw (the cause is attached).
 */
export function writeMessage(value: unknown, header: number, context: EncodeContext): Buffer {
  if (writing) return writeNested(value, header, context)
  if (slab.length - slabPos < MIN_ROOM) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE)
    slabPos = 0
  }
  buf = slab
  start = slabPos
  pos = start + header
  limit = slab.length
  ctx = context
  writing = true
  try {
    writeValue(value, 0)
    const out = buf.subarray(start, pos)
    if (buf === slab) slabPos = (pos + 7) & ~7
    return out
  } finally {
    writing = false
    ctx = undefined
    buf = slab
  }
}

/** A message written while another one is (from a getter, a `toWire`, a RefCodec): a buffer of its own. */
function writeNested(value: unknown, header: number, context: EncodeContext): Buffer {
  const saved = { slab, slabPos, buf, start, pos, limit, ctx }
  slab = Buffer.allocUnsafeSlow(SLAB_SIZE)
  slabPos = 0
  writing = false
  try {
    return writeMessage(value, header, context)
  } finally {
    ;({ slab, slabPos, buf, start, pos, limit, ctx } = saved)
    writing = true
  }
}
