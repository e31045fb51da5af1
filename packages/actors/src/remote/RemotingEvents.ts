import type { ActorSystemEvents } from '../ActorSystemEvents.js'
import type { Address } from '../Address.js'
import { debug } from '../internal/debug.js'
import { warn } from '../internal/log.js'
import type { Association } from './Association.js'
import type { AssociationEvents } from './AssociationContext.js'
import { LaneId } from './OutboundLink.js'

/**
 * What the remoting publishes: `system.events` (and their diagnostics channels; payloads built only
 * when someone listens), `NODE_DEBUG=helios` lines, and process warnings for what a user must see
 * without a listener.
 */
export class RemotingEvents implements AssociationEvents {
  constructor(private readonly events: ActorSystemEvents, private readonly local: () => Address) {}

  associated(a: Association): void {
    debug('associated with %s (uid %s, as uid %s)', a.key, a.uid, a.localUid)
    if (this.events.wants('associated')) this.events.emit('associated', { local: this.local(), remote: a.remoteAddress, remoteUid: a.uid as bigint, localUid: a.localUid })
  }

  disassociated(a: Association, reason: string): void {
    debug('disassociated from %s: %s', a.key, reason)
    if (this.events.wants('disassociated')) this.events.emit('disassociated', { local: this.local(), remote: a.remoteAddress, remoteUid: a.uid, reason })
  }

  quarantined(a: Association, uid: bigint | undefined, reason: string, byPeer?: { readonly byPeer: true; readonly localUid: bigint; readonly newLocalUid?: bigint }): void {
    debug('%s %s uid %s: %s', byPeer !== undefined ? 'quarantined by' : 'quarantined', a.key, uid, reason)
    if (this.events.wants('quarantined')) {
      this.events.emit('quarantined', { local: this.local(), remote: a.remoteAddress, remoteUid: uid, reason, byPeer: byPeer !== undefined, ...byPeer })
    }
  }

  unreachable(a: Association, phi: number): void {
    debug('%s unreachable (phi %d)', a.key, phi)
    if (this.events.wants('unreachable')) this.events.emit('unreachable', { local: this.local(), remote: a.remoteAddress, remoteUid: a.uid, phi })
  }

  dropped(remote: Address | undefined, recipient: string, reason: string, cause?: unknown, count?: number): void {
    debug('dropped message to %s: %s', recipient, reason)
    if (this.events.wants('dropped')) {
      this.events.emit('dropped', { local: this.local(), remote, recipient, reason, ...(cause !== undefined ? { cause } : {}), ...(count !== undefined ? { count } : {}) })
    }
  }

  decodeFailed(a: Association, err: unknown): void {
    const e = err as Error & { envelope?: { recipient?: string } }
    debug('frame from %s failed to decode: %s', a.key, e.message)
    this.dropped(a.remoteAddress, e.envelope?.recipient ?? '(unknown)', `decode failed: ${e.message}`, err)
  }

  connectFailed(a: Association, lane: LaneId, err: Error): void {
    if ((err as { code?: string }).code === 'ERR_TLS_HANDSHAKE') this.handshakeFailed(a.key, err.message, false, err)
    else if (lane === LaneId.control) debug('connect to %s failed: %s', a.key, err.message)
  }

  handshakeFailed(remote: string, reason: string, inbound: boolean, cause?: unknown): void {
    debug('%s handshake with %s failed: %s', inbound ? 'inbound' : 'outbound', remote, reason)
    if (this.events.wants('handshakeFailed')) {
      this.events.emit('handshakeFailed', { local: this.local(), remote, inbound, reason, ...(cause !== undefined ? { error: cause } : {}) })
    }
  }

  warn(code: string, message: string): void {
    warn(code, message)
  }
}
