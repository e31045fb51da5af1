import { CorruptedFrameError, MessageDecodeError, UnknownManifestError, UnsupportedValueError } from '../errors.js'
import type { MessageRegistry } from '../MessageRegistry.js'
import type { RefCodec } from '../RefCodec.js'
import type { InboundCompressionTable } from './CompressionTables.js'
import { ExtType } from './ExtType.js'
import { RegistrationKind } from './Registration.js'
import { readUtf8 } from './Wire.js'

/*
 * Reads message values from msgpack bytes, in two modes.
 *
 * - `readPlain` reads plain msgpack only (nil, booleans, numbers, strings, bin, arrays, maps with
 *   string keys, `undefined`): the common case of actor messages, and the first try for every
 *   message. It never throws and never runs user code: it gives up (returns NOT_PLAIN) at the
 *   first other extension or at anything unusual or malformed.
 * - `readChecked` reads everything the protocol has (Map, Set, Date, Uint8Array, big bigints,
 *   registered class instances, actor refs), but only bytes that MsgpackScanner has accepted, so
 *   it has no error of its own to decide: what it throws comes from the registry (an unknown
 *   manifest) or from user code (`fromWire`, `RefCodec.fromPath`), as typed CodecErrors.
 *
 * The reader is written by hand rather than with msgpackr, whose extension table is shared by the
 * whole process (see ValueWriter.ts). It allocates nothing per call besides the values it returns.
 */

/** What decoding a message needs besides the bytes. */
export interface DecodeContext {
  readonly registry: MessageRegistry
  readonly refCodec: RefCodec | undefined
  readonly maxDepth: number
  readonly refs: InboundCompressionTable | undefined
  readonly manifests: InboundCompressionTable | undefined
}

/** Returned when the value is not plain data (or not well formed). */
export const NOT_PLAIN: unique symbol = Symbol('not plain')

let src: Uint8Array = new Uint8Array(0)
let pos = 0
let end = 0
let maxDepth = 0
let bailed = false
/** Set by readChecked: extensions are read (with this context) instead of given up on. */
let ctx: DecodeContext | undefined
/*
 * Items still allowed to be pre-allocated in this value: each array or map entry takes at least one
 * byte, so a well-formed value never needs more than its byte length. Without it, arrays nested in
 * arrays could each claim the bytes that remain and allocate many times the frame.
 */
let budget = 0

const float64 = new Float64Array(1)
const float64Bytes = new Uint8Array(float64.buffer)
const float32 = new Float32Array(1)
const float32Bytes = new Uint8Array(float32.buffer)
const bigint64 = new BigInt64Array(1)
const biguint64 = new BigUint64Array(1)
const bigintBytes = new Uint8Array(bigint64.buffer)
const biguintBytes = new Uint8Array(biguint64.buffer)
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

function bail(): undefined {
  bailed = true
  return undefined
}

/** Copies `n` big-endian bytes at `pos` into `target` in host order. */
function load(target: Uint8Array, n: number): void {
  if (LITTLE_ENDIAN) for (let i = 0; i < n; i++) target[i] = src[pos + n - 1 - i] as number
  else for (let i = 0; i < n; i++) target[i] = src[pos + i] as number
  pos += n
}

function u16(): number {
  const v = ((src[pos] as number) << 8) | (src[pos + 1] as number)
  pos += 2
  return v
}

function u32(): number {
  const v =
    (src[pos] as number) * 0x1000000 + (((src[pos + 1] as number) << 16) | ((src[pos + 2] as number) << 8) | (src[pos + 3] as number))
  pos += 4
  return v
}

function str(length: number): string | undefined {
  if (length > end - pos) return bail()
  const s = readUtf8(src, pos, pos + length)
  pos += length
  return s
}

/*
 * Map keys repeat from message to message. Returning the same string instance for the same bytes
 * lets V8 skip re-internalizing the key on every property store (msgpackr does the same).
 */
const KEY_CACHE_SIZE = 1024
const keyCacheBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(KEY_CACHE_SIZE)
const keyCacheStrings: string[] = new Array<string>(KEY_CACHE_SIZE)

function key(length: number): string | undefined {
  if (length > end - pos) return bail()
  if (length > 24) return str(length)
  let hash = length
  for (let i = 0; i < length; i++) hash = (Math.imul(hash, 31) + (src[pos + i] as number)) | 0
  const slot = hash & (KEY_CACHE_SIZE - 1)
  const cached = keyCacheBytes[slot]
  if (cached !== undefined && cached.length === length) {
    let same = true
    for (let i = 0; i < length; i++) {
      if (cached[i] !== src[pos + i]) {
        same = false
        break
      }
    }
    if (same) {
      pos += length
      return keyCacheStrings[slot]
    }
  }
  keyCacheBytes[slot] = src.slice(pos, pos + length)
  const s = readUtf8(src, pos, pos + length)
  keyCacheStrings[slot] = s
  pos += length
  return s
}

function array(length: number, depth: number): unknown[] | undefined {
  if (depth >= maxDepth || length > end - pos || (budget -= length) < 0) return bail()
  const out = new Array<unknown>(length)
  for (let i = 0; i < length; i++) {
    out[i] = value(depth + 1)
    if (bailed) return undefined
  }
  return out
}

function map(length: number, depth: number): Record<string, unknown> | undefined {
  if (depth >= maxDepth || length > (end - pos) / 2 || (budget -= length) < 0) return bail()
  const out: Record<string, unknown> = {}
  for (let i = 0; i < length; i++) {
    if (pos >= end) return bail()
    const token = src[pos++] as number
    let name: string | undefined
    if (token >= 0xa0 && token <= 0xbf) name = key(token - 0xa0)
    else if (token === 0xd9 && pos < end) name = key(src[pos++] as number)
    else if (token === 0xda && pos + 2 <= end) name = str(u16())
    else if (token === 0xdb && pos + 4 <= end) name = str(u32())
    else return bail()
    if (name === undefined || name === '__proto__') return bail()
    out[name] = value(depth + 1)
    if (bailed) return undefined
  }
  return out
}

function value(depth: number): unknown {
  if (pos >= end) return bail()
  const token = src[pos++] as number
  if (token < 0x80) return token
  if (token >= 0xe0) return token - 0x100
  if (token >= 0xa0 && token <= 0xbf) return str(token - 0xa0)
  if (token <= 0x8f) return map(token - 0x80, depth)
  if (token <= 0x9f) return array(token - 0x90, depth)
  const remaining = end - pos
  switch (token) {
    case 0xc0:
      return null
    case 0xc2:
      return false
    case 0xc3:
      return true
    case 0xc4: {
      if (remaining < 1) return bail()
      const length = src[pos++] as number
      if (length > end - pos) return bail()
      pos += length
      return src.subarray(pos - length, pos)
    }
    case 0xc5: {
      if (remaining < 2) return bail()
      const length = u16()
      if (length > end - pos) return bail()
      pos += length
      return src.subarray(pos - length, pos)
    }
    case 0xc6: {
      if (remaining < 4) return bail()
      const length = u32()
      if (length > end - pos) return bail()
      pos += length
      return src.subarray(pos - length, pos)
    }
    case 0xca:
      if (remaining < 4) return bail()
      load(float32Bytes, 4)
      return float32[0]
    case 0xcb:
      if (remaining < 8) return bail()
      load(float64Bytes, 8)
      return float64[0]
    case 0xcc:
      if (remaining < 1) return bail()
      return src[pos++]
    case 0xcd:
      if (remaining < 2) return bail()
      return u16()
    case 0xce:
      if (remaining < 4) return bail()
      return u32()
    case 0xcf:
      if (remaining < 8) return bail()
      load(biguintBytes, 8)
      return biguint64[0]
    case 0xd0:
      if (remaining < 1) return bail()
      return ((src[pos++] as number) << 24) >> 24
    case 0xd1:
      if (remaining < 2) return bail()
      return (u16() << 16) >> 16
    case 0xd2:
      if (remaining < 4) return bail()
      return u32() | 0
    case 0xd3:
      if (remaining < 8) return bail()
      load(bigintBytes, 8)
      return bigint64[0]
    case 0xd9:
      if (remaining < 1) return bail()
      return str(src[pos++] as number)
    case 0xda:
      if (remaining < 2) return bail()
      return str(u16())
    case 0xdb:
      if (remaining < 4) return bail()
      return str(u32())
    case 0xdc:
      if (remaining < 2) return bail()
      return array(u16(), depth)
    case 0xdd:
      if (remaining < 4) return bail()
      return array(u32(), depth)
    case 0xde:
      if (remaining < 2) return bail()
      return map(u16(), depth)
    case 0xdf:
      if (remaining < 4) return bail()
      return map(u32(), depth)
    case 0xd4:
      // undefined is fixext1 type 0 with a zero byte (msgpackr's convention); other extensions are not plain
      if (remaining >= 2 && src[pos] === 0 && src[pos + 1] === 0) {
        pos += 2
        return undefined
      }
      if (ctx === undefined || remaining < 2) return bail()
      pos += 2
      return tagged(src[pos - 2] as number, src[pos - 1] as number, depth)
    case 0xd5:
      return ctx === undefined ? bail() : ext(2)
    case 0xd6:
      return ctx === undefined ? bail() : ext(4)
    case 0xd7:
      return ctx === undefined ? bail() : ext(8)
    case 0xd8:
      return ctx === undefined ? bail() : ext(16)
    case 0xc7:
      if (ctx === undefined || remaining < 1) return bail()
      return ext(src[pos++] as number)
    case 0xc8:
      if (ctx === undefined || remaining < 2) return bail()
      return ext(u16())
    case 0xc9:
      if (ctx === undefined || remaining < 4) return bail()
      return ext(u32())
    default:
      // 0xc1, or an extension in plain mode
      return bail()
  }
}

/*
 * Extensions (readChecked only: the scanner has checked their types, lengths and what follows a
 * tag, so the reads below need no checks of their own).
 */

/** `d4 <type> <data>`: undefined is handled by the caller; a tag is followed by one value. */
function tagged(type: number, data: number, depth: number): unknown {
  switch (type) {
    case ExtType.timestamp:
      return new Date(Number.NaN) // d4 ff ff: msgpackr's invalid Date
    case ExtType.bigint:
      return BigInt((data << 24) >> 24)
    case ExtType.set:
      return new Set(value(depth + 1) as unknown[])
    case ExtType.map: {
      const items = value(depth + 1) as unknown[]
      const map = new Map<unknown, unknown>()
      for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1])
      return map
    }
    case ExtType.classInstance:
      return rebuildInstance(value(depth + 1) as [string | number, unknown])
    case ExtType.ref:
      return resolveRef(value(depth + 1) as string | number)
    default:
      return bail()
  }
}

/** An extension of `length` data bytes after its type byte: a timestamp, a big integer or a Uint8Array. */
function ext(length: number): unknown {
  const type = src[pos++] as number
  const at = pos
  pos += length
  switch (type) {
    case ExtType.timestamp:
      return timestamp(at, length)
    case ExtType.bigint: {
      let hex = ''
      for (let i = at; i < at + length; i++) hex += ((src[i] as number) + 0x100).toString(16).slice(1)
      return BigInt.asIntN(length * 8, BigInt(`0x${hex}`))
    }
    case ExtType.typedArray: {
      const out = new Uint8Array(length - 1)
      out.set(src.subarray(at + 1, at + length))
      return out
    }
    default:
      return bail()
  }
}

/** msgpack's timestamp forms of 4, 8 and 12 bytes, with msgpackr's arithmetic; 1 byte (ff): invalid. */
function timestamp(at: number, length: number): Date {
  if (length === 1) return new Date(Number.NaN)
  const d = src
  const b = (i: number): number => d[at + i] as number
  if (length === 4) return new Date((b(0) * 0x1000000 + (b(1) << 16) + (b(2) << 8) + b(3)) * 1000)
  if (length === 8) {
    return new Date(
      ((b(0) << 22) + (b(1) << 14) + (b(2) << 6) + (b(3) >> 2)) / 1000000 +
        ((b(3) & 0x3) * 0x100000000 + b(4) * 0x1000000 + (b(5) << 16) + (b(6) << 8) + b(7)) * 1000,
    )
  }
  return new Date(
    ((b(0) << 24) + (b(1) << 16) + (b(2) << 8) + b(3)) / 1000000 +
      ((b(4) & 0x80 ? -0x1000000000000 : 0) +
        b(6) * 0x10000000000 +
        b(7) * 0x100000000 +
        b(8) * 0x1000000 +
        (b(9) << 16) +
        (b(10) << 8) +
        b(11)) *
        1000,
  )
}

function compressedValue(table: InboundCompressionTable | undefined, kind: string, index: number): string {
  if (table === undefined) throw new CorruptedFrameError(`compressed ${kind} index ${index} outside an association`)
  return table.get(index)
}

function rebuildInstance(pair: [string | number, unknown]): unknown {
  const c = ctx as DecodeContext
  const manifest = typeof pair[0] === 'number' ? compressedValue(c.manifests, 'manifest', pair[0]) : pair[0]
  const registration = c.registry.byManifest(manifest)
  if (registration === undefined) throw new UnknownManifestError(manifest)
  const fields = pair[1]
  if (registration.kind === RegistrationKind.custom) {
    const fromWire = registration.fromWire as (data: unknown) => object
    try {
      return userCode(fromWire, fields)
    } catch (error) {
      throw new MessageDecodeError(`fromWire of ${manifest} failed`, error)
    }
  }
  const instance = Object.create(registration.proto) as Record<string, unknown>
  try {
    if (registration.kind === RegistrationKind.fields) {
      if (!Array.isArray(fields)) throw new TypeError('expected an array of fields')
      const names = registration.fields
      const n = Math.min(names.length, fields.length)
      for (let i = 0; i < n; i++) instance[names[i] as string] = fields[i]
    } else {
      if (fields === null || typeof fields !== 'object' || Object.getPrototypeOf(fields) !== Object.prototype) {
        throw new TypeError('expected a map of properties')
      }
      const record = fields as Record<string, unknown>
      for (const key of Object.keys(record)) instance[key] = record[key]
    }
  } catch (error) {
    throw new MessageDecodeError(`cannot rebuild an instance of ${manifest}`, error)
  }
  return instance
}

function resolveRef(data: string | number): unknown {
  const c = ctx as DecodeContext
  const path = typeof data === 'number' ? compressedValue(c.refs, 'actor-ref', data) : data
  const refCodec = c.refCodec
  if (refCodec === undefined) throw new UnsupportedValueError(`message contains actor ref ${path} but this codec has no RefCodec`)
  try {
    return userCode((p: string) => refCodec.fromPath(p), path)
  } catch (error) {
    throw new MessageDecodeError(`RefCodec.fromPath failed for ${path}`, error)
  }
}

/** Calls user code, which may itself decode a message: the reader's state is kept around it. */
function userCode<A, R>(fn: (arg: A) => R, arg: A): R {
  const saved = { src, pos, end, maxDepth, bailed, budget, ctx }
  try {
    return fn(arg)
  } finally {
    ;({ src, pos, end, maxDepth, bailed, budget, ctx } = saved)
  }
}

/** Reads the plain value filling `buf[start, end)`, or returns {@link NOT_PLAIN}. Never throws. */
export function readPlain(buf: Uint8Array, start: number, stop: number, depthLimit: number): unknown {
  src = buf
  pos = start
  end = stop
  maxDepth = depthLimit
  bailed = false
  budget = stop - start
  ctx = undefined
  const result = value(0)
  const ok = !bailed && pos === stop
  src = EMPTY
  return ok ? result : NOT_PLAIN
}

/**
 * Reads the value filling `buf[start, end)`, extensions included. Only for bytes the scanner has
 * accepted with the same depth limit.
 *
 * @throws {CodecError} an unknown manifest, a compressed index the association does not know, a
 *   ref without a RefCodec, or a failing `fromWire` / `RefCodec.fromPath`.
 */
export function readChecked(buf: Uint8Array, start: number, stop: number, context: DecodeContext): unknown {
  src = buf
  pos = start
  end = stop
  maxDepth = context.maxDepth
  bailed = false
  budget = stop - start
  ctx = context
  try {
    const result = value(0)
    if (bailed || pos !== stop) throw new CorruptedFrameError('a msgpack value the scanner accepted could not be read')
    return result
  } finally {
    src = EMPTY
    ctx = undefined
  }
}
const EMPTY = new Uint8Array(0)
