import { AbstractBootstrap, newSocketChannel } from './internal/AbstractBootstrap.js'
import type * as dgram from 'node:dgram'
import * as net from 'node:net'
import * as tls from 'node:tls'
import { bindUdp } from './Bootstrap.js'
import type { ChannelInitializer, ServerBootstrapOptions } from './BootstrapOptions.js'
import { type Clock, type TimerHandle, systemClock } from './Clock.js'
import { DatagramChannel } from './DatagramChannel.js'
import { ServerChannel } from './ServerChannel.js'
import { SocketChannel, addressOf } from './SocketChannel.js'
import { HandshakeSlots, sourceOf } from './HandshakeSlots.js'
import {
  hasPeerCertificate,
  sendRefusalNotice,
  type TLSSocketLike,
  TlsRefusalNoticeReader,
  verdictOf,
} from './internal/TlsRefusalNotice.js'
import { BindError, ReadTimeoutError, TlsHandshakeError, TransportError, toError } from './errors.js'
import { DtlsChannel } from './DtlsChannel.js'
import { DtlsEndpoint } from './internal/dtls/DtlsEndpoint.js'
import { dtlsConfig } from './internal/dtls/config.js'

interface PendingHandshake {
  timer: TimerHandle | undefined
  /** The peer's address, kept because a destroyed socket forgets it. */
  readonly peer: string
}

/**
 * Fluent set-up of a server: transport kind, options, the server channel's handler and the
 * initializer of every accepted channel.
 *
 * TCP: each accepted connection becomes a {@link SocketChannel}, initialized by `childHandler`
 * and then active. TLS: the same, but only after the handshake (and, with `requestCert`, the client
 * certificate's verification) succeeded; a failed handshake (untrusted or missing client
 * certificate, plaintext peer, timeout) creates no channel: the socket is destroyed and a
 * `TlsHandshakeError` is reported through `onError` and the server pipeline's `exceptionCaught`.
 * At most `maxPendingHandshakes` connections (default 256) may be in their TLS handshake at once,
 * at most `maxPendingHandshakesPerSource` (default half of it) from one source address, shared
 * fairly ({@link HandshakeSlots}: a newcomer from a source holding fewer slots takes the oldest
 * slot of the largest holder), and each for at most `handshakeTimeoutMs` (slow-loris guard).
 * UDP: `bind()` opens one {@link DatagramChannel}, initialized by `childHandler`, and the server
 * channel's `children` holds it.
 * DTLS: one UDP socket; every peer whose handshake succeeds (after the cookie exchange, with its
 * certificate verified when `requestCert`) becomes a {@link DtlsChannel}, initialized by
 * `childHandler`, as a TCP accept does. Failed and refused handshakes (untrusted certificate,
 * plaintext datagrams, bad cookies, the caps `maxPendingHandshakes` and `dtls.maxSessions`) are
 * reported as `DtlsHandshakeError` like TLS failures (refusals of datagrams at most once per
 * source per second); idle sessions are closed after `dtls.idleTimeoutMs`.
 *
 * @example
 * ```ts
 * const server = await new ServerBootstrap()
 *   .transport('tcp')
 *   .options({ backlog: 1024, onError: (e) => log(e) })
 *   .childHandler((ch) => ch.pipeline.addLast('echo', echoHandler))
 *   .bind(0, '127.0.0.1')
 * console.log(server.localAddress?.port)
 * await server.close()
 * ```
 */
export class ServerBootstrap extends AbstractBootstrap<ServerBootstrapOptions> {
  private childInitializer: ChannelInitializer | undefined
  private serverInitializer: ChannelInitializer<ServerChannel> | undefined

  /** Sets up the server channel's own pipeline (it receives `exceptionCaught` for handshake failures). */
  handler(initializer: ChannelInitializer<ServerChannel>): this {
    this.serverInitializer = initializer
    return this
  }

  /** Sets up each accepted channel (for UDP: the bound datagram channel) before it turns active. */
  childHandler(initializer: ChannelInitializer): this {
    this.childInitializer = initializer
    return this
  }

  /**
   * Listens on `host:port` (default `127.0.0.1`; port 0 picks a free one, see `localAddress`).
   * @throws (rejects) BindError when the address cannot be bound
   */
  bind(port = 0, host = '127.0.0.1'): Promise<ServerChannel> {
    if (this.kind === 'udp') return this.bindUdp(port, host)
    if (this.kind === 'dtls') return this.bindDtls(port, host)
    return this.bindStream(port, host)
  }

  private bindDtls(port: number, host: string): Promise<ServerChannel> {
    const o = this.opts
    const childInitializer = this.childInitializer
    return bindUdp(port, host, o, (socket: dgram.Socket) => {
      const config = dtlsConfig(o.tls, o, socket.address().family, true)
      const clock = config.clock
      let endpoint: DtlsEndpoint | undefined
      const stopTransport = async (): Promise<void> => {
        endpoint?.close()
        await new Promise<void>((resolve) => setImmediate(resolve))
        await new Promise<void>((resolve) => {
          try {
            socket.close(() => {
              resolve()
            })
          } catch {
            resolve()
          }
        })
      }
      const a = socket.address()
      const server = new ServerChannel('dtls', clock, addressOf(a.address, a.port, a.family), stopTransport, o.onError)
      let touched: DtlsChannel | undefined
      endpoint = new DtlsEndpoint(
        socket,
        config,
        {
          accept: true,
          peer: false,
          connected: false,
          maxSessions: o.dtls?.maxSessions ?? 10_000,
          maxPendingHandshakes: o.dtls?.maxPendingHandshakes ?? o.maxPendingHandshakes ?? 256,
          idleTimeoutMs: o.dtls?.idleTimeoutMs ?? 300_000,
        },
        {
          established: (s, replaced) => {
            ;(replaced?.owner as DtlsChannel | undefined)?.sessionEnded(
              new TransportError('ERR_DTLS_REPLACED', `the peer ${s.key} opened a new DTLS session`),
            )
            const ch = new DtlsChannel(endpoint as DtlsEndpoint, s, false, {
              clock,
              ...(o.writeBufferWaterMark === undefined ? {} : { writeBufferWaterMark: o.writeBufferWaterMark }),
            })
            try {
              childInitializer?.(ch)
            } catch (err) {
              void ch.close()
              server.reportError(toError(err))
              return
            }
            server.addChild(ch)
            ch.start()
          },
          data: (s, d) => {
            touched = s.owner as DtlsChannel | undefined
            touched?.receive(d)
          },
          ended: (s, e) => {
            ;(s.owner as DtlsChannel | undefined)?.sessionEnded(e)
          },
          failed: (_s, _key, e) => {
            server.handshakeFailures++
            server.reportError(e)
          },
          readComplete: () => {
            const t = touched
            touched = undefined
            t?.readComplete()
          },
        },
      )
      this.serverInitializer?.(server)
      server.start()
      return server
    })
  }

  private bindUdp(port: number, host: string): Promise<ServerChannel> {
    const o = this.opts
    const clock = o.clock ?? systemClock
    return bindUdp(port, host, o, (socket: dgram.Socket) => {
      const child = new DatagramChannel(socket, {
        clock,
        ...(o.writeBufferWaterMark === undefined ? {} : { writeBufferWaterMark: o.writeBufferWaterMark }),
      })
      const server = new ServerChannel('udp', clock, child.localAddress, () => child.close(), o.onError)
      this.serverInitializer?.(server)
      server.start()
      this.childInitializer?.(child)
      server.addChild(child)
      child.start()
      // The datagram socket is the server: when it closes (error), so does the server channel.
      void child.closed.then(() => server.close())
      return server
    })
  }

  private bindStream(port: number, host: string): Promise<ServerChannel> {
    const kind = this.kind as 'tcp' | 'tls'
    const o = this.opts
    const clock: Clock = o.clock ?? systemClock
    const handshakeTimeoutMs = o.handshakeTimeoutMs ?? 10_000
    const childInitializer = this.childInitializer
    const pending = new Map<net.Socket, PendingHandshake>()
    const slots = new HandshakeSlots<net.Socket>({
      max: o.maxPendingHandshakes ?? 256,
      ...(o.maxPendingHandshakesPerSource === undefined ? {} : { maxPerSource: o.maxPendingHandshakesPerSource }),
    })
    let serverChannel: ServerChannel | undefined
    let stopping = false
    // With refusal notices, this server judges client certificates itself (Node would destroy the
    // socket at once), so that it can tell the client why before closing.
    const notices = kind === 'tls' && o.tlsRefusalNotices === true
    const ownCheck = notices && o.tls?.requestCert === true && o.tls.rejectUnauthorized !== false

    const netServer: net.Server =
      kind === 'tls'
        ? // Node's own handshake timer stays as a backstop; ours runs on the injected clock.
          tls.createServer({
            ...o.tls,
            ...(ownCheck ? { rejectUnauthorized: false } : {}),
            handshakeTimeout: Math.max(handshakeTimeoutMs * 2, 1000),
          })
        : net.createServer()

    const accept = (socket: net.Socket): void => {
      if (stopping || serverChannel === undefined) {
        socket.destroy()
        return
      }
      const ch = newSocketChannel(socket, kind, o, clock)
      try {
        childInitializer?.(ch)
      } catch (err) {
        socket.destroy()
        serverChannel.reportError(toError(err))
        return
      }
      if (notices) {
        // The client refused our certificate after its side of the handshake: its notice comes first.
        const server = serverChannel
        ch.pipeline.addFirst(
          'tls-refusal',
          new TlsRefusalNoticeReader(peerOf(socket), 'client', () => {
            server.handshakeFailures++
          }),
        )
      }
      serverChannel.addChild(ch)
      ch.start()
    }

    const settleHandshake = (raw: net.Socket | undefined): boolean => {
      if (raw === undefined) return true
      const p = pending.get(raw)
      if (p === undefined) return false
      if (p.timer !== undefined) clock.clearTimeout(p.timer)
      pending.delete(raw)
      slots.release(raw)
      return true
    }
    /** `linger`: the socket is ending with a refusal notice, which closes it. */
    const handshakeFailed = (raw: net.Socket, error: TlsHandshakeError, linger = false): void => {
      if (!settleHandshake(raw)) return // already reported (e.g. timed out, then reset)
      if (!linger) raw.destroy()
      if (serverChannel === undefined) return
      serverChannel.handshakeFailures++
      serverChannel.reportError(error)
    }
    const peerOf = (s: net.Socket): string => `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`

    if (kind === 'tls') {
      netServer.on('connection', (raw: net.Socket) => {
        raw.on('error', () => {
          /* reported through tlsClientError */
        })
        if (stopping) {
          raw.destroy()
          return
        }
        const peer = peerOf(raw)
        const source = sourceOf(raw.remoteAddress)
        const grant = slots.acquire(source, raw)
        if (!grant.admitted) {
          pending.set(raw, { timer: undefined, peer })
          const cause = new TransportError(
            'ERR_TOO_MANY_HANDSHAKES',
            grant.full === 'source'
              ? `${grant.held} TLS handshakes pending from ${source}, maxPendingHandshakesPerSource is ${slots.maxPerSource}`
              : `${slots.size} TLS handshakes pending (maxPendingHandshakes is ${slots.max}), none of a source holding more than ${source}`,
          )
          handshakeFailed(
            raw,
            new TlsHandshakeError(`connection from ${peer} refused: too many pending TLS handshakes`, { cause, remote: peer }),
          )
          return
        }
        const entry: PendingHandshake = { timer: undefined, peer }
        pending.set(raw, entry)
        if (grant.evicted !== undefined) {
          const { item, source: from } = grant.evicted
          const cause = new TransportError(
            'ERR_TOO_MANY_HANDSHAKES',
            `all ${slots.max} TLS handshake slots taken, ${from} held the most: its oldest made room for ${source}`,
          )
          const evictedPeer = pending.get(item)?.peer ?? from
          handshakeFailed(
            item,
            new TlsHandshakeError(`TLS handshake with ${evictedPeer} ended: too many pending TLS handshakes`, {
              cause,
              remote: evictedPeer,
            }),
          )
        }
        entry.timer = clock.setTimeout(() => {
          entry.timer = undefined
          const cause = new ReadTimeoutError(`no TLS handshake within ${handshakeTimeoutMs} ms`)
          handshakeFailed(
            raw,
            new TlsHandshakeError(`TLS handshake with ${entry.peer} timed out after ${handshakeTimeoutMs} ms`, {
              cause,
              remote: entry.peer,
            }),
          )
        }, handshakeTimeoutMs)
        raw.once('close', () => {
          // A client certificate that failed verification closes the socket first and is
          // reported by 'tlsClientError' right after: let that one say why.
          setImmediate(() => {
            if (!pending.has(raw)) return
            const cause = new Error('peer closed the connection during the TLS handshake')
            handshakeFailed(
              raw,
              new TlsHandshakeError(`TLS handshake with ${entry.peer} failed: ${cause.message}`, { cause, remote: entry.peer }),
            )
          })
        })
      })
      netServer.on('secureConnection', (socket: tls.TLSSocket) => {
        const raw = parentOf(socket)
        if (raw !== undefined && !pending.has(raw)) {
          socket.destroy()
          return
        } // timed out or refused meanwhile
        // A resumed TLS 1.3 session counts as verified even when its first connection presented no
        // certificate (OpenSSL finds nothing to verify): with our own check, no certificate is a refusal.
        if (ownCheck && (!socket.authorized || !hasPeerCertificate(socket))) {
          const peer = (raw !== undefined ? pending.get(raw)?.peer : undefined) ?? peerOf(socket)
          const v = verdictOf(socket as unknown as TLSSocketLike, undefined)
          sendRefusalNotice(socket, v.verdict, v.text)
          const error = new TlsHandshakeError(`TLS handshake with ${peer} failed: client certificate refused (${v.verdict})`, {
            cause: v.error,
            remote: peer,
          })
          if (raw !== undefined) handshakeFailed(raw, error, true)
          else if (serverChannel !== undefined) {
            serverChannel.handshakeFailures++
            serverChannel.reportError(error)
          }
          return
        }
        settleHandshake(raw)
        accept(socket)
      })
      netServer.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
        const raw = parentOf(socket) ?? socket
        socket.destroy()
        const peer = pending.get(raw)?.peer ?? peerOf(raw)
        // A client certificate refused by verification surfaces as a hang-up: name the verdict.
        const verdict = (socket as tls.TLSSocket & { authorizationError?: string }).authorizationError
        const what = verdict !== undefined && verdict !== null ? `client certificate refused (${verdict})` : err.message
        handshakeFailed(raw, new TlsHandshakeError(`TLS handshake with ${peer} failed: ${what}`, { cause: err, remote: peer }))
      })
    } else {
      netServer.on('connection', accept)
    }

    const stopTransport = (): Promise<void> =>
      new Promise<void>((resolve) => {
        stopping = true
        for (const [raw, p] of pending) {
          if (p.timer !== undefined) clock.clearTimeout(p.timer)
          raw.destroy()
        }
        pending.clear()
        slots.clear()
        netServer.close(() => {
          resolve()
        })
      })

    return new Promise<ServerChannel>((resolve, reject) => {
      const onListenError = (err: Error): void => {
        reject(new BindError(`${host}:${port}`, { cause: err }))
      }
      netServer.once('error', onListenError)
      netServer.listen({ port, host, ...(o.backlog === undefined ? {} : { backlog: o.backlog }) }, () => {
        netServer.off('error', onListenError)
        const a = netServer.address() as net.AddressInfo
        const server = new ServerChannel(kind, clock, addressOf(a.address, a.port, a.family), stopTransport, o.onError)
        netServer.on('error', (err: Error) => {
          server.reportError(new BindError(`${host}:${port}`, { cause: err }))
        })
        serverChannel = server
        try {
          this.serverInitializer?.(server)
        } catch (err) {
          void server.close()
          reject(toError(err))
          return
        }
        server.start()
        resolve(server)
      })
    })
  }
}

/** The raw TCP socket under a server-side TLSSocket (Node keeps it as `_parent`). */
function parentOf(socket: tls.TLSSocket): net.Socket | undefined {
  const p = (socket as unknown as { _parent?: unknown })._parent
  return p instanceof net.Socket ? p : undefined
}
