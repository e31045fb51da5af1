/**
 * Hand-written framing for the raw baselines: a big-endian u32 length (payload bytes only), then
 * one msgpackr-packed value. This is the same wire rule as the project (docs/PROTOCOL.md §3), with
 * nothing else: no pipeline, no envelope, no actors. It is written the way a careful hand-rolled
 * server would be, so that the baseline is this machine's limit and not a straw man:
 *
 * - reads keep a queue of chunks; a frame inside one chunk is decoded in place with
 *   `unpack(buf, { start, end })`, only a frame spanning chunks is copied (just its own bytes);
 * - writes are packed into one batch buffer and go out in one `write()` per flush (one syscall
 *   per tick instead of one per frame).
 */
import { Packr, Unpackr } from 'msgpackr'

/** Shared msgpackr instances; plain mode (no records) so both ends agree without a handshake. */
export const packr = new Packr({ useRecords: false })
export const unpackr = new Unpackr({ useRecords: false })

/** Called once per decoded frame. */
export type FrameListener = (value: unknown) => void

/**
 * Incremental u32-BE frame decoder over a queue of chunks.
 *
 * Throws when a frame announces more than `maxFrameLength` bytes (checked at the header, before
 * the body is buffered).
 */
export class FrameReader {
  private readonly chunks: Buffer[] = []
  private buffered = 0
  /** Length of the frame being buffered, -1 until its header is complete. */
  private frameLength = -1
  private readonly onFrame: FrameListener
  private readonly maxFrameLength: number

  constructor(onFrame: FrameListener, maxFrameLength = 16 * 1024 * 1024) {
    this.onFrame = onFrame
    this.maxFrameLength = maxFrameLength
  }

  /** Feeds one chunk as it came from the socket. */
  push(chunk: Buffer): void {
    let off = 0
    if (this.buffered > 0) {
      // Complete the frame that spans chunks, copying only its own bytes.
      if (this.frameLength < 0) {
        const take = Math.min(4 - this.buffered, chunk.length)
        this.chunks.push(chunk.subarray(0, take))
        this.buffered += take
        off = take
        if (this.buffered < 4) return
        this.frameLength = this.checked(Buffer.concat(this.chunks, this.buffered).readUInt32BE(0))
      }
      const need = 4 + this.frameLength - this.buffered
      if (chunk.length - off < need) {
        this.chunks.push(off === 0 ? chunk : chunk.subarray(off))
        this.buffered += chunk.length - off
        return
      }
      this.chunks.push(chunk.subarray(off, off + need))
      const frame = Buffer.concat(this.chunks, 4 + this.frameLength)
      this.chunks.length = 0
      this.buffered = 0
      this.frameLength = -1
      off += need
      this.onFrame(unpackr.unpack(frame, { start: 4, end: frame.length }))
    }
    // Every frame that lies inside the chunk is decoded in place.
    const rest = this.decodeIn(chunk, off)
    if (rest < chunk.length) {
      const tail = chunk.subarray(rest)
      this.chunks.push(tail)
      this.buffered = tail.length
      this.frameLength = tail.length >= 4 ? this.checked(tail.readUInt32BE(0)) : -1
    }
  }

  /** Refuses a frame longer than the limit from its header, before its body is buffered. */
  private checked(frameLength: number): number {
    if (frameLength > this.maxFrameLength) throw new Error(`frame of ${frameLength} bytes exceeds ${this.maxFrameLength}`)
    return frameLength
  }

  /** Decodes every complete frame in `buf` from `off`; returns the offset of the first unconsumed byte. */
  private decodeIn(buf: Buffer, off: number): number {
    const len = buf.length
    while (len - off >= 4) {
      const frameLength = this.checked(buf.readUInt32BE(off))
      if (len - off - 4 < frameLength) break
      const start = off + 4
      off = start + frameLength
      this.onFrame(unpackr.unpack(buf, { start, end: off }))
    }
    return off
  }
}

/** Decodes every frame of one datagram (frames never span datagrams). */
export function decodeDatagram(buf: Buffer, onFrame: FrameListener): void {
  let off = 0
  while (buf.length - off >= 4) {
    const frameLength = buf.readUInt32BE(off)
    const start = off + 4
    off = start + frameLength
    if (off > buf.length) return // truncated datagram: dropped, like any corrupt datagram
    onFrame(unpackr.unpack(buf, { start, end: off }))
  }
}

/**
 * Packs values as frames into one batch buffer; `take()` hands the batch over (to a socket write)
 * and starts a new one. The batch is copied once from msgpackr's scratch buffer, never per write.
 */
export class FrameBatch {
  private buf: Buffer
  private off = 0
  /** Number of frames in the current batch. */
  count = 0
  private readonly initialSize: number

  constructor(initialSize = 64 * 1024) {
    this.initialSize = initialSize
    this.buf = Buffer.allocUnsafe(initialSize)
  }

  get byteLength(): number {
    return this.off
  }

  /** Appends one frame carrying `value`; returns the frame's size on the wire. */
  add(value: unknown): number {
    const packed = packr.pack(value)
    const need = this.off + 4 + packed.length
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2))
      this.buf.copy(bigger, 0, 0, this.off)
      this.buf = bigger
    }
    this.buf.writeUInt32BE(packed.length, this.off)
    packed.copy(this.buf, this.off + 4)
    this.off = need
    this.count++
    return 4 + packed.length
  }

  /** Returns the frames packed so far (a view the caller now owns) and starts an empty batch. */
  take(): Buffer {
    // One exact-size copy per flush; the (grown) scratch buffer is kept for the next batch.
    const out = Buffer.allocUnsafe(this.off)
    this.buf.copy(out, 0, 0, this.off)
    // Keep a grown scratch buffer (re-growing it every tick is what costs memory), up to 4 MiB.
    if (this.buf.length > 4 * 1024 * 1024) this.buf = Buffer.allocUnsafe(this.initialSize)
    this.off = 0
    this.count = 0
    return out
  }
}
