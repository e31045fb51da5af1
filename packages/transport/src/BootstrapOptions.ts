import type { ConnectionOptions, TlsOptions } from 'node:tls'
import type { Channel } from './Channel.js'
import type { Clock } from './Clock.js'
import type { WriteBufferWaterMark } from './internal/AbstractChannel.js'

/** The network stack a bootstrap opens channels on. */
export type TransportKind = 'tcp' | 'tls' | 'udp' | 'dtls'

/** Sets up a new channel's pipeline (adds its handlers) before the channel turns active. */
export type ChannelInitializer<C extends Channel = Channel> = (channel: C) => void

/** Options shared by {@link Bootstrap} and {@link ServerBootstrap}. */
export interface CommonChannelOptions {
  /** TCP_NODELAY (disable Nagle), set before a channel's first write. Default true: the pipeline batches writes itself. */
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
  /**
   * TLS and DTLS: a handshake not finished within this time fails with ERR_TLS_HANDSHAKE
   * (ERR_DTLS_HANDSHAKE, reason `timeout`). Default 10 000 ms.
   */
  readonly handshakeTimeoutMs?: number
  /** DTLS only: datagram size, retransmission, caps and idle expiry (certificates and trust come from `tls`). */
  readonly dtls?: DtlsOptions
  /** Time source of timeouts and of the channels. Default `systemClock`. */
  readonly clock?: Clock
  /**
   * TLS only: tell a peer why its certificate was refused, and hear why ours was. Node.js judges a
   * peer's certificate after the TLS handshake and closes without a TLS alert, so the peer learns
   * nothing; with this on (both sides), the side that refuses writes one line first (the verdict,
   * e.g. `CERT_HAS_EXPIRED`, and its text) and the other side reports it in its
   * `TlsHandshakeError` instead of "closed". A server names the verdict on a refused client
   * certificate either way. Default false (an application protocol on the connection would see
   * the line as data).
   */
  readonly tlsRefusalNotices?: boolean
}

/**
 * DTLS settings (`transport('dtls')`). Certificates, keys and trust are the `tls` options, with the
 * same names as for TLS: `key`, `cert`, `ca`, `passphrase`, `requestCert`, `rejectUnauthorized`,
 * `servername` (other node:tls options do not apply to DTLS and are ignored).
 */
export interface DtlsOptions {
  /**
   * The path MTU in bytes (the largest IP packet that crosses the path). No datagram Helios sends
   * over DTLS is larger than this less the IP and UDP headers (28 bytes over IPv4, 48 over IPv6):
   * handshake messages are fragmented to fit, and one record carries at most that less the
   * record's own 37 bytes. Default 1280 (IPv6's minimum MTU, which every Internet path carries):
   * datagrams of at most 1252 bytes over IPv4 (1232 over IPv6), records of at most 1215 (1195)
   * bytes of data. Raise it on networks whose MTU you know (e.g. 1500 on Ethernet, 65535 on loopback).
   */
  readonly mtu?: number
  /** First retransmission of an unanswered handshake flight; each next one waits twice as long (up to 60 s). Default 1000 ms (RFC 6347). */
  readonly retransmitMs?: number
  /** Sessions of one server or endpoint (in handshake or established), at most; ClientHellos beyond are refused. Default 10 000. */
  readonly maxSessions?: number
  /** Sessions in handshake, at most (after the cookie exchange: a spoofed source never counts). Default: `maxPendingHandshakes` or 256. */
  readonly maxPendingHandshakes?: number
  /** A session that received nothing for this long is closed (DTLS cannot tell a peer that went away). Default 300 000 ms; 0 never. */
  readonly idleTimeoutMs?: number
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
  /**
   * `bind` (UDP) and `bindDtls` only: peers that may be given a socket of their own with
   * `openPeerSocket` (connected to the peer, on the same port, with a receive buffer of its own),
   * at most. Above 0 the channel's socket is bound with SO_REUSEADDR so that its port can be
   * shared. Default 0: none, and the port is not shared.
   */
  readonly maxPeerSockets?: number
  /** `bind` and `bindDtls` only: SO_RCVBUF of each peer socket, bytes. Default `receiveBufferSize`. */
  readonly peerReceiveBufferSize?: number
  /** `bind` and `bindDtls` only: SO_SNDBUF of each peer socket, bytes. Default `sendBufferSize`. */
  readonly peerSendBufferSize?: number
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
  /**
   * TLS only: connections accepted but still in their handshake, at most. When all are taken, a
   * connection from a source address holding fewer of them than the largest holder takes the
   * oldest of that holder's (which is closed); others are refused (see `HandshakeSlots`).
   * Default 256.
   */
  readonly maxPendingHandshakes?: number
  /**
   * TLS only: connections in their handshake from one source address (an IPv4 address, an IPv6
   * /64), at most; beyond, its new connections are refused. Default half of `maxPendingHandshakes`.
   */
  readonly maxPendingHandshakesPerSource?: number
  /**
   * Called for errors of the server that belong to no channel: failed TLS handshakes
   * (`TlsHandshakeError`), refused connections, accept errors. They are also fired as
   * `exceptionCaught` on the server channel's pipeline.
   */
  readonly onError?: (error: Error) => void
}
