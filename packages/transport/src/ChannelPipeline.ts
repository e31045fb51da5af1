import { debuglog } from 'node:util'
import * as diagnostics from 'node:diagnostics_channel'
import type { Channel } from './Channel.js'
import type { ChannelHandler, ChannelHandlerContext, WriteCallback } from './ChannelHandler.js'
import { PipelineError, UnsupportedMessageError, toError } from './errors.js'

const debug = debuglog('helios')
const unhandledChannel = diagnostics.channel('helios:transport:unhandled')

/** What the tail of a pipeline saw that no handler consumed. */
export interface UnhandledCounts {
  /** Inbound messages that reached the tail. */
  messages: number
  /** Errors that reached the tail. */
  errors: number
  /** User events that reached the tail. */
  events: number
}

/** Payload published on the `helios:transport:unhandled` diagnostics channel. */
export interface UnhandledReport {
  /** The channel whose tail it reached. */
  readonly channel: Channel
  /** An inbound message, an error, or a user event. */
  readonly kind: 'message' | 'error' | 'event'
  /** The message, error or event itself. */
  readonly value: unknown
}

/**
 * The chain of handlers of one channel: a doubly linked list of contexts between a fixed head
 * (the channel's I/O) and a fixed tail (which counts and reports whatever nobody consumed).
 *
 * ```
 *                                       I/O request
 *                                  via Channel or ChannelHandlerContext
 *                                                |
 *  +---------------------------------------------+---------------+
 *  |                           ChannelPipeline   |               |
 *  |                                            \|/              |
 *  |    +---------------------+            +-----------+----------+
 *  |    | Inbound Handler  N  |            | Outbound Handler  1  |
 *  |    +----------+----------+            +-----------+----------+
 *  |              /|\                                  |           |
 *  |               |                                  \|/          |
 *  |    +----------+----------+            +-----------+----------+
 *  |    | Inbound Handler N-1 |            | Outbound Handler  2  |
 *  |    +----------+----------+            +-----------+----------+
 *  |              /|\                                  .           |
 *  |               .                                   .           |
 *  | ctx.fireChannelRead(msg)               ctx.write(msg)         |
 *  |               .                                  \|/          |
 *  |    +----------+----------+            +-----------+----------+
 *  |    | Inbound Handler  1  |            | Outbound Handler  M  |
 *  |    +----------+----------+            +-----------+----------+
 *  |              /|\                                  |           |
 *  +---------------+-----------------------------------+-----------+
 *                  |                                  \|/
 *  +---------------+-----------------------------------+-----------+
 *  |        head: socket reads         head: outbound buffer, flush |
 *  +----------------------------------------------------------------+
 * ```
 *
 * Handlers may be added, removed or replaced at any time, also from inside an event of the same
 * pipeline: an event already travelling continues along the links it started on.
 */
export class ChannelPipeline {
  /** The channel this pipeline belongs to. */
  readonly channel: Channel
  /** What reached the tail unconsumed, by kind. */
  readonly unhandled: UnhandledCounts = { messages: 0, errors: 0, events: 0 }
  /** Called for everything that reaches the tail unconsumed (after counting). */
  onUnhandled: ((report: UnhandledReport) => void) | undefined

  /** @internal */ readonly head: HandlerContext
  /** @internal */ readonly tail: HandlerContext
  private readonly byName = new Map<string, HandlerContext>()
  private destroyPending = false

  /** @internal created by its channel. */
  constructor(channel: Channel, sink: PipelineSink) {
    this.channel = channel
    this.head = new HandlerContext(this, 'HEAD', new HeadHandler(sink))
    this.tail = new HandlerContext(this, 'TAIL', new TailHandler(this))
    this.head.next = this.tail
    this.tail.prev = this.head
  }

  /** Adds a handler right after the head (it sees inbound events first, outbound writes last). */
  addFirst(name: string, handler: ChannelHandler): this {
    return this.link(name, handler, this.head, this.head.next!)
  }

  /** Adds a handler right before the tail. */
  addLast(name: string, handler: ChannelHandler): this {
    return this.link(name, handler, this.tail.prev!, this.tail)
  }

  /** Adds a handler before the handler named `baseName`. Throws PipelineError if there is none. */
  addBefore(baseName: string, name: string, handler: ChannelHandler): this {
    const base = this.required(baseName)
    return this.link(name, handler, base.prev!, base)
  }

  /** Adds a handler after the handler named `baseName`. Throws PipelineError if there is none. */
  addAfter(baseName: string, name: string, handler: ChannelHandler): this {
    const base = this.required(baseName)
    return this.link(name, handler, base, base.next!)
  }

  /** Removes a handler by name or instance and returns it. Throws PipelineError if absent. */
  remove(nameOrHandler: string | ChannelHandler): ChannelHandler {
    const ctx = this.required(nameOrHandler)
    this.unlink(ctx)
    return ctx.handler
  }

  /** Replaces a handler (by name or instance) with another in the same place; returns the old one. */
  replace(old: string | ChannelHandler, newName: string, handler: ChannelHandler): ChannelHandler {
    const ctx = this.required(old)
    const prev = ctx.prev!
    const next = ctx.next!
    this.unlink(ctx)
    this.link(newName, handler, prev, next)
    return ctx.handler
  }

  /** The handler with this name, or undefined. */
  get<T extends ChannelHandler = ChannelHandler>(name: string): T | undefined {
    return this.byName.get(name)?.handler as T | undefined
  }

  /** The context of a handler (by name or instance), or undefined. */
  context(nameOrHandler: string | ChannelHandler): ChannelHandlerContext | undefined {
    return this.find(nameOrHandler)
  }

  /** Handler names from head to tail. */
  names(): string[] {
    const out: string[] = []
    for (let c = this.head.next!; c !== this.tail; c = c.next!) out.push(c.name)
    return out
  }

  // Inbound events enter at the head.
  /** Fires `channelActive` at the head (the transport calls these; tests may too). */
  fireChannelActive(): void {
    this.head.invokeChannelActive()
  }
  /** Fires `channelInactive` at the head. */
  fireChannelInactive(): void {
    this.head.invokeChannelInactive()
  }
  /** Fires `channelRead(message)` at the head, as if the socket had read it. */
  fireChannelRead(message: unknown): void {
    this.head.invokeChannelRead(message)
  }
  /** Fires `channelReadComplete` at the head: the end of one socket read. */
  fireChannelReadComplete(): void {
    this.head.invokeChannelReadComplete()
  }
  /** Fires `channelWritabilityChanged` at the head. */
  fireChannelWritabilityChanged(): void {
    this.head.invokeChannelWritabilityChanged()
  }
  /** Fires a user event at the head. */
  fireUserEventTriggered(event: unknown): void {
    this.head.invokeUserEventTriggered(event)
  }
  /** Fires `exceptionCaught(error)` at the head. */
  fireExceptionCaught(error: Error): void {
    this.head.invokeExceptionCaught(error)
  }

  // Outbound operations enter at the tail.
  /** Writes `message` from the tail through every outbound handler into the channel's buffer. */
  write(message: unknown, callback?: WriteCallback): void {
    this.tail.write(message, callback)
  }
  /** Flushes from the tail: the channel sends what it buffered. */
  flush(): void {
    this.tail.flush()
  }
  /** Write, then flush, from the tail. */
  writeAndFlush(message: unknown, callback?: WriteCallback): void {
    this.tail.writeAndFlush(message, callback)
  }
  /** Closes the channel from the tail (outbound handlers see `close` first). */
  close(error?: Error): void {
    this.tail.close(error)
  }

  /** @internal Called by the channel when it is closed: removes every handler (handlerRemoved). */
  destroy(): void {
    // Async reads still in flight finish first, so events held behind them travel the full chain.
    for (let c = this.head.next!; c !== this.tail; c = c.next!) {
      if (c.busy) {
        this.destroyPending = true
        return
      }
    }
    this.destroyPending = false
    for (let c = this.tail.prev!; c !== this.head; c = c.prev!) this.unlink(c)
  }

  /** @internal A context became idle: finish a destroy that waited for it. */
  idle(): void {
    if (this.destroyPending) this.destroy()
  }

  /** @internal */
  reportUnhandled(kind: UnhandledReport['kind'], value: unknown): void {
    if (kind === 'message') this.unhandled.messages++
    else if (kind === 'error') this.unhandled.errors++
    else this.unhandled.events++
    debug('channel %s: unhandled %s reached the tail: %o', this.channel.id, kind, value)
    if (unhandledChannel.hasSubscribers) unhandledChannel.publish({ channel: this.channel, kind, value } satisfies UnhandledReport)
    this.onUnhandled?.({ channel: this.channel, kind, value })
  }

  private link(name: string, handler: ChannelHandler, prev: HandlerContext, next: HandlerContext): this {
    if (this.byName.has(name)) throw new PipelineError(`duplicate handler name: ${name}`)
    const shared = sharedHandlers.get(handler)
    if (shared !== undefined && !handler.sharable) {
      throw new PipelineError(`handler ${name} is not sharable and is already in a pipeline`)
    }
    const ctx = new HandlerContext(this, name, handler)
    ctx.prev = prev
    ctx.next = next
    prev.next = ctx
    next.prev = ctx
    this.byName.set(name, ctx)
    sharedHandlers.set(handler, (shared ?? 0) + 1)
    if (handler.handlerAdded !== undefined) {
      try {
        handler.handlerAdded(ctx)
      } catch (err) {
        ctx.invokeExceptionCaught(toError(err))
      }
    }
    return this
  }

  private unlink(ctx: HandlerContext): void {
    const prev = ctx.prev!
    const next = ctx.next!
    prev.next = next
    next.prev = prev
    // ctx keeps its own links so an event already inside it can still move on.
    ctx.isRemoved = true
    this.byName.delete(ctx.name)
    const n = (sharedHandlers.get(ctx.handler) ?? 1) - 1
    if (n <= 0) sharedHandlers.delete(ctx.handler)
    else sharedHandlers.set(ctx.handler, n)
    ctx.handOverQueued()
    if (ctx.handler.handlerRemoved !== undefined) {
      try {
        ctx.handler.handlerRemoved(ctx)
      } catch (err) {
        next.invokeExceptionCaught(toError(err))
      }
    }
  }

  private find(key: string | ChannelHandler): HandlerContext | undefined {
    if (typeof key === 'string') return this.byName.get(key)
    for (let c = this.head.next!; c !== this.tail; c = c.next!) if (c.handler === key) return c
    return undefined
  }

  private required(key: string | ChannelHandler): HandlerContext {
    const ctx = this.find(key)
    if (ctx === undefined) {
      throw new PipelineError(`no such handler: ${typeof key === 'string' ? key : key.constructor.name}`)
    }
    return ctx
  }
}

/** Counts in how many pipelines each handler instance sits, to refuse sharing non-sharable ones. */
const sharedHandlers = new WeakMap<ChannelHandler, number>()

/**
 * @internal What the head of a pipeline hands outbound operations to: the channel's outbound
 * buffer and socket.
 */
export interface PipelineSink {
  write(message: unknown, callback: WriteCallback | undefined): void
  flush(): void
  close(error: Error | undefined): void
}

class HeadHandler implements ChannelHandler {
  constructor(private readonly sink: PipelineSink) {}
  write(_ctx: ChannelHandlerContext, message: unknown, callback: WriteCallback | undefined): void {
    this.sink.write(message, callback)
  }
  flush(): void {
    this.sink.flush()
  }
  close(_ctx: ChannelHandlerContext, error: Error | undefined): void {
    this.sink.close(error)
  }
}

class TailHandler implements ChannelHandler {
  constructor(private readonly pipeline: ChannelPipeline) {}
  channelRead(_ctx: ChannelHandlerContext, message: unknown): void {
    this.pipeline.reportUnhandled('message', message)
  }
  userEventTriggered(_ctx: ChannelHandlerContext, event: unknown): void {
    this.pipeline.reportUnhandled('event', event)
  }
  exceptionCaught(_ctx: ChannelHandlerContext, error: Error): void {
    this.pipeline.reportUnhandled('error', error)
  }
  channelActive(): void {}
  channelInactive(): void {}
  channelReadComplete(): void {}
  channelWritabilityChanged(): void {}
}

const INACTIVE_PENDING = 1
const READ_COMPLETE_PENDING = 2

/** @internal A handler's node in the pipeline's linked list. */
export class HandlerContext implements ChannelHandlerContext {
  readonly pipeline: ChannelPipeline
  readonly name: string
  readonly handler: ChannelHandler
  prev: HandlerContext | undefined
  next: HandlerContext | undefined
  isRemoved = false

  // Async channelRead state: reads in flight, reads waiting for a slot, and events held behind them.
  private pending = 0
  private queue: unknown[] | undefined
  private held = 0
  private suspending = false
  private readonly concurrency: number
  /** @internal Bits of the methods the handler implements. */
  readonly mask: number
  private readonly onSettled: () => void
  private readonly onRejected: (reason: unknown) => void

  constructor(pipeline: ChannelPipeline, name: string, handler: ChannelHandler) {
    this.pipeline = pipeline
    this.name = name
    this.handler = handler
    this.concurrency = Math.max(1, handler.concurrency ?? 1)
    this.mask = methodMask(handler)
    // Allocated once per context, not per message.
    this.onSettled = () => this.settled()
    this.onRejected = (reason: unknown) => {
      this.invokeExceptionCaught(toError(reason))
      this.settled()
    }
  }

  get channel(): Channel {
    return this.pipeline.channel
  }

  // --- inbound: fire* finds the next handler that implements the event, invoke* calls it ---

  fireChannelActive(): void {
    nextWith(this, M.channelActive).invokeChannelActive()
  }
  fireChannelInactive(): void {
    nextWith(this, M.channelInactive).invokeChannelInactive()
  }
  fireChannelRead(message: unknown): void {
    nextWith(this, M.channelRead).invokeChannelRead(message)
  }
  fireChannelReadComplete(): void {
    nextWith(this, M.channelReadComplete).invokeChannelReadComplete()
  }
  fireChannelWritabilityChanged(): void {
    nextWith(this, M.channelWritabilityChanged).invokeChannelWritabilityChanged()
  }
  fireUserEventTriggered(event: unknown): void {
    nextWith(this, M.userEventTriggered).invokeUserEventTriggered(event)
  }
  fireExceptionCaught(error: Error): void {
    nextWith(this, M.exceptionCaught).invokeExceptionCaught(error)
  }

  invokeChannelActive(): void {
    const h = this.handler
    if (h.channelActive === undefined) return this.fireChannelActive()
    try {
      h.channelActive(this)
    } catch (err) {
      this.invokeExceptionCaught(toError(err))
    }
  }

  invokeChannelInactive(): void {
    if (this.pending > 0) {
      this.held |= INACTIVE_PENDING
      return
    }
    const h = this.handler
    if (h.channelInactive === undefined) return this.fireChannelInactive()
    try {
      h.channelInactive(this)
    } catch (err) {
      this.invokeExceptionCaught(toError(err))
    }
  }

  invokeChannelRead(message: unknown): void {
    const h = this.handler
    if (h.channelRead === undefined) return this.fireChannelRead(message)
    if (this.pending >= this.concurrency) {
      if (this.queue === undefined) this.queue = []
      this.queue.push(message)
      return
    }
    this.runRead(h, message)
  }

  invokeChannelReadComplete(): void {
    if (this.pending > 0) {
      this.held |= READ_COMPLETE_PENDING
      return
    }
    const h = this.handler
    if (h.channelReadComplete === undefined) return this.fireChannelReadComplete()
    try {
      h.channelReadComplete(this)
    } catch (err) {
      this.invokeExceptionCaught(toError(err))
    }
  }

  invokeChannelWritabilityChanged(): void {
    const h = this.handler
    if (h.channelWritabilityChanged === undefined) return this.fireChannelWritabilityChanged()
    try {
      h.channelWritabilityChanged(this)
    } catch (err) {
      this.invokeExceptionCaught(toError(err))
    }
  }

  invokeUserEventTriggered(event: unknown): void {
    const h = this.handler
    if (h.userEventTriggered === undefined) return this.fireUserEventTriggered(event)
    try {
      h.userEventTriggered(this, event)
    } catch (err) {
      this.invokeExceptionCaught(toError(err))
    }
  }

  invokeExceptionCaught(error: Error): void {
    const h = this.handler
    if (h.exceptionCaught === undefined) return this.fireExceptionCaught(error)
    try {
      h.exceptionCaught(this, error)
    } catch (err) {
      // An exceptionCaught that throws would loop; report it at the tail instead.
      this.pipeline.reportUnhandled('error', toError(err))
    }
  }

  // --- outbound: towards the head ---

  write(message: unknown, callback?: WriteCallback): void {
    prevWith(this, M.write).invokeWrite(message, callback)
  }

  flush(): void {
    prevWith(this, M.flush).invokeFlush()
  }

  writeAndFlush(message: unknown, callback?: WriteCallback): void {
    prevWith(this, M.write).invokeWrite(message, callback)
    prevWith(this, M.flush).invokeFlush()
  }

  close(error?: Error): void {
    prevWith(this, M.close).invokeClose(error)
  }

  private invokeWrite(message: unknown, callback: WriteCallback | undefined): void {
    try {
      this.handler.write!(this, message, callback)
    } catch (err) {
      const e = toError(err)
      if (callback !== undefined) callback(e)
      else this.invokeExceptionCaught(e)
    }
  }

  private invokeFlush(): void {
    try {
      this.handler.flush!(this)
    } catch (err) {
      this.invokeExceptionCaught(toError(err))
    }
  }

  private invokeClose(error: Error | undefined): void {
    try {
      this.handler.close!(this, error)
    } catch (err) {
      // A close must happen even if a handler on the way throws.
      this.pipeline.head.handler.close!(this.pipeline.head, toError(err))
    }
  }

  // --- async channelRead ---

  private runRead(h: ChannelHandler, message: unknown): void {
    let result: void | Promise<void>
    try {
      result = h.channelRead!(this, message)
    } catch (err) {
      this.invokeExceptionCaught(toError(err))
      return
    }
    if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
      if (++this.pending >= this.concurrency && !this.suspending) {
        this.suspending = true
        this.channel.suspendRead()
      }
      ;(result as Promise<void>).then(this.onSettled, this.onRejected)
    }
  }

  private settled(): void {
    this.pending--
    const q = this.queue
    if (this.isRemoved) {
      if (this.pending === 0) this.handOverQueued()
    } else {
      while (q !== undefined && q.length > 0 && this.pending < this.concurrency) this.runRead(this.handler, q.shift())
    }
    if (this.pending === 0 && this.held !== 0) {
      const held = this.held
      this.held = 0
      if (held & READ_COMPLETE_PENDING) this.invokeChannelReadComplete()
      if (held & INACTIVE_PENDING) this.invokeChannelInactive()
    }
    if (this.suspending && this.pending < this.concurrency) {
      this.suspending = false
      this.channel.resumeRead()
    }
    if (this.pending === 0) this.pipeline.idle()
  }

  /** True while async reads are pending here: later inbound events must wait behind them. */
  get busy(): boolean {
    return this.pending > 0
  }

  /** @internal On removal, reads still waiting here go on to the next handler once none is pending. */
  handOverQueued(): void {
    if (this.pending > 0) return
    const q = this.queue
    if (q === undefined || q.length === 0) return
    this.queue = undefined
    for (const m of q) this.fireChannelRead(m)
  }
}

type HandlerMethod =
  | 'channelActive'
  | 'channelInactive'
  | 'channelRead'
  | 'channelReadComplete'
  | 'channelWritabilityChanged'
  | 'userEventTriggered'
  | 'exceptionCaught'
  | 'write'
  | 'flush'
  | 'close'

/** One bit per handler method, so skipping handlers is an integer test, not a property lookup. */
const M = {
  channelActive: 1,
  channelInactive: 2,
  channelRead: 4,
  channelReadComplete: 8,
  channelWritabilityChanged: 16,
  userEventTriggered: 32,
  exceptionCaught: 64,
  write: 128,
  flush: 256,
  close: 512,
} as const satisfies Record<HandlerMethod, number>

/** The methods a handler implements, read once when its context is created (as Netty does). */
function methodMask(handler: ChannelHandler): number {
  let mask = 0
  for (const k in M) if (typeof handler[k as HandlerMethod] === 'function') mask |= M[k as HandlerMethod]
  return mask
}

function nextWith(ctx: HandlerContext, event: number): HandlerContext {
  let c = ctx.next
  // Skip handlers without the method (the tail implements every inbound event), but never skip
  // past a handler with async reads in flight: what follows a read must not overtake it.
  while ((c!.mask & event) === 0 && !c!.busy) c = c!.next
  if (c === undefined) throw new PipelineError('event travelled past the tail')
  return c
}

function prevWith(ctx: HandlerContext, op: number): HandlerContext {
  let c = ctx.prev
  // The head implements every outbound operation.
  while ((c!.mask & op) === 0) c = c!.prev
  return c!
}

/** Throws the error for a message the head cannot write; used by channels. */
export function unsupported(message: unknown, expected: string): UnsupportedMessageError {
  const what =
    message === null ? 'null' : typeof message === 'object' ? ((message as object).constructor?.name ?? 'object') : typeof message
  return new UnsupportedMessageError(`cannot write ${what}: expected ${expected}`)
}
