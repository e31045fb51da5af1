import type { ChannelHandlerContext } from './ChannelHandler.js'
import { ReadTimeoutError } from './errors.js'
import type { IdleStateEvent } from './IdleStateEvent.js'
import { IdleStateHandler } from './IdleStateHandler.js'

/**
 * Closes a channel that read nothing for `timeoutMs` (Netty's `ReadTimeoutHandler`): fires
 * `exceptionCaught` with a {@link ReadTimeoutError} (`ERR_READ_TIMEOUT`), then closes the channel
 * with it as reason. Useful against peers that connect and go silent; against a slow-loris peer
 * that trickles bytes, combine it with a deadline for the whole handshake.
 *
 * Time comes from `ctx.channel.clock`; one timer, rescheduled lazily (see {@link IdleStateHandler}).
 * Keeps per-channel state: create one per channel.
 *
 * @example
 * ```ts
 * pipeline.addFirst('readTimeout', new ReadTimeoutHandler(30_000))
 * ```
 * @throws RangeError from the constructor when `timeoutMs` is not a positive finite number.
 */
export class ReadTimeoutHandler extends IdleStateHandler {
  private timedOut = false

  /** @param timeoutMs how long the channel may read nothing before it is closed. */
  constructor(readonly timeoutMs: number) {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`timeoutMs must be a positive finite number: ${timeoutMs}`)
    super({ readerIdleMs: timeoutMs })
  }

  protected override channelIdle(ctx: ChannelHandlerContext, _event: IdleStateEvent): void {
    if (this.timedOut) return
    this.timedOut = true
    const error = new ReadTimeoutError(`no data read for ${this.timeoutMs} ms`)
    ctx.fireExceptionCaught(error)
    ctx.close(error)
  }
}
