import { ByteToMessageDecoder, type ByteToMessageDecoderOptions } from './ByteToMessageDecoder.js'
import type { ChannelHandlerContext } from './ChannelHandler.js'
import type { ChunkQueue } from './ChunkQueue.js'
import { FrameTooLongError } from './errors.js'

/** Options of a {@link LineBasedFrameDecoder}. */
export interface LineBasedFrameDecoderOptions extends ByteToMessageDecoderOptions {
  /** Longest line accepted, in bytes, without its delimiter. */
  readonly maxLength: number
  /** Whether the emitted line omits its `\n` or `\r\n`. Default true. */
  readonly stripDelimiter?: boolean
  /**
   * True (default): raise FrameTooLongError as soon as more than `maxLength` bytes arrived without
   * a line end. False: discard up to the line end, then raise it. The bytes of an overlong line
   * are discarded, never buffered. (Netty defaults to false; we prefer refusing a peer early.)
   */
  readonly failFast?: boolean
}

const LF = 0x0a
const CR = 0x0d

/**
 * Splits a byte stream at line ends, `\n` or `\r\n` (Netty's `LineBasedFrameDecoder`).
 *
 * ```
 * BEFORE DECODE (3 chunks)                 AFTER DECODE (stripDelimiter: true)
 * +------+---------------+------+          +-------+ +-----+ +---------+
 * | AB\r | \nCDE\nFGH\r\n | IJ  |  ----->  | "AB"  | |"CDE"| |  "FGH"  |   ("IJ" waits)
 * +------+---------------+------+          +-------+ +-----+ +---------+
 * ```
 *
 * A line inside one chunk is emitted as a view of it. Bytes are scanned once: a partial line is
 * not rescanned when more bytes arrive.
 *
 * Errors: {@link FrameTooLongError} (`ERR_FRAME_TOO_LONG`) for a line longer than `maxLength`
 * (its `frameLength` is -1 when raised before the line end was seen); by default the channel is
 * then closed with it as reason.
 *
 * @throws RangeError from the constructor when `maxLength` is not a positive integer.
 */
export class LineBasedFrameDecoder extends ByteToMessageDecoder {
  /** Longest line accepted, delimiter excluded. */
  readonly maxLength: number
  /** Whether lines are passed on without their delimiter. */
  readonly stripDelimiter: boolean
  /** Fail as soon as a line exceeds `maxLength`, instead of at its delimiter. */
  readonly failFast: boolean
  private discarding = false
  private discardedBytes = 0
  /** Bytes already scanned without finding a line end. */
  private scanned = 0

  constructor(options: LineBasedFrameDecoderOptions) {
    super(options)
    const { maxLength, stripDelimiter = true, failFast = true } = options
    if (!Number.isInteger(maxLength) || maxLength <= 0) throw new RangeError(`maxLength must be a positive integer: ${maxLength}`)
    this.maxLength = maxLength
    this.stripDelimiter = stripDelimiter
    this.failFast = failFast
  }

  protected decode(_ctx: ChannelHandlerContext, input: ChunkQueue): unknown {
    const lf = input.indexOf(LF, this.scanned)
    if (lf < 0) {
      this.scanned = input.length
      if (this.discarding) {
        this.discardedBytes += input.length
        this.skipAll(input)
      } else if (input.length > this.maxLength + (input.byteAt(input.length - 1) === CR ? 1 : 0)) {
        // (a trailing \r may be the start of the \r\n ending a line of exactly maxLength)
        this.discardedBytes = input.length
        this.discarding = true
        this.skipAll(input)
        if (this.failFast) throw new FrameTooLongError(-1, this.maxLength)
      }
      return undefined
    }
    this.scanned = 0
    const eol = lf > 0 && input.byteAt(lf - 1) === CR ? lf - 1 : lf
    const delimiterLength = lf - eol + 1
    if (this.discarding) {
      const length = this.discardedBytes + eol
      input.skip(eol + delimiterLength)
      this.discardedBytes = 0
      this.discarding = false
      if (!this.failFast) throw new FrameTooLongError(length, this.maxLength)
      return undefined
    }
    if (eol > this.maxLength) {
      input.skip(eol + delimiterLength)
      throw new FrameTooLongError(eol, this.maxLength)
    }
    if (!this.stripDelimiter) return input.consume(eol + delimiterLength)
    const line = input.consume(eol)
    input.skip(delimiterLength)
    return line
  }

  private skipAll(input: ChunkQueue): void {
    input.skip(input.length)
    this.scanned = 0
  }
}
