/*
 * One DTLS 1.2 session with one peer: the handshake (client or server role, RFC 6347 with the
 * full RFC 5246 handshake, ECDHE with certificates, extended master secret of RFC 7627), flights
 * with retransmission and backoff, handshake-message fragmentation and reassembly, the record
 * layer of epoch 1 (AEAD, replay window) and alerts. The endpoint (DtlsEndpoint) owns the socket,
 * the cookie exchange and the table of sessions; a session only sees records from its peer.
 */
import { type KeyObject, X509Certificate, randomBytes, timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'
import type { SocketAddress } from '../../Channel.js'
import type { Clock, TimerHandle } from '../../Clock.js'
import { DtlsHandshakeError, type DtlsHandshakeReason } from '../../errors.js'
import { verifyChain } from './certificates.js'
import {
  CCS_BODY,
  CIPHER_SUITES,
  type CipherSuite,
  type EphemeralKey,
  GROUP_PREFERENCE,
  RecordProtection,
  SIGNATURE_SCHEMES,
  chooseScheme,
  ephemeralKey,
  extendedMasterSecret,
  finishedData,
  keyKind,
  plainRecord,
  recordOverhead,
  suiteById,
  trafficKeys,
  transcriptHash,
  verifyWith,
  signWith,
} from './crypto.js'
import {
  AlertDescription,
  ContentType,
  DTLS_1_2,
  DtlsDecodeError,
  EMPTY_RENEGOTIATION_INFO_SCSV,
  Ext,
  HANDSHAKE_HEADER,
  type HandshakeMessage,
  HandshakeType,
  MAX_PLAINTEXT,
  RECORD_HEADER,
  Reader,
  alertName,
  handshakeFragment,
  transcriptBytes,
  u16,
  u8,
  vec16,
  vec24,
  vec8,
} from './wire.js'

/** What every session of an endpoint shares: its certificate, trust, limits and clock. */
export interface DtlsConfig {
  readonly clock: Clock
  /** Our private key (needed by a server, and by a client that presents a certificate). */
  readonly key: KeyObject | undefined
  /** Our certificate chain, DER, leaf first. */
  readonly chain: readonly Buffer[]
  readonly anchors: readonly X509Certificate[]
  /** Server: ask clients for a certificate. */
  readonly requestCert: boolean
  /** Verify the peer (server: refuse a client without a valid certificate when requestCert). */
  readonly rejectUnauthorized: boolean
  /** Client: the name the server's certificate must carry (default: the IP or host connected to). */
  readonly servername: string | undefined
  /** Largest UDP payload sent. */
  readonly maxDatagram: number
  /** First retransmission of an unanswered flight, then doubling up to 60 s. */
  readonly retransmitMs: number
  readonly handshakeTimeoutMs: number
}

/** A received record, as the endpoint parsed it. */
export interface RecordIn {
  readonly type: number
  readonly version: number
  readonly epoch: number
  readonly seq: number
  readonly payload: Buffer
}

/** What a session needs from its endpoint. */
export interface SessionHost {
  /** Sends one datagram to the session's peer. */
  send(session: DtlsSession, datagram: Buffer, callback?: (err: Error | null) => void): void
  /** The handshake finished: the session carries data now. */
  established(session: DtlsSession): void
  /** The handshake failed (the session is closed). */
  failed(session: DtlsSession, error: DtlsHandshakeError): void
  /** An established session ended: the peer's close_notify (no error) or a fatal alert. */
  ended(session: DtlsSession, error: Error | undefined): void
  /** Application data from the peer. */
  data(session: DtlsSession, plaintext: Buffer): void
}

/** A parsed ClientHello. */
export interface ClientHello {
  readonly version: number
  readonly random: Buffer
  readonly sessionId: Buffer
  readonly cookie: Buffer
  readonly suites: number[]
  readonly groups: number[] | undefined
  readonly pointFormats: number[] | undefined
  readonly signatureSchemes: number[] | undefined
  readonly extendedMasterSecret: boolean
  readonly secureRenegotiation: boolean
}

/** Parses a ClientHello body; throws DtlsDecodeError when malformed. */
export function parseClientHello(body: Uint8Array): ClientHello {
  const r = new Reader(body)
  const version = r.u16()
  const random = r.bytes(32)
  const sessionId = r.vec8()
  if (sessionId.byteLength > 32) throw new DtlsDecodeError('session id longer than 32 bytes')
  const cookie = r.vec8()
  const suiteBytes = r.vec16()
  if (suiteBytes.byteLength % 2 !== 0 || suiteBytes.byteLength === 0) throw new DtlsDecodeError('bad cipher suite list')
  const suites: number[] = []
  for (let i = 0; i < suiteBytes.byteLength; i += 2) suites.push(suiteBytes.readUInt16BE(i))
  const compression = r.vec8()
  if (!compression.includes(0)) throw new DtlsDecodeError('no null compression')
  let groups: number[] | undefined
  let pointFormats: number[] | undefined
  let signatureSchemes: number[] | undefined
  let ems = false
  let secureRenegotiation = suites.includes(EMPTY_RENEGOTIATION_INFO_SCSV)
  if (r.remaining > 0) {
    const ext = new Reader(r.vec16())
    const seen = new Set<number>()
    while (ext.remaining > 0) {
      const type = ext.u16()
      const data = new Reader(ext.vec16())
      if (seen.has(type)) throw new DtlsDecodeError(`extension ${type} twice`)
      seen.add(type)
      if (type === Ext.supportedGroups) groups = u16List(data.vec16())
      else if (type === Ext.ecPointFormats) pointFormats = [...data.vec8()]
      else if (type === Ext.signatureAlgorithms) signatureSchemes = u16List(data.vec16())
      else if (type === Ext.extendedMasterSecret) ems = true
      else if (type === Ext.renegotiationInfo) {
        if (data.vec8().byteLength !== 0) throw new DtlsDecodeError('renegotiation_info must be empty in an initial handshake')
        secureRenegotiation = true
      } else continue
      data.done(`extension ${type}`)
    }
  }
  r.done('ClientHello')
  return {
    version,
    random,
    sessionId,
    cookie,
    suites,
    groups,
    pointFormats,
    signatureSchemes,
    extendedMasterSecret: ems,
    secureRenegotiation,
  }
}

function u16List(b: Buffer): number[] {
  if (b.byteLength % 2 !== 0) throw new DtlsDecodeError('odd-length list of u16')
  const out: number[] = []
  for (let i = 0; i < b.byteLength; i += 2) out.push(b.readUInt16BE(i))
  return out
}

/** Largest handshake message accepted (a certificate chain of a few certificates fits easily). */
const MAX_HANDSHAKE_MESSAGE = 64 * 1024
/** Bytes of incomplete handshake messages buffered per handshake, at most. */
const MAX_HANDSHAKE_BUFFER = 128 * 1024
/** Messages ahead of the next expected one that are buffered (reordering), at most. */
const MAX_AHEAD = 8
const MAX_RETRANSMIT_MS = 60_000
/** A retransmitted peer flight makes us resend ours at most this often. */
const RESEND_GAP_MS = 50
/** Records of epoch 1 kept while their keys are not yet known (reordering), at most. */
const MAX_EARLY_RECORDS = 16
/** A ClientHello or HelloVerifyRequest round at most this often (a server that keeps asking for cookies). */
const MAX_HELLO_VERIFY = 4

type FlightItem = { readonly kind: 'handshake'; readonly message: HandshakeMessage; readonly epoch: 0 | 1 } | { readonly kind: 'ccs' }

interface Incoming {
  readonly type: number
  readonly length: number
  readonly epoch: number
  readonly body: Buffer
  readonly have: Uint8Array
  got: number
}

type ClientStep = 'hello' | 'certificate' | 'key-exchange' | 'request-or-done' | 'done' | 'finished'
type ServerStep = 'client-certificate' | 'key-exchange' | 'certificate-verify' | 'finished'

interface HandshakeState {
  step: ClientStep | ServerStep
  clientRandom: Buffer
  serverRandom: Buffer | undefined
  cookie: Buffer
  helloVerifies: number
  nextSendSeq: number
  nextRecvSeq: number
  readonly transcript: Buffer[]
  readonly incoming: Map<number, Incoming>
  incomingBytes: number
  suite: CipherSuite | undefined
  ephemeral: EphemeralKey | undefined
  peerPublic: Buffer | undefined
  group: number
  master: Buffer | undefined
  /** Client: the server asked for our certificate, with these schemes. */
  certificateRequested: number[] | undefined
  /** Server: the schemes the client offered (for our ServerKeyExchange). */
  peerSchemes: number[]
  /** Server: the client presented a certificate (a CertificateVerify follows). */
  peerPresentedCertificate: boolean
  lastFlight: FlightItem[] | undefined
  lastSentAt: number
  retransmitDelay: number
  retransmitTimer: TimerHandle | undefined
  timeoutTimer: TimerHandle | undefined
  /** Records of epoch 1 that arrived before their keys. */
  early: RecordIn[]
  /** Application data decrypted before the handshake finished (client: reordering). */
  earlyData: Buffer[]
}

/** Anti-replay window (RFC 6347 §4.1.2.6) over the sequence numbers of one epoch. */
export class ReplayWindow {
  private static readonly SIZE = 128
  private top = -1
  private readonly seen = new Uint8Array(ReplayWindow.SIZE)
  /** False for a record already received or older than the window. */
  check(seq: number): boolean {
    if (seq > this.top) return true
    if (this.top - seq >= ReplayWindow.SIZE) return false
    return this.seen[seq % ReplayWindow.SIZE] === 0
  }
  /** Marks `seq` received (call only after the record authenticated). */
  mark(seq: number): void {
    const size = ReplayWindow.SIZE
    if (seq > this.top) {
      if (seq - this.top >= size) this.seen.fill(0)
      else for (let s = this.top + 1; s < seq; s++) this.seen[s % size] = 0
      this.top = seq
    }
    this.seen[seq % size] = 1
  }
}

/** How a failure ends the handshake: the reason, the alert we send, and the verdict if any. */
class HandshakeFailure extends Error {
  constructor(
    readonly reason: DtlsHandshakeReason,
    message: string,
    readonly alert: number | undefined,
    readonly verdict?: string,
  ) {
    super(message)
  }
}

const SEQ_LIMIT = 2 ** 48 - 1

/** One DTLS session with one peer (see the file comment). */
export class DtlsSession {
  /** `ip:port` of the peer. */
  readonly key: string
  state: 'handshake' | 'established' | 'closed' = 'handshake'
  /** Whatever the endpoint attached (the channel of the session). */
  owner: unknown
  /** When a record of the peer last authenticated (or the session started). */
  lastReceived: number
  /** The peer's verified leaf certificate, if it presented one. */
  peerCertificate: X509Certificate | undefined
  /** Records of the peer that did not authenticate or were replays (dropped). */
  rejectedRecords = 0
  /** When the handshake started and finished (clock ms), for measurements. */
  readonly startedAt: number
  establishedAt = 0

  private hs: HandshakeState | undefined
  private writeSeq0 = 0
  private writeSeq1 = 0
  private read1: RecordProtection | undefined
  private write1: RecordProtection | undefined
  private pendingRead1: RecordProtection | undefined
  private readonly replay1 = new ReplayWindow()
  private keepTimer: TimerHandle | undefined

  constructor(
    readonly remote: SocketAddress,
    readonly role: 'client' | 'server',
    private readonly config: DtlsConfig,
    private readonly host: SessionHost,
  ) {
    this.key = `${remote.address}:${remote.port}`
    this.startedAt = config.clock.now()
    this.lastReceived = this.startedAt
  }

  /** The negotiated suite, once chosen. */
  get suite(): CipherSuite | undefined {
    return this.hs?.suite ?? this.read1?.suite
  }

  /** Client: our ClientHello's random (compared when two peers open sessions to each other at once). */
  get clientRandom(): Buffer | undefined {
    return this.hs?.clientRandom
  }

  /** Largest application payload one record carries within the datagram size. */
  get maxPlaintext(): number {
    return Math.min(MAX_PLAINTEXT, this.config.maxDatagram - recordOverhead(this.write1?.suite))
  }

  // --------------------------------------------------------------------------------- start

  /** Client: sends the first ClientHello. */
  startClient(): void {
    const hs = this.newHandshake('hello', randomBytes(32), 0)
    this.hs = hs
    this.armTimeout()
    this.sendClientHello()
  }

  /**
   * Server: answers a ClientHello whose cookie verified (`recordSeq`/`messageSeq` are the
   * ClientHello's): negotiates, sends flight 4, and waits for the client's keys.
   */
  startServer(hello: ClientHello, messageSeq: number, body: Buffer, recordSeq: number): void {
    const hs = this.newHandshake('key-exchange', hello.random, messageSeq + 1)
    hs.nextSendSeq = messageSeq
    // Our HelloVerifyRequest went out under the first ClientHello's record number: go on from this
    // one's, so that no record number of ours repeats in the client's replay window.
    this.writeSeq0 = recordSeq
    this.hs = hs
    this.armTimeout()
    try {
      this.serverHello(hs, hello, { type: HandshakeType.clientHello, seq: messageSeq, body })
    } catch (err) {
      this.failWith(err)
    }
  }

  private newHandshake(step: ClientStep | ServerStep, clientRandom: Buffer, nextRecvSeq: number): HandshakeState {
    return {
      step,
      clientRandom,
      serverRandom: undefined,
      cookie: Buffer.alloc(0),
      helloVerifies: 0,
      nextSendSeq: 0,
      nextRecvSeq,
      transcript: [],
      incoming: new Map(),
      incomingBytes: 0,
      suite: undefined,
      ephemeral: undefined,
      peerPublic: undefined,
      group: 0,
      master: undefined,
      certificateRequested: undefined,
      peerSchemes: [],
      peerPresentedCertificate: false,
      lastFlight: undefined,
      lastSentAt: 0,
      retransmitDelay: this.config.retransmitMs,
      retransmitTimer: undefined,
      timeoutTimer: undefined,
      early: [],
      earlyData: [],
    }
  }

  private armTimeout(): void {
    const hs = this.hs as HandshakeState
    const ms = this.config.handshakeTimeoutMs
    hs.timeoutTimer = this.config.clock.setTimeout(() => {
      hs.timeoutTimer = undefined
      if (this.state !== 'handshake') return
      const heard = this.hs !== undefined && this.hs.nextRecvSeq > (this.role === 'client' ? 0 : 2)
      this.fail(
        new HandshakeFailure(
          'timeout',
          `no DTLS handshake within ${ms} ms (${heard ? 'the peer stopped answering' : 'no answer from the peer'})`,
          undefined,
        ),
      )
    }, ms)
  }

  // ---------------------------------------------------------------------------------- receive

  /** A record from the peer (the endpoint checked its header). */
  receive(r: RecordIn): void {
    if (this.state === 'closed') return
    try {
      if (r.epoch === 0) this.receivePlain(r)
      else if (r.epoch === 1) this.receiveProtected(r)
    } catch (err) {
      if (this.state === 'handshake') this.failWith(err)
      // An established session drops what it cannot read.
    }
  }

  private receivePlain(r: RecordIn): void {
    if (r.type === ContentType.handshake) {
      if (this.state === 'established') {
        // The client resending its last flight: it did not get our Finished.
        if (this.role === 'server' && this.hs?.lastFlight !== undefined) this.peerRetransmitted()
        return
      }
      this.handshakeRecord(r.payload, 0)
    } else if (r.type === ContentType.alert && this.state === 'handshake') {
      // Unauthenticated alerts count only during the handshake (as OpenSSL's do).
      this.alert(r.payload)
    }
    // Plaintext ChangeCipherSpec: epoch 1 follows; nothing to do.
  }

  private receiveProtected(r: RecordIn): void {
    const prot = this.read1 ?? this.pendingRead1
    if (prot === undefined) {
      const hs = this.hs
      if (hs !== undefined && hs.early.length < MAX_EARLY_RECORDS) hs.early.push({ ...r, payload: Buffer.from(r.payload) })
      return
    }
    if (r.version !== DTLS_1_2 || !this.replay1.check(r.seq)) {
      this.rejectedRecords++
      return
    }
    const text = prot.open(r.type, r.version, r.epoch, r.seq, r.payload)
    if (text === undefined) {
      this.rejectedRecords++
      return
    }
    this.replay1.mark(r.seq)
    this.lastReceived = this.config.clock.now()
    switch (r.type) {
      case ContentType.applicationData:
        if (this.state === 'established') {
          if (this.hs !== undefined) this.dropHandshake() // the client got our Finished
          this.host.data(this, text)
        } else if (this.hs !== undefined && this.hs.earlyData.length < MAX_EARLY_RECORDS) {
          this.hs.earlyData.push(text)
        }
        return
      case ContentType.handshake:
        if (this.state === 'established') {
          if (this.role === 'server' && this.hs?.lastFlight !== undefined) this.peerRetransmitted()
          return // no renegotiation
        }
        this.handshakeRecord(text, 1)
        return
      case ContentType.alert:
        this.alert(text)
        return
      default:
    }
  }

  private alert(payload: Buffer): void {
    if (payload.byteLength < 2) return
    const level = payload[0] as number
    const description = payload[1] as number
    if (description === AlertDescription.closeNotify) {
      if (this.state === 'handshake') {
        this.fail(
          new HandshakeFailure('alert', 'the peer closed the session during the handshake (close_notify)', undefined),
          'close_notify',
        )
        return
      }
      this.end(undefined)
      return
    }
    if (level !== 2) return // warnings (e.g. no_renegotiation) change nothing here
    const name = alertName(description)
    if (this.state === 'handshake') {
      this.fail(new HandshakeFailure('alert', `the peer refused the handshake: ${name} alert`, undefined), name)
      return
    }
    this.end(Object.assign(new Error(`DTLS peer sent a fatal ${name} alert`), { code: 'ERR_DTLS_ALERT', alert: name }))
  }

  private handshakeRecord(payload: Buffer, epoch: number): void {
    const r = new Reader(payload)
    while (r.remaining > 0 && this.state === 'handshake') {
      const type = r.u8()
      const length = r.u24()
      const seq = r.u16()
      const offset = r.u24()
      const fragLength = r.u24()
      const frag = r.bytes(fragLength)
      if (offset + fragLength > length)
        throw new HandshakeFailure('decode', 'handshake fragment runs past its message', AlertDescription.decodeError)
      this.fragment(type, length, seq, offset, frag, epoch)
    }
  }

  private fragment(type: number, length: number, seq: number, offset: number, frag: Buffer, epoch: number): void {
    const hs = this.hs as HandshakeState
    if (seq < hs.nextRecvSeq) {
      this.peerRetransmitted()
      return
    }
    if (seq >= hs.nextRecvSeq + MAX_AHEAD) return
    if (length > MAX_HANDSHAKE_MESSAGE)
      throw new HandshakeFailure('decode', `handshake message of ${length} bytes`, AlertDescription.decodeError)
    let m = hs.incoming.get(seq)
    if (m === undefined) {
      if (hs.incomingBytes + length > MAX_HANDSHAKE_BUFFER)
        throw new HandshakeFailure('decode', 'handshake messages too large', AlertDescription.decodeError)
      m = { type, length, epoch, body: Buffer.alloc(length), have: new Uint8Array(length), got: 0 }
      hs.incoming.set(seq, m)
      hs.incomingBytes += length
    } else if (m.type !== type || m.length !== length) {
      throw new HandshakeFailure('decode', 'handshake fragments disagree on their message', AlertDescription.decodeError)
    }
    if (m.epoch !== epoch) return
    for (let i = 0; i < frag.byteLength; i++) {
      const at = offset + i
      if (m.have[at] === 0) {
        m.have[at] = 1
        m.body[at] = frag[i] as number
        m.got++
      }
    }
    // Messages in order, as they complete.
    for (;;) {
      const next = hs.incoming.get(hs.nextRecvSeq)
      if (next === undefined || next.got < next.length || this.state !== 'handshake' || this.hs !== hs) return
      hs.incoming.delete(hs.nextRecvSeq)
      hs.incomingBytes -= next.length
      const message: HandshakeMessage = { type: next.type, seq: hs.nextRecvSeq, body: next.body }
      hs.nextRecvSeq++
      // The peer's next flight began: ours arrived, stop resending it.
      this.stopRetransmit(hs)
      if ((message.type === HandshakeType.finished) !== (next.epoch === 1)) {
        throw new HandshakeFailure('unexpected-message', 'a handshake message in the wrong epoch', AlertDescription.unexpectedMessage)
      }
      if (this.role === 'client') this.clientMessage(hs, message)
      else this.serverMessage(hs, message)
    }
  }

  // ----------------------------------------------------------------------------------- client

  private sendClientHello(): void {
    const hs = this.hs as HandshakeState
    const exts: Buffer[] = []
    const name = this.config.servername
    if (name !== undefined && name !== '' && isIP(name) === 0) {
      const entry = Buffer.concat([u8(0), vec16(Buffer.from(name, 'utf8'))])
      exts.push(extension(Ext.serverName, vec16(entry)))
    }
    exts.push(extension(Ext.supportedGroups, vec16(Buffer.concat(GROUP_PREFERENCE.map(u16)))))
    exts.push(extension(Ext.ecPointFormats, vec8(Buffer.from([0]))))
    exts.push(extension(Ext.signatureAlgorithms, vec16(Buffer.concat(SIGNATURE_SCHEMES.map(u16)))))
    exts.push(extension(Ext.extendedMasterSecret, Buffer.alloc(0)))
    exts.push(extension(Ext.renegotiationInfo, vec8(Buffer.alloc(0))))
    const body = Buffer.concat([
      u16(DTLS_1_2),
      hs.clientRandom,
      vec8(Buffer.alloc(0)),
      vec8(hs.cookie),
      vec16(Buffer.concat(CIPHER_SUITES.map((s) => u16(s.id)))),
      vec8(Buffer.from([0])),
      vec16(Buffer.concat(exts)),
    ])
    const hello: HandshakeMessage = { type: HandshakeType.clientHello, seq: hs.nextSendSeq++, body }
    hs.transcript.length = 0
    hs.transcript.push(transcriptBytes(hello))
    this.sendFlight([{ kind: 'handshake', message: hello, epoch: 0 }], true)
  }

  private clientMessage(hs: HandshakeState, m: HandshakeMessage): void {
    const step = hs.step as ClientStep
    if (step === 'hello' && m.type === HandshakeType.helloVerifyRequest) {
      const r = new Reader(m.body)
      r.u16()
      const cookie = r.vec8()
      r.done('HelloVerifyRequest')
      if (++hs.helloVerifies > MAX_HELLO_VERIFY)
        throw new HandshakeFailure('cookie', 'the server keeps asking for a cookie', AlertDescription.handshakeFailure)
      hs.cookie = Buffer.from(cookie)
      this.sendClientHello()
      return
    }
    const expected: Record<ClientStep, number[]> = {
      hello: [HandshakeType.serverHello],
      certificate: [HandshakeType.certificate],
      'key-exchange': [HandshakeType.serverKeyExchange],
      'request-or-done': [HandshakeType.certificateRequest, HandshakeType.serverHelloDone],
      done: [HandshakeType.serverHelloDone],
      finished: [HandshakeType.finished],
    }
    if (!expected[step].includes(m.type)) {
      throw new HandshakeFailure(
        'unexpected-message',
        `unexpected handshake message ${m.type} (waiting for ${expected[step].join(' or ')})`,
        AlertDescription.unexpectedMessage,
      )
    }
    if (m.type === HandshakeType.finished) {
      this.clientFinished(hs, m)
      return
    }
    hs.transcript.push(transcriptBytes(m))
    switch (m.type) {
      case HandshakeType.serverHello:
        this.clientServerHello(hs, m.body)
        hs.step = 'certificate'
        return
      case HandshakeType.certificate:
        this.peerChain(m.body, 'server')
        hs.step = 'key-exchange'
        return
      case HandshakeType.serverKeyExchange:
        this.clientKeyExchangeParams(hs, m.body)
        hs.step = 'request-or-done'
        return
      case HandshakeType.certificateRequest: {
        const r = new Reader(m.body)
        r.vec8()
        hs.certificateRequested = u16List(r.vec16())
        r.vec16()
        r.done('CertificateRequest')
        hs.step = 'done'
        return
      }
      case HandshakeType.serverHelloDone:
        if (m.body.byteLength !== 0) throw new HandshakeFailure('decode', 'ServerHelloDone is not empty', AlertDescription.decodeError)
        this.clientFlight5(hs)
        hs.step = 'finished'
        return
      default:
    }
  }

  private clientServerHello(hs: HandshakeState, body: Buffer): void {
    const r = new Reader(body)
    const version = r.u16()
    if (version !== DTLS_1_2)
      throw new HandshakeFailure(
        'version',
        `the server chose protocol 0x${version.toString(16)}, not DTLS 1.2`,
        AlertDescription.protocolVersion,
      )
    hs.serverRandom = Buffer.from(r.bytes(32))
    r.vec8()
    const suite = suiteById(r.u16())
    if (suite === undefined)
      throw new HandshakeFailure('parameters', 'the server chose a cipher suite we did not offer', AlertDescription.illegalParameter)
    if (r.u8() !== 0) throw new HandshakeFailure('parameters', 'the server chose compression', AlertDescription.illegalParameter)
    let ems = false
    if (r.remaining > 0) {
      const ext = new Reader(r.vec16())
      while (ext.remaining > 0) {
        const type = ext.u16()
        const data = ext.vec16()
        if (type === Ext.extendedMasterSecret) ems = true
        else if (type === Ext.renegotiationInfo && !(data.byteLength === 1 && data[0] === 0)) {
          throw new HandshakeFailure('parameters', 'bad renegotiation_info', AlertDescription.handshakeFailure)
        }
      }
    }
    r.done('ServerHello')
    if (!ems)
      throw new HandshakeFailure(
        'parameters',
        'the server does not support the extended master secret (RFC 7627)',
        AlertDescription.handshakeFailure,
      )
    hs.suite = suite
  }

  private clientKeyExchangeParams(hs: HandshakeState, body: Buffer): void {
    const r = new Reader(body)
    if (r.u8() !== 3) throw new HandshakeFailure('parameters', 'ServerKeyExchange without a named curve', AlertDescription.illegalParameter)
    const group = r.u16()
    const point = r.vec8()
    const paramsEnd = r.off
    const scheme = r.u16()
    const signature = r.vec16()
    r.done('ServerKeyExchange')
    if (!GROUP_PREFERENCE.includes(group))
      throw new HandshakeFailure('parameters', `the server chose group ${group}, which we did not offer`, AlertDescription.illegalParameter)
    if (!SIGNATURE_SCHEMES.includes(scheme))
      throw new HandshakeFailure(
        'parameters',
        `the server signed with scheme 0x${scheme.toString(16)}, which we did not offer`,
        AlertDescription.illegalParameter,
      )
    const leaf = this.peerCertificate
    if (leaf === undefined) throw new HandshakeFailure('certificate', 'no server certificate', AlertDescription.handshakeFailure)
    const suite = hs.suite as CipherSuite
    const kind = keyKind(leaf.publicKey)
    if ((suite.auth === 'rsa') !== (kind === 'rsa'))
      throw new HandshakeFailure(
        'parameters',
        "the server's certificate key does not fit the suite it chose",
        AlertDescription.illegalParameter,
      )
    const signed = Buffer.concat([hs.clientRandom, hs.serverRandom as Buffer, body.subarray(0, paramsEnd)])
    if (!verifyWith(scheme, leaf.publicKey, signed, signature)) {
      throw new HandshakeFailure(
        'signature',
        "the server's key exchange signature does not verify with its certificate",
        AlertDescription.decryptError,
      )
    }
    hs.group = group
    hs.peerPublic = Buffer.from(point)
  }

  private clientFlight5(hs: HandshakeState): void {
    const suite = hs.suite as CipherSuite
    const flight: FlightItem[] = []
    const push = (type: number, body: Buffer): void => {
      const message: HandshakeMessage = { type, seq: hs.nextSendSeq++, body }
      hs.transcript.push(transcriptBytes(message))
      flight.push({ kind: 'handshake', message, epoch: 0 })
    }
    let signScheme: number | undefined
    if (hs.certificateRequested !== undefined) {
      const key = this.config.key
      const present = key !== undefined && this.config.chain.length > 0
      if (present) {
        signScheme = chooseScheme(key, hs.certificateRequested)
        if (signScheme === undefined)
          throw new HandshakeFailure(
            'parameters',
            'the server accepts no signature scheme our key can make',
            AlertDescription.handshakeFailure,
          )
      }
      push(HandshakeType.certificate, certificateBody(present ? this.config.chain : []))
    }
    const eph = ephemeralKey(hs.group)
    let preMaster: Buffer
    try {
      preMaster = eph.agree(hs.peerPublic as Buffer)
    } catch (err) {
      throw new HandshakeFailure(
        'parameters',
        `the server's key share is invalid: ${(err as Error).message}`,
        AlertDescription.illegalParameter,
      )
    }
    push(HandshakeType.clientKeyExchange, vec8(eph.publicValue))
    const master = extendedMasterSecret(suite.hash, preMaster, transcriptHash(suite.hash, hs.transcript))
    hs.master = master
    const keys = trafficKeys(suite, master, hs.clientRandom, hs.serverRandom as Buffer)
    this.write1 = new RecordProtection(suite, keys.clientKey, keys.clientIv)
    this.pendingRead1 = new RecordProtection(suite, keys.serverKey, keys.serverIv)
    if (signScheme !== undefined) {
      const signature = signWith(signScheme, this.config.key as KeyObject, Buffer.concat(hs.transcript))
      push(HandshakeType.certificateVerify, Buffer.concat([u16(signScheme), vec16(signature)]))
    }
    flight.push({ kind: 'ccs' })
    const finished: HandshakeMessage = {
      type: HandshakeType.finished,
      seq: hs.nextSendSeq++,
      body: finishedData(suite, master, 'client finished', hs.transcript),
    }
    hs.transcript.push(transcriptBytes(finished))
    flight.push({ kind: 'handshake', message: finished, epoch: 1 })
    this.sendFlight(flight, true)
    this.replayEarly(hs)
  }

  private clientFinished(hs: HandshakeState, m: HandshakeMessage): void {
    const expected = finishedData(hs.suite as CipherSuite, hs.master as Buffer, 'server finished', hs.transcript)
    if (m.body.byteLength !== 12 || !timingSafeEqual(m.body, expected)) {
      throw new HandshakeFailure(
        'finished',
        "the server's Finished does not verify (the handshake was tampered with)",
        AlertDescription.decryptError,
      )
    }
    this.read1 = this.pendingRead1
    this.pendingRead1 = undefined
    const early = hs.earlyData
    this.dropHandshake()
    this.established()
    for (const d of early) if (this.state === 'established') this.host.data(this, d)
  }

  // ----------------------------------------------------------------------------------- server

  private serverHello(hs: HandshakeState, hello: ClientHello, message: HandshakeMessage): void {
    // DTLS versions count down: 0xfefd (1.2) is above 0xfeff (1.0).
    if (hello.version > DTLS_1_2 || hello.version >> 8 !== 0xfe) {
      throw new HandshakeFailure(
        'version',
        `the client offers protocol 0x${hello.version.toString(16)}, not DTLS 1.2`,
        AlertDescription.protocolVersion,
      )
    }
    const key = this.config.key
    if (key === undefined || this.config.chain.length === 0)
      throw new HandshakeFailure('parameters', 'this server has no certificate', AlertDescription.internalError)
    const kind = keyKind(key)
    const suite = CIPHER_SUITES.find((s) => hello.suites.includes(s.id) && (s.auth === 'rsa') === (kind === 'rsa'))
    if (suite === undefined)
      throw new HandshakeFailure(
        'parameters',
        'no cipher suite in common (Helios speaks ECDHE with AES-GCM or ChaCha20-Poly1305)',
        AlertDescription.handshakeFailure,
      )
    const offeredGroups = hello.groups ?? [23]
    const group = GROUP_PREFERENCE.find((g) => offeredGroups.includes(g))
    if (group === undefined)
      throw new HandshakeFailure('parameters', 'no elliptic curve group in common', AlertDescription.handshakeFailure)
    if (hello.pointFormats !== undefined && !hello.pointFormats.includes(0))
      throw new HandshakeFailure('parameters', 'the client does not accept uncompressed points', AlertDescription.illegalParameter)
    const schemes = hello.signatureSchemes ?? []
    const scheme = chooseScheme(key, schemes)
    if (scheme === undefined)
      throw new HandshakeFailure('parameters', "no signature scheme in common for this server's key", AlertDescription.handshakeFailure)
    if (!hello.extendedMasterSecret)
      throw new HandshakeFailure(
        'parameters',
        'the client does not offer the extended master secret (RFC 7627), which Helios requires',
        AlertDescription.handshakeFailure,
      )
    hs.suite = suite
    hs.group = group
    hs.peerSchemes = schemes
    hs.serverRandom = randomBytes(32)
    hs.transcript.push(transcriptBytes(message))

    const flight: FlightItem[] = []
    const push = (type: number, body: Buffer): void => {
      const m: HandshakeMessage = { type, seq: hs.nextSendSeq++, body }
      hs.transcript.push(transcriptBytes(m))
      flight.push({ kind: 'handshake', message: m, epoch: 0 })
    }
    const exts: Buffer[] = [extension(Ext.extendedMasterSecret, Buffer.alloc(0))]
    if (hello.secureRenegotiation) exts.push(extension(Ext.renegotiationInfo, vec8(Buffer.alloc(0))))
    if (hello.pointFormats !== undefined) exts.push(extension(Ext.ecPointFormats, vec8(Buffer.from([0]))))
    push(
      HandshakeType.serverHello,
      Buffer.concat([u16(DTLS_1_2), hs.serverRandom, vec8(Buffer.alloc(0)), u16(suite.id), u8(0), vec16(Buffer.concat(exts))]),
    )
    push(HandshakeType.certificate, certificateBody(this.config.chain))
    const eph = ephemeralKey(group)
    hs.ephemeral = eph
    const params = Buffer.concat([u8(3), u16(group), vec8(eph.publicValue)])
    const signature = signWith(scheme, key, Buffer.concat([hs.clientRandom, hs.serverRandom, params]))
    push(HandshakeType.serverKeyExchange, Buffer.concat([params, u16(scheme), vec16(signature)]))
    if (this.config.requestCert) {
      push(
        HandshakeType.certificateRequest,
        Buffer.concat([vec8(Buffer.from([1, 64])), vec16(Buffer.concat(SIGNATURE_SCHEMES.map(u16))), vec16(Buffer.alloc(0))]),
      )
      hs.step = 'client-certificate'
    }
    push(HandshakeType.serverHelloDone, Buffer.alloc(0))
    this.sendFlight(flight, true)
  }

  private serverMessage(hs: HandshakeState, m: HandshakeMessage): void {
    const step = hs.step as ServerStep
    const expected: Record<ServerStep, number> = {
      'client-certificate': HandshakeType.certificate,
      'key-exchange': HandshakeType.clientKeyExchange,
      'certificate-verify': HandshakeType.certificateVerify,
      finished: HandshakeType.finished,
    }
    if (m.type !== expected[step]) {
      throw new HandshakeFailure(
        'unexpected-message',
        `unexpected handshake message ${m.type} (waiting for ${expected[step]})`,
        AlertDescription.unexpectedMessage,
      )
    }
    const suite = hs.suite as CipherSuite
    switch (m.type) {
      case HandshakeType.certificate:
        hs.transcript.push(transcriptBytes(m))
        hs.peerPresentedCertificate = this.peerChain(m.body, 'client')
        hs.step = 'key-exchange'
        return
      case HandshakeType.clientKeyExchange: {
        hs.transcript.push(transcriptBytes(m))
        const r = new Reader(m.body)
        const point = r.vec8()
        r.done('ClientKeyExchange')
        let preMaster: Buffer
        try {
          preMaster = (hs.ephemeral as EphemeralKey).agree(point)
        } catch (err) {
          throw new HandshakeFailure(
            'parameters',
            `the client's key share is invalid: ${(err as Error).message}`,
            AlertDescription.illegalParameter,
          )
        }
        hs.master = extendedMasterSecret(suite.hash, preMaster, transcriptHash(suite.hash, hs.transcript))
        const keys = trafficKeys(suite, hs.master, hs.clientRandom, hs.serverRandom as Buffer)
        this.pendingRead1 = new RecordProtection(suite, keys.clientKey, keys.clientIv)
        this.write1 = new RecordProtection(suite, keys.serverKey, keys.serverIv)
        hs.step = hs.peerPresentedCertificate ? 'certificate-verify' : 'finished'
        this.replayEarly(hs)
        return
      }
      case HandshakeType.certificateVerify: {
        const r = new Reader(m.body)
        const scheme = r.u16()
        const signature = r.vec16()
        r.done('CertificateVerify')
        const leaf = this.peerCertificate as X509Certificate
        if (!SIGNATURE_SCHEMES.includes(scheme) || !verifyWith(scheme, leaf.publicKey, Buffer.concat(hs.transcript), signature)) {
          throw new HandshakeFailure(
            'signature',
            "the client's CertificateVerify does not verify with its certificate (it does not hold the certificate's key)",
            AlertDescription.decryptError,
          )
        }
        hs.transcript.push(transcriptBytes(m))
        hs.step = 'finished'
        return
      }
      case HandshakeType.finished: {
        const expectedData = finishedData(suite, hs.master as Buffer, 'client finished', hs.transcript)
        if (m.body.byteLength !== 12 || !timingSafeEqual(m.body, expectedData)) {
          throw new HandshakeFailure(
            'finished',
            "the client's Finished does not verify (the handshake was tampered with)",
            AlertDescription.decryptError,
          )
        }
        hs.transcript.push(transcriptBytes(m))
        const finished: HandshakeMessage = {
          type: HandshakeType.finished,
          seq: hs.nextSendSeq++,
          body: finishedData(suite, hs.master as Buffer, 'server finished', hs.transcript),
        }
        this.read1 = this.pendingRead1
        this.pendingRead1 = undefined
        this.sendFlight([{ kind: 'ccs' }, { kind: 'handshake', message: finished, epoch: 1 }], false)
        // Kept to answer a retransmitted client flight, until the client's first data or the handshake timeout.
        this.keepFinalFlight(hs)
        this.established()
        return
      }
      default:
    }
  }

  /** Verifies the peer's Certificate message; returns whether it presented a certificate. */
  private peerChain(body: Buffer, purpose: 'server' | 'client'): boolean {
    const r = new Reader(body)
    const list = new Reader(r.vec24())
    r.done('Certificate')
    const chain: Buffer[] = []
    while (list.remaining > 0) {
      if (chain.length >= 16)
        throw new HandshakeFailure('decode', 'certificate chain of more than 16 certificates', AlertDescription.decodeError)
      chain.push(list.vec24())
    }
    const verify = this.config.rejectUnauthorized
    if (chain.length === 0) {
      if (purpose === 'server')
        throw new HandshakeFailure('certificate', 'the server presented no certificate', AlertDescription.handshakeFailure)
      if (verify)
        throw new HandshakeFailure(
          'no-certificate',
          'the client presented no certificate, and this server requires one',
          AlertDescription.handshakeFailure,
        )
      return false
    }
    const host = purpose === 'server' ? (this.config.servername ?? this.remote.address) : undefined
    const result = verifyChain(chain, { anchors: this.config.anchors, purpose, host, now: Date.now() })
    if ('verdict' in result) {
      const v = result.verdict
      if (verify) {
        const hostname = v.code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        const alert =
          v.code === 'CERT_HAS_EXPIRED'
            ? AlertDescription.certificateExpired
            : hostname || v.code === 'INVALID_PURPOSE'
              ? AlertDescription.badCertificate
              : v.code === 'CERT_PARSE_ERROR'
                ? AlertDescription.badCertificate
                : AlertDescription.unknownCa
        throw new HandshakeFailure(
          hostname ? 'hostname' : 'certificate',
          `${purpose} certificate refused: ${v.message} (${v.code})`,
          alert,
          v.code,
        )
      }
      // Verification turned off explicitly: the leaf is still needed for the signatures.
      try {
        this.peerCertificate = new X509Certificate(chain[0] as Buffer)
      } catch {
        throw new HandshakeFailure('certificate', `${purpose} certificate unparsable`, AlertDescription.badCertificate)
      }
      return true
    }
    this.peerCertificate = result.leaf
    return true
  }

  private replayEarly(hs: HandshakeState): void {
    const early = hs.early
    hs.early = []
    for (const r of early) {
      if (this.state === 'closed') return
      this.receiveProtected(r)
    }
  }

  // ------------------------------------------------------------------------------------ flights

  private sendFlight(flight: FlightItem[], expectsReply: boolean): void {
    const hs = this.hs as HandshakeState
    hs.lastFlight = flight
    hs.retransmitDelay = this.config.retransmitMs
    this.transmit(hs)
    if (expectsReply) this.armRetransmit(hs)
  }

  private armRetransmit(hs: HandshakeState): void {
    this.stopRetransmit(hs)
    hs.retransmitTimer = this.config.clock.setTimeout(() => {
      hs.retransmitTimer = undefined
      if (this.state !== 'handshake' || this.hs !== hs) return
      hs.retransmitDelay = Math.min(hs.retransmitDelay * 2, MAX_RETRANSMIT_MS)
      this.transmit(hs)
      this.armRetransmit(hs)
    }, hs.retransmitDelay)
  }

  private stopRetransmit(hs: HandshakeState): void {
    if (hs.retransmitTimer !== undefined) this.config.clock.clearTimeout(hs.retransmitTimer)
    hs.retransmitTimer = undefined
  }

  /** The peer resent a flight we already have: ours did not arrive (whole), send it again. */
  private peerRetransmitted(): void {
    const hs = this.hs
    if (hs?.lastFlight === undefined) return
    if (this.config.clock.now() - hs.lastSentAt < RESEND_GAP_MS) return
    this.transmit(hs)
  }

  /** Sends the last flight: handshake messages cut to fit the datagram size, records packed into datagrams. */
  private transmit(hs: HandshakeState): void {
    const flight = hs.lastFlight
    if (flight === undefined) return
    hs.lastSentAt = this.config.clock.now()
    const max = this.config.maxDatagram
    const records: Buffer[] = []
    for (const item of flight) {
      if (item.kind === 'ccs') {
        records.push(plainRecord(ContentType.changeCipherSpec, DTLS_1_2, 0, this.nextSeq(0), CCS_BODY))
        continue
      }
      const m = item.message
      const overhead = item.epoch === 0 ? RECORD_HEADER : recordOverhead(this.write1?.suite)
      const room = Math.max(64, max - overhead - HANDSHAKE_HEADER)
      const total = m.body.byteLength
      let off = 0
      do {
        const len = Math.min(room, total - off)
        const frag = handshakeFragment(m, off, len)
        records.push(
          item.epoch === 0
            ? plainRecord(ContentType.handshake, DTLS_1_2, 0, this.nextSeq(0), frag)
            : (this.write1 as RecordProtection).seal(ContentType.handshake, DTLS_1_2, 1, this.nextSeq(1), frag),
        )
        off += len
      } while (off < total)
    }
    this.sendRecords(records)
  }

  /** Packs records into as few datagrams of at most maxDatagram bytes as possible and sends them. */
  private sendRecords(records: Buffer[], callback?: (err: Error | null) => void): void {
    const max = this.config.maxDatagram
    let batch: Buffer[] = []
    let bytes = 0
    const out: Buffer[] = []
    for (const r of records) {
      if (bytes > 0 && bytes + r.byteLength > max) {
        out.push(batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch))
        batch = []
        bytes = 0
      }
      batch.push(r)
      bytes += r.byteLength
    }
    if (batch.length > 0) out.push(batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch))
    for (let i = 0; i < out.length; i++) this.host.send(this, out[i] as Buffer, i === out.length - 1 ? callback : undefined)
  }

  private nextSeq(epoch: 0 | 1): number {
    if (epoch === 0) return this.writeSeq0++
    if (this.writeSeq1 >= SEQ_LIMIT) throw new Error('DTLS sequence numbers exhausted')
    return this.writeSeq1++
  }

  private keepFinalFlight(hs: HandshakeState): void {
    // Only the flight is kept: the transcript, keys and buffers of the handshake go now.
    hs.transcript.length = 0
    hs.incoming.clear()
    hs.ephemeral = undefined
    hs.master = undefined
    this.stopRetransmit(hs)
    if (hs.timeoutTimer !== undefined) this.config.clock.clearTimeout(hs.timeoutTimer)
    hs.timeoutTimer = undefined
    this.keepTimer = this.config.clock.setTimeout(() => {
      this.keepTimer = undefined
      this.dropHandshake()
    }, this.config.handshakeTimeoutMs)
  }

  private dropHandshake(): void {
    const hs = this.hs
    if (hs === undefined) return
    this.stopRetransmit(hs)
    if (hs.timeoutTimer !== undefined) this.config.clock.clearTimeout(hs.timeoutTimer)
    if (this.keepTimer !== undefined) this.config.clock.clearTimeout(this.keepTimer)
    this.keepTimer = undefined
    this.hs = undefined
  }

  // --------------------------------------------------------------------------- state changes

  private established(): void {
    this.state = 'established'
    this.establishedAt = this.config.clock.now()
    this.host.established(this)
  }

  private failWith(err: unknown): void {
    if (err instanceof HandshakeFailure) {
      this.fail(err)
      return
    }
    if (err instanceof DtlsDecodeError) {
      this.fail(new HandshakeFailure('decode', `malformed handshake message: ${err.message}`, AlertDescription.decodeError))
      return
    }
    this.fail(new HandshakeFailure('decode', `handshake failed: ${(err as Error)?.message ?? String(err)}`, AlertDescription.internalError))
  }

  /** Ends the handshake: a fatal alert to the peer (unless the peer's alert ended it), then the host is told. */
  private fail(f: HandshakeFailure, receivedAlert?: string): void {
    if (this.state !== 'handshake') return
    if (f.alert !== undefined) this.sendAlert(2, f.alert)
    this.state = 'closed'
    this.dropHandshake()
    const alert = receivedAlert ?? (f.alert === undefined ? undefined : alertName(f.alert))
    this.host.failed(
      this,
      new DtlsHandshakeError(f.reason, `DTLS handshake with ${this.key} failed: ${f.message}`, {
        remote: this.key,
        verdict: f.verdict,
        alert,
        inbound: this.role === 'server',
      }),
    )
  }

  private end(error: Error | undefined): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.dropHandshake()
    this.host.ended(this, error)
  }

  private sendAlert(level: number, description: number, callback?: (err: Error | null) => void): void {
    const body = Buffer.from([level, description])
    // Protected once the peer reads epoch 1 (we sent our Finished); plaintext before.
    const record =
      this.write1 !== undefined && (this.state === 'established' || this.hs?.lastFlight?.some((i) => i.kind === 'ccs') === true)
        ? this.write1.seal(ContentType.alert, DTLS_1_2, 1, this.nextSeq(1), body)
        : plainRecord(ContentType.alert, DTLS_1_2, 0, this.nextSeq(0), body)
    this.host.send(this, record, callback)
  }

  // ------------------------------------------------------------------------------------ public

  /** One protected application-data record carrying `data` (at most {@link maxPlaintext} bytes). */
  seal(data: Uint8Array): Buffer {
    return (this.write1 as RecordProtection).seal(ContentType.applicationData, DTLS_1_2, 1, this.nextSeq(1), data)
  }

  /**
   * Closes the session: an established one sends close_notify (`callback` once it left), one in
   * handshake fails with `error` (reason `closed` unless given).
   */
  close(error?: DtlsHandshakeError, callback?: (err: Error | null) => void): void {
    if (this.state === 'handshake') {
      this.sendAlert(1, AlertDescription.closeNotify)
      this.state = 'closed'
      this.dropHandshake()
      this.host.failed(
        this,
        error ??
          new DtlsHandshakeError('closed', `DTLS handshake with ${this.key} aborted: closed`, {
            remote: this.key,
            inbound: this.role === 'server',
          }),
      )
      callback?.(null)
      return
    }
    if (this.state === 'established') {
      this.dropHandshake()
      try {
        this.sendAlert(1, AlertDescription.closeNotify, callback)
      } catch {
        callback?.(null)
      }
      this.state = 'closed'
      return
    }
    callback?.(null)
  }

  /** Drops the session without a word (replaced by a newer session with the same peer, or the endpoint is gone). */
  discard(): void {
    this.state = 'closed'
    this.dropHandshake()
  }
}

function extension(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), vec16(data)])
}

function certificateBody(chain: readonly Buffer[]): Buffer {
  return vec24(Buffer.concat(chain.map((c) => vec24(c))))
}
