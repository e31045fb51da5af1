import { readUtf8 } from './Wire.js';

/*
 * A reader for message values made of plain msgpack only (nil, booleans, numbers, strings, bin,
 * arrays, maps with string keys): the common case of actor messages. Measured on small messages,
 * msgpackr's per-call set-up (a DataView per frame, its global decoder state) costs more than the
 * value itself; this reader has none. It gives up (returns NOT_PLAIN) at the first extension or at
 * anything unusual or malformed; the caller then takes the validated msgpackr path, which decodes
 * the same value or throws the typed error. So it never has to decide what is an error, and both
 * paths produce the same values (the round-trip and fuzz tests run through both).
 */

/** Returned when the value is not plain data (or not well formed). */
export const NOT_PLAIN: unique symbol = Symbol('not plain');

let src: Uint8Array = new Uint8Array(0);
let pos = 0;
let end = 0;
let maxDepth = 0;
let bailed = false;
/*
 * Items still allowed to be pre-allocated in this value: each array or map entry takes at least one
 * byte, so a well-formed value never needs more than its byte length. Without it, arrays nested in
 * arrays could each claim the bytes that remain and allocate many times the frame.
 */
let budget = 0;

const float64 = new Float64Array(1);
const float64Bytes = new Uint8Array(float64.buffer);
const float32 = new Float32Array(1);
const float32Bytes = new Uint8Array(float32.buffer);
const bigint64 = new BigInt64Array(1);
const biguint64 = new BigUint64Array(1);
const bigintBytes = new Uint8Array(bigint64.buffer);
const biguintBytes = new Uint8Array(biguint64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function bail(): undefined {
  bailed = true;
  return undefined;
}

/** Copies `n` big-endian bytes at `pos` into `target` in host order. */
function load(target: Uint8Array, n: number): void {
  if (LITTLE_ENDIAN) for (let i = 0; i < n; i++) target[i] = src[pos + n - 1 - i] as number;
  else for (let i = 0; i < n; i++) target[i] = src[pos + i] as number;
  pos += n;
}

function u16(): number {
  const v = ((src[pos] as number) << 8) | (src[pos + 1] as number);
  pos += 2;
  return v;
}

function u32(): number {
  const v = (src[pos] as number) * 0x1000000 + (((src[pos + 1] as number) << 16) | ((src[pos + 2] as number) << 8) | (src[pos + 3] as number));
  pos += 4;
  return v;
}

function str(length: number): string | undefined {
  if (length > end - pos) return bail();
  const s = readUtf8(src, pos, pos + length);
  pos += length;
  return s;
}

/*
 * Map keys repeat from message to message. Returning the same string instance for the same bytes
 * lets V8 skip re-internalizing the key on every property store (msgpackr does the same).
 */
const KEY_CACHE_SIZE = 1024;
const keyCacheBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(KEY_CACHE_SIZE);
const keyCacheStrings: string[] = new Array<string>(KEY_CACHE_SIZE);

function key(length: number): string | undefined {
  if (length > end - pos) return bail();
  if (length > 24) return str(length);
  let hash = length;
  for (let i = 0; i < length; i++) hash = (Math.imul(hash, 31) + (src[pos + i] as number)) | 0;
  const slot = hash & (KEY_CACHE_SIZE - 1);
  const cached = keyCacheBytes[slot];
  if (cached !== undefined && cached.length === length) {
    let same = true;
    for (let i = 0; i < length; i++) {
      if (cached[i] !== src[pos + i]) {
        same = false;
        break;
      }
    }
    if (same) {
      pos += length;
      return keyCacheStrings[slot];
    }
  }
  keyCacheBytes[slot] = src.slice(pos, pos + length);
  const s = readUtf8(src, pos, pos + length);
  keyCacheStrings[slot] = s;
  pos += length;
  return s;
}

function array(length: number, depth: number): unknown[] | undefined {
  if (depth >= maxDepth || length > end - pos || (budget -= length) < 0) return bail();
  const out = new Array<unknown>(length);
  for (let i = 0; i < length; i++) {
    out[i] = value(depth + 1);
    if (bailed) return undefined;
  }
  return out;
}

function map(length: number, depth: number): Record<string, unknown> | undefined {
  if (depth >= maxDepth || length > (end - pos) / 2 || (budget -= length) < 0) return bail();
  const out: Record<string, unknown> = {};
  for (let i = 0; i < length; i++) {
    if (pos >= end) return bail();
    const token = src[pos++] as number;
    let name: string | undefined;
    if (token >= 0xa0 && token <= 0xbf) name = key(token - 0xa0);
    else if (token === 0xd9 && pos < end) name = key(src[pos++] as number);
    else if (token === 0xda && pos + 2 <= end) name = str(u16());
    else return bail();
    if (name === undefined || name === '__proto__') return bail();
    out[name] = value(depth + 1);
    if (bailed) return undefined;
  }
  return out;
}

function value(depth: number): unknown {
  if (pos >= end) return bail();
  const token = src[pos++] as number;
  if (token < 0x80) return token;
  if (token >= 0xe0) return token - 0x100;
  if (token >= 0xa0 && token <= 0xbf) return str(token - 0xa0);
  if (token <= 0x8f) return map(token - 0x80, depth);
  if (token <= 0x9f) return array(token - 0x90, depth);
  const remaining = end - pos;
  switch (token) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4: {
      if (remaining < 1) return bail();
      const length = src[pos++] as number;
      if (length > end - pos) return bail();
      pos += length;
      return src.subarray(pos - length, pos);
    }
    case 0xc5: {
      if (remaining < 2) return bail();
      const length = u16();
      if (length > end - pos) return bail();
      pos += length;
      return src.subarray(pos - length, pos);
    }
    case 0xc6: {
      if (remaining < 4) return bail();
      const length = u32();
      if (length > end - pos) return bail();
      pos += length;
      return src.subarray(pos - length, pos);
    }
    case 0xca:
      if (remaining < 4) return bail();
      load(float32Bytes, 4);
      return float32[0];
    case 0xcb:
      if (remaining < 8) return bail();
      load(float64Bytes, 8);
      return float64[0];
    case 0xcc:
      if (remaining < 1) return bail();
      return src[pos++];
    case 0xcd:
      if (remaining < 2) return bail();
      return u16();
    case 0xce:
      if (remaining < 4) return bail();
      return u32();
    case 0xcf:
      if (remaining < 8) return bail();
      load(biguintBytes, 8);
      return biguint64[0];
    case 0xd0:
      if (remaining < 1) return bail();
      return ((src[pos++] as number) << 24) >> 24;
    case 0xd1:
      if (remaining < 2) return bail();
      return (u16() << 16) >> 16;
    case 0xd2:
      if (remaining < 4) return bail();
      return u32() | 0;
    case 0xd3:
      if (remaining < 8) return bail();
      load(bigintBytes, 8);
      return bigint64[0];
    case 0xd9:
      if (remaining < 1) return bail();
      return str(src[pos++] as number);
    case 0xda:
      if (remaining < 2) return bail();
      return str(u16());
    case 0xdb:
      if (remaining < 4) return bail();
      return str(u32());
    case 0xdc:
      if (remaining < 2) return bail();
      return array(u16(), depth);
    case 0xdd:
      if (remaining < 4) return bail();
      return array(u32(), depth);
    case 0xde:
      if (remaining < 2) return bail();
      return map(u16(), depth);
    case 0xdf:
      if (remaining < 4) return bail();
      return map(u32(), depth);
    case 0xd4:
      // undefined is fixext1 type 0 with a zero byte (msgpackr's convention); other extensions are not plain
      if (remaining < 2 || src[pos] !== 0 || src[pos + 1] !== 0) return bail();
      pos += 2;
      return undefined;
    default:
      // extensions, 0xc1: not plain
      return bail();
  }
}

/** Reads the plain value filling `buf[start, end)`, or returns {@link NOT_PLAIN}. */
export function readPlain(buf: Uint8Array, start: number, stop: number, depthLimit: number): unknown {
  src = buf;
  pos = start;
  end = stop;
  maxDepth = depthLimit;
  bailed = false;
  budget = stop - start;
  const result = value(0);
  const ok = !bailed && pos === stop;
  src = EMPTY;
  return ok ? result : NOT_PLAIN;
}
const EMPTY = new Uint8Array(0);
