import type { Clock } from './Clock.js'
import type { ChannelPipeline } from './ChannelPipeline.js'
import type { WriteCallback } from './ChannelHandler.js'

/** An IP endpoint. */
export interface SocketAddress {
  /** The IP address, e.g. `'127.0.0.1'` or `'::1'`. */
  readonly address: string
  /** The port. */
  readonly port: number
  /** `'IPv4'` or `'IPv6'`, when known. */
  readonly family?: string
}

/** A UDP datagram as it travels the pipeline of a UDP channel: inbound with `remote` set to the sender, outbound with `remote` the destination. */
export interface Datagram {
  /** The payload (one datagram). */
  readonly data: Uint8Array
  /** The sender (inbound) or the destination (outbound). */
  readonly remote: SocketAddress
}

/** Which network stack a channel runs on. */
export type ChannelKind = 'tcp' | 'tls' | 'udp' | 'dtls' | 'embedded'

/**
 * One duplex connection (TCP, TLS), one UDP socket, or an in-memory `EmbeddedChannel`.
 * Writes travel through {@link Channel.pipeline} from tail to head; the head puts them into the
 * channel's outbound buffer, and `flush()` sends what is buffered in as few syscalls as possible.
 */
export interface Channel {
  /** Unique per process, for logs. */
  readonly id: string
  /** The network stack it runs on. */
  readonly kind: ChannelKind
  /** Its handlers, between the socket (head) and the application (tail). */
  readonly pipeline: ChannelPipeline
  /** The time source of its timers (idle, read timeout); the bootstrap's `clock` option. */
  readonly clock: Clock
  /** The local end, once connected or bound. */
  readonly localAddress: SocketAddress | undefined
  /** The peer (undefined for UDP and embedded channels). */
  readonly remoteAddress: SocketAddress | undefined
  /** Connected (or bound, for UDP) and not closed. */
  readonly isActive: boolean
  /** False while the outbound buffer is above the high watermark (until it falls below the low one). */
  readonly isWritable: boolean
  /** Bytes written but not yet taken by the operating system. */
  readonly bytesBeforeUnwritable: number
  /** Resolves once the channel is closed and `channelInactive` was fired; never rejects. */
  readonly closed: Promise<void>
  /** The error the channel was closed with, if it was closed because of one. */
  readonly closeReason: Error | undefined

  /**
   * Writes `message` through the pipeline's outbound handlers into the outbound buffer (nothing is
   * sent before {@link Channel.flush}); `callback` gets the outcome once it was written or failed.
   */
  write(message: unknown, callback?: WriteCallback): void
  /** Sends what the outbound buffer holds, in as few syscalls as possible. */
  flush(): void
  /** {@link Channel.write} then {@link Channel.flush}. */
  writeAndFlush(message: unknown, callback?: WriteCallback): void
  /** Closes the channel (through the pipeline's outbound handlers); resolves when it is closed. */
  close(error?: Error): Promise<void>

  /**
   * Stops reading from the socket until a matching {@link Channel.resumeRead}. Calls nest: reading
   * resumes when every suspension was resumed. The pipeline uses this for async handler steps.
   */
  suspendRead(): void
  /** Lifts one {@link Channel.suspendRead}; reading resumes when none is left. */
  resumeRead(): void
}
