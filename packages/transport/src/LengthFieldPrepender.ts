import type { ChannelHandler, ChannelHandlerContext, WriteCallback } from './ChannelHandler.js'
import { CorruptedFrameError, FrameTooLongError } from './errors.js'
import type { ByteOrder, LengthFieldLength } from './LengthFieldBasedFrameDecoder.js'

/** Options of a {@link LengthFieldPrepender}. */
export interface LengthFieldPrependerOptions {
  /** Size of the length field. Default 4. */
  readonly lengthFieldLength?: LengthFieldLength
  /** Added to the payload length before it is written. Default 0. */
  readonly lengthAdjustment?: number
  /** Whether the written length counts the length field itself. Default false. */
  readonly lengthIncludesLengthFieldLength?: boolean
  /** Byte order of the length field. Default 'BE'. */
  readonly byteOrder?: ByteOrder
}

const MAX_BY_FIELD_LENGTH = [0, 0xff, 0xffff, 0xffffff, 0xffffffff] as const

/**
 * Outbound handler that prefixes every `Uint8Array` written with its length, the counterpart of
 * {@link LengthFieldBasedFrameDecoder} (Netty's `LengthFieldPrepender`).
 *
 * The header and the payload are written as TWO messages (`ctx.write(header)`, then
 * `ctx.write(payload, callback)`): the payload is never copied; the channel sends both in one
 * syscall on flush. The write callback is attached to the payload. Other messages pass unchanged.
 *
 * ```
 * lengthFieldLength = 2
 *
 * write("HELLO, WORLD")  (12 bytes)   ->   +--------+ +----------------+
 *                                          | 0x000C | | "HELLO, WORLD" |
 *                                          +--------+ +----------------+
 *                                            write 1        write 2
 * ```
 *
 * Sharable: it keeps no per-connection state.
 *
 * @throws FrameTooLongError (`ERR_FRAME_TOO_LONG`) when the length does not fit the field (e.g. a
 * 256-byte payload with a 1-byte field); CorruptedFrameError (`ERR_CORRUPTED_FRAME`) when the
 * adjusted length is negative. The pipeline hands either to the write's callback, or to
 * `exceptionCaught` when there is none; nothing is written.
 */
export class LengthFieldPrepender implements ChannelHandler {
  readonly sharable = true
  /** Size of the length field in bytes. */
  readonly lengthFieldLength: LengthFieldLength
  /** Added to the payload length before it is written. */
  readonly lengthAdjustment: number
  /** Whether the written length counts the length field itself. */
  readonly lengthIncludesLengthFieldLength: boolean
  /** Byte order of the length field. */
  readonly byteOrder: ByteOrder
  private readonly maxLength: number
  private readonly littleEndian: boolean

  constructor(options: LengthFieldPrependerOptions = {}) {
    const { lengthFieldLength = 4, lengthAdjustment = 0, lengthIncludesLengthFieldLength = false, byteOrder = 'BE' } = options
    if (lengthFieldLength !== 1 && lengthFieldLength !== 2 && lengthFieldLength !== 3 && lengthFieldLength !== 4) {
      throw new RangeError(`lengthFieldLength must be 1, 2, 3 or 4: ${String(lengthFieldLength)}`)
    }
    if (!Number.isInteger(lengthAdjustment)) throw new RangeError(`lengthAdjustment must be an integer: ${lengthAdjustment}`)
    if (byteOrder !== 'BE' && byteOrder !== 'LE') throw new RangeError(`byteOrder must be 'BE' or 'LE': ${String(byteOrder)}`)
    this.lengthFieldLength = lengthFieldLength
    this.lengthAdjustment = lengthAdjustment
    this.lengthIncludesLengthFieldLength = lengthIncludesLengthFieldLength
    this.byteOrder = byteOrder
    this.maxLength = MAX_BY_FIELD_LENGTH[lengthFieldLength]
    this.littleEndian = byteOrder === 'LE'
  }

  write(ctx: ChannelHandlerContext, message: unknown, callback: WriteCallback | undefined): void {
    if (!(message instanceof Uint8Array)) {
      ctx.write(message, callback)
      return
    }
    const fieldLength = this.lengthFieldLength
    let length = message.byteLength + this.lengthAdjustment
    if (this.lengthIncludesLengthFieldLength) length += fieldLength
    if (length < 0) throw new CorruptedFrameError(`adjusted frame length (${length}) is negative`)
    if (length > this.maxLength) throw new FrameTooLongError(length, this.maxLength)
    const header = Buffer.allocUnsafe(fieldLength)
    if (this.littleEndian) header.writeUIntLE(length, 0, fieldLength)
    else header.writeUIntBE(length, 0, fieldLength)
    ctx.write(header)
    ctx.write(message, callback)
  }
}
