/*
 * Writes message values made of plain data (nil, booleans, numbers, 64-bit bigints, strings,
 * Buffers, arrays, plain objects) with exactly the bytes msgpackr writes for them under our
 * Packr options (a property test pins this). It skips msgpackr's per-call set-up, which for
 * small messages costs more than the value. At the first value that is not plain data (Map, Set,
 * Date, Uint8Array, class instance, ref, big bigint, function...) or when the value outgrows the
 * space left, it gives up and the caller encodes the message with msgpackr.
 */

const SLAB_SIZE = 64 * 1024;
/** A new slab is started when less than this is left, so that common messages fit. */
const MIN_ROOM = 8 * 1024;
const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;
const MAX_UINT64 = 2n ** 64n - 1n;

let slab: Buffer = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabPos = 0;
let pos = 0;
let limit = 0;
let maxDepth = 0;
let bailed = false;
/** A getter on a message object may encode another message: such a nested call goes to msgpackr. */
let writing = false;

function bail(): void {
  bailed = true;
}

function room(n: number): boolean {
  if (pos + n > limit) {
    bailed = true;
    return false;
  }
  return true;
}

function writeString(s: string): void {
  const n = s.length;
  if (n < 32) {
    if (!room(n * 3 + 1)) return;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        ascii = false;
        break;
      }
      slab[pos + 1 + i] = c;
    }
    if (ascii) {
      slab[pos] = 0xa0 | n;
      pos += 1 + n;
      return;
    }
  }
  if (n >= 32 && n <= 2048) {
    // At least 32 bytes, at most 3n < 65536: a str8 or str16 header. Encode straight into the
    // slab after a 2-byte header and move the bytes by one in the rare case they need str16
    // (one UTF-8 pass instead of measuring the string first). Longer strings are measured, so
    // that room for 3n bytes is never asked of the slab.
    if (!room(3 * n + 3)) return;
    const written = slab.write(s, pos + 2, 'utf8');
    if (written < 0x100) {
      slab[pos] = 0xd9;
      slab[pos + 1] = written;
      pos += 2 + written;
    } else {
      slab.copyWithin(pos + 3, pos + 2, pos + 2 + written);
      slab[pos] = 0xda;
      slab[pos + 1] = written >>> 8;
      slab[pos + 2] = written & 0xff;
      pos += 3 + written;
    }
    return;
  }
  const length = Buffer.byteLength(s, 'utf8');
  if (!room(length + 5)) return;
  if (length < 0x20) {
    slab[pos++] = 0xa0 | length;
  } else if (length < 0x100) {
    slab[pos++] = 0xd9;
    slab[pos++] = length;
  } else if (length < 0x10000) {
    slab[pos++] = 0xda;
    slab[pos++] = length >>> 8;
    slab[pos++] = length & 0xff;
  } else {
    slab[pos++] = 0xdb;
    slab.writeUInt32BE(length, pos);
    pos += 4;
  }
  pos += slab.write(s, pos, length, 'utf8');
}

function writeNumber(v: number): void {
  if (!room(9)) return;
  if (v >>> 0 === v) {
    if (v < 0x80) slab[pos++] = v;
    else if (v < 0x100) {
      slab[pos++] = 0xcc;
      slab[pos++] = v;
    } else if (v < 0x10000) {
      slab[pos++] = 0xcd;
      slab[pos++] = v >>> 8;
      slab[pos++] = v & 0xff;
    } else {
      slab[pos++] = 0xce;
      slab.writeUInt32BE(v, pos);
      pos += 4;
    }
  } else if (v >> 0 === v) {
    if (v >= -0x20) slab[pos++] = 0x100 + v;
    else if (v >= -0x80) {
      slab[pos++] = 0xd0;
      slab[pos++] = v + 0x100;
    } else if (v >= -0x8000) {
      slab[pos++] = 0xd1;
      slab.writeInt16BE(v, pos);
      pos += 2;
    } else {
      slab[pos++] = 0xd2;
      slab.writeInt32BE(v, pos);
      pos += 4;
    }
  } else {
    slab[pos++] = 0xcb;
    slab.writeDoubleBE(v, pos);
    pos += 8;
  }
}

function writeValue(v: unknown, depth: number): void {
  switch (typeof v) {
    case 'string':
      writeString(v);
      return;
    case 'number':
      writeNumber(v);
      return;
    case 'boolean':
      if (room(1)) slab[pos++] = v ? 0xc3 : 0xc2;
      return;
    case 'undefined':
      if (!room(3)) return;
      slab[pos++] = 0xd4;
      slab[pos++] = 0;
      slab[pos++] = 0;
      return;
    case 'bigint':
      if (!room(9)) return;
      if (v >= MIN_INT64 && v <= MAX_INT64) {
        slab[pos++] = 0xd3;
        slab.writeBigInt64BE(v, pos);
      } else if (v > 0n && v <= MAX_UINT64) {
        slab[pos++] = 0xcf;
        slab.writeBigUInt64BE(v, pos);
      } else {
        bail();
        return;
      }
      pos += 8;
      return;
    case 'object':
      if (v === null) {
        if (room(1)) slab[pos++] = 0xc0;
        return;
      }
      writeObject(v, depth);
      return;
    default:
      bail();
  }
}

function writeObject(v: object, depth: number): void {
  if (depth >= maxDepth) return bail();
  const proto = Object.getPrototypeOf(v) as object | null;
  if (proto === Object.prototype) {
    if (!room(3)) return;
    slab[pos] = 0xde;
    const sizeAt = pos + 1;
    pos += 3;
    let size = 0;
    const record = v as Record<string, unknown>;
    for (const key in record) {
      if (!Object.prototype.hasOwnProperty.call(record, key)) continue;
      if (key === '__proto__') return bail();
      writeString(key);
      writeValue(record[key], depth + 1);
      if (bailed) return;
      size++;
    }
    if (size > 0xffff) return bail();
    slab[sizeAt] = size >>> 8;
    slab[sizeAt + 1] = size & 0xff;
    return;
  }
  if (proto === Array.prototype) {
    const array = v as unknown[];
    const length = array.length;
    if (!room(5)) return;
    if (length < 0x10) slab[pos++] = 0x90 | length;
    else if (length < 0x10000) {
      slab[pos++] = 0xdc;
      slab[pos++] = length >>> 8;
      slab[pos++] = length & 0xff;
    } else {
      slab[pos++] = 0xdd;
      slab.writeUInt32BE(length, pos);
      pos += 4;
    }
    for (let i = 0; i < length; i++) {
      writeValue(array[i], depth + 1);
      if (bailed) return;
    }
    return;
  }
  if (proto === Buffer.prototype) {
    const bytes = v as Buffer;
    const length = bytes.length;
    if (!room(length + 5)) return;
    if (length < 0x100) {
      slab[pos++] = 0xc4;
      slab[pos++] = length;
    } else if (length < 0x10000) {
      slab[pos++] = 0xc5;
      slab[pos++] = length >>> 8;
      slab[pos++] = length & 0xff;
    } else {
      slab[pos++] = 0xc6;
      slab.writeUInt32BE(length, pos);
      pos += 4;
    }
    slab.set(bytes, pos);
    pos += length;
    return;
  }
  bail();
}

/**
 * Writes `header` bytes of room then `value`; returns the payload (a view into a slab that is
 * never written again), or undefined when the value is not plain data or does not fit.
 */
export function writePlain(value: unknown, header: number, depthLimit: number): Buffer | undefined {
  if (writing) return undefined;
  if (slab.length - slabPos < MIN_ROOM) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    slabPos = 0;
  }
  const start = slabPos;
  pos = start + header;
  limit = slab.length;
  maxDepth = depthLimit;
  bailed = false;
  writing = true;
  try {
    writeValue(value, 0);
  } finally {
    writing = false;
  }
  if (bailed) return undefined;
  slabPos = (pos + 7) & ~7;
  return slab.subarray(start, pos);
}
