import type { Socket } from 'node:net'
import { checkServerIdentity, type TLSSocket } from 'node:tls'
import type { ChannelHandler, ChannelHandlerContext } from '../ChannelHandler.js'
import { TlsHandshakeError } from '../errors.js'

/**
 * The TLS refusal notice (`tlsRefusalNotices`): Node.js verifies a peer's certificate after the
 * TLS handshake and closes the connection without a TLS alert, so the peer cannot tell why. With
 * notices on, the side that refuses writes one line of application data first, over the
 * connection it is about to close (it is encrypted, to the party that presented the certificate):
 *
 *     00 "HELIOS-TLS-REFUSED " <verdict: [A-Z0-9_]{1,64}> " " <text: printable ASCII> 0a
 *
 * at most {@link MAX_NOTICE} bytes; the verdict is OpenSSL's (`CERT_HAS_EXPIRED`,
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`) or Node's (`ERR_TLS_CERT_ALTNAME_INVALID`). The other side,
 * with notices on too, reads it in place of the first bytes of the connection and reports it.
 */
const MAGIC = Buffer.from('\u0000HELIOS-TLS-REFUSED ', 'latin1')
/** Longest notice, newline included. */
export const MAX_NOTICE = 256
/** A refusing side waits this long for its notice to leave before it destroys the socket. */
const LINGER_MS = 1000

/** What the peer said when it refused this side's certificate. */
export interface RefusalNotice {
  readonly verdict: string
  readonly text: string
}

/** The notice for `verdict` (kept to its allowed characters) and `text` (printable ASCII, cut to fit). */
export function encodeRefusalNotice(verdict: string, text: string): Buffer {
  const v = verdict.replace(/[^A-Z0-9_]/g, '').slice(0, 64) || 'UNKNOWN'
  const room = MAX_NOTICE - MAGIC.length - v.length - 2
  const t = printable(text).slice(0, room)
  return Buffer.concat([MAGIC, Buffer.from(`${v} ${t}\n`, 'latin1')])
}

/**
 * Reads a notice at the start of `bytes`: the notice, `'more'` when `bytes` may be the start of
 * one (wait for more), or undefined when they are not one (ordinary data).
 */
export function decodeRefusalNotice(bytes: Uint8Array): RefusalNotice | 'more' | undefined {
  const n = Math.min(bytes.length, MAGIC.length)
  for (let i = 0; i < n; i++) if (bytes[i] !== MAGIC[i]) return undefined
  const end = bytes.indexOf(0x0a, MAGIC.length)
  if (end < 0) return bytes.length < MAX_NOTICE ? 'more' : undefined
  const line = Buffer.from(bytes.buffer, bytes.byteOffset + MAGIC.length, end - MAGIC.length).toString('latin1')
  const m = /^([A-Z0-9_]{1,64}) ?(.*)$/.exec(line)
  if (m === null) return undefined
  return { verdict: m[1] as string, text: printable(m[2] as string) }
}

/** How a report names what the peer said. */
export function describeNotice(n: RefusalNotice): string {
  return n.text === '' ? n.verdict : `${n.verdict}: ${n.text}`
}

/**
 * Refused connections that may linger at once (per process) to get their notice out: they no
 * longer hold a handshake slot, so a flood of refused peers must not keep descriptors open
 * beyond this. Beyond it a refused connection is destroyed at once, without a notice.
 */
export const MAX_LINGERING = 64
let lingering = 0

/**
 * Writes the notice and ends the connection; destroys it if that takes longer than a second, or at
 * once (no notice) when {@link MAX_LINGERING} refused connections linger already.
 */
export function sendRefusalNotice(socket: Socket, verdict: string, text: string): void {
  socket.on('error', () => {})
  if (socket.destroyed) return
  if (lingering >= MAX_LINGERING) {
    socket.destroy()
    return
  }
  lingering++
  const timer = setTimeout(() => socket.destroy(), LINGER_MS)
  timer.unref()
  socket.once('close', () => {
    lingering--
    clearTimeout(timer)
  })
  try {
    socket.end(encodeRefusalNotice(verdict, text))
  } catch {
    socket.destroy()
  }
}

/**
 * The notice waiting unread in a socket's buffer (a client that has not handed the socket to a
 * channel yet), if any; what it read is put back when it is not one.
 */
export function peekRefusalNotice(socket: Socket): RefusalNotice | undefined {
  const chunk = socket.read() as Buffer | null
  if (chunk === null) return undefined
  const notice = decodeRefusalNotice(chunk)
  if (typeof notice === 'object') return notice
  socket.unshift(chunk)
  return undefined
}

/**
 * First handler of a TLS channel with notices on: if the connection starts with a notice, the peer
 * refused this side's certificate: `onNotice` hears it, the error is fired as `exceptionCaught` and
 * the channel closes with it. Anything else is passed on, and the handler leaves the pipeline.
 */
export class TlsRefusalNoticeReader implements ChannelHandler {
  private buffered: Uint8Array | undefined

  constructor(
    private readonly peer: string,
    private readonly who: 'server' | 'client',
    private readonly onNotice?: (error: TlsHandshakeError) => void,
  ) {}

  channelRead(ctx: ChannelHandlerContext, message: unknown): void {
    const chunk = message as Uint8Array
    const bytes = this.buffered === undefined ? chunk : Buffer.concat([this.buffered, chunk])
    const notice = decodeRefusalNotice(bytes)
    if (notice === 'more') {
      this.buffered = bytes
      return
    }
    this.buffered = undefined
    if (notice === undefined) {
      ctx.pipeline.remove(this)
      ctx.fireChannelRead(bytes)
      return
    }
    const error = new TlsHandshakeError(
      `TLS handshake with ${this.peer} failed: the ${this.who} refused our certificate (${describeNotice(notice)})`,
      {
        remote: this.peer,
      },
    )
    this.onNotice?.(error)
    ctx.fireExceptionCaught(error)
    void ctx.channel.close(error)
  }

  channelInactive(ctx: ChannelHandlerContext): void {
    // The start of a notice that never completed is ordinary data after all.
    const bytes = this.buffered
    this.buffered = undefined
    if (bytes !== undefined) ctx.fireChannelRead(bytes)
    ctx.fireChannelInactive()
  }
}

/** True when the peer presented a certificate (in this handshake, or in the session it resumed). */
export function hasPeerCertificate(socket: Pick<TLSSocket, 'getPeerCertificate'>): boolean {
  const cert = socket.getPeerCertificate()
  return cert !== undefined && cert !== null && Object.keys(cert).length > 0
}

/** The verdict and its text of a TLS socket whose peer certificate did not verify (chain, then host name). */
export function verdictOf(socket: TLSSocketLike, host: string | undefined): RefusalNotice & { readonly error: Error } {
  // A string code at run time (typed as an Error by @types/node).
  const code = socket.authorizationError as unknown as string | undefined
  const cert = socket.getPeerCertificate()
  if (cert === undefined || cert === null || Object.keys(cert).length === 0) {
    const error = new Error('the peer sent no certificate')
    return { verdict: 'NO_CERTIFICATE', text: error.message, error }
  }
  const chain = socket._handle?.verifyError?.()
  if (chain instanceof Error)
    return { verdict: String((chain as { code?: unknown }).code ?? code ?? 'UNKNOWN'), text: chain.message, error: chain }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' && host !== undefined) {
    const error = checkServerIdentity(host, cert)
    if (error !== undefined) return { verdict: code, text: error.message, error }
  }
  const error = new Error(String(code ?? 'peer certificate not authorized'))
  return { verdict: String(code ?? 'UNKNOWN'), text: error.message, error }
}

/** What {@link verdictOf} reads of a `TLSSocket` (`_handle.verifyError()` is how Node itself reads the verdict). */
export type TLSSocketLike = Pick<TLSSocket, 'authorizationError' | 'getPeerCertificate'> & {
  readonly _handle?: { verifyError?: () => Error | null } | null
}

/** Printable ASCII only: a peer's words go into logs. */
function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?')
}
