import { AbstractBootstrap, newSocketChannel } from './internal/AbstractBootstrap.js'
import * as dgram from 'node:dgram'
import * as net from 'node:net'
import * as tls from 'node:tls'
import type { Channel } from './Channel.js'
import type { BootstrapOptions, ChannelInitializer } from './BootstrapOptions.js'
import { type Clock, type TimerHandle, systemClock } from './Clock.js'
import { DatagramChannel } from './DatagramChannel.js'
import { BindError, ConnectRefusedError, ConnectTimeoutError, ReadTimeoutError, TlsHandshakeError, toError } from './errors.js'

/**
 * Fluent set-up of client channels: transport kind, options and the channel initializer.
 *
 * `connect()` resolves with an active channel only after TCP connected and, for TLS, after the
 * handshake and certificate verification succeeded. It rejects with a typed error, always with
 * the Node.js failure as `cause`, and never leaves a socket open behind a rejection:
 * `ConnectTimeoutError` (`ERR_CONNECT_TIMEOUT`), `ConnectRefusedError` (`ERR_CONNECT_REFUSED`:
 * refused, unreachable, unresolvable, closed before established), `TlsHandshakeError`
 * (`ERR_TLS_HANDSHAKE`: untrusted or wrong certificate, host name mismatch, plaintext server,
 * refused client certificate, handshake timeout).
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
   * whose pipeline writes Uint8Arrays to that one peer.
   * @throws (rejects) ConnectTimeoutError, ConnectRefusedError, TlsHandshakeError
   */
  connect(port: number, host = '127.0.0.1'): Promise<Channel> {
    if (this.kind === 'udp') return this.connectUdp(port, host)
    return this.connectStream(port, host)
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
    return bindUdp(port, host, this.opts, (socket) => this.makeUdpChannel(socket, undefined))
  }

  private makeUdpChannel(socket: dgram.Socket, remote: { address: string; port: number } | undefined): DatagramChannel {
    const ch = new DatagramChannel(socket, {
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

    return new Promise<Channel>((resolve, reject) => {
      let settled = false
      let tcpUp = false
      let sessionSeen = false
      let secured = false
      let timer: TimerHandle | undefined
      const socket: net.Socket = kind === 'tls' ? tls.connect({ ...o.tls, port, host }) : net.connect({ port, host })

      const cleanup = (): void => {
        if (timer !== undefined) clock.clearTimeout(timer)
        timer = undefined
        socket.off('error', onError)
        socket.off('close', onClose)
        socket.off('connect', onConnect)
        socket.off('secureConnect', onSecureConnect)
        socket.off('session', onSession)
      }
      const fail = (error: Error): void => {
        if (settled) return
        settled = true
        cleanup()
        socket.destroy()
        // A late error of the destroyed socket must not become an uncaught exception.
        socket.on('error', () => {})
        reject(error)
      }
      const handshakeError = (what: string, cause: unknown): TlsHandshakeError =>
        new TlsHandshakeError(`TLS handshake with ${address} failed: ${what}`, { cause })
      const onError = (err: Error): void => {
        fail(kind === 'tls' && tcpUp ? handshakeError(err.message, err) : new ConnectRefusedError(address, { cause: err }))
      }
      const onClose = (): void => {
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
        if (settled) return
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

/** @internal Creates an udp4 or udp6 socket for `host` with the buffer-size options. */
export function createUdpSocket(host: string, o: { sendBufferSize?: number; receiveBufferSize?: number }): dgram.Socket {
  return dgram.createSocket({
    type: net.isIPv6(host) ? 'udp6' : 'udp4',
    ...(o.sendBufferSize === undefined ? {} : { sendBufferSize: o.sendBufferSize }),
    ...(o.receiveBufferSize === undefined ? {} : { recvBufferSize: o.receiveBufferSize }),
  })
}

/** @internal Binds a UDP socket and turns it into a channel with `make`; rejects with BindError. */
export function bindUdp<C>(
  port: number,
  host: string,
  o: { sendBufferSize?: number; receiveBufferSize?: number },
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
