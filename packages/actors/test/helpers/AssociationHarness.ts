import { Codec, type Pdu } from '@helios/codec'
import { ManualClock } from '@helios/transport/testing'
import { ActorPath } from '../../src/ActorPath.js'
import type { ActorRef } from '../../src/ActorRef.js'
import { Address } from '../../src/Address.js'
import { InternalActorRef } from '../../src/internal/InternalActorRef.js'
import type { SystemMessage } from '../../src/internal/SystemMessage.js'
import type { Association } from '../../src/remote/Association.js'
import type { AssociationEvents, AssociationHost } from '../../src/remote/AssociationContext.js'
import { MemoryBudget } from '../../src/remote/MemoryBudget.js'
import { AssociationRegistry } from '../../src/remote/AssociationRegistry.js'
import { LaneId, type OutboundLink } from '../../src/remote/OutboundLink.js'
import { RemoteActorRef } from '../../src/remote/RemoteActorRef.js'
import { resolveRemoteSettings } from '../../src/remote/RemoteSettings.js'
import type { RemoteOptions } from '../../src/ActorSystem.js'

/**
 * A node around real associations and a real AssociationRegistry, without sockets: links that
 * record the frames written on them (decoded for the test), a manual clock, and a log of what the
 * node was asked to deliver and publish.
 */

/** A link that records frames; the test decides when it is up, down or refused. */
export class FakeLink implements OutboundLink {
  ready = false
  writable = true
  confirmed = false
  /** Connections started by ensure() (one at a time, as the real link does). */
  connects = 0
  closed = false
  private connecting = false
  readonly written: Uint8Array[] = []
  private readonly decoder = new Codec()

  constructor(
    readonly owner: Association,
    readonly lane: LaneId,
  ) {}

  ensure(): void {
    if (this.ready || this.closed || this.connecting) return
    this.connecting = true
    this.connects++
  }
  write(payload: Uint8Array): void {
    if (this.ready) this.written.push(payload)
  }
  flush(): void {}
  sendHandshake(): void {
    if (!this.ready) {
      this.ensure()
      return
    }
    this.write(this.owner.handshakeRequest())
  }
  confirm(): void {
    this.confirmed = true
  }
  close(forGood: boolean): void {
    this.connecting = false
    this.ready = false
    this.confirmed = false
    if (forGood) this.closed = true
  }

  /** A new connection: the request (fresh nonce on the control lane) first, as the TCP link does. */
  up(): void {
    this.connecting = false
    this.ready = true
    this.confirmed = false
    this.write(this.lane === LaneId.control ? this.owner.newControlConnectionRequest() : this.owner.handshakeRequest())
    this.owner.onLinkUp(this.lane)
  }

  /** The connection closed. */
  down(reason = 'connection reset'): void {
    this.connecting = false
    this.ready = false
    this.confirmed = false
    this.owner.onLinkDown(this.lane, reason)
  }

  /** The frames written so far, decoded (and forgotten). */
  take(): Pdu[] {
    const out = this.written.splice(0).map((f) => this.decoder.decode(f, 0, f.length))
    return out
  }

  /** The nonce of the last handshake request written (and the frames are kept). */
  lastNonce(): bigint {
    for (let i = this.written.length - 1; i >= 0; i--) {
      const f = this.written[i] as Uint8Array
      const pdu = this.decoder.decode(f, 0, f.length)
      if (pdu.type === 'handshake-request') return pdu.nonce
    }
    throw new Error('no handshake request written')
  }
}

/** A local actor stand-in that records the system messages it gets (Terminated notices). */
export class ProbeRef extends InternalActorRef {
  readonly isLocal = true
  readonly path: ActorPath
  readonly system: SystemMessage[] = []
  constructor(path: string) {
    super()
    this.path = ActorPath.parse(path)
  }
  tell(): void {}
  sendSystemMessage(message: SystemMessage): void {
    this.system.push(message)
  }
}

/** One recorded call of the node. */
export interface NodeEvent {
  readonly type: string
  readonly detail: Record<string, unknown>
}

export const LOCAL = 'helios.tcp://A@127.0.0.1:1'
export const PEER = 'helios.tcp://B@127.0.0.1:2'

/** The fake node: implements AssociationHost, owns a real AssociationRegistry. */
export class FakeNode implements AssociationHost {
  readonly clock = new ManualClock(1_000_000)
  readonly settings
  readonly codec = new Codec({ localUid: 1n })
  readonly localAddress = Address.parse(LOCAL)
  readonly nodeUid = 1n
  readonly isUdp: boolean
  isShuttingDown = false
  receivingFrom: Association | undefined
  datagramSource: string | undefined
  hasOwnSocket(): boolean {
    return false
  }
  readonly memory = new MemoryBudget(128 * 1024 * 1024, 32 * 1024 * 1024)
  readonly registry: AssociationRegistry
  /** Everything the associations published, in order. */
  readonly log: NodeEvent[] = []
  readonly events: AssociationEvents = {
    associated: (a) => this.record('associated', { uid: a.uid, localUid: a.localUid }),
    disassociated: (a, reason) => this.record('disassociated', { uid: a.uid, reason }),
    quarantined: (a, uid, reason, byPeer) => this.record('quarantined', { key: a.key, uid, reason, ...byPeer }),
    unreachable: (a, phi) => this.record('unreachable', { uid: a.uid, phi }),
    dropped: (d) => this.record('dropped', { recipient: d.recipient, kind: d.kind, reason: d.reason, count: d.count }),
    decodeFailed: (_a, err) => this.record('decodeFailed', { error: String(err) }),
    handshakeFailed: (remote, reason, inbound) => this.record('handshakeFailed', { remote, reason, inbound }),
    connectFailed: (_a, lane, err) => this.record('connectFailed', { lane, error: err.message }),
    warn: (code, _key, message) => this.record('warn', { code, message }),
  }
  readonly links = new Map<Association, { control: FakeLink; user: FakeLink }>()
  private readonly dirty = new Set<Association>()

  constructor(options: Partial<RemoteOptions> = {}) {
    this.settings = resolveRemoteSettings({ transport: 'tcp', host: '127.0.0.1', port: 1, handshakeTimeoutMs: 10_000, ...options })
    this.isUdp = this.settings.transport === 'udp'
    this.registry = new AssociationRegistry(this)
  }

  makeLink(owner: Association, lane: LaneId): OutboundLink {
    const link = new FakeLink(owner, lane)
    const pair = this.links.get(owner) ?? ({} as { control: FakeLink; user: FakeLink })
    if (lane === LaneId.control) pair.control = link
    else pair.user = link
    this.links.set(owner, pair)
    return link
  }

  /** The association for the peer now. */
  peer(address = PEER): Association {
    return this.registry.associationFor(Address.parse(address))
  }

  /** The control link of `a`. */
  control(a: Association): FakeLink {
    return this.links.get(a)!.control
  }
  /** The user link of `a`. */
  user(a: Association): FakeLink {
    return this.links.get(a)!.user
  }

  /** A ref to an actor at the peer. */
  ref(path: string, a: Association = this.peer()): RemoteActorRef {
    return new RemoteActorRef(ActorPath.parse(path), this.registry, a)
  }

  /** Runs the flushes scheduled so far (the real node runs them at the end of the turn). */
  flush(): void {
    for (const a of [...this.dirty]) {
      this.dirty.delete(a)
      a.flush()
    }
  }

  /** Advances the clock by whole heartbeat intervals, ticking the registry each time (as the real node's timer does). */
  tick(times = 1): void {
    for (let i = 0; i < times; i++) {
      this.clock.advance(this.settings.heartbeatIntervalMs)
      this.registry.tick(this.clock.now())
      this.flush()
    }
  }

  /** Events of a type. */
  of(type: string): Record<string, unknown>[] {
    return this.log.filter((e) => e.type === type).map((e) => e.detail)
  }

  private record(type: string, detail: Record<string, unknown> = {}): void {
    this.log.push({ type, detail })
  }

  wirePathOf(ref: ActorRef): string {
    return ref.path.toSerializationFormat()
  }
  scheduleFlush(a: Association): void {
    this.dirty.add(a)
  }
  deliverUser(recipient: string, message: unknown, sender: string | undefined): void {
    this.record('deliverUser', { recipient, message, sender })
  }
  deliverSystem(recipient: string, sender: string, kind: number): void {
    this.record('deliverSystem', { recipient, sender, kind })
  }
  deadLetter(message: unknown, _sender: ActorRef | undefined, recipient: ActorRef): void {
    this.record('deadLetter', { message, recipient: recipient.path.toString() })
  }
  addressTerminated(address: Address): void {
    this.record('addressTerminated', { address: address.toString() })
  }
}

/** A connect error as the transport reports a refused connection (ECONNREFUSED underneath). */
export function refused(): Error {
  const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:2'), { code: 'ECONNREFUSED' })
  return Object.assign(new Error('connect to 127.0.0.1:2 refused', { cause }), { code: 'ERR_CONNECT_REFUSED' })
}

/** A connect error that proves nothing (the path is down, the host does not answer). */
export function timedOut(): Error {
  return Object.assign(new Error('connect to 127.0.0.1:2 timed out'), { code: 'ERR_CONNECT_TIMEOUT' })
}
