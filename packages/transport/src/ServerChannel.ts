import type { Channel, SocketAddress } from './Channel.js'
import { unsupported } from './ChannelPipeline.js'
import type { Clock } from './Clock.js'
import { AbstractChannel } from './internal/AbstractChannel.js'

/**
 * A listening server (TCP, TLS) or a bound UDP socket, as returned by {@link ServerBootstrap.bind}.
 * It cannot be written to; its pipeline (set up by `ServerBootstrap.handler`) receives
 * `exceptionCaught` for failures that belong to no child channel, such as a failed TLS handshake
 * (`TlsHandshakeError`) or a connection refused because too many handshakes were pending.
 *
 * {@link children} holds the accepted connections that are open (for UDP: the one datagram
 * channel). `close()` stops accepting, aborts pending TLS handshakes, closes every child and
 * resolves once all of it is closed.
 */
export class ServerChannel extends AbstractChannel {
  /** The address it listens on. */
  readonly localAddress: SocketAddress | undefined
  /** Always undefined: a server has no peer. */
  readonly remoteAddress: SocketAddress | undefined = undefined
  /** Connections (or the UDP channel) currently open. */
  readonly children: ReadonlySet<Channel>
  /** TLS or DTLS handshakes that failed (untrusted or missing certificate, plaintext peer, timeout, refused). */
  handshakeFailures = 0
  /** Connections accepted since bind (for TLS: those whose handshake succeeded). */
  accepted = 0

  private readonly childSet = new Set<Channel>()
  private readonly stopTransport: () => Promise<void>
  private readonly onError: ((error: Error) => void) | undefined

  /** @internal Created by ServerBootstrap. */
  constructor(
    kind: 'tcp' | 'tls' | 'udp' | 'dtls',
    clock: Clock,
    localAddress: SocketAddress | undefined,
    stopTransport: () => Promise<void>,
    onError: ((error: Error) => void) | undefined,
  ) {
    super(kind, clock)
    this.localAddress = localAddress
    this.children = this.childSet
    this.stopTransport = stopTransport
    this.onError = onError
  }

  /** @internal Fires channelActive on the server pipeline. */
  start(): void {
    this.activate()
  }

  /** @internal Tracks a child until it closes. */
  addChild(child: Channel): void {
    this.accepted++
    this.childSet.add(child)
    void child.closed.then(() => {
      this.childSet.delete(child)
    })
  }

  /** @internal Reports an error that belongs to no child: onError, then exceptionCaught on this pipeline. */
  reportError(error: Error): void {
    if (this.onError !== undefined) {
      try {
        this.onError(error)
      } catch (err) {
        this.pipeline.reportUnhandled('error', err)
      }
    }
    if (this.isActive) this.pipeline.fireExceptionCaught(error)
  }

  protected messageSize(message: unknown): number {
    throw unsupported(message, 'nothing: a server channel cannot be written to')
  }

  protected doFlush(): void {}

  protected doClose(): void {
    const children = [...this.childSet].map((c) => c.close())
    void Promise.all([this.stopTransport(), ...children]).then(
      () => {
        this.closeCompleted()
      },
      (err: unknown) => {
        this.closeCompleted(err instanceof Error ? err : undefined)
      },
    )
  }

  // Accepting is not paced by the server pipeline; maxPendingHandshakes and backlog bound it.
  /** Nothing to suspend: a server reads nothing itself. */
  protected doSuspendRead(): void {}
  /** Nothing to resume. */
  protected doResumeRead(): void {}
}
