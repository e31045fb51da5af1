import type { ChannelHandler, ChannelHandlerContext } from './ChannelHandler.js'
import { ChunkQueue } from './ChunkQueue.js'
import { DecoderError, TransportError } from './errors.js'

/** Options shared by every {@link ByteToMessageDecoder}. */
export interface ByteToMessageDecoderOptions {
  /**
   * On a decode error: true (default) fires `exceptionCaught` and closes the channel with the
   * error as reason (bad input ends that one connection); false fires `exceptionCaught`, stops
   * and goes on decoding (if the failed call consumed bytes; otherwise with the next read).
   */
  readonly closeOnDecodeError?: boolean
}

/**
 * Base of the inbound handlers that turn a byte stream into messages (frames).
 *
 * Received `Uint8Array`s are queued in a {@link ChunkQueue} (the cumulation) without copying.
 * After each read the decode loop calls {@link decode} until it returns `undefined` without
 * consuming anything; every message it returns is fired with `ctx.fireChannelRead` in order.
 * A subclass may also offer a fast path for the common case ({@link directEnd} and
 * {@link directMessage}): a read that arrives while nothing is buffered has its whole messages
 * fired as views of it without the cumulation, and only what is left goes through `decode`.
 * A subclass consumes bytes with `input.consume(n)` (a view when the bytes lie in one chunk, a
 * copy only when they span chunks) or `input.skip(n)`.
 *
 * - A `decode` that returns a message without consuming a byte is a bug: the loop throws
 *   {@link DecoderError} (it would loop forever otherwise).
 * - A `decode` that throws: a {@link TransportError} (e.g. `FrameTooLongError`) is fired as it is
 *   with `exceptionCaught`, anything else wrapped in a `DecoderError` (as `cause`); then the buffered
 *   bytes are dropped (counted in {@link droppedBytes}) and the channel is closed with the error as
 *   reason. Nothing is thrown out of the pipeline.
 * - On `channelInactive` what is left is decoded once more with {@link decodeLast}, then
 *   `channelInactive` is passed on.
 * - Messages that are not `Uint8Array`s are passed on unchanged.
 * - When the decoder is removed from the pipeline, bytes still buffered are passed on to the next
 *   handler as one message (so a decoder can hand over to another mid-stream).
 *
 * Decoders keep per-connection state: create one per channel.
 *
 * @example
 * ```ts
 * class ByteDecoder extends ByteToMessageDecoder {
 *   protected decode(_ctx: ChannelHandlerContext, input: ChunkQueue): unknown {
 *     return input.length >= 1 ? input.consume(1)[0] : undefined
 *   }
 * }
 * ```
 */
export abstract class ByteToMessageDecoder implements ChannelHandler {
  /** Received bytes not yet decoded. */
  protected readonly cumulation = new ChunkQueue()
  /** Bytes dropped: buffered when a decode error closed the channel, arriving after it, or left at channelInactive. */
  droppedBytes = 0

  private readonly closeOnDecodeError: boolean
  private decoding = false
  private failed = false
  private removedWhileDecoding = false

  constructor(options: ByteToMessageDecoderOptions = {}) {
    this.closeOnDecodeError = options.closeOnDecodeError ?? true
  }

  /**
   * Decodes at most one message from `input`. Returns it, or `undefined` when more bytes are
   * needed (having consumed nothing) or when bytes were only discarded. May throw a
   * `TransportError` (e.g. `FrameTooLongError`, `CorruptedFrameError`) for bad input.
   */
  protected abstract decode(ctx: ChannelHandlerContext, input: ChunkQueue): unknown

  /**
   * Optional fast path, for a read that arrives while nothing is buffered: the end offset in
   * `chunk` of the complete message that starts at `offset`, or -1 to leave the rest of the chunk
   * to {@link decode} (an incomplete message, or anything unusual: errors are always reported by
   * `decode`). A subclass that implements it also implements {@link directMessage}.
   */
  protected directEnd?(chunk: Uint8Array, offset: number): number
  /** The message for `chunk[start, end)` found by {@link directEnd} (a view, not a copy). */
  protected directMessage?(chunk: Uint8Array, start: number, end: number): unknown
  /** Called after each message that `decode` returned was fired (e.g. to reuse a buffer lent with it). */
  protected messageFired?(): void

  /** Decodes what is left when the channel goes inactive. Defaults to {@link decode}. */
  protected decodeLast(ctx: ChannelHandlerContext, input: ChunkQueue): unknown {
    return this.decode(ctx, input)
  }

  /** Bytes buffered and not yet decoded. */
  get bufferedBytes(): number {
    return this.cumulation.length
  }

  channelRead(ctx: ChannelHandlerContext, message: unknown): void {
    if (!(message instanceof Uint8Array)) {
      ctx.fireChannelRead(message)
      return
    }
    if (this.failed) {
      this.droppedBytes += message.byteLength
      return
    }
    if (!this.decoding && this.cumulation.length === 0 && this.directEnd !== undefined) {
      this.decodeDirect(ctx, message)
      return
    }
    this.cumulation.push(message)
    // A re-entrant read (fired from inside our own decode pass) is picked up by the running loop.
    if (!this.decoding) this.callDecode(ctx, false)
  }

  /**
   * The common case: nothing buffered, and the chunk holds whole messages. They are fired as views
   * of the chunk without going through the cumulation; whatever is left (a partial message, or
   * anything the fast path does not judge) is queued and decoded the general way.
   */
  private decodeDirect(ctx: ChannelHandlerContext, chunk: Uint8Array): void {
    let off = 0
    const n = chunk.byteLength
    this.decoding = true
    try {
      while (off < n && !ctx.isRemoved) {
        const end = this.directEnd!(chunk, off)
        if (end < 0) break
        const message = this.directMessage!(chunk, off, end)
        off = end
        ctx.fireChannelRead(message)
      }
      if (off < n) {
        const rest = off === 0 ? chunk : chunk.subarray(off)
        if (this.cumulation.length === 0) this.cumulation.push(rest)
        else {
          // Bytes fired re-entrantly from a handler above came later in the stream than this rest.
          const later = this.cumulation.consume(this.cumulation.length)
          this.cumulation.push(rest)
          this.cumulation.push(later)
        }
      }
    } finally {
      this.decoding = false
      if (this.removedWhileDecoding) {
        this.removedWhileDecoding = false
        this.handlerRemoved(ctx)
      }
    }
    if (this.cumulation.length > 0 && !this.failed && !ctx.isRemoved) this.callDecode(ctx, false)
  }

  channelInactive(ctx: ChannelHandlerContext): void {
    if (!this.failed && !this.decoding && this.cumulation.length > 0) this.callDecode(ctx, true)
    this.droppedBytes += this.cumulation.length
    this.cumulation.clear()
    ctx.fireChannelInactive()
  }

  handlerRemoved(ctx: ChannelHandlerContext): void {
    // Removed from inside decode(): hand over after the message that decode returns was fired.
    if (this.decoding) {
      this.removedWhileDecoding = true
      return
    }
    const n = this.cumulation.length
    if (n > 0 && !this.failed) {
      const rest = this.cumulation.consume(n)
      ctx.fireChannelRead(rest)
      ctx.fireChannelReadComplete()
    }
    this.cumulation.clear()
  }

  private callDecode(ctx: ChannelHandlerContext, last: boolean): void {
    const input = this.cumulation
    this.decoding = true
    try {
      while (input.length > 0 && !ctx.isRemoved) {
        const before = input.length
        let message: unknown
        try {
          message = last ? this.decodeLast(ctx, input) : this.decode(ctx, input)
          if (message !== undefined && input.length === before) {
            throw new DecoderError(`${this.constructor.name}.decode() produced a message without consuming any bytes`)
          }
        } catch (err) {
          this.decodeFailed(ctx, err)
          // Keep decoding only when the failed call made progress (e.g. skipped a bad frame).
          if (this.failed || input.length === before) return
          continue
        }
        if (message === undefined) {
          if (input.length === before) break
          continue
        }
        try {
          ctx.fireChannelRead(message)
        } finally {
          this.messageFired?.()
        }
      }
    } finally {
      this.decoding = false
      if (this.removedWhileDecoding) {
        this.removedWhileDecoding = false
        this.handlerRemoved(ctx)
      }
    }
  }

  private decodeFailed(ctx: ChannelHandlerContext, err: unknown): void {
    const error =
      err instanceof TransportError
        ? err
        : new DecoderError(`${this.constructor.name}.decode() failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    if (this.closeOnDecodeError) {
      this.failed = true
      this.droppedBytes += this.cumulation.length
      this.cumulation.clear()
    }
    ctx.fireExceptionCaught(error)
    if (this.closeOnDecodeError) ctx.close(error)
  }
}
