/**
 * Frames written during one tick, packed at flush into as few buffers as possible, each frame
 * as on the wire (u32 big-endian length, payload). One copy per frame buys one syscall per batch
 * instead of one or two per frame, which is what makes small messages fast.
 */
export class FrameBatch {
  /** Frames in slots [0, count); the array is reused from batch to batch. */
  private readonly parts: (Uint8Array | undefined)[] = []
  private count = 0
  private bytes = 0

  constructor(private readonly maxBytes: number) {}

  /** Adds a frame; returns a full batch to send first when the frame would not fit. */
  add(payload: Uint8Array): Buffer | undefined {
    const out = this.bytes > 0 && this.bytes + 4 + payload.byteLength > this.maxBytes ? this.take() : undefined
    this.parts[this.count++] = payload
    this.bytes += 4 + payload.byteLength
    return out
  }

  /** The packed frames, or undefined when empty. */
  take(): Buffer | undefined {
    const parts = this.parts
    const n = this.count
    if (n === 0) return undefined
    const data = Buffer.allocUnsafe(this.bytes)
    let off = 0
    for (let i = 0; i < n; i++) {
      const p = parts[i] as Uint8Array
      parts[i] = undefined
      off = putFrame(data, off, p)
    }
    this.count = 0
    this.bytes = 0
    // A burst of many small frames does not pin a big array for the life of the link.
    if (parts.length > 4096) parts.length = 0
    return data
  }
}

/** One frame as on the wire: u32 big-endian length, then the payload (copied). */
export function framed(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.byteLength)
  putFrame(out, 0, payload)
  return out
}

/** Writes `payload` as a frame at `off` in `out`; returns the offset after it. */
function putFrame(out: Buffer, off: number, payload: Uint8Array): number {
  const len = payload.byteLength
  out[off] = len >>> 24
  out[off + 1] = (len >>> 16) & 0xff
  out[off + 2] = (len >>> 8) & 0xff
  out[off + 3] = len & 0xff
  out.set(payload, off + 4)
  return off + 4 + len
}
