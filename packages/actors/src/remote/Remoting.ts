import type { ConnectionOptions } from 'node:tls'
import { Codec, MessageRegistry, type HandshakeRequestPdu, type UniqueAddress } from '@helios/codec'
import {
  Bootstrap, LengthFieldBasedFrameDecoder, ServerBootstrap,
  type Channel, type Datagram, type DatagramChannel, type ServerChannel,
} from '@helios/transport'
import { ActorPath } from '../ActorPath.js'
import { ActorRef } from '../ActorRef.js'
import { Address } from '../Address.js'
import type { AssociationInfo } from '../AssociationInfo.js'
import type { Clock, ScheduledTimer } from '../Clock.js'
import { ActorNotFound, AskTimeoutError, RemotingUnavailableError } from '../errors.js'
import { debug } from '../internal/debug.js'
import { DeadLetterActorRef } from '../internal/DeadLetterActorRef.js'
import type { InternalActorRef } from '../internal/InternalActorRef.js'
import type { RemoteProvider, SystemInternals } from '../internal/RemoteProvider.js'
import type { RemoteOptions } from '../ActorSystem.js'
import { Association } from './Association.js'
import { ActorIdentity, Identify, registerBuiltInMessages } from './BuiltInMessages.js'
import { DatagramHandler, InboundConnectionHandler, PreambleHandler } from './InboundHandlers.js'
import { LaneId, type OutboundLink } from './OutboundLink.js'
import { RemoteActorRef } from './RemoteActorRef.js'
import { resolveRemoteSettings, type RemoteSettings } from './RemoteSettings.js'
import { WIRE_DEATH_WATCH_NOTIFICATION, WIRE_UNWATCH, WIRE_WATCH } from './SystemMessageWire.js'
import { TcpOutboundLink } from './TcpOutboundLink.js'
import { UdpOutboundLink } from './UdpOutboundLink.js'

const CACHE_LIMIT = 10_000
const UDP_SOCKET_BUFFER = 4 * 1024 * 1024

/**
 * Remoting of one actor system: the node's server (TCP/TLS) or socket (UDP), one
 * {@link Association} per remote node, refs to remote actors, and one coarse timer that drives
 * heartbeats, failure detection, resends and handshake timeouts for all associations.
 */
export class Remoting implements RemoteProvider {
  readonly settings: RemoteSettings
  readonly internals: SystemInternals
  readonly codec: Codec
  readonly clock: Clock
  address!: Address
  localUniqueAddress!: UniqueAddress
  isShuttingDown = false
  /** Connections refused (bad preamble, bad or misdirected handshake, TLS failure, too many pending). */
  refusedConnections = 0
  /** Datagrams dropped because they came from an unknown peer and were no handshake. */
  unknownDatagrams = 0
  udpChannel: DatagramChannel | undefined

  private server: ServerChannel | undefined
  private readonly associationMap = new Map<string, Association>()
  private readonly udpPeers = new Map<string, Association>()
  private readonly refCache = new Map<string, InternalActorRef>()
  private readonly wirePaths = new WeakMap<ActorRef, string>()
  private readonly handshakes = new WeakMap<Association, Uint8Array>()
  /** True while {@link inboundReadComplete} runs actors (it flushes after them). */
  private completingRead = false
  /** Associations to flush, in slots [0, dirtyCount). */
  private dirty: (Association | undefined)[] = []
  private dirtyCount = 0
  /** The other array of the flush double buffer (undefined while a flush iterates it). */
  private spareDirty: (Association | undefined)[] | undefined = []
  private flushQueued = false
  private ticker: ScheduledTimer | undefined
  private pendingInbound = 0
  private identifyCounter = 0
  private readonly protocol: Address['protocol']

  private constructor(options: RemoteOptions, internals: SystemInternals) {
    this.settings = resolveRemoteSettings(options)
    this.internals = internals
    this.clock = internals.clock
    this.protocol = `helios.${options.transport}` as Address['protocol']
    const registry = this.settings.registry ?? new MessageRegistry()
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
    r.scheduleTick()
    return r
  }

  private async bind(): Promise<void> {
    const s = this.settings
    let port: number
    try {
      if (s.transport === 'udp') {
        // Large socket buffers (capped by net.core.[rw]mem_max): bursts of datagrams are not lost.
        const ch = await new Bootstrap().transport('udp')
          .options({ receiveBufferSize: UDP_SOCKET_BUFFER, sendBufferSize: UDP_SOCKET_BUFFER })
          .handler((c) => { c.pipeline.addLast('datagrams', new DatagramHandler(this)) })
          .bind(s.port, s.host)
        this.udpChannel = ch
        port = ch.localAddress?.port ?? s.port
      } else {
        if (s.transport === 'tls' && s.tls === undefined) throw new Error("transport 'tls' needs remote.tls options (key, cert, ca)")
        const server = await new ServerBootstrap()
          .transport(s.transport)
          .options({
            handshakeTimeoutMs: s.handshakeTimeoutMs,
            maxPendingHandshakes: s.maxPendingInboundHandshakes,
            // Nodes verify each other: client certificates are required unless explicitly turned off.
            ...(s.tls !== undefined ? { tls: { requestCert: true, rejectUnauthorized: true, ...s.tls } } : {}),
            onError: (err) => this.handshakeFailedEvent('(inbound)', true, err.message, err),
          })
          .childHandler((ch) => {
            const inbound = new InboundConnectionHandler(this)
            ch.pipeline
              .addLast('preamble', new PreambleHandler(this, inbound))
              .addLast('frames', new LengthFieldBasedFrameDecoder({
                maxFrameLength: s.maxFrameSize + 4, lengthFieldLength: 4, initialBytesToStrip: 4,
              }))
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
    this.localUniqueAddress = { address: this.address.toString(), uid: this.internals.nodeUid }
    debug('remoting bound %s:%d, advertised as %s', s.host, port, this.address.toString())
  }

  // ------------------------------------------------------------------ RemoteProvider

  resolveRemoteRef(path: ActorPath): InternalActorRef {
    if (path.address.protocol !== this.protocol || path.address.isLocal) {
      debug('%s is not reachable over %s: dead letters', path.toString(), this.protocol)
      return new DeadLetterActorRef(this.internals, path)
    }
    return new RemoteActorRef(path, this.associationFor(path.address))
  }

  async resolveSelection(path: ActorPath, timeoutMs: number): Promise<ActorRef> {
    const target = this.resolveRemoteRef(path)
    const id = ++this.identifyCounter
    let reply: unknown
    try {
      reply = await this.internals.system.ask(target, new Identify(id), { timeoutMs })
    } catch (err) {
      if (err instanceof AskTimeoutError) throw new ActorNotFound(path.toString(), { cause: err })
      throw err
    }
    if (reply instanceof ActorIdentity && reply.ref !== null) return reply.ref
    throw new ActorNotFound(path.toString())
  }

  async shutdown(): Promise<void> {
    if (this.isShuttingDown) return
    this.isShuttingDown = true
    this.ticker?.cancel()
    await Promise.all([...this.associationMap.values()].map((a) => a.shutdown()))
    if (this.server !== undefined) await this.server.close()
    if (this.udpChannel !== undefined) {
      // Let the paced datagram pumps send the last frames (the disassociate notices) first.
      await new Promise<void>((resolve) => setImmediate(resolve))
      await new Promise<void>((resolve) => setTimeout(resolve, 20))
      await this.udpChannel.close()
    }
    debug('remoting of %s shut down', this.address.toString())
  }

  // ------------------------------------------------------------------ associations

  /** True when this node's transport is UDP. */
  get isUdp(): boolean { return this.settings.transport === 'udp' }

  /** @internal The UDP socket's outbound buffer fell below its low watermark. */
  udpWritable(): void {
    for (const a of this.associationMap.values()) a.onWritable()
  }

  /** The association with the node at `address` (created on first use). */
  associationFor(address: Address): Association {
    const key = address.toString()
    let a = this.associationMap.get(key)
    if (a === undefined) {
      a = new Association(this, address, (assoc, lane) => this.makeLink(assoc, lane))
      this.associationMap.set(key, a)
      if (this.settings.transport === 'udp') this.udpPeers.set(`${address.host}:${address.port}`, a)
    }
    return a
  }

  associations(): AssociationInfo[] {
    return [...this.associationMap.values()].map((a) => a.info())
  }

  /**
   * Forgets an idle association (never established, nothing waiting): the table of associations
   * stays bounded by the peers this node really talks to, whatever addresses handshakes claim.
   */
  evict(assoc: Association): void {
    if (this.associationMap.get(assoc.key) !== assoc) return
    this.associationMap.delete(assoc.key)
    for (const [k, a] of this.udpPeers) if (a === assoc) this.udpPeers.delete(k)
    for (const [k, r] of this.refCache) if (r instanceof RemoteActorRef && r.association === assoc) this.refCache.delete(k)
    assoc.detached = true
    assoc.control.close(true)
    assoc.user.close(true)
    debug('forgot idle association with %s', assoc.key)
  }

  private makeLink(assoc: Association, lane: LaneId): OutboundLink {
    return this.settings.transport === 'udp' ? new UdpOutboundLink(this, assoc, lane) : new TcpOutboundLink(this, assoc, lane)
  }

  /** The handshake request frame for an association (encoded once). */
  handshakeRequestFor(assoc: Association): Uint8Array {
    let f = this.handshakes.get(assoc)
    if (f === undefined) {
      f = this.codec.encode({ type: 'handshake-request', from: this.localUniqueAddress, to: assoc.key })
      this.handshakes.set(assoc, f)
    }
    return f
  }

  /** The handshake response this node writes first on a peer's user-lane connection it accepted. */
  handshakeResponseFor(assoc: Association): Uint8Array {
    return this.codec.encode({ type: 'handshake-response', from: this.localUniqueAddress, to: assoc.key })
  }

  /** node:tls client options derived from the server options the user gave. */
  tlsClientOptions(): ConnectionOptions {
    const { requestCert: _r, SNICallback: _s, ...rest } = (this.settings.tls ?? {}) as Record<string, unknown>
    return rest as ConnectionOptions
  }

  // ------------------------------------------------------------------ inbound

  /** Validates the first frame of an inbound connection; returns the association, or undefined when refused (connection closed). */
  acceptHandshake(frame: Uint8Array, lane: number | undefined, channel: Channel | undefined): Association | undefined {
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

  private acceptHandshakeRequest(pdu: HandshakeRequestPdu, _lane: number | undefined, channel: Channel | undefined): Association | undefined {
    if (pdu.to !== this.localUniqueAddress.address) {
      this.refuse(channel, `handshake meant for ${pdu.to}, this node is ${this.localUniqueAddress.address}`, undefined, pdu.from.address)
      return undefined
    }
    let from: Address
    try {
      from = Address.parse(pdu.from.address)
    } catch (err) {
      this.refuse(channel, `handshake from a malformed address ${JSON.stringify(pdu.from.address)}`, err)
      return undefined
    }
    if (from.protocol !== this.protocol) {
      this.refuse(channel, `handshake from ${from.toString()} over ${this.protocol}`, undefined, from.toString())
      return undefined
    }
    if (from.equals(this.address)) {
      this.refuse(channel, 'handshake from a node claiming this node\'s own address', undefined, from.toString())
      return undefined
    }
    const assoc = this.associationFor(from)
    if (!assoc.onHandshakeRequest(pdu.from.uid)) {
      if (channel !== undefined) void channel.close(new Error(`node ${from.toString()} uid ${pdu.from.uid} is quarantined`))
      return undefined
    }
    return assoc
  }

  /** A datagram arrived on the UDP socket. */
  receiveDatagram(d: Datagram): void {
    const key = `${d.remote.address}:${d.remote.port}`
    const buf = d.data
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    let off = 0
    while (off < buf.byteLength) {
      if (off + 4 > buf.byteLength) { this.unknownDatagrams++; return }
      const len = view.getUint32(off)
      const start = off + 4
      const end = start + len
      if (end > buf.byteLength || len > this.settings.maxFrameSize) { this.unknownDatagrams++; return }
      off = end
      const assoc = this.udpPeers.get(key)
      if (assoc !== undefined) {
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
      if (pdu.type !== 'handshake-request') {
        this.unknownDatagrams++
        continue
      }
      const a = this.acceptHandshakeRequest(pdu, LaneId.control, undefined)
      if (a !== undefined) this.udpPeers.set(key, a)
    }
  }

  admitInbound(): boolean {
    if (this.pendingInbound >= this.settings.maxPendingInboundHandshakes) return false
    this.pendingInbound++
    return true
  }

  releaseInbound(): void {
    this.pendingInbound--
  }

  /** Closes an inbound connection with a logged, published reason. */
  refuseInbound(channel: Channel, reason: string, cause?: unknown): void {
    this.refuse(channel, reason, cause)
  }

  private refuse(channel: Channel | undefined, reason: string, cause?: unknown, remote?: string): void {
    this.refusedConnections++
    const peer = remote ?? (channel?.remoteAddress !== undefined ? `${channel.remoteAddress.address}:${channel.remoteAddress.port}` : '(unknown)')
    this.handshakeFailedEvent(peer, true, reason, cause)
    if (channel !== undefined && channel.isActive) void channel.close(new Error(`refused: ${reason}`, { cause }))
  }

  /** Delivers an inbound user message; answers Identify itself. */
  deliverUser(recipient: string, message: unknown, sender: string | undefined): void {
    const senderRef = sender === undefined ? undefined : this.resolveCached(sender)
    if (message instanceof Identify) {
      let target: InternalActorRef | undefined
      try { target = this.internals.findLocalActor(ActorPath.parse(recipient)) } catch { target = undefined }
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
      this.dropped(undefined, recipient, 'recipient is not on this node')
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

  /** Resolves a path received on the wire, caching refs that name one incarnation (`#uid`) or a remote node. */
  resolveCached(path: string): InternalActorRef {
    let ref = this.refCache.get(path)
    if (ref !== undefined) return ref
    ref = this.internals.resolveActorRef(path)
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

  private scheduleTick(): void {
    this.ticker = this.clock.schedule(this.settings.heartbeatIntervalMs, () => {
      if (this.isShuttingDown) return
      const now = this.clock.now()
      for (const a of this.associationMap.values()) {
        try { a.tick(now) } catch (err) { debug('tick of %s failed: %o', a.key, err) }
      }
      this.scheduleTick()
    })
  }

  // ------------------------------------------------------------------ events

  publishAssociated(a: Association): void {
    const ev = this.internals.events
    if (ev.wants('associated')) ev.emit('associated', { local: this.address, remote: a.remoteAddress, remoteUid: a.uid as bigint })
  }

  publishDisassociated(a: Association, reason: string): void {
    debug('disassociated from %s: %s', a.key, reason)
    const ev = this.internals.events
    if (ev.wants('disassociated')) ev.emit('disassociated', { local: this.address, remote: a.remoteAddress, remoteUid: a.uid, reason })
  }

  publishQuarantined(a: Association, uid: bigint | undefined, reason: string): void {
    debug('quarantined %s uid %s: %s', a.key, uid, reason)
    const ev = this.internals.events
    if (ev.wants('quarantined')) ev.emit('quarantined', { local: this.address, remote: a.remoteAddress, remoteUid: uid, reason })
  }

  publishUnreachable(a: Association, phi: number): void {
    debug('%s unreachable (phi %d)', a.key, phi)
    const ev = this.internals.events
    if (ev.wants('unreachable')) ev.emit('unreachable', { local: this.address, remote: a.remoteAddress, remoteUid: a.uid, phi })
  }

  dropped(remote: Address | undefined, recipient: string, reason: string, cause?: unknown): void {
    debug('dropped message to %s: %s', recipient, reason)
    const ev = this.internals.events
    if (ev.wants('dropped')) ev.emit('dropped', { local: this.address, remote, recipient, reason, ...(cause !== undefined ? { cause } : {}) })
  }

  decodeFailed(a: Association, err: unknown): void {
    const e = err as Error & { envelope?: { recipient?: string } }
    const recipient = e.envelope?.recipient
    debug('frame from %s failed to decode: %s', a.key, e.message)
    this.dropped(a.remoteAddress, recipient ?? '(unknown)', `decode failed: ${e.message}`, err)
  }

  connectFailed(a: Association, lane: LaneId, err: Error): void {
    const code = (err as { code?: string }).code
    if (code === 'ERR_TLS_HANDSHAKE') this.handshakeFailedEvent(a.key, false, err.message, err)
    else if (lane === LaneId.control) debug('connect to %s failed: %s', a.key, err.message)
  }

  handshakeFailed(remote: string, reason: string, inbound = false): void {
    this.handshakeFailedEvent(remote, inbound, reason)
  }

  transportError(err: Error): void {
    debug('transport error: %s', err.message)
  }

  private handshakeFailedEvent(remote: string, inbound: boolean, reason: string, cause?: unknown): void {
    debug('%s handshake with %s failed: %s', inbound ? 'inbound' : 'outbound', remote, reason)
    const ev = this.internals.events
    if (ev.wants('handshakeFailed')) ev.emit('handshakeFailed', { local: this.address, remote, inbound, reason, ...(cause !== undefined ? { error: cause } : {}) })
  }
}
