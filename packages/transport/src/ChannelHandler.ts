import type { Channel } from './Channel.js'
import type { ChannelPipeline } from './ChannelPipeline.js'

/**
 * Completion callback of a write: called once, with no argument when the bytes were handed to the
 * operating system, or with the error that failed the write (for example a
 * `ChannelClosedError` when the channel closed first). Optional, so the hot path allocates nothing.
 */
export type WriteCallback = (error?: Error) => void

/**
 * A step of a {@link ChannelPipeline}. Every method is optional: an event or operation a handler
 * does not implement passes on to the next handler that does.
 *
 * Inbound events (`channelActive`, `channelRead`, ...) travel from the head (the socket) to the
 * tail; outbound operations (`write`, `flush`, `close`) travel from the tail to the head. A
 * handler forwards an event by calling the matching `ctx.fire...` / `ctx.write...` method, or
 * consumes it by not calling it.
 *
 * `channelRead` may return a promise: the pipeline then delivers this handler's next message
 * only after it settles (per-channel order is kept) and stops reading from the socket while the
 * handler is saturated. Set {@link ChannelHandler.concurrency} above 1 to let up to that many reads
 * run at once where order does not matter. A rejected promise, or a synchronous throw, becomes
 * `exceptionCaught` on the same handler.
 *
 * A handler that keeps per-connection state must be created per channel (by the channel
 * initializer); only handlers with `sharable: true` may be added to several pipelines.
 */
export interface ChannelHandler {
  /** May this instance sit in several pipelines at once? Default false. */
  readonly sharable?: boolean
  /** How many `channelRead` promises of this handler may be pending at once. Default 1 (ordered). */
  readonly concurrency?: number

  /** Called after the handler was added to a pipeline. */
  handlerAdded?(ctx: ChannelHandlerContext): void
  /** Called after the handler was removed from a pipeline (or the channel closed). */
  handlerRemoved?(ctx: ChannelHandlerContext): void

  /** The channel is connected (TCP/TLS: after the TLS handshake) or bound (UDP). */
  channelActive?(ctx: ChannelHandlerContext): void
  /** The channel closed; fired once, after every read already queued was delivered. */
  channelInactive?(ctx: ChannelHandlerContext): void
  /** A message arrived: a Buffer from the socket, or whatever the previous handler produced. */
  channelRead?(ctx: ChannelHandlerContext, message: unknown): void | Promise<void>
  /** The current batch of reads from the socket is over: a good moment to flush. */
  channelReadComplete?(ctx: ChannelHandlerContext): void
  /** `ctx.channel.isWritable` changed (outbound buffer crossed a watermark). */
  channelWritabilityChanged?(ctx: ChannelHandlerContext): void
  /** A user-defined or library event (e.g. an `IdleStateEvent`). */
  userEventTriggered?(ctx: ChannelHandlerContext, event: unknown): void
  /** An error was raised by this handler or forwarded by a previous one. */
  exceptionCaught?(ctx: ChannelHandlerContext, error: Error): void

  /** Outbound: a message is being written towards the socket. */
  write?(ctx: ChannelHandlerContext, message: unknown, callback: WriteCallback | undefined): void
  /** Outbound: everything written so far should go out now. */
  flush?(ctx: ChannelHandlerContext): void
  /** Outbound: the channel is being closed; `error`, when present, is the reason. */
  close?(ctx: ChannelHandlerContext, error: Error | undefined): void
}

/**
 * A handler's place in one pipeline: the handle through which it forwards events and writes.
 * `fire*` methods pass an inbound event to the next handler towards the tail; `write`, `flush`
 * and `close` pass an outbound operation to the next handler towards the head.
 */
export interface ChannelHandlerContext {
  /** The handler's name in the pipeline. */
  readonly name: string
  /** The handler this context wraps. */
  readonly handler: ChannelHandler
  /** The channel this pipeline belongs to. */
  readonly channel: Channel
  /** The pipeline. */
  readonly pipeline: ChannelPipeline
  /** True once the handler was removed from the pipeline. */
  readonly isRemoved: boolean

  /** Passes `channelActive` to the next inbound handler. */
  fireChannelActive(): void
  /** Passes `channelInactive` to the next inbound handler. */
  fireChannelInactive(): void
  /** Passes a read message to the next inbound handler. */
  fireChannelRead(message: unknown): void
  /** Passes `channelReadComplete` (the end of one socket read) to the next inbound handler. */
  fireChannelReadComplete(): void
  /** Passes `channelWritabilityChanged` to the next inbound handler. */
  fireChannelWritabilityChanged(): void
  /** Passes a user event (e.g. an `IdleStateEvent`) to the next inbound handler. */
  fireUserEventTriggered(event: unknown): void
  /** Passes an error to the next inbound handler's `exceptionCaught`. */
  fireExceptionCaught(error: Error): void

  /** Writes towards the head without flushing. */
  write(message: unknown, callback?: WriteCallback): void
  /** Flushes everything written so far. */
  flush(): void
  /** Writes and flushes. */
  writeAndFlush(message: unknown, callback?: WriteCallback): void
  /** Closes the channel, passing through the outbound handlers between here and the head. */
  close(error?: Error): void
}
