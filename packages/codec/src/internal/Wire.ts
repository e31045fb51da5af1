import { CorruptedFrameError } from '../errors.js'

/*
 * Hand-written msgpack for the few header fields of envelopes and fragments (uints, strings,
 * nil). Reading them apart from the message value means a message that fails to decode never
 * hides its header. The bytes are plain msgpack.
 */

const textDecoder = new TextDecoder('utf-8', { fatal: false })

/** Node's Buffer has undocumented but long-standing `utf8Slice` and `latin1Slice(start, end)`. */
interface Utf8Sliceable {
  utf8Slice(start: number, end: number): string
}
interface Latin1Sliceable {
  latin1Slice(start: number, end: number): string
}

/** Bytes msgpack needs for a non-negative safe integer. */
export function uintSize(n: number): number {
  if (n < 0x80) return 1
  if (n < 0x100) return 2
  if (n < 0x10000) return 3
  if (n <= 0xffffffff) return 5
  return 9
}

/** Writes a non-negative safe integer as the smallest msgpack uint; returns the new position. */
export function writeUint(buf: Uint8Array, pos: number, n: number): number {
  if (n < 0x80) {
    buf[pos] = n
    return pos + 1
  }
  if (n < 0x100) {
    buf[pos] = 0xcc
    buf[pos + 1] = n
    return pos + 2
  }
  if (n < 0x10000) {
    buf[pos] = 0xcd
    buf[pos + 1] = n >>> 8
    buf[pos + 2] = n & 0xff
    return pos + 3
  }
  if (n <= 0xffffffff) {
    buf[pos] = 0xce
    buf[pos + 1] = n >>> 24
    buf[pos + 2] = (n >>> 16) & 0xff
    buf[pos + 3] = (n >>> 8) & 0xff
    buf[pos + 4] = n & 0xff
    return pos + 5
  }
  buf[pos] = 0xcf
  const high = Math.floor(n / 0x100000000)
  const low = n >>> 0
  buf[pos + 1] = 0
  buf[pos + 2] = (high >>> 16) & 0xff
  buf[pos + 3] = (high >>> 8) & 0xff
  buf[pos + 4] = high & 0xff
  buf[pos + 5] = low >>> 24
  buf[pos + 6] = (low >>> 16) & 0xff
  buf[pos + 7] = (low >>> 8) & 0xff
  buf[pos + 8] = low & 0xff
  return pos + 9
}

/** Bytes of the msgpack str header for a UTF-8 length. */
export function strHeaderSize(byteLength: number): number {
  if (byteLength < 0x20) return 1
  if (byteLength < 0x100) return 2
  if (byteLength < 0x10000) return 3
  return 5
}

/** UTF-8 length of `s` (fast for ASCII). */
export function utf8Length(s: string): number {
  const n = s.length
  if (n < 64) {
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8')
    return n
  }
  return Buffer.byteLength(s, 'utf8')
}

/** Writes `s` (whose UTF-8 length is `byteLength`) as a msgpack str; returns the new position. */
export function writeStr(buf: Buffer, pos: number, s: string, byteLength: number): number {
  if (byteLength < 0x20) {
    buf[pos++] = 0xa0 | byteLength
  } else if (byteLength < 0x100) {
    buf[pos++] = 0xd9
    buf[pos++] = byteLength
  } else if (byteLength < 0x10000) {
    buf[pos++] = 0xda
    buf[pos++] = byteLength >>> 8
    buf[pos++] = byteLength & 0xff
  } else {
    buf[pos++] = 0xdb
    buf.writeUInt32BE(byteLength, pos)
    pos += 4
  }
  if (byteLength === s.length && byteLength < 32) {
    for (let i = 0; i < byteLength; i++) buf[pos + i] = s.charCodeAt(i)
  } else {
    buf.write(s, pos, byteLength, 'utf8')
  }
  return pos + byteLength
}

/** Decodes UTF-8 bytes `buf[start, end)` (invalid sequences become U+FFFD, as msgpack libraries do). */
export function readUtf8(buf: Uint8Array, start: number, end: number): string {
  const length = end - start
  if (length < 16) {
    let ascii = true
    for (let i = start; i < end; i++) {
      if ((buf[i] as number) >= 0x80) {
        ascii = false
        break
      }
    }
    if (ascii) {
      switch (length) {
        case 0:
          return ''
        case 1:
          return String.fromCharCode(buf[start] as number)
        case 2:
          return String.fromCharCode(buf[start] as number, buf[start + 1] as number)
        case 3:
          return String.fromCharCode(buf[start] as number, buf[start + 1] as number, buf[start + 2] as number)
        default: {
          let s = ''
          for (let i = start; i < end; i++) s += String.fromCharCode(buf[i] as number)
          return s
        }
      }
    }
  }
  if (length <= 64 && (buf as unknown as Partial<Latin1Sliceable>).latin1Slice !== undefined) {
    let ascii = true
    for (let i = start; i < end; i++) {
      if ((buf[i] as number) >= 0x80) {
        ascii = false
        break
      }
    }
    // ASCII is its own UTF-8: Buffer's latin1Slice skips the UTF-8 decoder and toString's checks
    if (ascii) return (buf as unknown as Latin1Sliceable).latin1Slice(start, end)
  }
  // A Buffer: utf8Slice is what toString('utf8') calls after checking its arguments (ours are checked).
  if ((buf as unknown as Partial<Utf8Sliceable>).utf8Slice !== undefined) return (buf as unknown as Utf8Sliceable).utf8Slice(start, end)
  return textDecoder.decode(buf.subarray(start, end))
}

/**
 * A cursor over header fields. `pos` advances as fields are read; every read checks `end`.
 * One instance is reused per decoder (decoding is synchronous).
 */
export class HeaderReader {
  buf: Uint8Array = new Uint8Array(0)
  pos = 0
  end = 0

  reset(buf: Uint8Array, pos: number, end: number): void {
    this.buf = buf
    this.pos = pos
    this.end = end
  }

  #need(n: number): void {
    if (this.pos + n > this.end) throw new CorruptedFrameError('truncated header')
  }

  /** Token at the cursor (without consuming it). */
  peek(): number {
    this.#need(1)
    return this.buf[this.pos] as number
  }

  /** Reads a msgpack unsigned integer up to 2^53 - 1. */
  readUint(what: string): number {
    this.#need(1)
    const buf = this.buf
    const token = buf[this.pos] as number
    if (token < 0x80) {
      this.pos += 1
      return token
    }
    switch (token) {
      case 0xcc:
        this.#need(2)
        this.pos += 2
        return buf[this.pos - 1] as number
      case 0xcd:
        this.#need(3)
        this.pos += 3
        return ((buf[this.pos - 2] as number) << 8) | (buf[this.pos - 1] as number)
      case 0xce: {
        this.#need(5)
        const p = this.pos + 1
        this.pos += 5
        return (buf[p] as number) * 0x1000000 + (((buf[p + 1] as number) << 16) | ((buf[p + 2] as number) << 8) | (buf[p + 3] as number))
      }
      case 0xcf: {
        this.#need(9)
        const p = this.pos + 1
        this.pos += 9
        const high =
          (buf[p] as number) * 0x1000000 + (((buf[p + 1] as number) << 16) | ((buf[p + 2] as number) << 8) | (buf[p + 3] as number))
        const low =
          (buf[p + 4] as number) * 0x1000000 + (((buf[p + 5] as number) << 16) | ((buf[p + 6] as number) << 8) | (buf[p + 7] as number))
        if (high > 0x1fffff) throw new CorruptedFrameError(`${what} exceeds 2^53 - 1`)
        return high * 0x100000000 + low
      }
      default:
        throw new CorruptedFrameError(`${what} must be an unsigned integer, found token 0x${token.toString(16)}`)
    }
  }

  /** If the token at the cursor is a str, reads it; otherwise returns undefined without moving. */
  tryReadStr(): string | undefined {
    this.#need(1)
    const buf = this.buf
    const token = buf[this.pos] as number
    let length: number
    let start: number
    if (token >= 0xa0 && token <= 0xbf) {
      length = token - 0xa0
      start = this.pos + 1
    } else if (token === 0xd9) {
      this.#need(2)
      length = buf[this.pos + 1] as number
      start = this.pos + 2
    } else if (token === 0xda) {
      this.#need(3)
      length = ((buf[this.pos + 1] as number) << 8) | (buf[this.pos + 2] as number)
      start = this.pos + 3
    } else if (token === 0xdb) {
      this.#need(5)
      const p = this.pos + 1
      length = (buf[p] as number) * 0x1000000 + (((buf[p + 1] as number) << 16) | ((buf[p + 2] as number) << 8) | (buf[p + 3] as number))
      start = this.pos + 5
    } else {
      return undefined
    }
    if (length > this.end - start) throw new CorruptedFrameError('truncated string')
    this.pos = start + length
    return readUtf8(buf, start, start + length)
  }

  /** Reads a str or a uint: a literal string or a compressed index. */
  readStrOrIndex(what: string): string | number {
    const s = this.tryReadStr()
    if (s !== undefined) return s
    const token = this.buf[this.pos] as number
    if (token < 0x80 || (token >= 0xcc && token <= 0xcf)) return this.readUint(what)
    throw new CorruptedFrameError(`${what} must be a string or a compression index, found token 0x${token.toString(16)}`)
  }
}
