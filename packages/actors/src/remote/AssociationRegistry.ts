import type { ActorRef } from '../ActorRef.js'
import { Address } from '../Address.js'
import type { AssociationInfo } from '../AssociationInfo.js'
import { debug } from '../internal/debug.js'
import { newNodeUid } from '../internal/uid.js'
import { Association } from './Association.js'
import type { AssociationHost } from './AssociationContext.js'
import { isFinal } from './AssociationState.js'
import type { HandshakeSessions } from './Handshake.js'
import { QuarantineList } from './QuarantineList.js'

/** Per-address uids this node took after being quarantined by a peer, at most. */
const LOCAL_UIDS_LIMIT = 10_000
/** Addresses whose last connect failure is remembered, at most. */
const FAILURES_LIMIT = 1024

/**
 * The associations of one node: the current one per remote address (a successor replaces one that
 * ended), the quarantined peer uids, the uid this node presents to each address, and the
 * transitions that span two associations: a proven restart of the peer, and this node taking a
 * new uid towards a peer that quarantined it.
 */
export class AssociationRegistry {
  /** Quarantined peer uids per address. */
  readonly quarantine: QuarantineList
  private readonly current = new Map<string, Association>()
  /** UDP: the association of each `ip:port` datagrams come from. */
  private readonly endpoints = new Map<string, Association>()
  /** The uid this node presents to an address, where it is not the node uid (a peer quarantined that one). */
  private readonly localUids = new Map<string, bigint>()
  /** Why each address could not be reached lately (see {@link Association.lastFailure}). */
  private readonly failures = new Map<string, string>()

  constructor(private readonly host: AssociationHost) {
    this.quarantine = new QuarantineList(10_000, Math.max(60_000, host.settings.reconnectMaxBackoffMs))
  }

  /**
   * The current association with the node at `address`: created on first use, and anew when the
   * last one ended. `sponsor`: the first use is a message to a ref whose path came from that
   * association's frames (a reply to a sender nobody vouched for): a new association is unverified.
   */
  associationFor(address: Address, sponsor?: Association): Association {
    const key = address.toString()
    const a = this.current.get(key)
    if (a !== undefined && !isFinal(a.state)) return a
    const next = new Association(this.host, this, address, {
      localUid: this.localUids.get(key) ?? this.host.nodeUid,
      ...(a === undefined && sponsor !== undefined ? { sponsor } : {}),
    })
    const max = this.host.settings.maxAssociations
    if (a === undefined && this.current.size >= max) {
      // Beyond the bound: an association that refuses everything, kept nowhere.
      const reason = `maxAssociations (${max}) reached: not associating with ${key}`
      next.retire(reason, false)
      this.host.events.warn(
        'HELIOS_MAX_ASSOCIATIONS',
        key,
        `helios: ${reason}; messages to it go to dead letters (raise remote.maxAssociations, or talk to fewer nodes)`,
      )
      return next
    }
    return this.install(next, a)
  }

  /** The current association for `key`, if any (ended or not). */
  get(key: string): Association | undefined {
    return this.current.get(key)
  }

  /** The current association with `address` if there is one and it has not ended; never creates one. */
  existing(address: Address): Association | undefined {
    const a = this.current.get(address.toString())
    return a !== undefined && !isFinal(a.state) ? a : undefined
  }

  /** Counts and publishes an undeliverable message. */
  deadLetter(message: unknown, sender: ActorRef | undefined, recipient: ActorRef): void {
    this.host.deadLetter(message, sender, recipient)
  }

  /** Remembers why the node at `key` could not be reached (its last connect failure or refusal). */
  noteFailure(key: string, reason: string): void {
    this.failures.delete(key)
    if (this.failures.size >= FAILURES_LIMIT) this.failures.delete(this.failures.keys().next().value as string)
    this.failures.set(key, reason)
  }

  /** The node at `key` answered: its last failure is history. */
  clearFailure(key: string): void {
    this.failures.delete(key)
  }

  /** Why the node at `key` could not be reached lately, if it could not. */
  failureOf(key: string): string | undefined {
    return this.failures.get(key)
  }

  /** UDP: the association that datagrams from `endpoint` (`ip:port`) belong to. */
  forEndpoint(endpoint: string): Association | undefined {
    return this.endpoints.get(endpoint)
  }

  /** UDP: datagrams from `endpoint` belong to `a` (its handshake was accepted from there). */
  bindEndpoint(endpoint: string, a: Association): void {
    this.endpoints.set(endpoint, a)
  }

  /** Every current association. */
  values(): IterableIterator<Association> {
    return this.current.values()
  }

  /** Snapshots of the current associations. */
  info(): AssociationInfo[] {
    return [...this.current.values()].map((a) => a.info())
  }

  /** Makes `next` the current association for its address (the successor of `previous`). */
  private install(next: Association, previous: Association | undefined): Association {
    this.current.set(next.key, next)
    if (previous !== undefined) previous.successor = next
    const { host, port } = next.remoteAddress
    if (this.host.isUdp) this.endpoints.set(`${host}:${port}`, next)
    return next
  }

  /**
   * The peer proved another incarnation (`uid`) at its address: `old` ends (quarantined as
   * restarted; its watchers are told) and a successor established with `uid` takes over, keeping
   * `old`'s nonce (already sent to the address) and answering the claimant's request if it made one.
   */
  restarted(old: Association, uid: bigint, sessions: HandshakeSessions): Association {
    const next = this.install(
      new Association(this.host, this, old.remoteAddress, { localUid: old.localUid, nonce: old.handshake.nonce }),
      old,
    )
    const claim = old.handshake.claim
    old.quarantine(`node restarted (uid ${uid} confirmed at ${old.key})`, 'restarted', false)
    next.establish(uid, sessions)
    if (claim?.uid === uid) next.onHandshakeRequest(uid, claim.nonce, claim.sessions)
    return next
  }

  /**
   * The peer says it quarantined this node's uid on `a`. With `quarantineRecovery: 'new-uid'`,
   * this node takes a new uid for this pair only (every other association keeps its uid): `a` is
   * retired (watchers here of actors there get Terminated, refs bound to it stay dead), the peer's
   * old uids are forgiven in turn, and a successor introduces the new uid at once.
   */
  quarantinedByPeer(a: Association, peerUid: bigint | undefined, reason: string): void {
    if (isFinal(a.state) || this.host.isShuttingDown) return
    const local = this.host.localAddress.toString()
    const oldUid = a.localUid
    if (this.host.settings.quarantineRecovery === 'none') {
      a.quarantine(`${reason}; no traffic with it while this node keeps uid ${oldUid}`, 'peer', false)
      this.host.events.quarantined(a, peerUid, reason, { byPeer: true, localUid: oldUid })
      this.host.events.warn(
        'HELIOS_QUARANTINED',
        a.key,
        `${a.key} quarantined this node (${local} uid ${oldUid}): ${reason}. ` +
          "remote.quarantineRecovery is 'none': this node cannot talk to it again until it restarts.",
      )
      return
    }
    const newUid = newNodeUid()
    if (this.localUids.size >= LOCAL_UIDS_LIMIT) this.localUids.delete(this.localUids.keys().next().value as string)
    this.localUids.set(a.key, newUid)
    this.quarantine.forget(a.key)
    const next = this.install(new Association(this.host, this, a.remoteAddress, { localUid: newUid }), a)
    a.retire(`${a.key} quarantined this node's uid ${oldUid}; talking to it as uid ${newUid} from now on`)
    this.host.events.quarantined(a, peerUid, reason, { byPeer: true, localUid: oldUid, newLocalUid: newUid })
    this.host.events.warn(
      'HELIOS_QUARANTINED',
      a.key,
      `${a.key} quarantined this node (${local} uid ${oldUid}): ${reason}. ` +
        `Re-associating with it as uid ${newUid}: watchers of its actors got Terminated and refs obtained before are dead; resolve them again.`,
    )
    next.connect()
  }

  /**
   * Forgets an idle association (never established, nothing waiting): the table stays bounded by
   * the peers this node really talks to, whatever addresses handshakes claim.
   */
  evict(a: Association): void {
    if (!this.forget(a)) return
    a.retire('idle: forgotten', false)
    debug('forgot idle association with %s', a.key)
  }

  /** Drops `a` from the table (if it is the current one for its address). */
  private forget(a: Association): boolean {
    if (this.current.get(a.key) !== a) return false
    this.current.delete(a.key)
    for (const [k, x] of this.endpoints) if (x === a) this.endpoints.delete(k)
    return true
  }

  /**
   * Ticks the associations of `slot` (of `slots` per heartbeat interval: each association ticks
   * once per interval, in the slot its address hashes to, so that a node with many peers spreads
   * the work instead of doing it in one pass), then probes the quarantined addresses that are due.
   * Without `slot`, ticks every association (tests on a manual clock).
   */
  tick(now: number, slot?: number, slots = 1): void {
    const forgetAfter = this.host.settings.forgetQuarantinedAfterMs
    for (const a of [...this.current.values()]) {
      if (slot !== undefined && a.tickSlot % slots !== slot) continue
      const s = a.state
      if (s.kind === 'quarantined' && now - s.since >= forgetAfter) {
        // Its uid stays refused (the quarantine list); the object, and the probing, go.
        this.forget(a)
        this.quarantine.stopProbing(a.key)
        continue
      }
      try {
        a.tick(now)
      } catch (err) {
        debug('tick of %s failed: %o', a.key, err)
      }
    }
    for (const key of this.quarantine.dueProbes(now)) this.probe(key)
  }

  /** This process was paused: no peer is judged on the silence meanwhile. */
  forgivePause(): void {
    for (const a of this.current.values()) a.forgivePause()
  }

  /** Finds out who answers at a quarantined address (after a partition heals, nobody else would). */
  private probe(key: string): void {
    const a = this.current.get(key)
    if (a !== undefined && !isFinal(a.state)) return
    let address: Address
    try {
      address = Address.parse(key)
    } catch {
      return
    }
    debug('probing quarantined address %s', key)
    this.associationFor(address).connect()
  }
}
