import { debuglog, inspect } from 'node:util'
import type { ChannelHandler, ChannelHandlerContext, WriteCallback } from './ChannelHandler.js'

const heliosDebug = debuglog('helios')

/** Options of a {@link LoggingHandler}. */
export interface LoggingHandlerOptions {
  /** Prefix of every line, e.g. the handler's role. Default 'LoggingHandler'. */
  readonly name?: string
  /** Where lines go. Default `util.debuglog('helios')` (printed when NODE_DEBUG includes helios). */
  readonly logger?: (line: string) => void
  /** How many bytes of a binary message are shown in hex. Default 32. */
  readonly hexDumpBytes?: number
}

/**
 * Logs every event and operation that passes it, then passes it on unchanged (Netty's
 * `LoggingHandler`). Put it where you want to look: next to the head to see raw bytes, after a
 * decoder to see frames.
 *
 * Lines look like `[server] tcp-3 READ 12B 48454c4c4f2c20574f524c44`. With no `logger` the lines
 * go to `util.debuglog('helios')`, and when that is disabled nothing is formatted: the handler
 * then costs one branch per event.
 *
 * Sharable: one instance may sit in many pipelines.
 *
 * @example
 * ```ts
 * const logging = new LoggingHandler({ name: 'server', logger: console.log })
 * pipeline.addFirst('log', logging)
 * ```
 */
export class LoggingHandler implements ChannelHandler {
  readonly sharable = true
  /** The name in front of each line. */
  readonly name: string
  private readonly logger: ((line: string) => void) & { readonly enabled?: boolean }
  private readonly hexDumpBytes: number

  constructor(options: LoggingHandlerOptions = {}) {
    this.name = options.name ?? 'LoggingHandler'
    this.logger = options.logger ?? heliosDebug
    this.hexDumpBytes = options.hexDumpBytes ?? 32
  }

  /** Whether lines are written (false when logging to a disabled debuglog). */
  get enabled(): boolean {
    return this.logger.enabled !== false
  }

  handlerAdded(ctx: ChannelHandlerContext): void {
    if (this.enabled) this.log(ctx, 'HANDLER ADDED')
  }
  handlerRemoved(ctx: ChannelHandlerContext): void {
    if (this.enabled) this.log(ctx, 'HANDLER REMOVED')
  }

  channelActive(ctx: ChannelHandlerContext): void {
    if (this.enabled) this.log(ctx, `ACTIVE ${formatAddress(ctx)}`)
    ctx.fireChannelActive()
  }

  channelInactive(ctx: ChannelHandlerContext): void {
    if (this.enabled) this.log(ctx, 'INACTIVE')
    ctx.fireChannelInactive()
  }

  channelRead(ctx: ChannelHandlerContext, message: unknown): void {
    if (this.enabled) this.log(ctx, `READ ${this.describe(message)}`)
    ctx.fireChannelRead(message)
  }

  channelReadComplete(ctx: ChannelHandlerContext): void {
    if (this.enabled) this.log(ctx, 'READ COMPLETE')
    ctx.fireChannelReadComplete()
  }

  channelWritabilityChanged(ctx: ChannelHandlerContext): void {
    if (this.enabled) this.log(ctx, `WRITABILITY CHANGED writable=${ctx.channel.isWritable}`)
    ctx.fireChannelWritabilityChanged()
  }

  userEventTriggered(ctx: ChannelHandlerContext, event: unknown): void {
    if (this.enabled) this.log(ctx, `USER EVENT ${this.describe(event)}`)
    ctx.fireUserEventTriggered(event)
  }

  exceptionCaught(ctx: ChannelHandlerContext, error: Error): void {
    if (this.enabled) this.log(ctx, `EXCEPTION ${describeError(error)}`)
    ctx.fireExceptionCaught(error)
  }

  write(ctx: ChannelHandlerContext, message: unknown, callback: WriteCallback | undefined): void {
    if (this.enabled) this.log(ctx, `WRITE ${this.describe(message)}`)
    ctx.write(message, callback)
  }

  flush(ctx: ChannelHandlerContext): void {
    if (this.enabled) this.log(ctx, 'FLUSH')
    ctx.flush()
  }

  close(ctx: ChannelHandlerContext, error: Error | undefined): void {
    if (this.enabled) this.log(ctx, error === undefined ? 'CLOSE' : `CLOSE ${describeError(error)}`)
    ctx.close(error)
  }

  private log(ctx: ChannelHandlerContext, what: string): void {
    try {
      this.logger(`[${this.name}] ${ctx.channel.id} ${what}`)
    } catch {
      // A broken logger must not break the pipeline.
    }
  }

  private describe(value: unknown): string {
    if (value instanceof Uint8Array) {
      const shown = value.byteLength > this.hexDumpBytes ? value.subarray(0, this.hexDumpBytes) : value
      const hex = Buffer.from(shown.buffer, shown.byteOffset, shown.byteLength).toString('hex')
      return `${value.byteLength}B ${hex}${shown === value ? '' : '...'}`
    }
    return inspect(value, { depth: 2, breakLength: Infinity, maxArrayLength: 16, maxStringLength: 256 })
  }
}

function describeError(error: Error): string {
  const code = (error as { code?: unknown }).code
  return `${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`
}

function formatAddress(ctx: ChannelHandlerContext): string {
  const l = ctx.channel.localAddress
  const r = ctx.channel.remoteAddress
  const f = (a: typeof l) => (a === undefined ? '?' : `${a.address}:${a.port}`)
  return `${f(l)} -> ${f(r)}`
}
