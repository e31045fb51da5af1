import { AbstractBootstrap, newSocketChannel } from './internal/AbstractBootstrap.js'
import * as dgram from 'node:dgram'
import * as net from 'node:net'
import * as tls from 'node:tls'
import type { Channel } from './Channel.js'
import type { BootstrapOptions, ChannelInitializer } from './BootstrapOptions.js'
import { type Clock, type TimerHandle, systemClock } from './Clock.js'
import { DatagramChannel } from './DatagramChannel.js'
import {
  BindError,
  ConnectRefusedError,
  ConnectTimeoutError,
  type DtlsHandshakeError,
  ReadTimeoutError,
  TlsHandshakeError,
  toError,
} from './errors.js'
import { DtlsChannel, DtlsDatagramChannel } from './DtlsChannel.js'
import {
  describeNotice,
  peekRefusalNotice,
  sendRefusalNotice,
  type TLSSocketLike,
  TlsRefusalNoticeReader,
  verdictOf,
} from './internal/TlsRefusalNotice.js'
import { DtlsEndpoint } from './internal/dtls/DtlsEndpoint.js'
import { PeerSockets, type PeerSocketsOptions } from './internal/PeerSockets.js'
import { dtlsConfig } from './internal/dtls/config.js'
import type { DtlsSession } from './internal/dtls/Session.js'

/**
 * Fluent set-up of client channels: transport kind, options and the channel initializer.
 *
 * `connect()` resolves with an active channel only after TCP connected and, for TLS, after the
 * handshake and certificate verification succeeded. It rejects with a typed error, always with
 * the Node.js failure as `cause`, and never leaves a socket open behind a rejection:
 * `ConnectTimeoutError` (`ERR_CONNECT_TIMEOUT`), `ConnectRefusedError` (`ERR_CONNECT_REFUSED`:
 * refused, unreachable, unresolvable, closed before established), `TlsHandshakeError`
 * (`ERR_TLS_HANDSHAKE`: untrusted or wrong certificate, host name mismatch, plaintext server,
 * refused client certificate, handshake timeout). Over DTLS: `DtlsHandshakeError`
 * (`ERR_DTLS_HANDSHAKE`, with a `reason`), or `ConnectRefusedError` when the host answers that
 * nothing listens on the port.
 *
 * @example
 * ```ts
 * const ch = await new Bootstrap()
 *   .transport('tls')
 *   .options({ tls: { ca }, connectTimeoutMs: 5000 })
 *   .handler((ch) => ch.pipeline
 *     .addLast('frames', new LengthFieldBasedFrameDecoder({ maxFrameLength: 1 << 18, lengthFieldLength: 4 }))
 *     .addLast('prepender', new LengthFieldPrepender({ lengthFieldLength: 4 }))
 *     .addLast('app', new MyHandler()))
 *   .connect(4711, 'localhost')
 * ```
 */
export class Bootstrap extends AbstractBootstrap<BootstrapOptions> {
  private initializer: ChannelInitializer | undefined

  /** The initializer that adds handlers to each new channel before it turns active. */
  handler(initializer: ChannelInitializer): this {
    this.initializer = initializer
    return this
  }

  /**
   * Opens a channel to `host:port` (default host `127.0.0.1`). UDP: a connected datagram socket
   * whose pipeline writes Uint8Arrays to that one peer. DTLS: a {@link DtlsChannel}, once the
   * handshake and the server's certificate (against `ca`, and `servername` or `host`) verified;
   * its messages are the application data records.
   * @throws (rejects) ConnectTimeoutError, ConnectRefusedError, TlsHandshakeError, DtlsHandshakeError
   */
  connect(port: number, host = '127.0.0.1'): Promise<Channel> {
    if (this.kind === 'udp') return this.connectUdp(port, host)
    if (this.kind === 'dtls') return this.connectDtls(port, host)
    return this.connectStream(port, host)
  }

  /**
   * DTLS only: binds a {@link DtlsDatagramChannel} (default port 0, host `0.0.0.0`), an endpoint
   * that is client and server at once, as a node of a cluster is: its pipeline reads and writes
   * `Datagram { data, remote }`, a write to a peer without a session opens one, and peers that open
   * sessions to it are accepted (this needs `tls.key` and `tls.cert`; `tls.requestCert` to require
   * theirs).
   * @throws (rejects) BindError
   */
  bindDtls(port = 0, host = '0.0.0.0'): Promise<DtlsDatagramChannel> {
    const o = this.opts
    const peers = peerSocketsOf(o)
    return bindUdp(port, host, { ...o, reuseAddr: peers !== undefined }, (socket) => {
      const config = dtlsConfig(o.tls, o, socket.address().family, true)
      const ch = new DtlsDatagramChannel(socket, {
        clock: config.clock,
        ...(o.writeBufferWaterMark === undefined ? {} : { writeBufferWaterMark: o.writeBufferWaterMark }),
      })
      ch.endpoint = new DtlsEndpoint(
        socket,
        config,
        {
          accept: true,
          peer: true,
          connected: false,
          maxSessions: o.dtls?.maxSessions ?? 10_000,
          maxPendingHandshakes: o.dtls?.maxPendingHandshakes ?? 256,
          idleTimeoutMs: o.dtls?.idleTimeoutMs ?? 300_000,
        },
        {
          established: (s) => {
            ch.established(s)
          },
          data: (s, d) => {
            ch.data(s, d)
          },
          ended: () => {},
          failed: (s, key, err) => {
            ch.failed(s, key, err)
          },
          readComplete: () => {
            ch.readComplete()
          },
        },
      )
      if (peers !== undefined) ch.peers = new PeerSockets(socket, peers, ch.endpoint.onMessage, ch.onPeerError)
      this.initializer?.(ch)
      ch.start()
      return ch
    })
  }

  private connectDtls(port: number, host: string): Promise<Channel> {
    const o = this.opts
    const address = `${host}:${port}`
    const initializer = this.initializer
    return new Promise<Channel>((resolve, reject) => {
      const socket = createUdpSocket(host, o)
      let settled = false
      let endpoint: DtlsEndpoint | undefined
      let channel: DtlsChannel | undefined
      const fail = (error: Error): void => {
        if (settled) return
        settled = true
        endpoint?.close()
        try {
          socket.close()
        } catch {
          /* closed */
        }
        reject(error)
      }
      socket.on('error', (err: Error) => {
        // ICMP port unreachable reaches a connected UDP socket as ECONNREFUSED.
        if (!settled) {
          fail(new ConnectRefusedError(address, { cause: err }))
          return
        }
        channel?.sessionEnded(err)
      })
      const onConnected = (err?: Error | null): void => {
        if (err) {
          fail(new ConnectRefusedError(address, { cause: err }))
          return
        }
        try {
          const r = socket.remoteAddress()
          const config = dtlsConfig(o.tls, o, r.family, false, host)
          endpoint = new DtlsEndpoint(
            socket,
            config,
            {
              accept: false,
              peer: false,
              connected: true,
              maxSessions: 1,
              maxPendingHandshakes: 1,
              idleTimeoutMs: o.dtls?.idleTimeoutMs ?? 300_000,
            },
            {
              established: (s: DtlsSession) => {
                if (settled) return
                settled = true
                const ch = new DtlsChannel(endpoint as DtlsEndpoint, s, true, {
                  clock: config.clock,
                  ...(o.writeBufferWaterMark === undefined ? {} : { writeBufferWaterMark: o.writeBufferWaterMark }),
                })
                channel = ch
                try {
                  initializer?.(ch)
                } catch (e) {
                  void ch.close()
                  reject(toError(e))
                  return
                }
                ch.start()
                resolve(ch)
              },
              data: (s, d) => {
                ;(s.owner as DtlsChannel | undefined)?.receive(d)
              },
              ended: (s, e) => {
                ;(s.owner as DtlsChannel | undefined)?.sessionEnded(e)
              },
              failed: (s, _key, e: DtlsHandshakeError) => {
                if (s !== undefined) fail(e)
              },
              readComplete: () => {
                channel?.readComplete()
              },
            },
          )
          endpoint.connect({ address: r.address, port: r.port })
        } catch (e) {
          fail(toError(e))
        }
      }
      socket.connect(port, host, onConnected as () => void)
    })
  }

  /**
   * UDP only: binds an unconnected datagram socket (default port 0, host `0.0.0.0`, or `::` for an
   * IPv6 host) whose pipeline reads and writes `Datagram { data, remote }`.
   * @throws (rejects) BindError
   */
  bind(port = 0, host = '0.0.0.0'): Promise<DatagramChannel> {
    if (this.kind !== 'udp')
      return Promise.reject(
        new BindError(`${host}:${port}`, { cause: new Error('Bootstrap.bind is for UDP; use ServerBootstrap for TCP/TLS servers') }),
      )
    const peers = peerSocketsOf(this.opts)
    return bindUdp(port, host, { ...this.opts, reuseAddr: peers !== undefined }, (socket) => this.makeUdpChannel(socket, undefined, peers))
  }

  private makeUdpChannel(
    socket: dgram.Socket,
    remote: { address: string; port: number } | undefined,
    peers?: PeerSocketsOptions,
  ): DatagramChannel {
    const ch = new DatagramChannel(socket, {
      ...(peers === undefined
        ? {}
        : { maxPeerSockets: peers.max, peerReceiveBufferSize: peers.receiveBufferSize, peerSendBufferSize: peers.sendBufferSize }),
      clock: this.opts.clock ?? systemClock,
      ...(this.opts.writeBufferWaterMark === undefined ? {} : { writeBufferWaterMark: this.opts.writeBufferWaterMark }),
      ...(remote === undefined ? {} : { remote }),
    })
    this.initializer?.(ch)
    ch.start()
    return ch
  }

  private connectUdp(port: number, host: string): Promise<Channel> {
    const address = `${host}:${port}`
    return new Promise<Channel>((resolve, reject) => {
      const socket = createUdpSocket(host, this.opts)
      const onError = (err: Error): void => {
        socket.close()
        reject(new ConnectRefusedError(address, { cause: err }))
      }
      socket.once('error', onError)
      // dgram hands a failed connect (e.g. an unresolvable host) to the callback, not to 'error'.
      const onConnected = (err?: Error | null): void => {
        socket.off('error', onError)
        if (err) {
          onError(err)
          return
        }
        const r = socket.remoteAddress()
        try {
          resolve(this.makeUdpChannel(socket, { address: r.address, port: r.port }))
        } catch (err) {
          socket.close()
          reject(toError(err))
        }
      }
      socket.connect(port, host, onConnected as () => void)
    })
  }

  private connectStream(port: number, host: string): Promise<Channel> {
    const kind = this.kind as 'tcp' | 'tls'
    const o = this.opts
    const clock: Clock = o.clock ?? systemClock
    const connectTimeoutMs = o.connectTimeoutMs ?? 30_000
    const handshakeTimeoutMs = o.handshakeTimeoutMs ?? 10_000
    const tlsConfirmMs = o.tlsConfirmMs ?? 1_000
    const address = `${host}:${port}`
    const initializer = this.initializer
    // With refusal notices, this side judges the server's certificate itself (Node would destroy the
    // socket at once), so that it can tell the server why before closing.
    const notices = kind === 'tls' && o.tlsRefusalNotices === true
    const ownCheck = notices && o.tls?.rejectUnauthorized !== false

    return new Promise<Channel>((resolve, reject) => {
      let settled = false
      let tcpUp = false
      let sessionSeen = false
      let secured = false
      let timer: TimerHandle | undefined
      const socket: net.Socket =
        kind === 'tls'
          ? tls.connect({ ...o.tls, ...(ownCheck ? { rejectUnauthorized: false } : {}), port, host })
          : net.connect({ port, host })

      const cleanup = (): void => {
        if (timer !== undefined) clock.clearTimeout(timer)
        timer = undefined
        socket.off('error', onError)
        socket.off('close', onClose)
        socket.off('connect', onConnect)
        socket.off('secureConnect', onSecureConnect)
        socket.off('session', onSession)
      }
      /** `linger`: the socket is ending with a refusal notice, which closes it. */
      const fail = (error: Error, linger = false): void => {
        if (settled) return
        settled = true
        cleanup()
        if (!linger) socket.destroy()
        // A late error of the destroyed socket must not become an uncaught exception.
        socket.on('error', () => {})
        reject(error)
      }
      const handshakeError = (what: string, cause: unknown): TlsHandshakeError =>
        new TlsHandshakeError(`TLS handshake with ${address} failed: ${what}`, { cause })
      const onError = (err: Error): void => {
        fail(kind === 'tls' && tcpUp ? handshakeError(err.message, err) : new ConnectRefusedError(address, { cause: err }))
      }
      /** The server's refusal notice, unread in the socket's buffer: it refused our certificate. */
      const refusedByServer = (): boolean => {
        const notice = notices && secured ? peekRefusalNotice(socket) : undefined
        if (notice === undefined) return false
        const cause = new Error(`the server refused this client's certificate (${describeNotice(notice)})`)
        fail(handshakeError(cause.message, cause))
        return true
      }
      const onClose = (): void => {
        if (refusedByServer()) return
        // TLS 1.3: our side finished, then the server closed instead of confirming: it did not
        // accept this client's certificate (its alert does not reach Node as an error).
        const cause = new Error(
          secured
            ? "the server closed the connection before confirming the handshake (it refused this client's certificate)"
            : 'socket closed before the connection was established',
        )
        fail(kind === 'tls' && tcpUp ? handshakeError(cause.message, cause) : new ConnectRefusedError(address, { cause }))
      }
      const succeed = (): void => {
        if (settled || refusedByServer()) return
        settled = true
        cleanup()
        const ch = newSocketChannel(socket, kind, o, clock)
        try {
          initializer?.(ch)
        } catch (err) {
          socket.destroy()
          reject(toError(err))
          return
        }
        // A notice that comes later (TLS 1.2, or after the session ticket) closes the channel.
        if (notices) ch.pipeline.addFirst('tls-refusal', new TlsRefusalNoticeReader(address, 'server'))
        ch.start()
        resolve(ch)
      }
      const onConnect = (): void => {
        tcpUp = true
        if (timer !== undefined) clock.clearTimeout(timer)
        timer = undefined
        if (kind === 'tcp') {
          succeed()
          return
        }
        timer = clock.setTimeout(() => {
          const cause = new ReadTimeoutError(`no TLS handshake within ${handshakeTimeoutMs} ms`)
          fail(handshakeError(cause.message, cause))
        }, handshakeTimeoutMs)
      }
      const onSecureConnect = (): void => {
        secured = true
        const t = socket as tls.TLSSocket
        if (!t.authorized && ownCheck) {
          const v = verdictOf(t as unknown as TLSSocketLike, o.tls?.servername ?? host)
          sendRefusalNotice(socket, v.verdict, v.text)
          fail(handshakeError(v.text, v.error), true)
          return
        }
        if (!t.authorized && o.tls?.rejectUnauthorized !== false) {
          const cause = t.authorizationError ?? new Error('peer certificate not authorized')
          fail(handshakeError(String(cause instanceof Error ? cause.message : cause), cause))
          return
        }
        if (sessionSeen || tlsConfirmMs <= 0 || t.getProtocol() !== 'TLSv1.3') {
          succeed()
          return
        }
        // TLS 1.3: the server judges our certificate after our side finished; its first session
        // ticket (or its alert, as an error) tells us the verdict.
        if (timer !== undefined) clock.clearTimeout(timer)
        timer = clock.setTimeout(succeed, tlsConfirmMs)
      }
      const onSession = (): void => {
        sessionSeen = true
        // Not from inside the 'session' callback: TLSWrap is mid-read there, and bytes written
        // by code that runs before it returns stay in its encrypted output until the next write.
        if (secured) setImmediate(succeed)
      }

      socket.on('error', onError)
      socket.on('close', onClose)
      socket.once('connect', onConnect)
      if (kind === 'tls') {
        socket.once('secureConnect', onSecureConnect)
        socket.on('session', onSession)
      }
      timer = clock.setTimeout(() => {
        const cause = Object.assign(new Error(`connect ETIMEDOUT ${address}`), { code: 'ETIMEDOUT' })
        fail(new ConnectTimeoutError(address, connectTimeoutMs, { cause }))
      }, connectTimeoutMs)
    })
  }
}

/** The peer sockets a bind's options ask for (`maxPeerSockets` above 0), or undefined. */
function peerSocketsOf(o: BootstrapOptions): PeerSocketsOptions | undefined {
  const max = o.maxPeerSockets ?? 0
  if (max <= 0) return undefined
  return {
    max,
    receiveBufferSize: o.peerReceiveBufferSize ?? o.receiveBufferSize,
    sendBufferSize: o.peerSendBufferSize ?? o.sendBufferSize,
  }
}

/** @internal Creates an udp4 or udp6 socket for `host` with the buffer-size options. */
export function createUdpSocket(
  host: string,
  o: { sendBufferSize?: number | undefined; receiveBufferSize?: number | undefined; reuseAddr?: boolean },
): dgram.Socket {
  return dgram.createSocket({
    type: net.isIPv6(host) ? 'udp6' : 'udp4',
    ...(o.reuseAddr === true ? { reuseAddr: true } : {}),
    ...(o.sendBufferSize === undefined ? {} : { sendBufferSize: o.sendBufferSize }),
    ...(o.receiveBufferSize === undefined ? {} : { recvBufferSize: o.receiveBufferSize }),
  })
}

/** @internal Binds a UDP socket and turns it into a channel with `make`; rejects with BindError. */
export function bindUdp<C>(
  port: number,
  host: string,
  o: { sendBufferSize?: number | undefined; receiveBufferSize?: number | undefined; reuseAddr?: boolean },
  make: (socket: dgram.Socket) => C,
): Promise<C> {
  return new Promise<C>((resolve, reject) => {
    const socket = createUdpSocket(host, o)
    const onError = (err: Error): void => {
      try {
        socket.close()
      } catch {
        /* never bound */
      }
      reject(new BindError(`${host}:${port}`, { cause: err }))
    }
    socket.once('error', onError)
    socket.bind(port, host, () => {
      socket.off('error', onError)
      try {
        resolve(make(socket))
      } catch (err) {
        socket.close()
        reject(toError(err))
      }
    })
  })
}
