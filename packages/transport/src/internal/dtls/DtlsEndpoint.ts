/*
 * A DTLS endpoint: one UDP socket and the DTLS sessions on it, keyed by the peer's ip:port. It
 * parses every datagram into records (anything that is not DTLS is dropped and reported), answers
 * ClientHellos with the stateless cookie exchange (no state and no crypto before the source
 * address proved it receives what we send), enforces the caps (sessions in handshake, sessions in
 * all), expires idle sessions, and routes records to their session.
 *
 * The same endpoint serves three uses: a server (ServerBootstrap: sessions become child
 * channels), a client (Bootstrap.connect: one session on a connected socket) and a peer
 * (Bootstrap.bind: server and client on one socket, as a node of an actor system is).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram'
import type { SocketAddress } from '../../Channel.js'
import type { TimerHandle } from '../../Clock.js'
import { DtlsHandshakeError, ReadTimeoutError } from '../../errors.js'
import { plainRecord } from './crypto.js'
import { type ClientHello, type DtlsConfig, DtlsSession, type RecordIn, type SessionHost, parseClientHello } from './Session.js'
import { ContentType, DTLS_1_0, HANDSHAKE_HEADER, HandshakeType, MAX_RECORD_PAYLOAD, RECORD_HEADER, u16, vec8 } from './wire.js'

/** How an endpoint behaves (see the file comment). */
export interface EndpointOptions {
  /** Answer ClientHellos (server and peer). */
  readonly accept: boolean
  /** Peer: a protected record from an address without a session starts a handshake to it (the peer lost its session: it restarted). */
  readonly peer: boolean
  /** The socket is connected to its one peer (client). */
  readonly connected: boolean
  /** Sessions (in handshake or established), at most. */
  readonly maxSessions: number
  /** Sessions in handshake, at most. */
  readonly maxPendingHandshakes: number
  /** An established session that received nothing for this long is closed. 0: never. */
  readonly idleTimeoutMs: number
}

/** What an endpoint tells its owner. */
export interface EndpointEvents {
  /** A session finished its handshake; `replaced` is the session with the same peer it replaces (closed silently). */
  established(session: DtlsSession, replaced: DtlsSession | undefined): void
  /** Application data of an established session. */
  data(session: DtlsSession, plaintext: Buffer): void
  /** An established session ended: the peer's close_notify (no error), a fatal alert, idle expiry. */
  ended(session: DtlsSession, error: Error | undefined): void
  /** A handshake failed (`session` set) or a datagram was refused before any session existed (reports are rate-limited). */
  failed(session: DtlsSession | undefined, remote: string, error: DtlsHandshakeError): void
  /** Every record of one datagram was handled. */
  readComplete(): void
}

/** Cookies are HMACs under a secret that changes this often (the previous one is still accepted). */
const COOKIE_ROTATION_MS = 60_000
const COOKIE_LENGTH = 20
/** Refusals reported per source at most once per this interval, and at most this many per interval in all. */
const REPORT_INTERVAL_MS = 1000
const REPORTS_PER_INTERVAL = 20
const REMEMBERED_SOURCES = 1024
/** Sessions opened per second, at most, to sources of records we have no session for. */
const RESYNCS_PER_INTERVAL = 10

/** Counters of an endpoint, for tests, logs and benchmarks. */
export interface EndpointStats {
  /** Datagrams that were not DTLS (dropped). */
  notDtls: number
  /** HelloVerifyRequests sent (ClientHellos without a valid cookie). */
  helloVerifyRequests: number
  /** ClientHellos whose cookie did not verify. */
  badCookies: number
  /** Handshakes that failed or were refused (caps). */
  handshakeFailures: number
  /** Records for which no session exists (dropped). */
  unknownRecords: number
  /** Sessions established since the endpoint started. */
  established: number
  /** Sessions closed after they were idle too long. */
  expired: number
}

/** See the file comment. */
export class DtlsEndpoint implements SessionHost {
  readonly sessions = new Map<string, DtlsSession>()
  /** Server handshakes that will replace an established session with the same peer once they finish. */
  private readonly replacements = new Map<string, DtlsSession>()
  readonly stats: EndpointStats = {
    notDtls: 0,
    helloVerifyRequests: 0,
    badCookies: 0,
    handshakeFailures: 0,
    unknownRecords: 0,
    established: 0,
    expired: 0,
  }
  private pending = 0
  private secret = randomBytes(32)
  private previousSecret: Buffer | undefined
  private secretAt: number
  private sweepTimer: TimerHandle | undefined
  private readonly lastReport = new Map<string, number>()
  private reportWindowAt = 0
  private reportsInWindow = 0
  private readonly lastResync = new Map<string, number>()
  private resyncWindowAt = 0
  private resyncsInWindow = 0
  /** A resync's handshake resends nothing before it times out. */
  private readonly resyncConfig: DtlsConfig
  private closed = false

  constructor(
    readonly socket: UdpSocket,
    readonly config: DtlsConfig,
    private readonly options: EndpointOptions,
    private readonly events: EndpointEvents,
  ) {
    this.secretAt = config.clock.now()
    this.resyncConfig = { ...config, retransmitMs: config.handshakeTimeoutMs }
    socket.on('message', this.onMessage)
    this.scheduleSweep()
  }

  /** Sessions in handshake now. */
  get pendingHandshakes(): number {
    return this.pending
  }

  /** The session with `remote` (established or in handshake), if any. */
  session(remote: SocketAddress): DtlsSession | undefined {
    return this.sessions.get(`${remote.address}:${remote.port}`)
  }

  /**
   * The session with `remote`, starting a client handshake when there is none.
   * @throws DtlsHandshakeError (too-many-handshakes, too-many-sessions)
   */
  connect(remote: SocketAddress, config: DtlsConfig = this.config): DtlsSession {
    const key = `${remote.address}:${remote.port}`
    const existing = this.sessions.get(key)
    if (existing !== undefined && existing.state !== 'closed') return existing
    this.checkCaps(key, false)
    const s = new DtlsSession({ address: remote.address, port: remote.port }, 'client', config, this)
    this.sessions.set(key, s)
    this.pending++
    s.startClient()
    return s
  }

  /** Closes every session (close_notify to established peers) and stops listening; the socket stays open. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.socket.off('message', this.onMessage)
    if (this.sweepTimer !== undefined) this.config.clock.clearTimeout(this.sweepTimer)
    for (const s of [...this.replacements.values(), ...this.sessions.values()]) s.close()
    this.sessions.clear()
    this.replacements.clear()
  }

  /** Forgets a session its owner closed. */
  remove(session: DtlsSession): void {
    if (this.sessions.get(session.key) === session) this.sessions.delete(session.key)
    if (this.replacements.get(session.key) === session) this.replacements.delete(session.key)
  }

  // ------------------------------------------------------------------------------- SessionHost

  send(session: DtlsSession, datagram: Buffer, callback?: (err: Error | null) => void): void {
    const done = callback ?? ignore
    try {
      if (this.options.connected) this.socket.send(datagram, done)
      else this.socket.send(datagram, session.remote.port, session.remote.address, done)
    } catch (err) {
      done(err as Error) // the socket is closed
    }
  }

  established(session: DtlsSession): void {
    this.pending--
    this.stats.established++
    let replaced: DtlsSession | undefined
    if (this.replacements.get(session.key) === session) {
      this.replacements.delete(session.key)
      replaced = this.sessions.get(session.key)
      replaced?.discard()
      this.sessions.set(session.key, session)
    }
    this.events.established(session, replaced)
  }

  failed(session: DtlsSession, error: DtlsHandshakeError): void {
    this.pending--
    this.stats.handshakeFailures++
    this.remove(session)
    this.events.failed(session, session.key, error)
  }

  ended(session: DtlsSession, error: Error | undefined): void {
    this.remove(session)
    this.events.ended(session, error)
  }

  data(session: DtlsSession, plaintext: Buffer): void {
    this.events.data(session, plaintext)
  }

  // ---------------------------------------------------------------------------------- receive

  /** @internal Handles one datagram: from the socket, or from a peer socket of the channel (`DtlsDatagramChannel.openPeerSocket`). */
  readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (this.closed) return
    const key = `${rinfo.address}:${rinfo.port}`
    try {
      let off = 0
      while (off < msg.byteLength) {
        const left = msg.byteLength - off
        const type = msg[off] as number
        const version = left >= 3 ? msg.readUInt16BE(off + 1) : 0
        const length = left >= RECORD_HEADER ? msg.readUInt16BE(off + 11) : 0
        if (
          left < RECORD_HEADER ||
          type < ContentType.changeCipherSpec ||
          type > ContentType.applicationData ||
          version >> 8 !== 0xfe ||
          length > MAX_RECORD_PAYLOAD ||
          RECORD_HEADER + length > left
        ) {
          this.notDtls(key, rinfo, msg.byteLength)
          break
        }
        const epoch = msg.readUInt16BE(off + 3)
        const seq = msg.readUInt16BE(off + 5) * 0x1_0000_0000 + msg.readUInt32BE(off + 7)
        const payload = msg.subarray(off + RECORD_HEADER, off + RECORD_HEADER + length)
        off += RECORD_HEADER + length
        this.record(key, rinfo, { type, version, epoch, seq, payload })
      }
    } catch {
      // A record no session could handle: dropped. Nothing from the network throws past here.
      this.stats.unknownRecords++
    }
    this.events.readComplete()
  }

  private record(key: string, rinfo: RemoteInfo, r: RecordIn): void {
    if (r.epoch === 0 && r.type === ContentType.handshake && r.payload[0] === HandshakeType.clientHello && this.options.accept) {
      this.clientHello(key, rinfo, r)
      return
    }
    const replacement = this.replacements.get(key)
    if (replacement !== undefined) {
      replacement.receive(r)
      return
    }
    const s = this.sessions.get(key)
    if (s !== undefined) {
      s.receive(r)
      return
    }
    this.stats.unknownRecords++
    // Only application data that could be protected (an AEAD nonce and tag at least) may start a
    // resync: not an alert (a close_notify crossing ours when both sides close an idle session).
    if (r.epoch > 0 && r.type === ContentType.applicationData && this.options.peer && r.payload.byteLength >= 24) this.resync(key, rinfo)
  }

  private notDtls(key: string, rinfo: RemoteInfo, bytes: number): void {
    this.stats.notDtls++
    const s = this.sessions.get(key)
    const error = new DtlsHandshakeError(
      'not-dtls',
      `a datagram of ${bytes} bytes from ${key} is not DTLS (a plaintext peer on a DTLS port?): dropped`,
      { remote: key, inbound: true },
    )
    // A connected client hears only its server: a server that answers in plaintext is not a DTLS server.
    if (this.options.connected && s !== undefined && s.state === 'handshake') {
      s.close(
        new DtlsHandshakeError(
          'not-dtls',
          `DTLS handshake with ${key} failed: the server answered with ${bytes} bytes that are not DTLS (a plaintext service?)`,
          { remote: key, inbound: false },
        ),
      )
      return
    }
    void rinfo
    this.report(key, error)
  }

  private clientHello(key: string, rinfo: RemoteInfo, r: RecordIn): void {
    const p = r.payload
    if (p.byteLength < HANDSHAKE_HEADER) {
      this.notDtls(key, rinfo, p.byteLength)
      return
    }
    const length = p.readUIntBE(1, 3)
    const messageSeq = p.readUInt16BE(4)
    const fragOffset = p.readUIntBE(6, 3)
    const fragLength = p.readUIntBE(9, 3)
    // A ClientHello comes whole (a few hundred bytes); fragments of one are not worth state.
    if (fragOffset !== 0 || fragLength !== length || HANDSHAKE_HEADER + length > p.byteLength) {
      this.report(
        key,
        new DtlsHandshakeError('decode', `a fragmented or truncated ClientHello from ${key}: dropped`, { remote: key, inbound: true }),
      )
      return
    }
    const body = Buffer.from(p.subarray(HANDSHAKE_HEADER, HANDSHAKE_HEADER + length))
    let hello: ClientHello
    try {
      hello = parseClientHello(body)
    } catch (err) {
      this.report(
        key,
        new DtlsHandshakeError('decode', `a malformed ClientHello from ${key}: ${(err as Error).message}`, { remote: key, inbound: true }),
      )
      return
    }
    const current = this.sessions.get(key)
    const replacement = this.replacements.get(key)
    // The client resending a ClientHello of a handshake in progress (our flight did not arrive).
    for (const x of [replacement, current]) {
      if (x !== undefined && x.role === 'server' && x.state === 'handshake' && x.clientRandom?.equals(hello.random)) {
        x.receive(r)
        return
      }
    }
    if (hello.cookie.byteLength === 0 || !this.cookieValid(hello, rinfo)) {
      if (hello.cookie.byteLength > 0) {
        this.stats.badCookies++
        this.report(
          key,
          new DtlsHandshakeError(
            'cookie',
            `a ClientHello from ${key} with a cookie that does not verify: answered with a new cookie, no state kept`,
            { remote: key, inbound: true },
          ),
        )
      }
      this.helloVerify(rinfo, r, messageSeq, hello)
      return
    }
    // The cookie proves the source receives what we send: a handshake may begin.
    if (current !== undefined && current.role === 'client' && current.state === 'handshake') {
      // Both peers opened a session to each other at once: the larger ClientHello random is the client.
      const ours = current.clientRandom
      if (ours !== undefined && Buffer.compare(hello.random, ours) <= 0) return
    }
    const replacing = current !== undefined && current.state === 'established'
    if (this.pending >= this.options.maxPendingHandshakes) {
      this.stats.handshakeFailures++
      this.report(
        key,
        new DtlsHandshakeError(
          'too-many-handshakes',
          `ClientHello from ${key} refused: ${this.pending} DTLS handshakes pending, maxPendingHandshakes is ${this.options.maxPendingHandshakes}`,
          { remote: key, inbound: true },
        ),
        true,
      )
      return
    }
    if (current === undefined && this.sessions.size >= this.options.maxSessions) {
      this.stats.handshakeFailures++
      this.report(
        key,
        new DtlsHandshakeError(
          'too-many-sessions',
          `ClientHello from ${key} refused: ${this.sessions.size} DTLS sessions, maxSessions is ${this.options.maxSessions}`,
          { remote: key, inbound: true },
        ),
        true,
      )
      return
    }
    const s = new DtlsSession({ address: rinfo.address, port: rinfo.port }, 'server', this.config, this)
    if (replacing) {
      const old = this.replacements.get(key)
      if (old !== undefined) {
        old.discard()
        this.pending--
      }
      this.replacements.set(key, s)
    } else {
      if (current !== undefined) {
        if (current.state === 'handshake') this.pending--
        current.discard()
      }
      this.sessions.set(key, s)
    }
    this.pending++
    s.startServer(hello, messageSeq, body, r.seq)
  }

  private cookieFor(hello: ClientHello, rinfo: RemoteInfo, secret: Buffer): Buffer {
    return createHmac('sha256', secret)
      .update(`${rinfo.address}|${rinfo.port}|`)
      .update(hello.random)
      .update(hello.sessionId)
      .digest()
      .subarray(0, COOKIE_LENGTH)
  }

  private cookieValid(hello: ClientHello, rinfo: RemoteInfo): boolean {
    const c = hello.cookie
    if (c.byteLength !== COOKIE_LENGTH) return false
    if (timingSafeEqual(c, this.cookieFor(hello, rinfo, this.secret))) return true
    return this.previousSecret !== undefined && timingSafeEqual(c, this.cookieFor(hello, rinfo, this.previousSecret))
  }

  /** HelloVerifyRequest: no state, no crypto beyond one HMAC, and smaller than the ClientHello it answers. */
  private helloVerify(rinfo: RemoteInfo, r: RecordIn, messageSeq: number, hello: ClientHello): void {
    this.stats.helloVerifyRequests++
    const body = Buffer.concat([u16(DTLS_1_0), vec8(this.cookieFor(hello, rinfo, this.secret))])
    const header = Buffer.alloc(HANDSHAKE_HEADER)
    header[0] = HandshakeType.helloVerifyRequest
    header.writeUIntBE(body.byteLength, 1, 3)
    header.writeUInt16BE(messageSeq, 4)
    header.writeUIntBE(body.byteLength, 9, 3)
    // RFC 6347 §4.2.1: the record sequence number of the ClientHello it answers.
    const record = plainRecord(ContentType.handshake, DTLS_1_0, 0, r.seq, Buffer.concat([header, body]))
    try {
      if (this.options.connected) this.socket.send(record, ignore)
      else this.socket.send(record, rinfo.port, rinfo.address, ignore)
    } catch {
      /* closed */
    }
  }

  /** A protected record from a peer we have no session with: it lost its session (restarted): open one to it, at most once a second. */
  private resync(key: string, rinfo: RemoteInfo): void {
    const now = this.config.clock.now()
    const last = this.lastResync.get(key)
    if (last !== undefined && now - last < REPORT_INTERVAL_MS) return
    // The source address is not proven: a spoofed one would make us send ClientHellos to a victim.
    // So at most RESYNCS_PER_INTERVAL per second in all, and each ClientHello once (no
    // retransmission; the next record from there tries again a second later).
    if (now - this.resyncWindowAt >= REPORT_INTERVAL_MS) {
      this.resyncWindowAt = now
      this.resyncsInWindow = 0
    }
    if (this.resyncsInWindow >= RESYNCS_PER_INTERVAL) return
    if (this.lastResync.size >= REMEMBERED_SOURCES) this.lastResync.delete(this.lastResync.keys().next().value as string)
    this.lastResync.set(key, now)
    if (this.pending >= this.options.maxPendingHandshakes || this.sessions.size >= this.options.maxSessions) return
    this.resyncsInWindow++
    this.connect({ address: rinfo.address, port: rinfo.port }, this.resyncConfig)
  }

  private checkCaps(key: string, inbound: boolean): void {
    if (this.pending >= this.options.maxPendingHandshakes) {
      this.stats.handshakeFailures++
      throw new DtlsHandshakeError(
        'too-many-handshakes',
        `DTLS handshake with ${key} refused: ${this.pending} handshakes pending, maxPendingHandshakes is ${this.options.maxPendingHandshakes}`,
        { remote: key, inbound },
      )
    }
    if (this.sessions.size >= this.options.maxSessions) {
      this.stats.handshakeFailures++
      throw new DtlsHandshakeError(
        'too-many-sessions',
        `DTLS ${inbound ? 'session from' : 'session to'} ${key} refused: ${this.sessions.size} sessions, maxSessions is ${this.options.maxSessions}`,
        { remote: key, inbound },
      )
    }
  }

  /** Reports a refusal, at most once per source per second and 20 per second in all (`always`: every time, counted anyway). */
  private report(key: string, error: DtlsHandshakeError, always = false): void {
    const now = this.config.clock.now()
    if (!always) {
      const last = this.lastReport.get(key)
      if (last !== undefined && now - last < REPORT_INTERVAL_MS) return
      if (now - this.reportWindowAt >= REPORT_INTERVAL_MS) {
        this.reportWindowAt = now
        this.reportsInWindow = 0
      }
      if (this.reportsInWindow >= REPORTS_PER_INTERVAL) return
      this.reportsInWindow++
      this.lastReport.delete(key)
      if (this.lastReport.size >= REMEMBERED_SOURCES) this.lastReport.delete(this.lastReport.keys().next().value as string)
      this.lastReport.set(key, now)
    }
    this.events.failed(undefined, key, error)
  }

  // ------------------------------------------------------------------------------------ timers

  private scheduleSweep(): void {
    const idle = this.options.idleTimeoutMs
    const every = idle > 0 ? Math.max(250, Math.min(idle / 4, 10_000)) : 10_000
    this.sweepTimer = this.config.clock.setTimeout(this.sweep, every)
  }

  private readonly sweep = (): void => {
    if (this.closed) return
    const now = this.config.clock.now()
    if (now - this.secretAt >= COOKIE_ROTATION_MS) {
      this.previousSecret = this.secret
      this.secret = randomBytes(32)
      this.secretAt = now
    }
    const idle = this.options.idleTimeoutMs
    if (idle > 0) {
      for (const s of [...this.sessions.values()]) {
        if (s.state === 'established' && now - s.lastReceived >= idle) {
          this.stats.expired++
          this.remove(s)
          s.close()
          this.events.ended(
            s,
            new ReadTimeoutError(
              `DTLS session with ${s.key} idle for ${Math.round(now - s.lastReceived)} ms (idleTimeoutMs ${idle}): closed`,
            ),
          )
        }
      }
    }
    this.scheduleSweep()
  }
}

function ignore(): void {}
