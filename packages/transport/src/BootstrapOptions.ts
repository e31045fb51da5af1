import type { ConnectionOptions, TlsOptions } from 'node:tls'
import type { Channel } from './Channel.js'
import type { Clock } from './Clock.js'
import type { WriteBufferWaterMark } from './internal/AbstractChannel.js'

/** The network stack a bootstrap opens channels on. */
export type TransportKind = 'tcp' | 'tls' | 'udp'

/** Sets up a new channel's pipeline (adds its handlers) before the channel turns active. */
export type ChannelInitializer<C extends Channel = Channel> = (channel: C) => void

/** Options shared by {@link Bootstrap} and {@link ServerBootstrap}. */
export interface CommonChannelOptions {
  /** TCP_NODELAY (disable Nagle). Default true: the pipeline batches writes itself. */
  readonly noDelay?: boolean
  /** SO_KEEPALIVE. Default false. */
  readonly keepAlive?: boolean
  /** Idle time before the first keep-alive probe, in ms. Default 0 (the OS default). */
  readonly keepAliveInitialDelayMs?: number
  /** SO_SNDBUF in bytes. UDP only: Node.js exposes no SO_SNDBUF for TCP sockets. */
  readonly sendBufferSize?: number
  /** SO_RCVBUF in bytes. UDP only: Node.js exposes no SO_RCVBUF for TCP sockets. */
  readonly receiveBufferSize?: number
  /** Outbound buffer watermarks of every channel. Default 32 KiB / 64 KiB. */
  readonly writeBufferWaterMark?: WriteBufferWaterMark
  /** TLS only: a handshake not finished within this time fails with ERR_TLS_HANDSHAKE. Default 10 000 ms. */
  readonly handshakeTimeoutMs?: number
  /** Time source of timeouts and of the channels. Default `systemClock`. */
  readonly clock?: Clock
}

/** Options of a client {@link Bootstrap}. */
export interface BootstrapOptions extends CommonChannelOptions {
  /** A TCP connect not established within this time fails with ERR_CONNECT_TIMEOUT. Default 30 000 ms. */
  readonly connectTimeoutMs?: number
  /**
   * `node:tls` client options (ca, cert, key, servername, minVersion, ...). Certificate and host
   * name verification are on unless `rejectUnauthorized: false` is given explicitly.
   */
  readonly tls?: ConnectionOptions
  /**
   * TLS 1.3 only: how long, after the client's side of the handshake finished, to wait for the
   * server's session ticket, which proves the server accepted our certificate (the server's
   * verdict on a client certificate arrives after the client considers the handshake done).
   * A server that sends no tickets costs this delay once per connect. Default 1 000 ms; 0 disables.
   */
  readonly tlsConfirmMs?: number
}

/** Options of a {@link ServerBootstrap}. */
export interface ServerBootstrapOptions extends CommonChannelOptions {
  /** Listen backlog. Default: Node's (511). */
  readonly backlog?: number
  /**
   * `node:tls` server options (key, cert, ca, requestCert, rejectUnauthorized, ...). For mutual
   * TLS set `requestCert: true` and `ca`; clients without a trusted certificate are refused.
   */
  readonly tls?: TlsOptions
  /** TLS only: connections accepted but still in their handshake, at most. Beyond, new connections are refused. Default 256. */
  readonly maxPendingHandshakes?: number
  /**
   * Called for errors of the server that belong to no channel: failed TLS handshakes
   * (`TlsHandshakeError`), refused connections, accept errors. They are also fired as
   * `exceptionCaught` on the server channel's pipeline.
   */
  readonly onError?: (error: Error) => void
}
