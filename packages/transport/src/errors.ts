/**
 * Typed errors of @helios/transport. Every failure has its own class and a stable string `code`
 * that callers may switch on; the message is for humans and may change. Errors that wrap another
 * failure carry it as `cause`.
 *
 * @example
 * ```ts
 * try { await bootstrap.connect(port, host) }
 * catch (err) { if (err instanceof TransportError && err.code === 'ERR_CONNECT_REFUSED') retry() }
 * ```
 */
export class TransportError extends Error {
  /** Stable machine-readable code, e.g. `ERR_FRAME_TOO_LONG`. */
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** A frame's declared length exceeds the configured maximum; raised from the header, before the body is read. */
export class FrameTooLongError extends TransportError {
  /** The length the frame declared, or -1 when the delimiter was not found within the limit. */
  readonly frameLength: number
  /** The configured maximum. */
  readonly maxFrameLength: number
  constructor(frameLength: number, maxFrameLength: number, options?: { cause?: unknown }) {
    super(
      'ERR_FRAME_TOO_LONG',
      frameLength >= 0
        ? `frame length ${frameLength} exceeds maxFrameLength ${maxFrameLength}`
        : `frame exceeds maxFrameLength ${maxFrameLength} (no delimiter found)`,
      options,
    )
    this.frameLength = frameLength
    this.maxFrameLength = maxFrameLength
  }
}

/** The bytes on the wire do not form a valid frame (negative adjusted length, bad header, ...). */
export class CorruptedFrameError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CORRUPTED_FRAME', message, options)
  }
}

/** A connect attempt did not complete within the connect timeout. */
export class ConnectTimeoutError extends TransportError {
  constructor(address: string, timeoutMs: number, options?: { cause?: unknown }) {
    super('ERR_CONNECT_TIMEOUT', `connect to ${address} timed out after ${timeoutMs} ms`, options)
  }
}

/** The peer refused the connection (nothing listens there) or it failed before it was established. */
export class ConnectRefusedError extends TransportError {
  constructor(address: string, options?: { cause?: unknown }) {
    super('ERR_CONNECT_REFUSED', `connect to ${address} refused`, options)
  }
}

/** The TLS handshake failed: untrusted or wrong certificate, plaintext peer, protocol mismatch. */
export class TlsHandshakeError extends TransportError {
  /** The peer's `ip:port`, when known (a server sets it for the connections it refuses). */
  readonly remote: string | undefined

  constructor(message: string, options?: { cause?: unknown; remote?: string | undefined }) {
    super('ERR_TLS_HANDSHAKE', message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.remote = options?.remote
  }
}

/**
 * Why a DTLS handshake failed (the `reason` of a {@link DtlsHandshakeError}): `certificate` (the
 * peer's chain does not verify: untrusted, expired, not yet valid, wrong purpose; `verdict` says
 * which), `hostname` (the server's certificate does not name the host or IP the client asked for),
 * `no-certificate` (a client without a certificate where one is required), `signature` (a
 * handshake signature does not verify with the certificate's key), `finished` (the handshake's
 * integrity check failed), `parameters` (no cipher suite, group or signature scheme in common,
 * no extended master secret), `version` (not DTLS 1.2), `unexpected-message`, `decode` (a
 * malformed handshake message), `alert` (the peer refused with a fatal alert, named in `alert`),
 * `not-dtls` (datagrams that are not DTLS records, e.g. plaintext on a DTLS port), `cookie` (a
 * ClientHello whose cookie does not verify), `timeout` (no completed handshake within the
 * handshake timeout, flights resent with backoff meanwhile), `too-many-handshakes` and
 * `too-many-sessions` (a server at its caps), `closed` (the channel or socket closed first).
 */
export type DtlsHandshakeReason =
  | 'certificate'
  | 'hostname'
  | 'no-certificate'
  | 'signature'
  | 'finished'
  | 'parameters'
  | 'version'
  | 'unexpected-message'
  | 'decode'
  | 'alert'
  | 'not-dtls'
  | 'cookie'
  | 'timeout'
  | 'too-many-handshakes'
  | 'too-many-sessions'
  | 'closed'

/** A DTLS handshake failed or was refused; `reason` says why in a stable word, the message in a sentence. */
export class DtlsHandshakeError extends TransportError {
  /** Why, as a stable word. */
  readonly reason: DtlsHandshakeReason
  /** The peer (`ip:port`), when known. */
  readonly remote: string | undefined
  /** The certificate verdict when `reason` is `certificate` or `hostname`, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`, `CERT_HAS_EXPIRED`. */
  readonly verdict: string | undefined
  /** The alert that ended the handshake (received with reason `alert`, else sent), e.g. `unknown_ca`. */
  readonly alert: string | undefined
  /** True when the peer opened the session (this side was the server, or refused a datagram), false when this side opened it. */
  readonly inbound: boolean | undefined
  constructor(
    reason: DtlsHandshakeReason,
    message: string,
    options: {
      remote?: string | undefined
      verdict?: string | undefined
      alert?: string | undefined
      inbound?: boolean | undefined
      cause?: unknown
    } = {},
  ) {
    super('ERR_DTLS_HANDSHAKE', message, options.cause === undefined ? undefined : { cause: options.cause })
    this.reason = reason
    this.remote = options.remote
    this.verdict = options.verdict
    this.alert = options.alert
    this.inbound = options.inbound
  }
}

/** An operation was attempted on a channel that is closed, or the channel closed while it was pending. */
export class ChannelClosedError extends TransportError {
  constructor(message = 'channel is closed', options?: { cause?: unknown }) {
    super('ERR_CHANNEL_CLOSED', message, options)
  }
}

/** A server could not bind its address (in use, permission denied, bad address). */
export class BindError extends TransportError {
  constructor(address: string, options?: { cause?: unknown }) {
    const why = options?.cause as { code?: unknown; message?: unknown } | undefined
    const detail = typeof why?.code === 'string' ? ` (${why.code})` : typeof why?.message === 'string' ? ` (${why.message})` : ''
    super('ERR_BIND', `cannot bind ${address}${detail}`, options)
  }
}

/** A peer was idle (sent nothing) longer than allowed, e.g. during a handshake or a slow-loris trickle. */
export class ReadTimeoutError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_READ_TIMEOUT', message, options)
  }
}

/** A pipeline operation was invalid: duplicate handler name, unknown handler, non-sharable handler reused. */
export class PipelineError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PIPELINE', message, options)
  }
}

/** A message of a type the channel cannot write reached the head of the pipeline (e.g. a string on a TCP channel). */
export class UnsupportedMessageError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_UNSUPPORTED_MESSAGE', message, options)
  }
}

/** A decoder broke its contract (e.g. produced a message without consuming any bytes). */
export class DecoderError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DECODER', message, options)
  }
}

/** Wraps anything thrown that is not an Error, so `exceptionCaught` always receives an Error. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value
  return new TransportError('ERR_UNKNOWN', `non-error thrown: ${String(value)}`, { cause: value })
}
