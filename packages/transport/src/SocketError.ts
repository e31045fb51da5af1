import { TransportError } from './errors.js'

/**
 * An I/O error of an established socket (TCP, TLS or UDP): connection reset, broken pipe, a TLS
 * alert after the handshake, a failed send. `cause` is the Node.js error; `syscallCode` its `code`
 * (e.g. `ECONNRESET`). A TCP or TLS channel is closed after this error was fired as
 * `exceptionCaught`; a UDP or DTLS channel stays open (one peer's error must not stop the others).
 */
export class SocketError extends TransportError {
  /** The Node.js error code, e.g. `ECONNRESET`, or undefined. */
  readonly syscallCode: string | undefined
  /**
   * The one peer (`ip:port`) the error is about, when a datagram channel knows it: the peer
   * socket of that peer reported it (`ECONNREFUSED`: the peer's port answered with an ICMP port
   * unreachable, so nothing listens there any more).
   */
  readonly remote: string | undefined
  constructor(message: string, options: { cause: unknown; remote?: string | undefined }) {
    super('ERR_SOCKET', message, { cause: options.cause })
    const code = (options.cause as { code?: unknown } | null | undefined)?.code
    this.syscallCode = typeof code === 'string' ? code : undefined
    this.remote = options.remote
  }
}
