import type { Socket } from 'node:net'
import type { CommonChannelOptions, TransportKind } from '../BootstrapOptions.js'
import type { Clock } from '../Clock.js'
import { SocketChannel } from '../SocketChannel.js'

/**
 * @internal What a client and a server bootstrap share: the transport kind and the options set
 * fluently. Options are merged as they are set; the subclass reads them when it connects or binds.
 */
export abstract class AbstractBootstrap<O extends object> {
  /** The transport chosen with {@link AbstractBootstrap.transport}. */
  protected kind: TransportKind = 'tcp'
  /** The options set so far. */
  protected readonly opts: { -readonly [K in keyof O]: O[K] } = {} as { -readonly [K in keyof O]: O[K] }

  /** Chooses TCP (default), TLS or UDP. */
  transport(kind: TransportKind): this {
    this.kind = kind
    return this
  }

  /** Sets one option. */
  option<K extends keyof O>(key: K, value: O[K]): this {
    this.opts[key] = value
    return this
  }

  /** Sets several options (merged over those set before). */
  options(options: O): this {
    Object.assign(this.opts, options)
    return this
  }
}

/**
 * @internal A connected (or accepted) socket with the per-connection options applied (keep-alive
 * now, TCP_NODELAY at the channel's first write), wrapped in a channel that is not yet started.
 */
export function newSocketChannel(socket: Socket, kind: 'tcp' | 'tls', o: CommonChannelOptions, clock: Clock): SocketChannel {
  if (o.keepAlive === true) socket.setKeepAlive(true, o.keepAliveInitialDelayMs ?? 0)
  return new SocketChannel(socket, kind, {
    clock,
    noDelay: o.noDelay !== false,
    ...(o.writeBufferWaterMark === undefined ? {} : { writeBufferWaterMark: o.writeBufferWaterMark }),
  })
}
