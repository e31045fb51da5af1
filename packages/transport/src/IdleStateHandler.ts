import type { Channel } from './Channel.js'
import type { ChannelHandler, ChannelHandlerContext, WriteCallback } from './ChannelHandler.js'
import type { TimerHandle } from './Clock.js'
import { IdleStateEvent } from './IdleStateEvent.js'

/** Options of an {@link IdleStateHandler}; a time of 0 (the default) disables that kind. */
export interface IdleStateHandlerOptions {
  /** Fire `readerIdle` when nothing was read for this many ms. */
  readonly readerIdleMs?: number
  /** Fire `writerIdle` when nothing was written (flushed) for this many ms. */
  readonly writerIdleMs?: number
  /** Fire `allIdle` when nothing was read or written for this many ms. */
  readonly allIdleMs?: number
}

const NEW = 0
const ACTIVE = 1
const DESTROYED = 2

/**
 * Fires an {@link IdleStateEvent} user event when a channel has not read, written, or either,
 * for a while (Netty's `IdleStateHandler`). Typical uses: send a heartbeat on `writerIdle`, close
 * on `readerIdle`.
 *
 * Time comes from `ctx.channel.clock`, so tests drive it with a `ManualClock`. There is one timer
 * per enabled kind, and it is not touched on reads or writes: a read only records its time; when
 * the timer fires it computes how much of the idle time is left and reschedules itself for that
 * (Netty's lazy rescheduling), so the cost per message is a field write.
 *
 * ```
 *  read        read                                 timer: idle for readerIdleMs?
 *   |           |                                      |  no: re-arm for the rest
 * --+-----------+------------------------+-------------+-----------------------+--> time
 *               |<------- readerIdleMs -------------->|                        |
 *                                                  FIRST_READER_IDLE       READER_IDLE ...
 * ```
 *
 * - A read counts when its batch completes (`channelReadComplete`). While the channel's reads are
 *   suspended (an async handler step is saturated: backpressure) it is not reader-idle; the idle
 *   time starts again when reading resumes.
 * - A write counts when it is flushed through this handler (not on completion, so failed-write
 *   accounting and the hot path stay untouched).
 *
 * Keeps per-channel state: create one per channel.
 *
 * @example
 * ```ts
 * pipeline.addLast('idle', new IdleStateHandler({ readerIdleMs: 10_000, writerIdleMs: 1_000 }))
 * pipeline.addLast('heartbeat', {
 *   userEventTriggered(ctx, e) {
 *     if (e === IdleStateEvent.FIRST_WRITER_IDLE || e === IdleStateEvent.WRITER_IDLE) ctx.writeAndFlush(heartbeat)
 *     else ctx.fireUserEventTriggered(e)
 *   },
 * })
 * ```
 * @throws RangeError from the constructor for a negative or non-finite time.
 */
export class IdleStateHandler implements ChannelHandler {
  /** Reader idle time (0: off). */
  readonly readerIdleMs: number
  /** Writer idle time (0: off). */
  readonly writerIdleMs: number
  /** Idle time of both directions (0: off). */
  readonly allIdleMs: number

  private state = NEW
  private ctx: ChannelHandlerContext | undefined
  private lastReadTime = 0
  private lastWriteTime = 0
  private reading = false
  private writePending = false
  private firstReaderIdle = true
  private firstWriterIdle = true
  private firstAllIdle = true
  private readerTimer: TimerHandle | undefined
  private writerTimer: TimerHandle | undefined
  private allTimer: TimerHandle | undefined
  // Allocated once per handler, not per timeout.
  private readonly onReaderTimeout = (): void => this.readerTimeout()
  private readonly onWriterTimeout = (): void => this.writerTimeout()
  private readonly onAllTimeout = (): void => this.allTimeout()

  constructor(options: IdleStateHandlerOptions) {
    this.readerIdleMs = checkTime('readerIdleMs', options.readerIdleMs)
    this.writerIdleMs = checkTime('writerIdleMs', options.writerIdleMs)
    this.allIdleMs = checkTime('allIdleMs', options.allIdleMs)
  }

  handlerAdded(ctx: ChannelHandlerContext): void {
    if (ctx.channel.isActive) this.initialize(ctx)
  }

  handlerRemoved(): void {
    this.destroy()
  }

  channelActive(ctx: ChannelHandlerContext): void {
    this.initialize(ctx)
    ctx.fireChannelActive()
  }

  channelInactive(ctx: ChannelHandlerContext): void {
    this.destroy()
    ctx.fireChannelInactive()
  }

  channelRead(ctx: ChannelHandlerContext, message: unknown): void {
    this.reading = true
    this.firstReaderIdle = true
    this.firstAllIdle = true
    ctx.fireChannelRead(message)
  }

  channelReadComplete(ctx: ChannelHandlerContext): void {
    if (this.reading) {
      this.lastReadTime = ctx.channel.clock.now()
      this.reading = false
    }
    ctx.fireChannelReadComplete()
  }

  write(ctx: ChannelHandlerContext, message: unknown, callback: WriteCallback | undefined): void {
    this.writePending = true
    ctx.write(message, callback)
  }

  flush(ctx: ChannelHandlerContext): void {
    if (this.writePending) {
      this.writePending = false
      this.lastWriteTime = ctx.channel.clock.now()
      this.firstWriterIdle = true
      this.firstAllIdle = true
    }
    ctx.flush()
  }

  /**
   * Called when the channel was idle. Fires the event as a user event; override to act instead
   * (as `ReadTimeoutHandler` does).
   */
  protected channelIdle(ctx: ChannelHandlerContext, event: IdleStateEvent): void {
    ctx.fireUserEventTriggered(event)
  }

  private initialize(ctx: ChannelHandlerContext): void {
    if (this.state !== NEW) return
    this.state = ACTIVE
    this.ctx = ctx
    const clock = ctx.channel.clock
    this.lastReadTime = this.lastWriteTime = clock.now()
    if (this.readerIdleMs > 0) this.readerTimer = clock.setTimeout(this.onReaderTimeout, this.readerIdleMs)
    if (this.writerIdleMs > 0) this.writerTimer = clock.setTimeout(this.onWriterTimeout, this.writerIdleMs)
    if (this.allIdleMs > 0) this.allTimer = clock.setTimeout(this.onAllTimeout, this.allIdleMs)
  }

  private destroy(): void {
    if (this.state === DESTROYED) return
    const ctx = this.ctx
    this.state = DESTROYED
    if (ctx === undefined) return
    const clock = ctx.channel.clock
    if (this.readerTimer !== undefined) clock.clearTimeout(this.readerTimer)
    if (this.writerTimer !== undefined) clock.clearTimeout(this.writerTimer)
    if (this.allTimer !== undefined) clock.clearTimeout(this.allTimer)
    this.readerTimer = this.writerTimer = this.allTimer = undefined
    this.ctx = undefined
  }

  private readerTimeout(): void {
    const ctx = this.ctx
    if (this.state !== ACTIVE || ctx === undefined) return
    const clock = ctx.channel.clock
    let next = this.readerIdleMs
    if (readSuspended(ctx.channel)) this.lastReadTime = clock.now()
    else if (!this.reading) next -= clock.now() - this.lastReadTime
    if (next > 0) {
      this.readerTimer = clock.setTimeout(this.onReaderTimeout, next)
      return
    }
    this.readerTimer = clock.setTimeout(this.onReaderTimeout, this.readerIdleMs)
    const first = this.firstReaderIdle
    this.firstReaderIdle = false
    this.channelIdle(ctx, first ? IdleStateEvent.FIRST_READER_IDLE : IdleStateEvent.READER_IDLE)
  }

  private writerTimeout(): void {
    const ctx = this.ctx
    if (this.state !== ACTIVE || ctx === undefined) return
    const clock = ctx.channel.clock
    const next = this.writerIdleMs - (clock.now() - this.lastWriteTime)
    if (next > 0) {
      this.writerTimer = clock.setTimeout(this.onWriterTimeout, next)
      return
    }
    this.writerTimer = clock.setTimeout(this.onWriterTimeout, this.writerIdleMs)
    const first = this.firstWriterIdle
    this.firstWriterIdle = false
    this.channelIdle(ctx, first ? IdleStateEvent.FIRST_WRITER_IDLE : IdleStateEvent.WRITER_IDLE)
  }

  private allTimeout(): void {
    const ctx = this.ctx
    if (this.state !== ACTIVE || ctx === undefined) return
    const clock = ctx.channel.clock
    let next = this.allIdleMs
    if (readSuspended(ctx.channel)) this.lastReadTime = clock.now()
    else if (!this.reading) next -= clock.now() - Math.max(this.lastReadTime, this.lastWriteTime)
    if (next > 0) {
      this.allTimer = clock.setTimeout(this.onAllTimeout, next)
      return
    }
    this.allTimer = clock.setTimeout(this.onAllTimeout, this.allIdleMs)
    const first = this.firstAllIdle
    this.firstAllIdle = false
    this.channelIdle(ctx, first ? IdleStateEvent.FIRST_ALL_IDLE : IdleStateEvent.ALL_IDLE)
  }
}

/**
 * While the pipeline holds socket reads back (an async handler step is saturated), a silent peer
 * is our doing, not its: that time does not count as reader idleness.
 */
function readSuspended(channel: Channel): boolean {
  return (channel as { readonly isReadSuspended?: boolean }).isReadSuspended === true
}

function checkTime(name: string, value: number | undefined): number {
  if (value === undefined) return 0
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number >= 0: ${value}`)
  return value
}
