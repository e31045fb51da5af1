import { ByteToMessageDecoder, type ByteToMessageDecoderOptions } from './ByteToMessageDecoder.js'
import type { ChannelHandlerContext } from './ChannelHandler.js'
import type { ChunkQueue } from './ChunkQueue.js'
import { FrameTooLongError } from './errors.js'

/** Options of a {@link DelimiterBasedFrameDecoder}. */
export interface DelimiterBasedFrameDecoderOptions extends ByteToMessageDecoderOptions {
  /** Longest frame accepted, in bytes, without its delimiter. */
  readonly maxFrameLength: number
  /** One or more non-empty delimiters; a frame ends at the earliest one found (the first listed wins a tie). */
  readonly delimiters: readonly Uint8Array[]
  /** Whether the emitted frame omits its delimiter. Default true. */
  readonly stripDelimiter?: boolean
  /**
   * True (default): raise FrameTooLongError as soon as more than `maxFrameLength` bytes arrived
   * without a delimiter. False: discard up to the delimiter, then raise it. The bytes of an
   * oversized frame are discarded, never buffered.
   */
  readonly failFast?: boolean
}

/**
 * Splits a byte stream at one or more delimiters (Netty's `DelimiterBasedFrameDecoder`).
 *
 * ```
 * delimiters: ["\0"]
 *
 * BEFORE DECODE (2 chunks)              AFTER DECODE (stripDelimiter: true)
 * +-------+---------------+             +-------+ +---------+
 * | ABC\0 | DEF\0GHI      |   ----->    | "ABC" | |  "DEF"  |    ("GHI" waits)
 * +-------+---------------+             +-------+ +---------+
 * ```
 *
 * With several delimiters the frame ends at the one found first in the stream, e.g. `\r\n` and
 * `\n` for lines (for exactly that case {@link LineBasedFrameDecoder} is faster). A frame inside
 * one chunk is emitted as a view of it. Bytes already scanned are not rescanned when more arrive.
 *
 * Errors: {@link FrameTooLongError} (`ERR_FRAME_TOO_LONG`) for a frame longer than
 * `maxFrameLength`; by default the channel is then closed with it as reason.
 *
 * @throws RangeError from the constructor for a non-positive `maxFrameLength`, no delimiters or
 * an empty delimiter.
 */
export class DelimiterBasedFrameDecoder extends ByteToMessageDecoder {
  /** Longest frame accepted, delimiter excluded. */
  readonly maxFrameLength: number
  /** Whether frames are passed on without their delimiter. */
  readonly stripDelimiter: boolean
  /** Fail as soon as a frame exceeds `maxFrameLength`, instead of at its delimiter. */
  readonly failFast: boolean
  private readonly delimiters: Uint8Array[]
  private readonly longestDelimiter: number
  private discarding = false
  private tooLongFrameLength = 0
  /** Index from which a delimiter may still start (everything before was scanned). */
  private scanFrom = 0

  constructor(options: DelimiterBasedFrameDecoderOptions) {
    super(options)
    const { maxFrameLength, delimiters, stripDelimiter = true, failFast = true } = options
    if (!Number.isInteger(maxFrameLength) || maxFrameLength <= 0)
      throw new RangeError(`maxFrameLength must be a positive integer: ${maxFrameLength}`)
    if (delimiters.length === 0) throw new RangeError('at least one delimiter is required')
    let longest = 0
    for (const d of delimiters) {
      if (d.byteLength === 0) throw new RangeError('a delimiter must not be empty')
      longest = Math.max(longest, d.byteLength)
    }
    // Copied: a caller mutating its arrays later must not change the framing.
    this.delimiters = delimiters.map((d) => Uint8Array.from(d))
    this.longestDelimiter = longest
    this.maxFrameLength = maxFrameLength
    this.stripDelimiter = stripDelimiter
    this.failFast = failFast
  }

  protected decode(_ctx: ChannelHandlerContext, input: ChunkQueue): unknown {
    let frameLength = -1
    let delimiterLength = 0
    const delimiters = this.delimiters
    for (let i = 0; i < delimiters.length; i++) {
      const d = delimiters[i]!
      const at = input.indexOfSequence(d, this.scanFrom)
      if (at >= 0 && (frameLength < 0 || at < frameLength)) {
        frameLength = at
        delimiterLength = d.byteLength
      }
    }
    if (frameLength < 0) {
      // A delimiter may start in the last (longest - 1) bytes and end in the next chunk.
      this.scanFrom = Math.max(0, input.length - this.longestDelimiter + 1)
      if (this.discarding) {
        this.tooLongFrameLength += this.discardAllButTail(input)
      } else if (input.length > this.maxFrameLength) {
        this.discarding = true
        this.tooLongFrameLength = this.discardAllButTail(input)
        if (this.failFast) throw new FrameTooLongError(-1, this.maxFrameLength)
      }
      return undefined
    }
    this.scanFrom = 0
    if (this.discarding) {
      const tooLong = this.tooLongFrameLength + frameLength
      this.discarding = false
      this.tooLongFrameLength = 0
      input.skip(frameLength + delimiterLength)
      if (!this.failFast) throw new FrameTooLongError(tooLong, this.maxFrameLength)
      return undefined
    }
    if (frameLength > this.maxFrameLength) {
      input.skip(frameLength + delimiterLength)
      throw new FrameTooLongError(frameLength, this.maxFrameLength)
    }
    if (!this.stripDelimiter) return input.consume(frameLength + delimiterLength)
    const frame = input.consume(frameLength)
    input.skip(delimiterLength)
    return frame
  }

  /**
   * Discards what is buffered except the last (longest delimiter - 1) bytes, which may be the
   * start of a delimiter that ends in the next chunk. Returns the number of bytes discarded.
   */
  private discardAllButTail(input: ChunkQueue): number {
    const n = Math.max(0, input.length - (this.longestDelimiter - 1))
    input.skip(n)
    this.scanFrom = 0
    return n
  }
}
