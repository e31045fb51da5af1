import { ByteToMessageDecoder, type ByteToMessageDecoderOptions } from './ByteToMessageDecoder.js'
import type { ChannelHandlerContext } from './ChannelHandler.js'
import type { ChunkQueue } from './ChunkQueue.js'
import { CorruptedFrameError, FrameTooLongError } from './errors.js'

/** Byte order of a length field: big endian (network order) or little endian. */
export type ByteOrder = 'BE' | 'LE'

/** Size in bytes of a length field: u8, u16, u24 or u32. */
export type LengthFieldLength = 1 | 2 | 3 | 4

/** Options of a {@link LengthFieldBasedFrameDecoder}. */
export interface LengthFieldBasedFrameDecoderOptions extends ByteToMessageDecoderOptions {
  /** Largest frame accepted, in bytes, counted as the frame is emitted before stripping (header included). */
  readonly maxFrameLength: number
  /** Offset of the length field in the frame. Default 0. */
  readonly lengthFieldOffset?: number
  /** Size of the length field. Default 4. */
  readonly lengthFieldLength?: LengthFieldLength
  /** Added to the value of the length field to get the length of the rest of the frame. Default 0. */
  readonly lengthAdjustment?: number
  /** Bytes stripped from the start of the decoded frame (e.g. the header). Default 0. */
  readonly initialBytesToStrip?: number
  /** Byte order of the length field. Default 'BE'. */
  readonly byteOrder?: ByteOrder
  /**
   * True (default): raise FrameTooLongError as soon as the header declares a frame above
   * `maxFrameLength`. False: raise it after the whole oversized frame was discarded (only useful
   * with `closeOnDecodeError: false`). Either way the body is discarded, never buffered.
   */
  readonly failFast?: boolean
  /**
   * Which frames that arrived over several reads to lend (default: none): called with such a
   * frame's first byte (after stripping) and its length, true to lend it. A lent frame is
   * assembled in one buffer shared by every decoder of the process (as large as the largest frame
   * lent) and reused for the next, instead of a fresh buffer per frame: it is valid only while the
   * next handler's `channelRead` runs, which must therefore be synchronous (no async step) and
   * copy what it keeps ({@link isLentFrame} tells a lent frame). Frames within one read are views
   * of it, as always.
   *
   * Why: a fresh buffer of a few hundred KiB per frame, garbage right after, is served by glibc's
   * malloc from its heap once its mmap threshold has risen; a peer streaming large frames then
   * leaves the process heap tens of MB larger after it stops (freed, not returned to the system).
   * The remoting lends its fragments, whose bytes it copies into reassembly at once.
   */
  readonly lendFrame?: (firstByte: number, length: number) => boolean
}

/** The buffer in which frames are lent (see {@link LengthFieldBasedFrameDecoderOptions.lendFrame}). */
let lendBuffer: Uint8Array | undefined
/** True while a lent frame is out (a decoder re-entered meanwhile allocates instead). */
let lendOut = false

/** True when `frame` is a lent frame (see {@link LengthFieldBasedFrameDecoderOptions.lendFrame}): valid only during the `channelRead` it was given to. */
export function isLentFrame(frame: Uint8Array): boolean {
  return lendBuffer !== undefined && frame.buffer === lendBuffer.buffer
}

const HEADER = 0
const BODY = 1
const DISCARDING = 2

/**
 * Splits a byte stream into frames by the value of a length field in each frame's header
 * (Netty's `LengthFieldBasedFrameDecoder`, same options and semantics).
 *
 * The frame length read from the header is adjusted:
 * `frameLength = lengthField + lengthAdjustment + lengthFieldOffset + lengthFieldLength`, i.e. the
 * whole frame including everything up to and including the length field. The frame is emitted
 * once that many bytes are buffered, minus its first `initialBytesToStrip` bytes. A frame that
 * lies in one received chunk is emitted as a view of it; only a frame spanning chunks is copied.
 *
 * Errors (fired with `exceptionCaught`; by default the channel is then closed with it as reason):
 * - {@link FrameTooLongError} (`ERR_FRAME_TOO_LONG`): the adjusted length exceeds
 *   `maxFrameLength`. Decided from the header alone: the body is discarded as it arrives, never
 *   buffered.
 * - {@link CorruptedFrameError} (`ERR_CORRUPTED_FRAME`): the adjusted length is negative or
 *   shorter than the header, or shorter than `initialBytesToStrip`.
 *
 * ## 2 bytes length field at offset 0, do not strip header
 * The length field holds 12 (0x0C), the length of "HELLO, WORLD". Nothing is stripped.
 * ```
 * lengthFieldOffset   = 0
 * lengthFieldLength   = 2
 * lengthAdjustment    = 0
 * initialBytesToStrip = 0
 *
 * BEFORE DECODE (14 bytes)         AFTER DECODE (14 bytes)
 * +--------+----------------+      +--------+----------------+
 * | Length | Actual Content |----->| Length | Actual Content |
 * | 0x000C | "HELLO, WORLD" |      | 0x000C | "HELLO, WORLD" |
 * +--------+----------------+      +--------+----------------+
 * ```
 *
 * ## 2 bytes length field at offset 0, strip header
 * The usual case: the length field is only needed to frame, so strip it.
 * ```
 * lengthFieldOffset   = 0
 * lengthFieldLength   = 2
 * lengthAdjustment    = 0
 * initialBytesToStrip = 2 (= the length of the Length field)
 *
 * BEFORE DECODE (14 bytes)         AFTER DECODE (12 bytes)
 * +--------+----------------+      +----------------+
 * | Length | Actual Content |----->| Actual Content |
 * | 0x000C | "HELLO, WORLD" |      | "HELLO, WORLD" |
 * +--------+----------------+      +----------------+
 * ```
 *
 * ## 2 bytes length field at offset 0, do not strip header, length counts the header
 * The length field holds the length of the whole frame (14 = 0x0E): subtract the header with a
 * negative adjustment.
 * ```
 * lengthFieldOffset   =  0
 * lengthFieldLength   =  2
 * lengthAdjustment    = -2 (= the length of the Length field)
 * initialBytesToStrip =  0
 *
 * BEFORE DECODE (14 bytes)         AFTER DECODE (14 bytes)
 * +--------+----------------+      +--------+----------------+
 * | Length | Actual Content |----->| Length | Actual Content |
 * | 0x000E | "HELLO, WORLD" |      | 0x000E | "HELLO, WORLD" |
 * +--------+----------------+      +--------+----------------+
 * ```
 *
 * ## 3 bytes length field at the end of a 5 bytes header, do not strip header
 * ```
 * lengthFieldOffset   = 2 (= the length of Header 1)
 * lengthFieldLength   = 3
 * lengthAdjustment    = 0
 * initialBytesToStrip = 0
 *
 * BEFORE DECODE (17 bytes)                      AFTER DECODE (17 bytes)
 * +----------+----------+----------------+      +----------+----------+----------------+
 * | Header 1 |  Length  | Actual Content |----->| Header 1 |  Length  | Actual Content |
 * |  0xCAFE  | 0x00000C | "HELLO, WORLD" |      |  0xCAFE  | 0x00000C | "HELLO, WORLD" |
 * +----------+----------+----------------+      +----------+----------+----------------+
 * ```
 *
 * ## 3 bytes length field at the beginning of a 5 bytes header, do not strip header
 * An extra header lies between the length field and the content: adjust by its length.
 * ```
 * lengthFieldOffset   = 0
 * lengthFieldLength   = 3
 * lengthAdjustment    = 2 (= the length of Header 1)
 * initialBytesToStrip = 0
 *
 * BEFORE DECODE (17 bytes)                      AFTER DECODE (17 bytes)
 * +----------+----------+----------------+      +----------+----------+----------------+
 * |  Length  | Header 1 | Actual Content |----->|  Length  | Header 1 | Actual Content |
 * | 0x00000C |  0xCAFE  | "HELLO, WORLD" |      | 0x00000C |  0xCAFE  | "HELLO, WORLD" |
 * +----------+----------+----------------+      +----------+----------+----------------+
 * ```
 *
 * ## 2 bytes length field at offset 1 in the middle of a 4 bytes header, strip the first header field and the length field
 * ```
 * lengthFieldOffset   = 1 (= the length of HDR1)
 * lengthFieldLength   = 2
 * lengthAdjustment    = 1 (= the length of HDR2)
 * initialBytesToStrip = 3 (= the length of HDR1 + LEN)
 *
 * BEFORE DECODE (16 bytes)                       AFTER DECODE (13 bytes)
 * +------+--------+------+----------------+      +------+----------------+
 * | HDR1 | Length | HDR2 | Actual Content |----->| HDR2 | Actual Content |
 * | 0xCA | 0x000C | 0xFE | "HELLO, WORLD" |      | 0xFE | "HELLO, WORLD" |
 * +------+--------+------+----------------+      +------+----------------+
 * ```
 *
 * ## 2 bytes length field at offset 1 in the middle of a 4 bytes header, strip the first header field and the length field, the length field is the length of the whole message
 * ```
 * lengthFieldOffset   =  1
 * lengthFieldLength   =  2
 * lengthAdjustment    = -3 (= the length of HDR1 + LEN, negative)
 * initialBytesToStrip =  3
 *
 * BEFORE DECODE (16 bytes)                       AFTER DECODE (13 bytes)
 * +------+--------+------+----------------+      +------+----------------+
 * | HDR1 | Length | HDR2 | Actual Content |----->| HDR2 | Actual Content |
 * | 0xCA | 0x0010 | 0xFE | "HELLO, WORLD" |      | 0xFE | "HELLO, WORLD" |
 * +------+--------+------+----------------+      +------+----------------+
 * ```
 *
 * @example Helios frames (big-endian u32 payload length, then the PDU)
 * ```ts
 * pipeline.addLast('frameDecoder', new LengthFieldBasedFrameDecoder({
 *   maxFrameLength: 256 * 1024 + 4, lengthFieldLength: 4, initialBytesToStrip: 4,
 * }))
 * ```
 * @throws RangeError from the constructor for inconsistent options.
 */
export class LengthFieldBasedFrameDecoder extends ByteToMessageDecoder {
  /** Longest frame accepted, length field and adjustment included; a longer one fails with `ERR_FRAME_TOO_LONG`. */
  readonly maxFrameLength: number
  /** Where the length field starts in a frame. */
  readonly lengthFieldOffset: number
  /** Size of the length field in bytes. */
  readonly lengthFieldLength: LengthFieldLength
  /** Added to the length field value to get the bytes that follow it. */
  readonly lengthAdjustment: number
  /** Bytes cut from the front of each frame passed on (e.g. the length field). */
  readonly initialBytesToStrip: number
  /** Byte order of the length field. */
  readonly byteOrder: ByteOrder
  /** Fail as soon as the length field says too long, instead of after reading the whole frame. */
  readonly failFast: boolean
  /** Which frames that span reads are lent (see {@link LengthFieldBasedFrameDecoderOptions.lendFrame}). */
  readonly lendFrame: ((firstByte: number, length: number) => boolean) | undefined

  /** False in a subclass that overrides decode(): the fast path would bypass it. */
  private readonly plainDecode: boolean
  private readonly lengthFieldEndOffset: number
  private readonly littleEndian: boolean
  private state = HEADER
  /** Adjusted length of the frame whose header was read (state BODY). */
  private frameLength = 0
  /** Declared length of the oversized frame being discarded, and bytes of it still to discard. */
  private tooLongFrameLength = 0
  /** This decoder's frame is the one lent now. */
  private lent = false
  private bytesToDiscard = 0

  constructor(options: LengthFieldBasedFrameDecoderOptions) {
    super(options)
    const {
      maxFrameLength,
      lengthFieldOffset = 0,
      lengthFieldLength = 4,
      lengthAdjustment = 0,
      initialBytesToStrip = 0,
      byteOrder = 'BE',
      failFast = true,
      lendFrame,
    } = options
    if (!Number.isInteger(maxFrameLength) || maxFrameLength <= 0)
      throw new RangeError(`maxFrameLength must be a positive integer: ${maxFrameLength}`)
    if (!Number.isInteger(lengthFieldOffset) || lengthFieldOffset < 0)
      throw new RangeError(`lengthFieldOffset must be a non-negative integer: ${lengthFieldOffset}`)
    if (lengthFieldLength !== 1 && lengthFieldLength !== 2 && lengthFieldLength !== 3 && lengthFieldLength !== 4) {
      throw new RangeError(`lengthFieldLength must be 1, 2, 3 or 4: ${String(lengthFieldLength)}`)
    }
    if (!Number.isInteger(lengthAdjustment)) throw new RangeError(`lengthAdjustment must be an integer: ${lengthAdjustment}`)
    if (!Number.isInteger(initialBytesToStrip) || initialBytesToStrip < 0)
      throw new RangeError(`initialBytesToStrip must be a non-negative integer: ${initialBytesToStrip}`)
    if (lengthFieldOffset > maxFrameLength - lengthFieldLength) {
      throw new RangeError(
        `maxFrameLength (${maxFrameLength}) must be at least lengthFieldOffset (${lengthFieldOffset}) + lengthFieldLength (${lengthFieldLength})`,
      )
    }
    if (byteOrder !== 'BE' && byteOrder !== 'LE') throw new RangeError(`byteOrder must be 'BE' or 'LE': ${String(byteOrder)}`)
    this.maxFrameLength = maxFrameLength
    this.lengthFieldOffset = lengthFieldOffset
    this.lengthFieldLength = lengthFieldLength
    this.lengthAdjustment = lengthAdjustment
    this.initialBytesToStrip = initialBytesToStrip
    this.byteOrder = byteOrder
    this.failFast = failFast
    this.lendFrame = lendFrame
    this.lengthFieldEndOffset = lengthFieldOffset + lengthFieldLength
    this.plainDecode = (this as unknown as { decode: unknown }).decode === LengthFieldBasedFrameDecoder.prototype.decode
    this.littleEndian = byteOrder === 'LE'
  }

  protected decode(_ctx: ChannelHandlerContext, input: ChunkQueue): unknown {
    if (this.state === DISCARDING) {
      const n = Math.min(this.bytesToDiscard, input.length)
      input.skip(n)
      this.bytesToDiscard -= n
      this.failIfNecessary(false)
      return undefined
    }
    if (this.state === HEADER) {
      const end = this.lengthFieldEndOffset
      if (input.length < end) return undefined
      const frameLength = input.readUint(this.lengthFieldOffset, this.lengthFieldLength, this.littleEndian) + this.lengthAdjustment + end
      if (frameLength < end) {
        input.skip(end)
        throw new CorruptedFrameError(`adjusted frame length (${frameLength}) is less than lengthFieldEndOffset: ${end}`)
      }
      if (frameLength > this.maxFrameLength) {
        this.exceededFrameLength(input, frameLength)
        return undefined
      }
      this.frameLength = frameLength
      this.state = BODY
    }
    const frameLength = this.frameLength
    if (input.length < frameLength) return undefined
    this.state = HEADER
    const strip = this.initialBytesToStrip
    if (strip > frameLength) {
      input.skip(frameLength)
      throw new CorruptedFrameError(`adjusted frame length (${frameLength}) is less than initialBytesToStrip: ${strip}`)
    }
    if (strip > 0) input.skip(strip)
    const n = frameLength - strip
    const lend = this.lendFrame
    if (lend === undefined || lendOut || n === 0 || !lend(input.byteAt(0), n)) return input.consume(n)
    if (lendBuffer === undefined || lendBuffer.length < n) lendBuffer = new Uint8Array(Math.max(n, this.maxFrameLength))
    const frame = input.consume(n, lendBuffer)
    if (frame.buffer === lendBuffer.buffer) lendOut = this.lent = true
    return frame
  }

  protected override messageFired(): void {
    // Only the decoder whose frame is out takes the buffer back (one re-entered meanwhile may fire
    // frames of its own while that frame is still being read).
    if (this.lent) lendOut = this.lent = false
  }

  protected override directEnd(chunk: Uint8Array, offset: number): number {
    if (this.state !== HEADER || !this.plainDecode) return -1
    const end = this.lengthFieldEndOffset
    if (chunk.byteLength - offset < end) return -1
    const p = offset + this.lengthFieldOffset
    let length = 0
    const size = this.lengthFieldLength
    if (this.littleEndian) for (let i = size - 1; i >= 0; i--) length = length * 256 + (chunk[p + i] as number)
    else for (let i = 0; i < size; i++) length = length * 256 + (chunk[p + i] as number)
    const frameLength = length + this.lengthAdjustment + end
    // Anything to report (too short, too long, shorter than the strip) is left to decode().
    if (frameLength < end || frameLength > this.maxFrameLength || this.initialBytesToStrip > frameLength) return -1
    return chunk.byteLength - offset < frameLength ? -1 : offset + frameLength
  }

  protected override directMessage(chunk: Uint8Array, start: number, end: number): unknown {
    return chunk.subarray(start + this.initialBytesToStrip, end)
  }

  private exceededFrameLength(input: ChunkQueue, frameLength: number): void {
    const discard = frameLength - input.length
    this.tooLongFrameLength = frameLength
    if (discard < 0) {
      // The whole oversized frame is already here: drop just it.
      input.skip(frameLength)
      this.bytesToDiscard = 0
    } else {
      this.state = DISCARDING
      this.bytesToDiscard = discard
      input.skip(input.length)
    }
    this.failIfNecessary(true)
  }

  private failIfNecessary(firstDetection: boolean): void {
    if (this.bytesToDiscard === 0) {
      const tooLong = this.tooLongFrameLength
      this.tooLongFrameLength = 0
      this.state = HEADER
      if (!this.failFast || firstDetection) throw new FrameTooLongError(tooLong, this.maxFrameLength)
    } else if (this.failFast && firstDetection) {
      throw new FrameTooLongError(this.tooLongFrameLength, this.maxFrameLength)
    }
  }
}
