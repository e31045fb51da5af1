import type { Clock } from './Clock.js'
import type { ChannelPipeline } from './ChannelPipeline.js'
import type { WriteCallback } from './ChannelHandler.js'

/** An IP endpoint. */
export interface SocketAddress {
  readonly address: string
  readonly port: number
  readonly family?: string
}

/** A UDP datagram as it travels the pipeline of a UDP channel: inbound with `remote` set to the sender, outbound with `remote` the destination. */
export interface Datagram {
  readonly data: Uint8Array
  readonly remote: SocketAddress
}

/** Which network stack a channel runs on. */
export type ChannelKind = 'tcp' | 'tls' | 'udp' | 'embedded'

/**
 * One duplex connection (TCP, TLS), one UDP socket, or an in-memory `EmbeddedChannel`.
 * Writes travel through {@link Channel.pipeline} from tail to head; the head puts them into the
 * channel's outbound buffer, and `flush()` sends what is buffered in as few syscalls as possible.
 */
export interface Channel {
  /** Unique per process, for logs. */
  readonly id: string
  readonly kind: ChannelKind
  readonly pipeline: ChannelPipeline
  readonly clock: Clock
  readonly localAddress: SocketAddress | undefined
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

  write(message: unknown, callback?: WriteCallback): void
  flush(): void
  writeAndFlush(message: unknown, callback?: WriteCallback): void
  /** Closes the channel (through the pipeline's outbound handlers); resolves when it is closed. */
  close(error?: Error): Promise<void>

  /**
   * Stops reading from the socket until a matching {@link Channel.resumeRead}. Calls nest: reading
   * resumes when every suspension was resumed. The pipeline uses this for async handler steps.
   */
  suspendRead(): void
  resumeRead(): void
}
