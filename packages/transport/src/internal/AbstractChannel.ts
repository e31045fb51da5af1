import type { Channel, ChannelKind, SocketAddress } from '../Channel.js'
import type { WriteCallback } from '../ChannelHandler.js'
import type { Clock } from '../Clock.js'
import { ChannelPipeline, type PipelineSink } from '../ChannelPipeline.js'
import { ChannelClosedError, toError } from '../errors.js'

let nextId = 1

/** Write buffer watermarks in bytes: above `high` a channel turns unwritable, below `low` writable again. */
export interface WriteBufferWaterMark {
  /** Below this many pending bytes an unwritable channel turns writable again. */
  readonly low: number
  /** Above this many pending bytes the channel turns unwritable. */
  readonly high: number
}

/** Netty's defaults: 32 KiB / 64 KiB. */
export const DEFAULT_WATER_MARK: WriteBufferWaterMark = { low: 32 * 1024, high: 64 * 1024 }

const OPEN = 0
const ACTIVE = 1
const CLOSING = 2
const CLOSED = 3

/**
 * @internal The part every channel shares: pipeline, outbound buffer with watermarks and flush
 * batching, read suspension counting, and the close sequence. Subclasses supply the I/O.
 *
 * Writes are buffered until `flush()`; a flush hands the whole batch to {@link doFlush} at once,
 * so a subclass can cork the socket and send it in one syscall. Writability counts the bytes not
 * yet flushed plus the bytes the transport still holds ({@link transportPendingBytes}).
 */
export abstract class AbstractChannel implements Channel {
  /** Unique per process, for logs. */
  readonly id: string
  /** The network stack it runs on. */
  readonly kind: ChannelKind
  /** Its handlers, between the socket (head) and the application (tail). */
  readonly pipeline: ChannelPipeline
  /** The time source of its timers. */
  readonly clock: Clock
  /** Resolves once the channel is closed and `channelInactive` was fired; never rejects. */
  readonly closed: Promise<void>
  closeReason: Error | undefined

  /** Writes that failed with no callback to tell (channel closed first); never silently lost. */
  failedWrites = 0

  /** Its write buffer watermarks. */
  protected readonly waterMark: WriteBufferWaterMark
  private state = OPEN
  private activated = false
  private writable = true
  private readSuspensions = 0
  // Written messages wait in these arrays (slots [0, outCount)) until flushed. A flush hands them
  // to doFlush and then takes the spare pair, so no array is allocated per flush; a write made
  // from inside doFlush lands in the other pair.
  private outMessages: unknown[] = []
  private outCallbacks: (WriteCallback | undefined)[] = []
  private outCount = 0
  private spareMessages: unknown[] | undefined = []
  private spareCallbacks: (WriteCallback | undefined)[] | undefined = []
  private unflushedBytes = 0
  private transportBytesAtFlush = 0
  private resolveClosed!: () => void

  constructor(kind: ChannelKind, clock: Clock, waterMark: WriteBufferWaterMark = DEFAULT_WATER_MARK) {
    this.id = `${kind}-${nextId++}`
    this.kind = kind
    this.clock = clock
    this.waterMark = waterMark
    const sink: PipelineSink = {
      write: (m, cb) => this.bufferWrite(m, cb),
      flush: () => this.flushBuffered(),
      close: (err) => this.startClose(err),
    }
    this.pipeline = new ChannelPipeline(this, sink)
    this.closed = new Promise<void>((resolve) => {
      this.resolveClosed = resolve
    })
  }

  /** The local end, once connected or bound. */
  abstract readonly localAddress: SocketAddress | undefined
  /** The peer, when the channel has one. */
  abstract readonly remoteAddress: SocketAddress | undefined

  get isActive(): boolean {
    return this.state === ACTIVE
  }
  get isWritable(): boolean {
    return this.writable
  }
  get bytesBeforeUnwritable(): number {
    return Math.max(0, this.waterMark.high - this.pendingOutboundBytes())
  }
  /** Bytes buffered (not flushed) plus bytes held by the transport. */
  pendingOutboundBytes(): number {
    return this.unflushedBytes + this.transportPendingBytes()
  }
  /** True while reading is suspended (async handler steps, backpressure). */
  get isReadSuspended(): boolean {
    return this.readSuspensions > 0
  }

  /** Writes `message` through the pipeline into the outbound buffer (sent by {@link AbstractChannel.flush}). */
  write(message: unknown, callback?: WriteCallback): void {
    this.pipeline.write(message, callback)
  }
  /** Sends what the outbound buffer holds. */
  flush(): void {
    this.pipeline.flush()
  }
  /** Write, then flush. */
  writeAndFlush(message: unknown, callback?: WriteCallback): void {
    this.pipeline.writeAndFlush(message, callback)
  }
  /** Closes the channel through the pipeline's outbound handlers; resolves when it is closed. */
  close(error?: Error): Promise<void> {
    if (this.state < CLOSING) this.pipeline.close(error)
    return this.closed
  }

  /** Stops reading until a matching {@link AbstractChannel.resumeRead} (calls nest). */
  suspendRead(): void {
    if (this.readSuspensions++ === 0 && this.state < CLOSING) this.doSuspendRead()
  }

  /** Lifts one suspension; reading resumes when none is left. */
  resumeRead(): void {
    if (this.readSuspensions === 0) return
    if (--this.readSuspensions === 0 && this.state < CLOSING) this.doResumeRead()
  }

  // --- for subclasses ---

  /** Size in bytes of an outbound message; throws UnsupportedMessageError for a type the channel cannot send. */
  protected abstract messageSize(message: unknown): number
  /**
   * Sends a batch: `messages[0, count)`, `callbacks[i]` belonging to `messages[i]`. The arrays are
   * reused after the call returns: keep no reference to them.
   */
  protected abstract doFlush(messages: readonly unknown[], callbacks: readonly (WriteCallback | undefined)[], count: number): void
  /** Starts closing the underlying socket; must end in {@link closeCompleted}. */
  protected abstract doClose(error: Error | undefined): void
  /** Stops reading from the transport (the first suspension). */
  protected abstract doSuspendRead(): void
  /** Reads from the transport again (the last suspension lifted). */
  protected abstract doResumeRead(): void
  /** Bytes the transport accepted but has not yet given to the OS. */
  protected transportPendingBytes(): number {
    return 0
  }

  /** Marks the channel active and fires channelActive. */
  protected activate(): void {
    if (this.state !== OPEN) return
    this.state = ACTIVE
    this.activated = true
    this.pipeline.fireChannelActive()
  }

  /** Call when the transport drained: may turn the channel writable again. */
  protected transportDrained(): void {
    this.updateWritability()
  }

  /**
   * Call once the socket is closed. Fails buffered writes with ChannelClosedError, fires
   * channelInactive (after queued async reads), removes the handlers and resolves `closed`.
   */
  protected closeCompleted(error?: Error): void {
    if (this.state === CLOSED) return
    this.state = CLOSED
    if (error !== undefined && this.closeReason === undefined) this.closeReason = error
    if (this.outCount > 0) {
      this.failBuffered(
        new ChannelClosedError(
          'channel closed before the write was flushed',
          this.closeReason === undefined ? undefined : { cause: this.closeReason },
        ),
      )
    }
    if (this.activated) this.pipeline.fireChannelInactive()
    this.pipeline.destroy()
    this.resolveClosed()
  }

  /** True once close started. */
  protected get isClosing(): boolean {
    return this.state >= CLOSING
  }

  // --- sink ---

  private bufferWrite(message: unknown, callback: WriteCallback | undefined): void {
    if (this.state >= CLOSING) {
      this.failWrite(callback, new ChannelClosedError(undefined, this.closeReason === undefined ? undefined : { cause: this.closeReason }))
      return
    }
    const size = this.messageSize(message)
    const i = this.outCount++
    this.outMessages[i] = message
    this.outCallbacks[i] = callback
    this.unflushedBytes += size
    // transportBytesAtFlush bounds the transport's bytes from above (they only grow on flush), so
    // the exact count is asked for only when the cheap sum crosses the high watermark.
    if (
      this.writable &&
      this.unflushedBytes + this.transportBytesAtFlush > this.waterMark.high &&
      this.pendingOutboundBytes() > this.waterMark.high
    ) {
      this.writable = false
      this.pipeline.fireChannelWritabilityChanged()
    }
  }

  private flushBuffered(): void {
    if (this.outCount === 0 || this.state >= CLOSING) return
    const messages = this.outMessages
    const callbacks = this.outCallbacks
    const count = this.takeBuffered()
    try {
      this.doFlush(messages, callbacks, count)
    } catch (err) {
      this.pipeline.fireExceptionCaught(toError(err))
    }
    this.recycle(messages, callbacks, count)
    this.transportBytesAtFlush = this.transportPendingBytes()
    this.updateWritability()
  }

  /** Detaches the buffered writes (the current pair of arrays) and returns their count. */
  private takeBuffered(): number {
    const count = this.outCount
    this.outMessages = this.spareMessages ?? []
    this.outCallbacks = this.spareCallbacks ?? []
    this.spareMessages = undefined
    this.spareCallbacks = undefined
    this.outCount = 0
    this.unflushedBytes = 0
    return count
  }

  /** Clears a flushed pair of arrays (no references kept) and keeps it as the spare pair. */
  private recycle(messages: unknown[], callbacks: (WriteCallback | undefined)[], count: number): void {
    for (let i = 0; i < count; i++) {
      messages[i] = undefined
      callbacks[i] = undefined
    }
    // A big burst does not pin big arrays for the life of the channel.
    if (messages.length > 1024) return
    this.spareMessages = messages
    this.spareCallbacks = callbacks
  }

  private updateWritability(): void {
    if (!this.writable && this.pendingOutboundBytes() < this.waterMark.low) {
      this.writable = true
      this.pipeline.fireChannelWritabilityChanged()
    }
  }

  private startClose(error: Error | undefined): void {
    if (this.state >= CLOSING) return
    this.state = CLOSING
    if (error !== undefined) this.closeReason = error
    // Flush what was written before close: a graceful close sends it (the socket's end() waits for it).
    if (error === undefined && this.outCount > 0) {
      const messages = this.outMessages
      const callbacks = this.outCallbacks
      const count = this.takeBuffered()
      try {
        this.doFlush(messages, callbacks, count)
      } catch {
        /* closing anyway */
      }
      this.recycle(messages, callbacks, count)
    }
    this.doClose(error)
  }

  private failBuffered(error: Error): void {
    const messages = this.outMessages
    const callbacks = this.outCallbacks
    const count = this.takeBuffered()
    for (let i = 0; i < count; i++) this.failWrite(callbacks[i], error)
    this.recycle(messages, callbacks, count)
  }

  private failWrite(callback: WriteCallback | undefined, error: Error): void {
    if (callback !== undefined) {
      try {
        callback(error)
      } catch (err) {
        this.pipeline.reportUnhandled('error', toError(err))
      }
    } else {
      this.failedWrites++
    }
  }
}
