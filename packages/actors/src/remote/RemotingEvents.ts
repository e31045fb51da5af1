import { isIP } from 'node:net'
import { sourceOf } from '@helios/transport'
import type { ActorSystemEvents, DropKind, HandshakeFailedEvent } from '../ActorSystemEvents.js'
import type { Address } from '../Address.js'
import { debug } from '../internal/debug.js'
import { RepeatLimiter } from '../internal/RepeatLimiter.js'
import { plural, type SystemLog } from '../internal/SystemLog.js'
import type { Association } from './Association.js'
import type { AssociationEvents, DropReport, QuarantineCause } from './AssociationContext.js'
import { LaneId } from './OutboundLink.js'

/** How the log names each kind of drop in its count lines. */
const DROP_WORDS: { readonly [K in DropKind]: string } = {
  'queue-full': 'outbound queue full',
  'not-serializable': 'cannot be serialized (class not registered?)',
  'too-large': 'too large',
  'unknown-manifest': 'class not registered on this node',
  undecodable: 'failed to decode',
  'lost-in-transit': 'lost in transit',
  unconfirmed: 'not confirmed when the association ended',
  undelivered: 'undelivered when the association ended',
  misdirected: 'recipient not on this node',
}

/**
 * What the remoting publishes, all of it through here: `system.events` (and their diagnostics
 * channels; payloads built only when someone listens), `NODE_DEBUG=helios` lines, and the system's
 * log (the `logger` option): the first occurrence of each kind of trouble at once, repeats as one
 * count per interval.
 */
export class RemotingEvents implements AssociationEvents {
  /** `handshakeFailed` events: the first of each kind at once, then one count per interval. */
  private readonly refusals: RepeatLimiter<HandshakeFailedEvent>

  constructor(
    private readonly events: ActorSystemEvents,
    private readonly log: SystemLog,
    private readonly local: () => Address,
  ) {
    this.refusals = new RepeatLimiter({
      clock: log.clock,
      intervalMs: log.intervalMs,
      // a flood of refusals of ever new kinds publishes at most this many at once per interval
      newKindsPerInterval: 64,
      publish: (e, count) => this.events.emit('handshakeFailed', count === undefined ? e : { ...e, count }),
    })
  }

  /** Publishes the counts of refusals still pending (at shutdown: nothing is lost). */
  flush(): void {
    this.refusals.flush()
  }

  /** Remoting is bound and listening. */
  started(transport: string): void {
    this.log.write('info', `remoting listening (${transport}) as ${this.local().toString()}`)
  }

  associated(a: Association): void {
    debug('associated with %s (uid %s, as uid %s)', a.key, a.uid, a.localUid)
    this.log.report(
      'info',
      `associated:${a.key}`,
      () => `associated with ${a.key} (uid ${a.uid})`,
      (n) => `associated with ${a.key} ${plural(n, 'more time')}`,
    )
    if (this.events.wants('associated'))
      this.events.emit('associated', { local: this.local(), remote: a.remoteAddress, remoteUid: a.uid as bigint, localUid: a.localUid })
  }

  disassociated(a: Association, reason: string): void {
    debug('disassociated from %s: %s', a.key, reason)
    this.log.report(
      'info',
      `disassociated:${a.key}`,
      () => `lost the connection to ${a.key} (${reason}); reconnecting`,
      (n) => `lost the connection to ${a.key} ${plural(n, 'more time')}`,
    )
    if (this.events.wants('disassociated'))
      this.events.emit('disassociated', { local: this.local(), remote: a.remoteAddress, remoteUid: a.uid, reason })
  }

  quarantined(
    a: Association,
    uid: bigint | undefined,
    reason: string,
    byPeer?: { readonly byPeer: true; readonly localUid: bigint; readonly newLocalUid?: bigint },
    cause?: QuarantineCause,
  ): void {
    debug('%s %s uid %s: %s', byPeer !== undefined ? 'quarantined by' : 'quarantined', a.key, uid, reason)
    // Quarantined by the peer: the registry writes a HELIOS_QUARANTINED line through warn().
    if (byPeer === undefined) {
      // A peer that shut down cleanly is no trouble.
      const level = cause === 'shutdown' ? 'info' : 'warn'
      this.log.report(
        level,
        `quarantined:${a.key}:${cause ?? ''}`,
        () =>
          `${cause === 'shutdown' ? 'association ended' : 'quarantined'}: ${a.key}${uid === undefined ? '' : ` uid ${uid}`}: ${reason}; watchers of its actors got Terminated`,
        (n) => `${a.key} quarantined ${plural(n, 'more time')} (${cause ?? 'quarantined'})`,
      )
    }
    if (this.events.wants('quarantined')) {
      this.events.emit('quarantined', {
        local: this.local(),
        remote: a.remoteAddress,
        remoteUid: uid,
        reason,
        byPeer: byPeer !== undefined,
        ...byPeer,
      })
    }
  }

  unreachable(a: Association, phi: number): void {
    // The quarantine that follows writes the log line.
    debug('%s unreachable (phi %d)', a.key, phi)
    if (this.events.wants('unreachable'))
      this.events.emit('unreachable', { local: this.local(), remote: a.remoteAddress, remoteUid: a.uid, phi })
  }

  dropped(d: DropReport): void {
    debug('dropped message to %s: %s', d.recipient, d.reason)
    const where = d.remote?.toString() ?? 'this node'
    const n = d.count ?? 1
    this.log.report(
      'warn',
      `dropped:${d.kind}:${where}`,
      () => (d.count === undefined ? `dropped a message to ${d.recipient}: ${d.reason}` : `dropped: ${d.reason}`),
      (m) =>
        `${plural(m, 'more message')} ${d.kind === 'lost-in-transit' || d.kind === 'unknown-manifest' || d.kind === 'undecodable' || d.kind === 'misdirected' ? 'from' : 'to'} ${where} dropped: ${DROP_WORDS[d.kind]}`,
      n,
    )
    if (this.events.wants('dropped')) {
      this.events.emit('dropped', {
        local: this.local(),
        remote: d.remote,
        recipient: d.recipient,
        kind: d.kind,
        reason: d.reason,
        ...(d.cause !== undefined ? { cause: d.cause } : {}),
        ...(d.count !== undefined ? { count: d.count } : {}),
      })
    }
  }

  decodeFailed(a: Association, err: unknown): void {
    const e = err as Error & { envelope?: { recipient?: string }; code?: string }
    debug('frame from %s failed to decode: %s', a.key, e.message)
    const kind: DropKind =
      e.code === 'ERR_UNKNOWN_MANIFEST' ? 'unknown-manifest' : e.code === 'ERR_MESSAGE_TOO_LARGE' ? 'too-large' : 'undecodable'
    this.dropped({
      remote: a.remoteAddress,
      recipient: e.envelope?.recipient ?? '(unknown)',
      kind,
      reason: `decode failed: ${e.message}`,
      cause: err,
    })
  }

  connectFailed(a: Association, lane: LaneId, err: Error, reason: string): void {
    if ((err as { code?: string }).code === 'ERR_TLS_HANDSHAKE') {
      this.handshakeFailed(a.key, err.message, false, err)
      return
    }
    if (lane === LaneId.control) debug('connect to %s failed: %s', a.key, err.message)
    const errno = errnoOf(err)
    this.log.report(
      'warn',
      `connect:${a.key}:${errno}`,
      () =>
        `cannot connect to ${a.key}: ${reason}${errno !== '' && !reason.includes(errno) ? ` (${errno})` : ''}; retrying with backoff while messages or watches wait`,
      (n) => `${plural(n, 'more failed connection attempt')} to ${a.key}${errno !== '' ? ` (${errno})` : ''}`,
    )
  }

  /**
   * A connection refused before it carried traffic. `source`: the IP address it came from (inbound;
   * else taken from `remote` when that is `ip:port`), which with the shape of the reason makes the
   * kind its events are counted by: one peer refused for one reason publishes its first refusal at
   * once and then one event per interval with the `count` of those that followed.
   */
  handshakeFailed(remote: string, reason: string, inbound: boolean, cause?: unknown, source?: string): void {
    debug('%s handshake with %s failed: %s', inbound ? 'inbound' : 'outbound', remote, reason)
    // One kind per shape of the reason (numbers, such as uids and ports, left out).
    this.log.report(
      'warn',
      `handshake:${inbound ? 'in' : 'out'}:${shape(`${remote} ${reason}`)}`,
      () => (inbound ? `refused a connection from ${remote}: ${reason}` : `handshake with ${remote} failed: ${reason}`),
      (n) =>
        inbound
          ? `${plural(n, 'more connection')} refused like the one from ${remote}`
          : `${plural(n, 'more failed handshake')} like the one with ${remote}`,
    )
    if (this.events.wants('handshakeFailed')) {
      const from = source !== undefined ? sourceOf(source) : hostOf(remote)
      this.refusals.occur(
        `${inbound ? 'in' : 'out'}|${from}|${refusalShape(reason)}`,
        { local: this.local(), remote, inbound, reason, ...(cause !== undefined ? { error: cause } : {}) },
        1,
        inbound ? 'in|*' : 'out|*',
      )
    }
  }

  warn(code: string, key: string, message: string): void {
    this.log.report(
      'warn',
      `${code}:${key}`,
      () => `${code}: ${message}`,
      (n) => `${code}: ${plural(n, 'more time')} (${key})`,
    )
  }
}

/** The system error code behind a transport error (`ECONNREFUSED`), or ''. */
export function errnoOf(err: Error): string {
  const own = (err as { code?: unknown }).code
  const cause = (err as { cause?: { code?: unknown } }).cause?.code
  if (typeof cause === 'string') return cause
  return typeof own === 'string' && own.startsWith('E') && !own.startsWith('ERR_') ? own : ''
}

/** A reason with its numbers left out: the same kind of failure from different ports or uids. */
function shape(s: string): string {
  return s.replace(/\d+/g, '#')
}

/** The peer part of a refusal's kind: the source of an `ip:port` (an IPv6 /64), else the whole text (an address). */
function hostOf(remote: string): string {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(remote)
  return m !== null && isIP(m[1] as string) !== 0 ? sourceOf(m[1]) : remote
}

/** A refusal's reason with what varies from one connection to the next left out: numbers, and addresses a peer may name. */
function refusalShape(reason: string): string {
  return reason.replace(/[a-z][a-z0-9.+-]*:\/\/\S*/gi, '<address>').replace(/\d+/g, '#')
}
