import type { X509Certificate } from 'node:crypto'
import type { Socket as UdpSocket } from 'node:dgram'
import type { Datagram, SocketAddress } from './Channel.js'
import type { WriteCallback } from './ChannelHandler.js'
import { unsupported } from './ChannelPipeline.js'
import { type Clock, systemClock } from './Clock.js'
import { ChannelClosedError, type DtlsHandshakeError, TransportError } from './errors.js'
import { AbstractChannel, DEFAULT_WATER_MARK, type WriteBufferWaterMark } from './internal/AbstractChannel.js'
import type { DtlsEndpoint, EndpointStats } from './internal/dtls/DtlsEndpoint.js'
import type { DtlsSession } from './internal/dtls/Session.js'
import { recordOverhead } from './internal/dtls/crypto.js'
import { PeerSocketChannel } from './internal/PeerSocketChannel.js'
import { MAX_PLAINTEXT } from './internal/dtls/wire.js'
import { addressOf } from './SocketChannel.js'
import { SocketError } from './SocketError.js'

/** Options of the DTLS channels; bootstraps fill them from their own options. */
export interface DtlsChannelOptions {
  /** Time source of its timers. Default the real clock. */
  readonly clock?: Clock
  /** Outbound buffer watermarks. Default 32 KiB / 64 KiB. */
  readonly writeBufferWaterMark?: WriteBufferWaterMark
}

/** A message larger than one DTLS record can carry within the configured MTU. */
export class DtlsRecordTooLargeError extends TransportError {
  /** The message's size. */
  readonly size: number
  /** The largest application payload of one record. */
  readonly maxPlaintext: number
  constructor(size: number, maxPlaintext: number) {
    super(
      'ERR_DTLS_RECORD_TOO_LARGE',
      `a message of ${size} bytes does not fit in one DTLS record (at most ${maxPlaintext} bytes within the MTU; raise dtls.mtu or split it)`,
    )
    this.size = size
    this.maxPlaintext = maxPlaintext
  }
}

/** Packs sealed records into datagrams of at most `max` bytes and sends them, with the callbacks of what each carries. */
function sendRecords(
  endpoint: DtlsEndpoint,
  session: DtlsSession,
  records: Buffer[],
  callbacks: (WriteCallback | undefined)[],
  max: number,
  sent: (bytes: number, err: Error | null, cbs: WriteCallback[] | undefined) => void,
): void {
  let batch: Buffer[] = []
  let bytes = 0
  let cbs: WriteCallback[] | undefined
  const go = (): void => {
    const data = batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch, bytes)
    const size = bytes
    const mine = cbs
    endpoint.send(session, data, (err) => {
      sent(size, err, mine)
    })
    batch = []
    bytes = 0
    cbs = undefined
  }
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as Buffer
    if (bytes > 0 && bytes + r.byteLength > max) go()
    batch.push(r)
    bytes += r.byteLength
    const cb = callbacks[i]
    if (cb !== undefined) (cbs ??= []).push(cb)
  }
  if (batch.length > 0) go()
}

/**
 * One DTLS 1.2 session with one peer: what {@link Bootstrap.connect} returns over `'dtls'` and
 * what a DTLS {@link ServerBootstrap} hands out per peer (like a TCP accept). It is active once
 * the handshake and certificate verification succeeded.
 *
 * - Inbound: each application data record is fired as `channelRead(Buffer)`, then
 *   `channelReadComplete` after each datagram.
 * - Outbound: messages are `Uint8Array`s, each one record (at most {@link maxPlaintext} bytes:
 *   the datagram size less the record's overhead; larger ones fail with
 *   `ERR_DTLS_RECORD_TOO_LARGE`). A flush packs consecutive records into datagrams up to the MTU.
 * - Datagram semantics: records may be lost or reordered (never duplicated: the replay window
 *   drops repeats); nothing is retransmitted after the handshake.
 * - Close: `close()` sends a close_notify alert; the peer's close_notify closes the channel; a
 *   fatal alert closes it with a `SocketError`; a session idle longer than `dtls.idleTimeoutMs`
 *   closes with `ReadTimeoutError`. While reads are suspended, records are dropped and counted.
 */
export class DtlsChannel extends AbstractChannel {
  /** The UDP socket (shared by every session of a server). */
  readonly socket: UdpSocket
  /** The local end. */
  readonly localAddress: SocketAddress | undefined
  /** The peer. */
  readonly remoteAddress: SocketAddress | undefined
  /** Records received while reads were suspended (dropped). */
  droppedWhileSuspended = 0

  private started = false
  private done = false
  private inFlight = 0
  private readonly endpoint: DtlsEndpoint
  private readonly session: DtlsSession
  private readonly ownsSocket: boolean

  /** @internal Created by the bootstraps for an established session. */
  constructor(endpoint: DtlsEndpoint, session: DtlsSession, ownsSocket: boolean, options: DtlsChannelOptions = {}) {
    super('dtls', options.clock ?? systemClock, options.writeBufferWaterMark ?? DEFAULT_WATER_MARK)
    this.endpoint = endpoint
    this.session = session
    this.ownsSocket = ownsSocket
    this.socket = endpoint.socket
    const a = endpoint.socket.address()
    this.localAddress = addressOf(a.address, a.port, a.family)
    this.remoteAddress = session.remote
    session.owner = this
  }

  /** The peer's certificate, verified (undefined when it presented none, allowed only without `requestCert`). */
  get peerCertificate(): X509Certificate | undefined {
    return this.session.peerCertificate
  }
  /** The negotiated cipher suite, e.g. `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`. */
  get cipherSuite(): string | undefined {
    return this.session.suite?.name
  }
  /** The largest message one write may carry (one record within the MTU). */
  get maxPlaintext(): number {
    return this.session.maxPlaintext
  }
  /** Records of the peer dropped because they did not authenticate or were replays. */
  get rejectedRecords(): number {
    return this.session.rejectedRecords
  }
  /** How long the handshake took, in ms. */
  get handshakeMs(): number {
    return this.session.establishedAt - this.session.startedAt
  }

  /** Fires `channelActive`. */
  start(): void {
    if (this.started) return
    this.started = true
    if (this.session.state !== 'established') {
      this.sessionEnded(undefined)
      return
    }
    this.activate()
  }

  /** @internal Application data of the session. */
  receive(data: Buffer): void {
    if (!this.started || this.done || this.isClosing) return
    if (this.isReadSuspended) {
      this.droppedWhileSuspended++
      return
    }
    this.pipeline.fireChannelRead(data)
  }

  /** @internal The end of a datagram's records. */
  readComplete(): void {
    if (this.started && !this.isClosing) this.pipeline.fireChannelReadComplete()
  }

  /** @internal The session ended (the peer's close_notify, a fatal alert, idle expiry, replaced by a new one). */
  sessionEnded(error: Error | undefined): void {
    if (this.done) return
    const e =
      error === undefined || error instanceof TransportError
        ? error
        : new SocketError(`dtls session ended: ${error.message}`, { cause: error })
    if (e !== undefined && this.started && !this.isClosing) this.pipeline.fireExceptionCaught(e)
    void this.close(e)
  }

  protected messageSize(message: unknown): number {
    if (!(message instanceof Uint8Array)) throw unsupported(message, 'Uint8Array')
    const max = this.session.maxPlaintext
    if (message.byteLength > max) throw new DtlsRecordTooLargeError(message.byteLength, max)
    return message.byteLength
  }

  protected doFlush(messages: readonly unknown[], callbacks: readonly (WriteCallback | undefined)[], count: number): void {
    const s = this.session
    if (s.state !== 'established') {
      for (let i = 0; i < count; i++) callbacks[i]?.(new ChannelClosedError('the DTLS session ended'))
      return
    }
    const records: Buffer[] = new Array(count)
    const cbs: (WriteCallback | undefined)[] = new Array(count)
    for (let i = 0; i < count; i++) {
      const r = s.seal(messages[i] as Uint8Array)
      records[i] = r
      cbs[i] = callbacks[i]
      this.inFlight += r.byteLength
    }
    sendRecords(this.endpoint, s, records, cbs, this.endpoint.config.maxDatagram, this.onSent)
  }

  private readonly onSent = (bytes: number, err: Error | null, cbs: WriteCallback[] | undefined): void => {
    this.inFlight -= bytes
    if (cbs !== undefined) for (const cb of cbs) cb(err ?? undefined)
    else if (err !== null && !this.done && !this.isClosing)
      this.pipeline.fireExceptionCaught(new SocketError(`dtls send failed: ${err.message}`, { cause: err }))
    this.transportDrained()
  }

  protected override transportPendingBytes(): number {
    return this.inFlight
  }

  protected doClose(): void {
    if (this.done) return
    this.done = true
    const finish = (): void => {
      this.endpoint.remove(this.session)
      if (this.ownsSocket) {
        this.endpoint.close()
        try {
          this.socket.close(() => {
            this.closeCompleted()
          })
        } catch {
          this.closeCompleted()
        }
        return
      }
      this.closeCompleted()
    }
    if (this.session.state === 'closed') {
      finish()
      return
    }
    this.session.close(undefined, finish)
  }

  /** Records are dropped (and counted) while reads are suspended: DTLS, like UDP, has no backpressure. */
  protected doSuspendRead(): void {}
  /** Records are delivered again. */
  protected doResumeRead(): void {}
}

/** A write waiting for a handshake with its destination. */
interface Waiting {
  readonly data: Uint8Array
  readonly callback: WriteCallback | undefined
}

/** Writes queued per destination while its handshake runs, at most (bytes). */
const QUEUE_BYTES = 1024 * 1024
/** After a failed handshake, writes to that peer fail at once for this long (no handshake storms). */
const FAILURE_HOLD_MS = 1000

/**
 * A DTLS endpoint that is server and client at once on one UDP socket, as a node of a cluster is:
 * what {@link Bootstrap.bindDtls} returns. Its pipeline carries {@link Datagram}s of application
 * data, as a UDP channel's does: inbound `{ data, remote }` from a session with `remote`;
 * outbound `{ data, remote }` goes into the session with `remote`, which is opened (this side as
 * the client, its certificate verified against `remote`'s address or `servername`) when there is
 * none; writes wait (up to 1 MiB per peer) for its handshake. Peers that open sessions to it are
 * accepted as by a DTLS server (cookie exchange, `requestCert`). When both sides open a session to
 * each other at once, the larger ClientHello random keeps the client role.
 *
 * A failed handshake fails the writes that waited for it and is fired as `exceptionCaught`
 * (a {@link DtlsHandshakeError}) without closing the channel; so is a refused datagram (rate
 * limited). A protected record from a peer without a session (it restarted and lost it) makes
 * this side open a new session to it, at most once a second.
 */
export class DtlsDatagramChannel extends PeerSocketChannel {
  /** The UDP socket. */
  readonly socket: UdpSocket
  /** The bound address. */
  readonly localAddress: SocketAddress | undefined
  /** Always undefined: every datagram names its peer. */
  readonly remoteAddress: SocketAddress | undefined = undefined
  /** Records received while reads were suspended (dropped). */
  droppedWhileSuspended = 0
  private started = false
  private done = false
  private inFlight = 0
  private readonly waiting = new Map<string, { items: Waiting[]; bytes: number }>()
  private readonly failures = new Map<string, { at: number; error: DtlsHandshakeError }>()
  /** @internal */
  endpoint!: DtlsEndpoint

  /** @internal Created by {@link Bootstrap.bindDtls}; `attach` gives it its endpoint. */
  constructor(socket: UdpSocket, options: DtlsChannelOptions = {}) {
    super('dtls', options.clock ?? systemClock, options.writeBufferWaterMark ?? DEFAULT_WATER_MARK)
    this.socket = socket
    const a = socket.address()
    this.localAddress = addressOf(a.address, a.port, a.family)
    socket.on('close', this.onSocketClose)
  }

  /** Sessions now (in handshake or established). */
  get sessionCount(): number {
    return this.endpoint.sessions.size
  }
  /** The endpoint's counters (refused datagrams, cookies, handshake failures, expired sessions). */
  get stats(): Readonly<EndpointStats> {
    return this.endpoint.stats
  }
  /** The largest message one write may carry (one record within the MTU). */
  get maxPlaintext(): number {
    return Math.min(MAX_PLAINTEXT, this.endpoint.config.maxDatagram - recordOverhead(undefined))
  }
  /** The verified certificate of the peer at `remote`, when a session with it is established. */
  peerCertificate(remote: SocketAddress): X509Certificate | undefined {
    const s = this.endpoint.session(remote)
    return s?.state === 'established' ? s.peerCertificate : undefined
  }
  /** True when a session with `remote` is established. */
  isEstablished(remote: SocketAddress): boolean {
    return this.endpoint.session(remote)?.state === 'established'
  }

  /** Starts receiving and fires `channelActive`. */
  start(): void {
    if (this.started) return
    this.started = true
    this.activate()
  }

  // ------------------------------------------------------------------------- endpoint events

  /** @internal */
  established(session: DtlsSession): void {
    this.failures.delete(session.key)
    const w = this.waiting.get(session.key)
    if (w === undefined) return
    this.waiting.delete(session.key)
    this.inFlight -= w.bytes
    this.sendTo(
      session,
      w.items.map((i) => i.data),
      w.items.map((i) => i.callback),
    )
    this.transportDrained()
  }

  /** @internal */
  data(session: DtlsSession, plaintext: Buffer): void {
    if (!this.started || this.isClosing) return
    if (this.isReadSuspended) {
      this.droppedWhileSuspended++
      return
    }
    this.pipeline.fireChannelRead({ data: plaintext, remote: session.remote } satisfies Datagram)
  }

  /** @internal */
  readComplete(): void {
    if (this.started && !this.isClosing) this.pipeline.fireChannelReadComplete()
  }

  /** @internal A handshake failed or a datagram was refused. */
  failed(session: DtlsSession | undefined, key: string, error: DtlsHandshakeError): void {
    if (session !== undefined) {
      if (this.failures.size >= 1024) this.failures.delete(this.failures.keys().next().value as string)
      this.failures.set(key, { at: this.clock.now(), error })
      const w = this.waiting.get(key)
      if (w !== undefined) {
        this.waiting.delete(key)
        this.inFlight -= w.bytes
        for (const i of w.items) this.failWriteWith(i.callback, error)
        this.transportDrained()
      }
    }
    if (this.started && !this.isClosing) this.pipeline.fireExceptionCaught(error)
  }

  // ---------------------------------------------------------------------------------- writes

  protected messageSize(message: unknown): number {
    if (!isDatagram(message)) throw unsupported(message, 'a Datagram { data, remote }')
    const max = this.maxPlaintext
    if (message.data.byteLength > max) throw new DtlsRecordTooLargeError(message.data.byteLength, max)
    return message.data.byteLength
  }

  protected doFlush(messages: readonly unknown[], callbacks: readonly (WriteCallback | undefined)[], count: number): void {
    // Consecutive datagrams to the same peer are sealed and packed together.
    let i = 0
    while (i < count) {
      const first = messages[i] as Datagram
      const remote = first.remote
      let j = i + 1
      while (j < count && sameAddress((messages[j] as Datagram).remote, remote)) j++
      const datas: Uint8Array[] = []
      const cbs: (WriteCallback | undefined)[] = []
      for (let k = i; k < j; k++) {
        datas.push((messages[k] as Datagram).data)
        cbs.push(callbacks[k])
      }
      this.writeTo(remote, datas, cbs)
      i = j
    }
  }

  private writeTo(remote: SocketAddress, datas: Uint8Array[], cbs: (WriteCallback | undefined)[]): void {
    const key = `${remote.address}:${remote.port}`
    let s = this.endpoint.session(remote)
    if (s?.state === 'established') {
      this.sendTo(s, datas, cbs)
      return
    }
    if (s === undefined) {
      const f = this.failures.get(key)
      if (f !== undefined && this.clock.now() - f.at < FAILURE_HOLD_MS) {
        for (const cb of cbs) this.failWriteWith(cb, f.error)
        return
      }
      try {
        s = this.endpoint.connect(remote)
      } catch (err) {
        for (const cb of cbs) this.failWriteWith(cb, err as Error)
        if (this.started && !this.isClosing) this.pipeline.fireExceptionCaught(err as Error)
        return
      }
      if (s.state === 'established') {
        this.sendTo(s, datas, cbs)
        return
      }
    }
    let w = this.waiting.get(key)
    if (w === undefined) {
      w = { items: [], bytes: 0 }
      this.waiting.set(key, w)
    }
    for (let k = 0; k < datas.length; k++) {
      const d = datas[k] as Uint8Array
      if (w.bytes + d.byteLength > QUEUE_BYTES) {
        this.failWriteWith(
          cbs[k],
          new TransportError('ERR_DTLS_QUEUE_FULL', `${QUEUE_BYTES} bytes already wait for the DTLS handshake with ${key}`),
        )
        continue
      }
      // Copied: the caller may reuse its buffer once write() returned.
      w.items.push({ data: Buffer.from(d), callback: cbs[k] })
      w.bytes += d.byteLength
      this.inFlight += d.byteLength
    }
  }

  private sendTo(s: DtlsSession, datas: Uint8Array[], cbs: (WriteCallback | undefined)[]): void {
    const records: Buffer[] = new Array(datas.length)
    for (let k = 0; k < datas.length; k++) {
      const r = s.seal(datas[k] as Uint8Array)
      records[k] = r
      this.inFlight += r.byteLength
    }
    sendRecords(this.endpoint, s, records, cbs, this.endpoint.config.maxDatagram, this.onSent)
  }

  private readonly onSent = (bytes: number, err: Error | null, cbs: WriteCallback[] | undefined): void => {
    this.inFlight -= bytes
    if (cbs !== undefined) for (const cb of cbs) cb(err ?? undefined)
    else if (err !== null && !this.isClosing)
      this.pipeline.fireExceptionCaught(new SocketError(`dtls send failed: ${err.message}`, { cause: err }))
    this.transportDrained()
  }

  private failWriteWith(cb: WriteCallback | undefined, error: Error): void {
    if (cb === undefined) {
      this.failedWrites++
      return
    }
    try {
      cb(error)
    } catch (err) {
      this.pipeline.reportUnhandled('error', err)
    }
  }

  protected override transportPendingBytes(): number {
    return this.inFlight
  }

  private readonly onSocketClose = (): void => {
    // Closed from outside too (the public socket): its peer sockets must not outlive it on the port.
    this.peers?.closeAll()
    this.done = true
    this.closeCompleted()
  }

  protected doClose(): void {
    this.peers?.closeAll()
    if (this.done) return
    for (const [key, w] of this.waiting)
      for (const i of w.items)
        this.failWriteWith(i.callback, new ChannelClosedError(`closed before the DTLS handshake with ${key} finished`))
    this.waiting.clear()
    // close_notify to every established peer, then the socket once those left.
    this.endpoint.close()
    setImmediate(() => {
      try {
        this.socket.close()
      } catch {
        this.onSocketClose()
      }
    })
  }

  /** Records are dropped (and counted) while reads are suspended. */
  protected doSuspendRead(): void {}
  /** Records are delivered again. */
  protected doResumeRead(): void {}
}

function sameAddress(a: SocketAddress, b: SocketAddress): boolean {
  return a.port === b.port && a.address === b.address
}

function isDatagram(m: unknown): m is Datagram {
  if (typeof m !== 'object' || m === null) return false
  const d = m as Partial<Datagram>
  return (
    d.data instanceof Uint8Array &&
    typeof d.remote === 'object' &&
    d.remote !== null &&
    typeof d.remote.port === 'number' &&
    typeof d.remote.address === 'string'
  )
}
