import type { Socket } from 'node:net'
import type { SocketAddress } from './Channel.js'
import type { WriteCallback } from './ChannelHandler.js'
import { unsupported } from './ChannelPipeline.js'
import { type Clock, type TimerHandle, systemClock } from './Clock.js'
import { SocketError } from './SocketError.js'
import { AbstractChannel, DEFAULT_WATER_MARK, type WriteBufferWaterMark } from './internal/AbstractChannel.js'

/** Options of a {@link SocketChannel}; bootstraps fill them from their own options. */
export interface SocketChannelOptions {
  /** Time source of its timers. Default the real clock. */
  readonly clock?: Clock
  /** Outbound buffer watermarks. Default 32 KiB / 64 KiB. */
  readonly writeBufferWaterMark?: WriteBufferWaterMark
  /**
   * Disable Nagle's algorithm (TCP_NODELAY) before the first write. Default false; the bootstraps
   * pass their `noDelay` option (default true). Set at the first write rather than at once, so that
   * a connection refused before it writes (a flood of them) costs no system call for it.
   */
  readonly noDelay?: boolean
}

const EMPTY = new Uint8Array(0)
/** How long a graceful close waits for written bytes to leave before it destroys the socket. */
const CLOSE_LINGER_MS = 10_000

/**
 * A TCP or TLS connection: one class over `net.Socket` and `tls.TLSSocket` (the latter is a
 * `net.Socket` whose bytes are cleartext). Created by {@link Bootstrap.connect} and by
 * {@link ServerBootstrap.bind} for every accepted connection; it is active once TCP is connected
 * and, for TLS, the handshake and certificate verification succeeded.
 *
 * - Inbound: each chunk the socket reads is fired as `channelRead(Buffer)`, then
 *   `channelReadComplete`.
 * - Outbound: messages must be `Uint8Array`s (else `UnsupportedMessageError`). A flush writes the
 *   whole batch corked, so many small frames leave in one `writev` syscall.
 * - Flow control: bytes the socket holds count against the write buffer watermarks; reading is
 *   paused (`socket.pause()`) while the pipeline suspends reads (async handler steps).
 * - Errors: a socket error fires `exceptionCaught(SocketError)` (the Node error as `cause`), then the
 *   channel closes with that error as `closeReason`.
 * - Close: `close()` flushes what was written, sends FIN once it is out and releases the socket;
 *   `close(error)` destroys the socket at once. A graceful close whose bytes cannot leave (the peer
 *   stopped reading) destroys the socket after 10 s.
 */
export class SocketChannel extends AbstractChannel {
  /** The underlying socket (a `tls.TLSSocket` for TLS channels). */
  readonly socket: Socket
  /** The peer. */
  readonly remoteAddress: SocketAddress | undefined

  // The local end costs a system call (getsockname): read when first asked for, or once the
  // channel survived its channelActive (a connection refused there never pays for it).
  #localAddress: SocketAddress | undefined
  #localKnown = false
  #noDelayPending: boolean
  private started = false
  private probePending = false
  private readonly onData = (chunk: Buffer): void => {
    this.pipeline.fireChannelRead(chunk)
    this.pipeline.fireChannelReadComplete()
  }
  private readonly onDrain = (): void => {
    this.transportDrained()
  }
  private readonly onProbe = (): void => {
    this.probePending = false
    this.transportDrained()
    this.probeDrain()
  }
  private readonly onError = (err: Error): void => {
    const error = new SocketError(`${this.kind} socket error: ${err.message}`, { cause: err })
    if (!this.done) this.pipeline.fireExceptionCaught(error)
    void this.close(error)
  }
  private done = false
  private lingerTimer: TimerHandle | undefined
  private readonly onClose = (): void => {
    this.done = true
    if (this.lingerTimer !== undefined) {
      this.clock.clearTimeout(this.lingerTimer)
      this.lingerTimer = undefined
    }
    this.closeCompleted()
  }
  private readonly onFinish = (): void => {
    this.socket.destroy()
  }

  /**
   * Wraps a connected socket. Add handlers to {@link pipeline}, then call {@link start} to begin
   * reading and fire `channelActive`; bootstraps do both.
   */
  constructor(socket: Socket, kind: 'tcp' | 'tls', options: SocketChannelOptions = {}) {
    super(kind, options.clock ?? systemClock, options.writeBufferWaterMark ?? DEFAULT_WATER_MARK)
    this.socket = socket
    this.#noDelayPending = options.noDelay === true
    this.remoteAddress = addressOf(socket.remoteAddress, socket.remotePort, socket.remoteFamily)
    socket.on('error', this.onError)
    socket.on('close', this.onClose)
  }

  /** The local end of the connection. */
  get localAddress(): SocketAddress | undefined {
    if (!this.#localKnown) {
      this.#localKnown = true
      const s = this.socket
      this.#localAddress = addressOf(s.localAddress, s.localPort, s.localFamily)
    }
    return this.#localAddress
  }

  /** Starts reading and fires `channelActive` (or closes at once if the socket is already gone). */
  start(): void {
    if (this.started) return
    this.started = true
    const s = this.socket
    if (s.destroyed) {
      if (s.closed) this.onClose()
      return
    }
    s.on('drain', this.onDrain)
    this.activate()
    // channelActive may have closed or suspended the channel.
    if (this.isClosing) return
    void this.localAddress // known while the socket is open, for whoever asks after it closed
    s.on('data', this.onData)
    if (this.isReadSuspended) s.pause()
  }

  protected messageSize(message: unknown): number {
    if (message instanceof Uint8Array) return message.byteLength
    throw unsupported(message, 'Uint8Array')
  }

  protected doFlush(messages: readonly unknown[], callbacks: readonly (WriteCallback | undefined)[], n: number): void {
    const s = this.socket
    if (this.#noDelayPending) {
      this.#noDelayPending = false
      s.setNoDelay(true)
    }
    if (n === 1) {
      writeOne(s, messages[0] as Uint8Array, callbacks[0])
    } else {
      s.cork()
      // Runs of small buffers (headers, small frames) are copied into one buffer: one stream
      // write instead of dozens, which costs less than the copy. Large buffers go as they are.
      let runStart = 0
      let runBytes = 0
      for (let i = 0; i < n; i++) {
        const len = (messages[i] as Uint8Array).byteLength
        if (len > COALESCE_MAX_CHUNK || runBytes + len > COALESCE_MAX_RUN) {
          if (i > runStart) writeRun(s, messages, callbacks, runStart, i, runBytes)
          runStart = i
          runBytes = 0
          if (len > COALESCE_MAX_CHUNK) {
            writeOne(s, messages[i] as Uint8Array, callbacks[i])
            runStart = i + 1
            continue
          }
        }
        runBytes += len
      }
      if (n > runStart) writeRun(s, messages, callbacks, runStart, n, runBytes)
      s.uncork()
    }
    this.probeDrain()
  }

  protected override transportPendingBytes(): number {
    return this.socket.writableLength
  }

  protected doClose(error: Error | undefined): void {
    const s = this.socket
    if (s.destroyed) {
      if (s.closed) this.onClose()
      return
    }
    if (error !== undefined || !this.started) {
      s.destroy()
      return
    }
    // Graceful: FIN after every written byte left, then release the socket ('close' follows).
    // A peer that never reads would hold the socket forever: after the linger time it is destroyed.
    s.once('finish', this.onFinish)
    s.end()
    this.lingerTimer = this.clock.setTimeout(this.onFinish, CLOSE_LINGER_MS)
  }

  /** Pauses the socket. */
  protected doSuspendRead(): void {
    if (this.started) this.socket.pause()
  }
  /** Resumes the socket. */
  protected doResumeRead(): void {
    if (this.started) this.socket.resume()
  }

  /**
   * The socket emits 'drain' only after a write that crossed its own high-water mark; bytes
   * below it may still be queued. An empty write's callback runs once everything before it left,
   * so watermark accounting always learns when the transport emptied.
   */
  private probeDrain(): void {
    const s = this.socket
    if (this.probePending || s.writableLength === 0 || s.writableNeedDrain || s.destroyed || s.writableEnded) return
    this.probePending = true
    s.write(EMPTY, this.onProbe)
  }
}

/** Buffers up to this size are coalesced with their neighbours on flush. */
const COALESCE_MAX_CHUNK = 512
/** A coalesced write holds at most this many bytes. */
const COALESCE_MAX_RUN = 64 * 1024

function writeOne(s: Socket, data: Uint8Array, cb: WriteCallback | undefined): void {
  if (cb === undefined) s.write(data)
  else
    s.write(data, (err) => {
      cb(err ?? undefined)
    })
}

/** Writes messages[from, to) (totalling `bytes`) as one buffer; their callbacks run when it was written. */
function writeRun(
  s: Socket,
  messages: readonly unknown[],
  callbacks: readonly (WriteCallback | undefined)[],
  from: number,
  to: number,
  bytes: number,
): void {
  if (to - from === 1) {
    writeOne(s, messages[from] as Uint8Array, callbacks[from])
    return
  }
  const out = Buffer.allocUnsafe(bytes)
  let off = 0
  let cbs: WriteCallback[] | undefined
  for (let i = from; i < to; i++) {
    const m = messages[i] as Uint8Array
    const len = m.byteLength
    // TypedArray#set has a fixed cost that dominates for headers of a few bytes.
    if (len <= 16) for (let j = 0; j < len; j++) out[off + j] = m[j]!
    else out.set(m, off)
    off += len
    const cb = callbacks[i]
    if (cb !== undefined) (cbs ??= []).push(cb)
  }
  if (cbs === undefined) s.write(out)
  else {
    const all = cbs
    s.write(out, (err) => {
      for (const cb of all) cb(err ?? undefined)
    })
  }
}

/** @internal Builds a SocketAddress, or undefined when the socket has none. */
export function addressOf(address: string | undefined, port: number | undefined, family: string | undefined): SocketAddress | undefined {
  if (address === undefined || port === undefined) return undefined
  return family === undefined ? { address, port } : { address, port, family }
}
