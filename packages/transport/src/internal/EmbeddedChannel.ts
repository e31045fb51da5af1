import type { SocketAddress } from '../Channel.js'
import type { ChannelHandler, WriteCallback } from '../ChannelHandler.js'
import { unsupported } from '../ChannelPipeline.js'
import type { WriteBufferWaterMark } from './AbstractChannel.js'
import { AbstractChannel, DEFAULT_WATER_MARK } from './AbstractChannel.js'
import { ManualClock } from './ManualClock.js'

/** Options of an {@link EmbeddedChannel}. */
export interface EmbeddedChannelOptions {
  /** The clock handlers see; a new ManualClock by default. */
  readonly clock?: ManualClock
  /** Outbound buffer watermarks. Default 32 KiB / 64 KiB. */
  readonly waterMark?: WriteBufferWaterMark
  /**
   * When false, flushed bytes stay "in the transport" (count against the watermarks) until
   * {@link EmbeddedChannel.drain} is called: a slow socket. Default true.
   */
  readonly autoDrain?: boolean
}

const EMBEDDED_ADDRESS: SocketAddress = { address: 'embedded', port: 0 }

/**
 * A channel without a socket, to test handlers: push inbound messages with
 * {@link writeInbound}, read what reached the tail with {@link readInbound}; write outbound with
 * {@link writeOutbound} and read what reached the head with {@link readOutbound}. Time is a
 * {@link ManualClock}; errors that reach the tail are kept and rethrown by {@link checkException}.
 *
 * @example
 * ```ts
 * const ch = new EmbeddedChannel(new LengthFieldBasedFrameDecoder({ maxFrameLength: 1024, lengthFieldLength: 4, initialBytesToStrip: 4 }))
 * ch.writeInbound(Buffer.from([0, 0, 0, 1, 42]))
 * ch.readInbound() // <Buffer 2a>
 * ```
 */
export class EmbeddedChannel extends AbstractChannel {
  /** The manual clock its timers run on: advance it to fire them. */
  override readonly clock: ManualClock
  /** A fixed placeholder address. */
  readonly localAddress: SocketAddress | undefined = EMBEDDED_ADDRESS
  /** A fixed placeholder address. */
  readonly remoteAddress: SocketAddress | undefined = EMBEDDED_ADDRESS
  /** Messages that reached the tail, oldest first. */
  readonly inboundMessages: unknown[] = []
  /** Messages that reached the head and were flushed, oldest first. */
  readonly outboundMessages: unknown[] = []
  /** Errors that reached the tail. */
  readonly errors: Error[] = []
  /** User events that reached the tail. */
  readonly userEvents: unknown[] = []
  private inTransport = 0
  private readonly autoDrain: boolean
  private pendingCallbacks: (WriteCallback | undefined)[] = []

  constructor(...handlers: (ChannelHandler | EmbeddedChannelOptions)[]) {
    const first = handlers[0]
    const opts: EmbeddedChannelOptions = first !== undefined && !isHandler(first) ? (handlers.shift() as EmbeddedChannelOptions) : {}
    const clock = opts.clock ?? new ManualClock()
    super('embedded', clock, opts.waterMark ?? DEFAULT_WATER_MARK)
    this.clock = clock
    this.autoDrain = opts.autoDrain ?? true
    this.pipeline.onUnhandled = (r) => {
      if (r.kind === 'message') this.inboundMessages.push(r.value)
      else if (r.kind === 'error') this.errors.push(r.value as Error)
      else this.userEvents.push(r.value)
    }
    let i = 0
    for (const h of handlers) this.pipeline.addLast(`handler-${i++}`, h as ChannelHandler)
    this.activate()
  }

  /** Fires each message as a channelRead, then one channelReadComplete. Returns true if something reached the tail. */
  writeInbound(...messages: unknown[]): boolean {
    for (const m of messages) this.pipeline.fireChannelRead(m)
    this.pipeline.fireChannelReadComplete()
    return this.inboundMessages.length > 0
  }

  /** Writes each message from the tail and flushes. Returns true if something reached the head. */
  writeOutbound(...messages: unknown[]): boolean {
    for (const m of messages) this.pipeline.write(m)
    this.pipeline.flush()
    return this.outboundMessages.length > 0
  }

  /** Takes the oldest message that reached the tail. */
  readInbound<T = unknown>(): T | undefined {
    return this.inboundMessages.shift() as T | undefined
  }
  /** Takes the oldest message that reached the head. */
  readOutbound<T = unknown>(): T | undefined {
    return this.outboundMessages.shift() as T | undefined
  }

  /** Throws the first error that reached the tail, if any (and forgets it). */
  checkException(): void {
    const e = this.errors.shift()
    if (e !== undefined) throw e
  }

  /** Moves the channel's clock forward, running due timers. */
  advanceTime(ms: number): void {
    this.clock.advance(ms)
  }

  /** With `autoDrain: false`: the slow socket takes everything flushed so far; write callbacks run. */
  drain(): void {
    this.inTransport = 0
    const cbs = this.pendingCallbacks
    this.pendingCallbacks = []
    for (const cb of cbs) cb?.()
    this.transportDrained()
  }

  /** Closes the channel; returns true if any inbound or outbound messages are still unread. */
  async finish(): Promise<boolean> {
    await this.close()
    return this.inboundMessages.length > 0 || this.outboundMessages.length > 0
  }

  /** Simulates the peer closing the connection. */
  disconnect(error?: Error): void {
    this.closeCompleted(error)
  }

  protected messageSize(message: unknown): number {
    if (message instanceof Uint8Array) return message.byteLength
    if (message === undefined) throw unsupported(message, 'a defined message')
    return 1
  }

  protected doFlush(messages: readonly unknown[], callbacks: readonly (WriteCallback | undefined)[], count: number): void {
    for (let i = 0; i < count; i++) {
      const m = messages[i]
      this.outboundMessages.push(m)
      if (this.autoDrain) callbacks[i]?.()
      else {
        this.inTransport += this.messageSize(m)
        this.pendingCallbacks.push(callbacks[i])
      }
    }
  }

  protected override transportPendingBytes(): number {
    return this.inTransport
  }

  protected doClose(error: Error | undefined): void {
    // An embedded channel closes at once; queue the completion like a socket would.
    queueMicrotask(() => this.closeCompleted(error))
  }

  /** Nothing to suspend: reads are what the test writes in. */
  protected doSuspendRead(): void {}
  /** Nothing to resume. */
  protected doResumeRead(): void {}
}

function isHandler(x: ChannelHandler | EmbeddedChannelOptions): x is ChannelHandler {
  if ('clock' in x || 'waterMark' in x || 'autoDrain' in x) return false
  return true
}
