import type { ChannelHandler, ChannelHandlerContext } from './ChannelHandler.js'

/** Options of a {@link FlushConsolidationHandler}. */
export interface FlushConsolidationHandlerOptions {
  /** Flush for real after this many flushes were held back. Default 256. */
  readonly explicitFlushAfterFlushes?: number
  /**
   * Also consolidate flushes made outside a read batch (e.g. by a timer or another channel): they
   * are held until the end of the current synchronous run (a microtask). Default false: outside a
   * read batch every flush goes through at once.
   */
  readonly consolidateWhenNoReadInProgress?: boolean
}

/**
 * Holds back flushes made while a batch of reads is being processed, and flushes once when the
 * batch ends (`channelReadComplete`) or after `explicitFlushAfterFlushes` held flushes (Netty's
 * `FlushConsolidationHandler`). A handler that answers every request with `writeAndFlush` then
 * costs one syscall per read batch instead of one per answer.
 *
 * ```
 *   read, read, read, readComplete        (inbound, from the socket)
 *   wAF,  wAF,  wAF                       (a handler answers each read)
 *            |
 *   FlushConsolidationHandler: 3 writes, 1 flush at readComplete
 * ```
 *
 * Pending flushes also go out before a close, when an error is caught, when the channel turns
 * unwritable, and when the handler is removed. Put it near the head (before handlers that
 * flush). Keeps per-channel state: create one per channel.
 *
 * @throws RangeError from the constructor when `explicitFlushAfterFlushes` is not a positive integer.
 */
export class FlushConsolidationHandler implements ChannelHandler {
  /** Flushes consolidated into one at most. */
  readonly explicitFlushAfterFlushes: number
  /** Whether flushes outside a read are consolidated too. */
  readonly consolidateWhenNoReadInProgress: boolean
  private readInProgress = false
  private flushPendingCount = 0
  private flushScheduled = false
  private ctx: ChannelHandlerContext | undefined
  // Allocated once per handler.
  private readonly scheduledFlush = (): void => {
    if (!this.flushScheduled) return
    this.flushScheduled = false
    const ctx = this.ctx
    if (ctx !== undefined && !ctx.isRemoved && this.flushPendingCount > 0) this.flushNow(ctx)
  }

  constructor(options: FlushConsolidationHandlerOptions = {}) {
    const { explicitFlushAfterFlushes = 256, consolidateWhenNoReadInProgress = false } = options
    if (!Number.isInteger(explicitFlushAfterFlushes) || explicitFlushAfterFlushes <= 0) {
      throw new RangeError(`explicitFlushAfterFlushes must be a positive integer: ${explicitFlushAfterFlushes}`)
    }
    this.explicitFlushAfterFlushes = explicitFlushAfterFlushes
    this.consolidateWhenNoReadInProgress = consolidateWhenNoReadInProgress
  }

  handlerAdded(ctx: ChannelHandlerContext): void {
    this.ctx = ctx
  }

  handlerRemoved(ctx: ChannelHandlerContext): void {
    this.flushIfNeeded(ctx)
    this.ctx = undefined
  }

  flush(ctx: ChannelHandlerContext): void {
    if (this.readInProgress) {
      if (++this.flushPendingCount === this.explicitFlushAfterFlushes) this.flushNow(ctx)
    } else if (this.consolidateWhenNoReadInProgress) {
      if (++this.flushPendingCount === this.explicitFlushAfterFlushes) this.flushNow(ctx)
      else if (!this.flushScheduled) {
        this.flushScheduled = true
        queueMicrotask(this.scheduledFlush)
      }
    } else {
      this.flushNow(ctx)
    }
  }

  channelRead(ctx: ChannelHandlerContext, message: unknown): void {
    this.readInProgress = true
    ctx.fireChannelRead(message)
  }

  channelReadComplete(ctx: ChannelHandlerContext): void {
    this.resetReadAndFlushIfNeeded(ctx)
    ctx.fireChannelReadComplete()
  }

  exceptionCaught(ctx: ChannelHandlerContext, error: Error): void {
    this.resetReadAndFlushIfNeeded(ctx)
    ctx.fireExceptionCaught(error)
  }

  channelWritabilityChanged(ctx: ChannelHandlerContext): void {
    // Unwritable: what we hold back must go out so the buffer can drain.
    if (!ctx.channel.isWritable) this.flushIfNeeded(ctx)
    ctx.fireChannelWritabilityChanged()
  }

  close(ctx: ChannelHandlerContext, error: Error | undefined): void {
    this.resetReadAndFlushIfNeeded(ctx)
    ctx.close(error)
  }

  /** Flushes held back and not yet sent. */
  get pendingFlushes(): number {
    return this.flushPendingCount
  }

  private resetReadAndFlushIfNeeded(ctx: ChannelHandlerContext): void {
    this.readInProgress = false
    this.flushIfNeeded(ctx)
  }

  private flushIfNeeded(ctx: ChannelHandlerContext): void {
    if (this.flushPendingCount > 0) this.flushNow(ctx)
  }

  private flushNow(ctx: ChannelHandlerContext): void {
    this.flushScheduled = false
    this.flushPendingCount = 0
    ctx.flush()
  }
}
