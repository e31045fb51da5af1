/** msgpack extension types this protocol registers. Every other type is refused on decode. */
export const ExtType = {
  /** `undefined`: fixext1 `d4 00 00` (msgpackr's convention). */
  undefined: 0x00,
  /** Big integer beyond 64 bits: big-endian two's complement (msgpackr's `0x42`). */
  bigint: 0x42,
  /** Registered class instance: `d4 43 00` then `[manifest, data]`. */
  classInstance: 0x43,
  /** Map: `d4 4d 00` then a flat array `[k1, v1, k2, v2, ...]`. */
  map: 0x4d,
  /** Actor ref: `d4 52 00` then the path (str) or its compressed index (uint). */
  ref: 0x52,
  /** Set: `d4 73 00` then an array of the elements (msgpackr's `0x73`). */
  set: 0x73,
  /** Uint8Array that is not a Buffer: ext with data `01 <bytes>` (msgpackr's typed-array `0x74`). */
  typedArray: 0x74,
  /** Timestamp (Date), msgpack's standard type -1 (0xff). */
  timestamp: 0xff,
} as const

/** Largest big-integer extension payload, in bytes, read and written: -2^65535 .. 2^65535 - 1. */
export const MAX_BIGINT_BYTES = 8192
