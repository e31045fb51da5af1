const EMPTY_CHUNK: Uint8Array = Buffer.alloc(0)

/**
 * The cumulation buffer of a {@link ByteToMessageDecoder}: a queue of received chunks and a count
 * of the bytes not yet consumed. Nothing is copied on arrival; {@link consume} returns a view
 * (`subarray`) when the bytes lie in one chunk and copies only when they span chunks (the idea
 * of ws's `Receiver#consume(n)`).
 *
 * Indexes taken by the read methods are relative to the first unconsumed byte. The methods do no
 * bounds checks on the hot path: callers check {@link length} first, as decoders do anyway.
 *
 * @example
 * ```ts
 * const q = new ChunkQueue()
 * q.push(Buffer.from([0, 3, 1])); q.push(Buffer.from([2, 3]))
 * q.readUint(0, 2, false) // 3
 * q.skip(2)
 * q.consume(3)            // a copy: <Buffer 01 02 03> spans two chunks
 * ```
 */
export class ChunkQueue {
  /** Chunks in slots [head, tail); the arrays are reused, not reallocated, as the queue empties. */
  private chunks: Uint8Array[] = []
  /** starts[i]: position in the stream (bytes ever pushed before it) of chunks[i]'s first byte. */
  private starts: number[] = []
  /** Index in `chunks` of the first chunk with unconsumed bytes. */
  private head = 0
  /** Index in `chunks` after the last chunk. */
  private tail = 0
  /** Bytes of `chunks[head]` already consumed. */
  private offset = 0
  private bytes = 0
  /** Stream position of the end of the last chunk pushed. */
  private end = 0

  /** Bytes received and not yet consumed. */
  get length(): number {
    return this.bytes
  }

  /** Number of chunks holding unconsumed bytes. */
  get chunkCount(): number {
    return this.tail - this.head
  }

  /** Appends a received chunk (kept by reference, not copied). Empty chunks are ignored. */
  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return
    const t = this.tail++
    this.chunks[t] = chunk
    this.starts[t] = this.end
    this.end += chunk.byteLength
    this.bytes += chunk.byteLength
  }

  /** The byte at `index` (0 is the first unconsumed byte). Requires `index < length`. */
  byteAt(index: number): number {
    if (index < 0 || index >= this.bytes) throw new RangeError(`index ${index} out of range (length ${this.bytes})`)
    const c = this.chunks[this.head]!
    const p = this.offset + index
    if (p < c.byteLength) return c[p]!
    const i = this.locate(index)
    return this.chunks[i]![this.position(index) - this.starts[i]!]!
  }

  /**
   * Reads an unsigned integer of `byteLength` (1 to 4) bytes at `index` without consuming it.
   * Requires `index + byteLength <= length`.
   */
  readUint(index: number, byteLength: number, littleEndian: boolean): number {
    const c = this.chunks[this.head]!
    const p = this.offset + index
    let value = 0
    if (p + byteLength <= c.byteLength) {
      if (littleEndian) for (let i = byteLength - 1; i >= 0; i--) value = value * 256 + c[p + i]!
      else for (let i = 0; i < byteLength; i++) value = value * 256 + c[p + i]!
    } else if (littleEndian) {
      for (let i = byteLength - 1; i >= 0; i--) value = value * 256 + this.byteAt(index + i)
    } else {
      for (let i = 0; i < byteLength; i++) value = value * 256 + this.byteAt(index + i)
    }
    return value
  }

  /**
   * Removes and returns the next `n` bytes: a view of the chunk when they lie in one chunk (it
   * shares the chunk's ArrayBuffer), a copy when they span chunks: into the start of `into` when
   * given (it must hold `n` bytes), else into a fresh buffer. Requires `n <= length`.
   */
  consume(n: number, into?: Uint8Array): Uint8Array {
    if (n === 0) return EMPTY_CHUNK
    if (n > this.bytes) throw new RangeError(`cannot consume ${n} bytes, only ${this.bytes} buffered`)
    const first = this.chunks[this.head]!
    const avail = first.byteLength - this.offset
    if (n < avail) {
      const view = first.subarray(this.offset, this.offset + n)
      this.offset += n
      this.bytes -= n
      return view
    }
    if (n === avail) {
      const view = this.offset === 0 ? first : first.subarray(this.offset)
      this.bytes -= n
      this.dropHead()
      return view
    }
    const out = into === undefined ? Buffer.allocUnsafe(n) : into.subarray(0, n)
    let written = 0
    while (written < n) {
      const c = this.chunks[this.head]!
      const take = Math.min(c.byteLength - this.offset, n - written)
      out.set(take === c.byteLength ? c : c.subarray(this.offset, this.offset + take), written)
      written += take
      this.bytes -= take
      if (this.offset + take === c.byteLength) this.dropHead()
      else this.offset += take
    }
    return out
  }

  /** Discards the next `n` bytes. Requires `n <= length`. */
  skip(n: number): void {
    if (n > this.bytes) throw new RangeError(`cannot skip ${n} bytes, only ${this.bytes} buffered`)
    while (n > 0) {
      const c = this.chunks[this.head]!
      const avail = c.byteLength - this.offset
      if (n < avail) {
        this.offset += n
        this.bytes -= n
        return
      }
      n -= avail
      this.bytes -= avail
      this.dropHead()
    }
  }

  /** Discards everything buffered. */
  clear(): void {
    for (let i = this.head; i < this.tail; i++) this.chunks[i] = EMPTY_CHUNK
    this.head = 0
    this.tail = 0
    this.offset = 0
    this.bytes = 0
  }

  /**
   * Index of the first `byte` at or after `fromIndex`, or -1. Uses the native
   * `Uint8Array#indexOf` on each chunk; finds the chunk of `fromIndex` by binary search, so a
   * decoder that resumes its scan where it stopped never rescans.
   */
  indexOf(byte: number, fromIndex = 0): number {
    if (fromIndex >= this.bytes) return -1
    if (fromIndex < 0) fromIndex = 0
    const chunks = this.chunks
    const starts = this.starts
    const origin = this.position(0)
    let i = this.locate(fromIndex)
    let start = this.position(fromIndex) - starts[i]!
    for (; i < this.tail; i++) {
      const found = chunks[i]!.indexOf(byte, start)
      if (found >= 0) return starts[i]! + found - origin
      start = 0
    }
    return -1
  }

  /** Index of the first occurrence of `sequence` starting at or after `fromIndex`, or -1. */
  indexOfSequence(sequence: Uint8Array, fromIndex = 0): number {
    const len = sequence.byteLength
    if (len === 0) return fromIndex <= this.bytes ? fromIndex : -1
    const first = sequence[0]!
    if (len === 1) return this.indexOf(first, fromIndex)
    let i = this.indexOf(first, fromIndex)
    while (i >= 0 && i + len <= this.bytes) {
      let k = 1
      while (k < len && this.byteAt(i + k) === sequence[k]) k++
      if (k === len) return i
      i = this.indexOf(first, i + 1)
    }
    return -1
  }

  /** Stream position of the byte at `index`. */
  private position(index: number): number {
    return this.starts[this.head]! + this.offset + index
  }

  /** Index in `chunks` of the chunk holding the byte at `index` (< length): binary search. */
  private locate(index: number): number {
    const pos = this.position(index)
    const starts = this.starts
    let lo = this.head
    let hi = this.tail - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (starts[mid]! <= pos) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  private dropHead(): void {
    this.chunks[this.head] = EMPTY_CHUNK // release the chunk now
    this.head++
    this.offset = 0
    if (this.head === this.tail) {
      // Empty: start again at slot 0 of the same arrays.
      this.head = 0
      this.tail = 0
      // A long backlog does not pin big arrays for the life of the connection.
      if (this.chunks.length > 1024) {
        this.chunks = []
        this.starts = []
      }
    } else if (this.head >= 64 && this.head * 2 >= this.tail) {
      const n = this.tail - this.head
      this.chunks.copyWithin(0, this.head, this.tail)
      this.starts.copyWithin(0, this.head, this.tail)
      this.chunks.fill(EMPTY_CHUNK, n, this.tail)
      this.head = 0
      this.tail = n
    }
  }
}
