import type { ConnectionOptions } from 'node:tls'
import { Codec, DisassociateReason, encodePreamble, MessageRegistry, type HandshakeRequestPdu } from '@helios/codec'
import {
  Bootstrap,
  DtlsHandshakeError,
  ServerBootstrap,
  SocketError,
  type Channel,
  type Datagram,
  type ServerChannel,
  type TimerHandle,
} from '@helios/transport'
import { ActorPath } from '../ActorPath.js'
import { ActorRef } from '../ActorRef.js'
import { Address } from '../Address.js'
import type { AssociationInfo, RemoteMemoryInfo } from '../AssociationInfo.js'
import type { Clock } from '../Clock.js'
import { ActorNotFound, AskTimeoutError, RemotingUnavailableError } from '../errors.js'
import { debug } from '../internal/debug.js'
import { DeadLetterActorRef } from '../internal/DeadLetterActorRef.js'
import type { InternalActorRef } from '../internal/InternalActorRef.js'
import type { AskOptions, RemoteProvider, SystemInternals } from '../internal/RemoteProvider.js'
import type { RemoteOptions } from '../ActorSystem.js'
import type { Association } from './Association.js'
import type { AssociationHost, InboundBinding, InboundHost, LinkHost } from './AssociationContext.js'
import { AssociationRegistry } from './AssociationRegistry.js'
import { ConnectLimiter } from './ConnectLimiter.js'
import { MemoryBudget } from './MemoryBudget.js'
import { isFinal } from './AssociationState.js'
import { ActorIdentity, Identify, registerBuiltInMessages } from './BuiltInMessages.js'
import { framed } from './FrameBatch.js'
import { checkHandshakeRequest } from './Handshake.js'
import { remotingFrameDecoder } from './InboundFrames.js'
import { type PeerSocketChannel, UdpPeerSockets } from './UdpPeerSockets.js'
import { DatagramHandler, InboundAdmission, InboundConnectionHandler, PreambleHandler } from './InboundHandlers.js'
import { LaneId, type OutboundLink } from './OutboundLink.js'
import { RemoteActorRef } from './RemoteActorRef.js'
import { RemotingEvents } from './RemotingEvents.js'
import { SelfAliases } from './SelfAliases.js'
import { resolveRemoteSettings, type RemoteSettings } from './RemoteSettings.js'
import { WIRE_DEATH_WATCH_NOTIFICATION, WIRE_UNWATCH, WIRE_WATCH } from './SystemMessageWire.js'
import { TcpOutboundLink } from './TcpOutboundLink.js'
import { UdpOutboundLink } from './UdpOutboundLink.js'

const CACHE_LIMIT = 10_000
const UDP_SOCKET_BUFFER = 4 * 1024 * 1024
/** SO_RCVBUF and SO_SNDBUF of a udp peer's own socket (see UdpPeerSockets): one peer's bursts, not everyone's. */
const UDP_PEER_SOCKET_BUFFER = 1024 * 1024
/** Connections the kernel holds for this node's server before it accepts them. */
const LISTEN_BACKLOG = 4096
/** UDP sources answered with a refusal at most once per this interval each (no reflection floods). */
const UDP_REFUSAL_INTERVAL_MS = 1000
/** Sources whose last refusal time is remembered, at most. */
const UDP_REFUSAL_SOURCES = 1024
/** What a UDP source may have sent towards its next refusal, at most (bytes). */
const UDP_REFUSAL_CREDIT_MAX = 4096
/** Slots per heartbeat interval: associations tick spread over the interval, not in one pass. */
const TICK_SLOTS = 8
/** First Identify resend of a selection over UDP (then doubling). */
const UDP_IDENTIFY_RESEND_MS = 250
/** An Identify that callers may join lives this many `handshakeTimeoutMs` at most (see {@link Remoting.lookupOf}). */
const LOOKUP_LIFETIME_TIMEOUTS = 3

/** An Identify on its way (see {@link Remoting.lookupOf}). */
interface Lookup {
  /** The answer (an ActorIdentity); rejects when the Identify's own lifetime ends. */
  readonly reply: Promise<unknown>
  /** The association the Identify went into, and its {@link Association.lossEpoch} then. */
  readonly association: Association | undefined
  readonly epoch: number
  /** When the Identify's own lifetime ends (clock ms): a caller waiting longer starts a new one. */
  readonly endsAt: number
}

/**
 * Remoting of one actor system: the node's server (TCP/TLS) or socket (UDP), the
 * {@link AssociationRegistry} of its associations, inbound connections and datagrams routed to
 * them, refs to remote actors and delivery to local ones, flushes batched per turn, events, and
 * one coarse timer that drives heartbeats, failure detection, resends, handshake timeouts and the
 * probes of quarantined addresses.
 */
export class Remoting implements RemoteProvider, AssociationHost, LinkHost, InboundHost {
  readonly settings: RemoteSettings
  readonly internals: SystemInternals
  readonly codec: Codec
  readonly clock: Clock
  readonly registry: AssociationRegistry
  readonly events: RemotingEvents
  readonly connects: ConnectLimiter
  readonly memory: MemoryBudget
  address!: Address
  isShuttingDown = false
  /** Connections refused (bad preamble, bad or misdirected handshake, TLS or DTLS failure, too many pending). */
  refusedConnections = 0
  /** DTLS handshakes this node opened that failed (refused certificate, timeout, ...). */
  failedDtlsHandshakes = 0
  /** Datagrams dropped because they came from an unknown peer and were no handshake. */
  unknownDatagrams = 0
  /** The datagram channel of `udp` (a UDP socket) and of `dtls` (a DTLS endpoint), undefined over tcp and tls. */
  udpChannel: Channel | undefined
  /** udp and dtls: the established peers with a socket of their own (`remote.udpPeerSockets` above 0). */
  private udpPeers: UdpPeerSockets | undefined
  /** The association whose frames are being decoded and handled now (see {@link resolveCached}). */
  receivingFrom: Association | undefined
  /** udp and dtls: the sender (`ip:port`) of the datagram being handled now. */
  datagramSource: string | undefined

  private server: ServerChannel | undefined
  /** The other names of this node's endpoint: sends there are refused, never dialled. */
  private aliases: SelfAliases | undefined
  private readonly refCache = new Map<string, InternalActorRef>()
  private readonly wirePaths = new WeakMap<ActorRef, string>()
  /** When a UDP source was last answered with a refusal. */
  private readonly udpRefusals = new Map<string, { at: number; credit: number }>()
  /** True while {@link inboundReadComplete} runs actors (it flushes after them). */
  private completingRead = false
  /** Associations to flush, in slots [0, dirtyCount). */
  private dirty: (Association | undefined)[] = []
  private dirtyCount = 0
  /** The other array of the flush double buffer (undefined while a flush iterates it). */
  private spareDirty: (Association | undefined)[] | undefined = []
  private flushQueued = false
  private ticker: TimerHandle | undefined
  private tickDueAt = 0
  /** The slot of the interval the next tick runs (see {@link AssociationRegistry.tick}). */
  private tickSlot = 0
  /** Accepted connections in their handshake: the slots, per source and in all. */
  private readonly admission: InboundAdmission
  private identifyCounter = 0
  /** Identify lookups on their way, by path (see {@link lookupOf}). */
  private readonly lookups = new Map<string, Lookup>()
  private readonly protocol: Address['protocol']

  private constructor(options: RemoteOptions, internals: SystemInternals) {
    this.settings = resolveRemoteSettings(options)
    this.internals = internals
    this.clock = internals.clock
    this.events = new RemotingEvents(internals.events, internals.log, () => this.address)
    this.registry = new AssociationRegistry(this)
    this.admission = new InboundAdmission(this.settings)
    const maxConnects = this.settings.maxConnectsInFlight
    const maxUnverified = Math.max(1, Math.floor(maxConnects / 8))
    this.connects = new ConnectLimiter(maxConnects, maxUnverified, 8 * maxUnverified)
    this.memory = new MemoryBudget(this.settings.memoryBudgetBytes, this.settings.peerMemoryBytes)
    this.protocol = `helios.${options.transport}` as Address['protocol']
    // The built-in messages go into a registry of the system's own, in front of the application's
    // (which stays as the application made it, and may still be added to).
    const registry = new MessageRegistry(this.settings.registry)
    registerBuiltInMessages(registry)
    this.codec = new Codec({
      registry,
      localUid: internals.nodeUid,
      maxFrameSize: this.settings.maxFrameSize,
      maxMessageSize: this.settings.maxMessageSize,
      // The protocol's maximum: a node talking to thousands of actors keeps compressing them
      // (a full table sends every new path in full, measured ~0.55x the throughput).
      compressionMaxEntries: 4096,
      refCodec: {
        isRef: (v) => v instanceof ActorRef,
        toPath: (ref) => this.wirePathOf(ref as ActorRef),
        fromPath: (path) => this.resolveCached(path),
      },
    })
  }

  /** Binds the transport and starts the tick; resolves once the node can be reached. */
  static async start(options: RemoteOptions, internals: SystemInternals): Promise<Remoting> {
    const r = new Remoting(options, internals)
    await r.bind()
    r.events.started(options.transport)
    r.scheduleTick()
    return r
  }

  private async bind(): Promise<void> {
    const s = this.settings
    let port: number
    // Both datagram transports: large socket buffers (capped by net.core.[rw]mem_max), so that
    // bursts of datagrams are not lost, and established peers with sockets of their own
    // (udpPeerSockets), so that one peer's flood overflows its own receive buffer, not everyone's.
    const datagramSockets = {
      receiveBufferSize: UDP_SOCKET_BUFFER,
      sendBufferSize: UDP_SOCKET_BUFFER,
      maxPeerSockets: s.udpPeerSockets,
      peerReceiveBufferSize: UDP_PEER_SOCKET_BUFFER,
      peerSendBufferSize: UDP_PEER_SOCKET_BUFFER,
    }
    const peersOf = (ch: PeerSocketChannel): UdpPeerSockets | undefined =>
      s.udpPeerSockets > 0 ? new UdpPeerSockets(ch, s.udpPeerSockets, this.clock) : undefined
    try {
      if (s.transport === 'dtls') {
        if (s.tls === undefined) throw new Error("transport 'dtls' needs remote.tls options (key, cert, ca)")
        // One socket, server and client at once: a write to a peer without a session opens one.
        const ch = await new Bootstrap()
          .transport('dtls')
          .options({
            clock: this.clock,
            ...datagramSockets,
            handshakeTimeoutMs: s.handshakeTimeoutMs,
            // Nodes verify each other: client certificates are required unless explicitly turned off.
            tls: {
              key: s.tls.key,
              cert: s.tls.cert,
              ca: s.tls.ca,
              passphrase: s.tls.passphrase,
              requestCert: s.tls.requestCert ?? true,
              rejectUnauthorized: s.tls.rejectUnauthorized ?? true,
            },
            dtls: { maxPendingHandshakes: s.maxPendingInboundHandshakes, ...s.dtls },
          })
          .handler((c) => {
            c.pipeline.addLast('datagrams', new DatagramHandler(this))
          })
          .bindDtls(s.port, s.host)
        this.udpChannel = ch
        this.udpPeers = peersOf(ch)
        port = ch.localAddress?.port ?? s.port
      } else if (s.transport === 'udp') {
        const ch = await new Bootstrap()
          .transport('udp')
          .options({ clock: this.clock, ...datagramSockets })
          .handler((c) => {
            c.pipeline.addLast('datagrams', new DatagramHandler(this))
          })
          .bind(s.port, s.host)
        this.udpChannel = ch
        this.udpPeers = peersOf(ch)
        port = ch.localAddress?.port ?? s.port
      } else {
        if (s.transport === 'tls' && s.tls === undefined) throw new Error("transport 'tls' needs remote.tls options (key, cert, ca)")
        const server = await new ServerBootstrap()
          .transport(s.transport)
          .options({
            clock: this.clock,
            // A TLS handshake is due as soon as the preamble; its slots (maxPendingHandshakes 256,
            // half per source) are the transport's defaults.
            handshakeTimeoutMs: s.preambleTimeoutMs,
            // Connections wait in the kernel's queue while this node is busy, rather than having their
            // SYN dropped and resent a second later (capped by net.core.somaxconn).
            backlog: LISTEN_BACKLOG,
            // A refused certificate is named to the peer, and the peer's verdict on ours heard.
            tlsRefusalNotices: true,
            // Nodes verify each other: client certificates are required unless explicitly turned off.
            ...(s.tls !== undefined ? { tls: { requestCert: true, rejectUnauthorized: true, ...s.tls } } : {}),
            onError: (err) => {
              const remote = (err as { remote?: unknown }).remote
              this.events.handshakeFailed(typeof remote === 'string' ? remote : '(inbound)', err.message, true, err)
            },
          })
          .childHandler((ch) => {
            const inbound = new InboundConnectionHandler(this)
            ch.pipeline
              .addLast('preamble', new PreambleHandler(this, inbound))
              .addLast('frames', remotingFrameDecoder(s.maxFrameSize))
              .addLast('inbound', inbound)
          })
          .bind(s.port, s.host)
        this.server = server
        port = server.localAddress?.port ?? s.port
      }
    } catch (err) {
      throw new RemotingUnavailableError(`${s.transport}: ${(err as Error).message}`, { cause: err })
    }
    this.address = new Address(this.protocol, this.internals.name, s.advertisedHost, s.advertisedPort ?? port)
    this.aliases = new SelfAliases(s.host, port, this.address)
    void this.aliases.learnHostName()
    debug('remoting bound %s:%d, advertised as %s', s.host, port, this.address.toString())
  }

  /** This node's advertised address. */
  get localAddress(): Address {
    return this.address
  }

  /** This node's uid. */
  get nodeUid(): bigint {
    return this.internals.nodeUid
  }

  // ------------------------------------------------------------------ RemoteProvider

  /** A ref to an actor on another node; `sponsor`: the association whose frames named the path. */
  resolveRemoteRef(path: ActorPath, sponsor?: Association): InternalActorRef {
    if (path.address.protocol !== this.protocol || path.address.isLocal) {
      debug('%s is not reachable over %s: dead letters', path.toString(), this.protocol)
      return new DeadLetterActorRef(this.internals, path)
    }
    if (this.aliases?.isSelf(path.address) === true) {
      // Another name of this node: dialling it would connect to itself.
      this.events.warn('HELIOS_SELF_ADDRESS', path.address.toString(), `${this.selfAlias(path.address)}; messages to it go to dead letters`)
      return new DeadLetterActorRef(this.internals, path)
    }
    // Bound to the current association if there is one; otherwise the first message creates it.
    return new RemoteActorRef(path, this.registry, this.registry.existing(path.address), sponsor)
  }

  async resolveSelection(path: ActorPath, timeoutMs: number): Promise<ActorRef> {
    if (this.aliases?.isSelf(path.address) === true) throw new ActorNotFound(path.toString(), { reason: this.selfAlias(path.address) })
    const target = this.resolveRemoteRef(path)
    const lookup = this.lookupOf(path, target, timeoutMs)
    let reply: unknown
    let timer: TimerHandle | undefined
    try {
      reply = await Promise.race([
        lookup.reply,
        new Promise<never>((_, reject) => {
          timer = this.clock.setTimeout(
            () => reject(new AskTimeoutError(path.toSerializationFormat(), timeoutMs, this.unreachableReason(target))),
            timeoutMs,
            {
              keepAlive: true,
            },
          )
        }),
      ])
    } catch (err) {
      if (err instanceof AskTimeoutError) throw new ActorNotFound(path.toString(), { cause: err, reason: err.reason })
      throw err
    } finally {
      if (timer !== undefined) this.clock.clearTimeout(timer)
    }
    if (reply instanceof ActorIdentity && reply.ref !== null) return reply.ref
    throw new ActorNotFound(path.toString())
  }

  /**
   * The Identify on its way to `path`, or a new one. A resolveOne of a path whose Identify is still
   * on its way joins it instead of sending another: under load (an overloaded peer, or a handshake
   * that takes long) callers retry after their timeout, and every copy would be carried and answered
   * too, which makes the load worse. An Identify counts as on its way while the association it went
   * into lost nothing since (see {@link Association.lossEpoch}) and for `3 x handshakeTimeoutMs` (or
   * the first caller's timeout) at most; a later resolveOne, or one that would wait beyond that,
   * sends a new one.
   */
  private lookupOf(path: ActorPath, target: InternalActorRef, timeoutMs: number): Lookup {
    const key = path.toString()
    const known = this.lookups.get(key)
    const a = known?.association
    if (
      known !== undefined &&
      a !== undefined &&
      a === this.registry.get(path.address.toString()) &&
      !isFinal(a.state) &&
      a.lossEpoch === known.epoch &&
      known.endsAt >= this.clock.now() + timeoutMs
    )
      return known
    const id = ++this.identifyCounter
    const remote = target instanceof RemoteActorRef ? target : undefined
    // Identify is idempotent: over UDP (datagrams get lost, and the first one may reach a peer that
    // does not know this node yet) it is sent again until an answer comes, at the peer's
    // retransmission timeout (its round trip under load), and not while the last one waits in the
    // queue for the handshake (under load, 100 nodes resolving each other piled up copies that
    // were all answered at once).
    const resend: AskOptions = this.isUdp
      ? {
          resendEveryMs: () => remote?.association?.roundTrip.resendAfterMs(UDP_IDENTIFY_RESEND_MS) ?? UDP_IDENTIFY_RESEND_MS,
          stillWaiting: () => remote?.association?.state.kind === 'handshaking',
        }
      : {}
    const lifetime = Math.max(timeoutMs, LOOKUP_LIFETIME_TIMEOUTS * this.settings.handshakeTimeoutMs)
    // Only the callers' own timeouts keep the process alive, not the lookup they leave behind.
    const reply = this.internals.ask(target, new Identify(id), lifetime, { ...resend, keepAlive: false })
    const association = remote?.association
    const lookup: Lookup = { reply, association, epoch: association?.lossEpoch ?? 0, endsAt: this.clock.now() + lifetime }
    this.lookups.set(key, lookup)
    const forget = (): void => {
      if (this.lookups.get(key) === lookup) this.lookups.delete(key)
    }
    reply.then(forget, forget)
    return lookup
  }

  unreachableReason(ref: ActorRef): string | undefined {
    if (this.aliases?.isSelf(ref.path.address) === true) return this.selfAlias(ref.path.address)
    if (!(ref instanceof RemoteActorRef)) return undefined
    const key = ref.path.address.toString()
    const a = this.registry.get(key)
    if (a?.state.kind === 'established') return undefined // it answers: the actor did not
    const failure = this.registry.failureOf(key)
    if (failure !== undefined) return failure
    const s = a?.state
    if (s?.kind === 'quarantined') return `${key} is quarantined: ${s.reason}`
    if (s?.kind === 'handshaking') return `no answer from ${key} to the handshake for ${Math.round(this.clock.now() - s.since)} ms`
    return undefined
  }

  /** Why `address` is not dialled: it names this node. */
  private selfAlias(address: Address): string {
    return `${address.toString()} is another name of this node's own endpoint (this node is ${this.address.toString()}): not dialled`
  }

  async shutdown(): Promise<void> {
    if (this.isShuttingDown) return
    this.isShuttingDown = true
    if (this.ticker !== undefined) this.clock.clearTimeout(this.ticker)
    await Promise.all([...this.registry.values()].map((a) => a.shutdown()))
    if (this.server !== undefined) await this.server.close()
    if (this.udpChannel !== undefined) {
      // Let the paced datagram pumps send the last frames (the disassociate notices) first.
      await new Promise<void>((resolve) => setImmediate(resolve))
      await new Promise<void>((resolve) => setTimeout(resolve, 20))
      await this.udpChannel.close()
    }
    // Counts of refusals not published yet: now, so that nothing is lost.
    this.events.flush()
    debug('remoting of %s shut down', this.address.toString())
  }

  // ------------------------------------------------------------------ associations

  hasOwnSocket(a: Association): boolean {
    return this.udpPeers?.isOpenFor(a) ?? false
  }

  /** True when this node's transport carries datagrams: `udp`, or `dtls` (the same datagrams inside DTLS sessions). */
  get isUdp(): boolean {
    return this.settings.transport === 'udp' || this.settings.transport === 'dtls'
  }

  /** @internal The UDP socket's outbound buffer fell below its low watermark. */
  udpWritable(): void {
    for (const a of this.registry.values()) a.onWritable()
  }

  associations(): AssociationInfo[] {
    return this.registry.info()
  }

  memoryInfo(): RemoteMemoryInfo {
    const m = this.memory
    return {
      budgetBytes: m.totalBytes,
      peerBytes: m.peerBytes,
      usedBytes: m.usedBytes,
      peakBytes: m.peakBytes,
      reassemblyBytes: m.reassemblyBytes,
      outboundBytes: m.outboundBytes,
      compressionBytes: m.compressionBytes,
      evictions: m.evictions,
      refusals: m.refusals,
    }
  }

  makeLink(assoc: Association, lane: LaneId): OutboundLink {
    return this.isUdp ? new UdpOutboundLink(this, assoc, lane) : new TcpOutboundLink(this, assoc, lane)
  }

  /** node:tls client options derived from the server options the user gave. */
  tlsClientOptions(): ConnectionOptions {
    const { requestCert: _r, SNICallback: _s, ...rest } = (this.settings.tls ?? {}) as Record<string, unknown>
    return rest as ConnectionOptions
  }

  // ------------------------------------------------------------------ inbound

  acceptHandshake(frame: Uint8Array, lane: number | undefined, channel: Channel): InboundBinding | undefined {
    let pdu
    try {
      pdu = this.codec.decode(frame, 0, frame.length)
    } catch (err) {
      this.refuse(channel, `undecodable handshake: ${(err as Error).message}`, err)
      return undefined
    }
    if (pdu.type !== 'handshake-request') {
      this.refuse(channel, `expected a handshake request first, got ${pdu.type}`)
      return undefined
    }
    return this.acceptHandshakeRequest(pdu, lane, channel)
  }

  private acceptHandshakeRequest(
    pdu: HandshakeRequestPdu,
    lane: number | undefined,
    channel: Channel | undefined,
    udpSource?: Datagram['remote'],
    udpBytes = 0,
    frameBytes = 0,
  ): InboundBinding | undefined {
    const checked = checkHandshakeRequest(pdu, this.address)
    if ('refused' in checked) {
      const notice = this.codec.encode({ type: 'disassociate', reason: DisassociateReason.handshakeFailed, detail: checked.refused })
      this.refuse(channel, checked.refused, undefined, checked.remote, notice, lane, udpSource, udpBytes)
      return undefined
    }
    if (this.aliases?.isSelf(checked.from) === true) {
      // Another name of this node's own endpoint: answering would make it dial itself.
      const reason = `handshake from ${checked.from.toString()}, ${this.selfAlias(checked.from)}`
      const notice = this.codec.encode({ type: 'disassociate', reason: DisassociateReason.handshakeFailed, detail: reason })
      this.refuse(channel, reason, undefined, checked.from.toString(), notice, lane, udpSource, udpBytes)
      return undefined
    }
    const assoc = this.registry.associationFor(checked.from)
    const uid = pdu.from.uid
    if (assoc.state.kind === 'retired') {
      // maxAssociations reached: no room for another peer.
      const notice = this.codec.encode({ type: 'disassociate', reason: DisassociateReason.handshakeFailed, detail: assoc.state.reason })
      this.refuse(channel, assoc.state.reason, undefined, assoc.key, notice, lane, udpSource, udpBytes)
      return undefined
    }
    // Over datagrams, what a claimant sends pays for the answers to its (unverified) address.
    if (udpSource !== undefined) assoc.creditIntroduction(frameBytes)
    const verdict = assoc.onHandshakeRequest(uid, pdu.nonce, pdu)
    if (verdict === 'refused') {
      const notice = assoc.quarantinedNoticeFor(uid)
      this.refuse(channel, `node ${assoc.key} uid ${uid} is quarantined`, undefined, assoc.key, notice, lane, udpSource, udpBytes)
      return undefined
    }
    return { peer: assoc, uid, parked: verdict === 'parked' }
  }

  /** A datagram arrived on the UDP socket. */
  receiveDatagram(d: Datagram): void {
    const key = `${d.remote.address}:${d.remote.port}`
    this.udpPeers?.offer(key, d.remote, this.registry)
    const outer = this.datagramSource
    this.datagramSource = key
    try {
      this.receiveFrames(d, key)
    } finally {
      this.datagramSource = outer
    }
  }

  private receiveFrames(d: Datagram, key: string): void {
    const buf = d.data
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    let off = 0
    while (off < buf.byteLength) {
      if (off + 4 > buf.byteLength) {
        this.unknownDatagrams++
        return
      }
      const len = view.getUint32(off)
      const start = off + 4
      const end = start + len
      if (end > buf.byteLength || len > this.settings.maxFrameSize) {
        this.unknownDatagrams++
        return
      }
      off = end
      const assoc = this.registry.forEndpoint(key)
      if (assoc !== undefined && !isFinal(assoc.state)) {
        assoc.receive(buf, start, end)
        continue
      }
      let pdu
      try {
        pdu = this.codec.decode(buf, start, end)
      } catch {
        this.unknownDatagrams++
        return
      }
      if (pdu.type === 'handshake-request') {
        const binding = this.acceptHandshakeRequest(pdu, LaneId.control, undefined, d.remote, buf.byteLength, end - start)
        if (binding !== undefined) this.registry.bindEndpoint(key, binding.peer as Association)
        continue
      }
      if (assoc !== undefined && (pdu.type === 'quarantined' || pdu.type === 'disassociate')) {
        // A notice from a peer whose incarnation this node ended (e.g. it quarantined this node
        // too, after a partition): the address's current association takes it.
        this.registry.associationFor(assoc.remoteAddress).handle(pdu)
        continue
      }
      this.unknownDatagrams++
      // A frame of a peer this node does not know (it restarted, or forgot the peer), or of an
      // incarnation it quarantined: tell the sender, so it introduces itself again or learns it.
      const uid = assoc?.uid
      const notice = assoc !== undefined && uid !== undefined ? assoc.quarantinedNoticeFor(uid) : undefined
      this.refuseDatagram(
        d.remote,
        notice ?? this.codec.encode({ type: 'disassociate', reason: DisassociateReason.notAssociated, detail: '' }),
        buf.byteLength,
      )
      return
    }
  }

  /**
   * Sends one refusal frame to a UDP source, at most once per {@link UDP_REFUSAL_INTERVAL_MS} each,
   * and within what the source sent (`receivedBytes` of this datagram, added to what it sent since
   * its last refusal): a spoofed source cannot use this node to send a third party more than it
   * sent. A disassociate notice that does not fit goes without its detail; another notice waits
   * for more (the next handshake).
   */
  private refuseDatagram(to: Datagram['remote'], notice: Uint8Array, receivedBytes: number): void {
    const ch = this.udpChannel
    if (ch === undefined || !ch.isActive) return
    const key = `${to.address}:${to.port}`
    let entry = this.udpRefusals.get(key)
    if (entry === undefined) {
      if (this.udpRefusals.size >= UDP_REFUSAL_SOURCES) this.udpRefusals.delete(this.udpRefusals.keys().next().value as string)
      entry = { at: -Infinity, credit: 0 }
      this.udpRefusals.set(key, entry)
    }
    entry.credit = Math.min(UDP_REFUSAL_CREDIT_MAX, entry.credit + receivedBytes)
    const now = this.clock.now()
    if (now - entry.at < UDP_REFUSAL_INTERVAL_MS) return
    if (notice.byteLength + 4 > entry.credit) {
      let pdu
      try {
        pdu = this.codec.decode(notice, 0, notice.byteLength)
      } catch {
        return
      }
      if (pdu.type !== 'disassociate' || pdu.detail === '') return
      notice = this.codec.encode({ type: 'disassociate', reason: pdu.reason, detail: '' })
      if (notice.byteLength + 4 > entry.credit) return
    }
    entry.at = now
    entry.credit -= notice.byteLength + 4
    ch.writeAndFlush({ data: framed(notice), remote: to })
  }

  admitInbound(channel: Channel): string | undefined {
    return this.admission.admit(channel, (evicted, reason) => this.refuse(evicted, reason))
  }

  releaseInbound(channel: Channel): void {
    this.admission.release(channel)
  }

  get inboundCrowded(): boolean {
    return this.admission.pending * 2 >= this.settings.maxPendingInboundHandshakes
  }

  refuseInbound(channel: Channel, reason: string, cause?: unknown, notice?: Uint8Array, lane?: number): void {
    this.refuse(channel, reason, cause, undefined, notice, lane)
  }

  /**
   * Closes an inbound connection (or answers a datagram) with a logged, published reason. With
   * `notice`, the reason goes back to the peer first: on a connection, this node's preamble and
   * that one frame (docs/PROTOCOL.md §10.1).
   */
  private refuse(
    channel: Channel | undefined,
    reason: string,
    cause?: unknown,
    remote?: string,
    notice?: Uint8Array,
    lane?: number,
    udpSource?: Datagram['remote'],
    udpBytes = 0,
  ): void {
    this.refusedConnections++
    const peer =
      remote ??
      (channel?.remoteAddress !== undefined
        ? `${channel.remoteAddress.address}:${channel.remoteAddress.port}`
        : udpSource !== undefined
          ? `${udpSource.address}:${udpSource.port}`
          : '(unknown)')
    this.events.handshakeFailed(peer, reason, true, cause, channel?.remoteAddress?.address ?? udpSource?.address)
    if (udpSource !== undefined && notice !== undefined) this.refuseDatagram(udpSource, notice, udpBytes)
    if (channel === undefined || !channel.isActive) return
    if (notice !== undefined && lane !== undefined) {
      channel.write(encodePreamble(lane === LaneId.user ? LaneId.user : LaneId.control))
      channel.write(framed(notice))
      channel.flush()
      void channel.close() // after what was written leaves
      return
    }
    void channel.close(new Error(`refused: ${reason}`, { cause }))
  }

  /** Delivers an inbound user message; answers Identify itself. */
  deliverUser(recipient: string, message: unknown, sender: string | undefined): void {
    const senderRef = sender === undefined ? undefined : this.resolveCached(sender)
    if (message instanceof Identify) {
      let target: InternalActorRef | undefined
      try {
        target = this.internals.findLocalActor(ActorPath.parse(recipient))
      } catch {
        target = undefined
      }
      senderRef?.tell(new ActorIdentity(message.id, target ?? null))
      return
    }
    const ref = this.localRecipient(recipient)
    if (ref !== undefined) ref.tell(message, senderRef)
  }

  /**
   * The local ref an inbound message is for, or undefined when it is for another node (never
   * relayed: dropped with an event) or names no live actor (then delivered to dead letters here).
   * @throws {InvalidActorPathError} on a malformed path (the caller fails that one message).
   */
  private localRecipient(recipient: string): InternalActorRef | undefined {
    const cached = this.refCache.get(recipient)
    if (cached !== undefined && cached.isLocal) return cached
    const path = ActorPath.parse(recipient)
    if (!this.internals.isLocalAddress(path.address)) {
      this.events.dropped({ remote: undefined, recipient, kind: 'misdirected', reason: 'recipient is not on this node' })
      return undefined
    }
    return this.resolveCached(recipient)
  }

  /** Delivers an inbound system message (watch, unwatch, death-watch notification). */
  deliverSystem(recipient: string, sender: string, kind: number, existenceConfirmed: boolean): void {
    const target = this.localRecipient(recipient)
    if (target === undefined) return
    const other = this.resolveCached(sender)
    if (kind === WIRE_WATCH) target.sendSystemMessage({ kind: 'watch', watchee: target, watcher: other })
    else if (kind === WIRE_UNWATCH) target.sendSystemMessage({ kind: 'unwatch', watchee: target, watcher: other })
    else if (kind === WIRE_DEATH_WATCH_NOTIFICATION) {
      target.sendSystemMessage({ kind: 'deathWatchNotification', ref: other, existenceConfirmed, addressTerminated: false })
    }
  }

  deadLetter(message: unknown, sender: ActorRef | undefined, recipient: ActorRef): void {
    this.internals.deadLetter(message, sender, recipient)
  }

  addressTerminated(address: Address): void {
    this.internals.addressTerminated(address)
  }

  /** Resolves a path received on the wire, caching refs that name one incarnation (`#uid`) or a remote node. */
  resolveCached(path: string): InternalActorRef {
    let ref = this.refCache.get(path)
    if (ref !== undefined && !(ref instanceof RemoteActorRef && ref.ended)) return ref
    const p = ActorPath.parse(path)
    // A path on the wire is a stranger's word: it creates no association and opens no connection.
    ref = this.internals.isLocalAddress(p.address) ? this.internals.resolveActorRef(p) : this.resolveRemoteRef(p, this.receivingFrom)
    // Temporary ask actors are used once: caching them would only churn the cache.
    if ((!ref.isLocal || path.includes('#')) && !path.includes('/temp/')) {
      if (this.refCache.size >= CACHE_LIMIT) this.refCache.clear()
      this.refCache.set(path, ref)
    }
    return ref
  }

  /** The wire path of a ref (with `#uid`), cached per ref. */
  wirePathOf(ref: ActorRef): string {
    if (ref instanceof RemoteActorRef) return ref.wirePath
    let p = this.wirePaths.get(ref)
    if (p === undefined) {
      p = ref.path.toSerializationFormat()
      this.wirePaths.set(ref, p)
    }
    return p
  }

  // ------------------------------------------------------------------ scheduling

  /** Flushes the association's lanes once, at the end of this tick: many messages, one syscall. */
  scheduleFlush(assoc: Association): void {
    if (assoc.flushScheduled) return
    assoc.flushScheduled = true
    this.dirty[this.dirtyCount++] = assoc
    // While inboundReadComplete runs the actors, it flushes right after them: no microtask needed.
    if (!this.flushQueued && !this.completingRead) {
      this.flushQueued = true
      queueMicrotask(this.flushAll)
    }
  }

  private readonly flushAll = (): void => {
    this.flushQueued = false
    this.flushDirty()
  }

  /**
   * The end of a socket read (all its frames decoded and delivered): runs the actors those
   * messages woke and flushes what they wrote, now rather than in queued microtasks, so a reply
   * leaves before the read callback unwinds (one-in-flight round trips: see bench/RESULTS.md).
   */
  inboundReadComplete(): void {
    if (this.completingRead) return // an actor's code cannot re-enter this, but be safe
    this.completingRead = true
    try {
      this.internals.runActors()
    } catch (err) {
      // A fault in one actor's cell must not close the connection whose read woke it.
      debug('running actors after a read failed: %o', err)
    } finally {
      this.completingRead = false
      if (this.dirtyCount > 0) this.flushDirty()
    }
  }

  private flushDirty(): void {
    const d = this.dirty
    const n = this.dirtyCount
    // An association that writes while flushing is queued in the other array, for the next flush.
    this.dirty = this.spareDirty ?? []
    this.spareDirty = undefined
    this.dirtyCount = 0
    for (let i = 0; i < n; i++) {
      const a = d[i] as Association
      d[i] = undefined
      try {
        a.flush()
      } catch (err) {
        // One association's failure must not stop the others from flushing.
        a.flushScheduled = false
        debug('flush of %s failed: %o', a.key, err)
      }
    }
    this.spareDirty = d
  }

  /** The heartbeat interval is cut into slots: each association ticks in its own, so the work of a tick is spread over the interval. */
  private scheduleTick(): void {
    const every = this.settings.heartbeatIntervalMs / TICK_SLOTS
    this.tickDueAt = this.clock.now() + every
    this.ticker = this.clock.setTimeout(this.tick, every)
  }

  private readonly tick = (): void => {
    if (this.isShuttingDown) return
    const now = this.clock.now()
    const late = now - this.tickDueAt
    if (late >= this.settings.pauseThresholdMs) this.paused(late)
    this.registry.tick(now, this.tickSlot, TICK_SLOTS)
    if (this.tickSlot === 0) this.udpPeers?.sweep(this.registry)
    this.tickSlot = (this.tickSlot + 1) % TICK_SLOTS
    this.scheduleTick()
  }

  /**
   * This process did not run for `ms` (SIGSTOP, a long GC, a blocked event loop): the heartbeats
   * that came meanwhile wait unread in the sockets, so no peer is judged on that silence.
   */
  private paused(ms: number): void {
    this.registry.forgivePause()
    this.events.warn(
      'HELIOS_PAUSED',
      'pause',
      `${this.address.toString()} did not run for ${Math.round(ms)} ms (process stopped, long GC or blocked event loop); ` +
        'the failure detectors do not count that silence against peers. Peers may have quarantined this node meanwhile.',
    )
  }

  transportError(err: Error): void {
    if (err instanceof DtlsHandshakeError) {
      // A refused or failed DTLS handshake (the endpoint reports refused datagrams at most once per
      // source per second): published and logged like a refused TLS handshake, and remembered as
      // why the node at that address cannot be reached.
      const remote = err.remote ?? '(unknown)'
      const inbound = err.inbound !== false
      if (inbound) this.refusedConnections++
      else this.failedDtlsHandshakes++
      this.events.handshakeFailed(remote, err.message, inbound, err)
      const a = err.remote !== undefined ? this.registry.forEndpoint(err.remote) : undefined
      if (a !== undefined && err.reason !== 'not-dtls' && err.reason !== 'cookie') this.registry.noteFailure(a.key, err.message)
      return
    }
    if (err instanceof SocketError && err.remote !== undefined && err.syscallCode === 'ECONNREFUSED') {
      // A peer's own socket heard its port answer with ICMP port unreachable.
      this.registry.forEndpoint(err.remote)?.onPortUnreachable(err.remote)
      return
    }
    debug('transport error: %s', err.message)
  }
}
