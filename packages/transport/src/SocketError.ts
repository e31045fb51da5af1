import { TransportError } from './errors.js'

/**
 * An I/O error of an established socket (TCP, TLS or UDP): connection reset, broken pipe, a TLS
 * alert after the handshake, a failed send. `cause` is the Node.js error; `syscallCode` its `code`
 * (e.g. `ECONNRESET`). The channel is closed after this error was fired as `exceptionCaught`.
 */
export class SocketError extends TransportError {
  /** The Node.js error code, e.g. `ECONNRESET`, or undefined. */
  readonly syscallCode: string | undefined
  constructor(message: string, options: { cause: unknown }) {
    super('ERR_SOCKET', message, options)
    const code = (options.cause as { code?: unknown } | null | undefined)?.code
    this.syscallCode = typeof code === 'string' ? code : undefined
  }
}
