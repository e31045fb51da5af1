/**
 * Frames written during one tick, packed at flush into as few buffers as possible, each frame
 * as on the wire (u32 big-endian length, payload). One copy per frame buys one syscall per batch
 * instead of one or two per frame, which is what makes small messages fast.
 */
export class FrameBatch {
  private parts: Uint8Array[] = []
  private bytes = 0

  constructor(private readonly maxBytes: number) {}

  /** Adds a frame; returns a full batch to send first when the frame would not fit. */
  add(payload: Uint8Array): Buffer | undefined {
    const out = this.bytes > 0 && this.bytes + 4 + payload.byteLength > this.maxBytes ? this.take() : undefined
    this.parts.push(payload)
    this.bytes += 4 + payload.byteLength
    return out
  }

  /** The packed frames, or undefined when empty. */
  take(): Buffer | undefined {
    const parts = this.parts
    if (parts.length === 0) return undefined
    const data = Buffer.allocUnsafe(this.bytes)
    let off = 0
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as Uint8Array
      data.writeUInt32BE(p.byteLength, off)
      data.set(p, off + 4)
      off += 4 + p.byteLength
    }
    this.parts = []
    this.bytes = 0
    return data
  }
}
