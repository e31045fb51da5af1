import { isIPv4, isIPv6 } from 'node:net'

/** Options of {@link HandshakeSlots}. */
export interface HandshakeSlotsOptions {
  /** Slots in all (connections in their handshake at once). */
  readonly max: number
  /** Slots one source may hold, whatever is free. Default: half of `max` (at least 1). */
  readonly maxPerSource?: number
}

/** What {@link HandshakeSlots.acquire} decided. */
export type SlotGrant<T> =
  | {
      /** The item holds a slot now. */
      readonly admitted: true
      /** The connection that lost its slot to make room (close it), if any. */
      readonly evicted?: {
        /** The evicted connection. */
        readonly item: T
        /** Its source address. */
        readonly source: string
      }
    }
  | {
      /** No slot: refuse the item. */
      readonly admitted: false
      /** `source`: the source holds `maxPerSource`; `total`: all slots are taken by sources holding no more than this one. */
      readonly full: 'source' | 'total'
      /** Slots held by the source. */
      readonly held: number
    }

/**
 * The slots of connections in their handshake (a TLS handshake, a protocol's preamble), capped in
 * all and per source address, and shared fairly: a connection from a source that holds fewer slots
 * than the largest holder is never refused for lack of room. When every slot is taken it takes the
 * oldest slot of the source that holds the most (whose connection the caller closes), as long as
 * its source then still holds fewer. So one host that opens connections as fast as they are
 * closed (a slow-loris) keeps at most its share, and a newcomer from anywhere else gets in at once.
 *
 * A source is a host: IPv4 addresses and IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) count as
 * the IPv4 address, other IPv6 addresses by their /64 prefix (one host usually holds a whole /64).
 * What it cannot do: tell apart connections from one source (a NAT, or an attacker on the same host
 * as a legitimate peer): those share that source's slots, first come first served.
 *
 * @example
 * ```ts
 * const slots = new HandshakeSlots<net.Socket>({ max: 64 })
 * const grant = slots.acquire(sourceOf(socket.remoteAddress), socket)
 * if (!grant.admitted) socket.destroy()
 * else grant.evicted?.item.destroy()
 * // ... when the handshake is done or the socket closes:
 * slots.release(socket)
 * ```
 */
export class HandshakeSlots<T> {
  /** Slots in all. */
  readonly max: number
  /** Slots per source. */
  readonly maxPerSource: number
  /** Per source, its items oldest first (Map keeps insertion order). */
  readonly #bySource = new Map<string, Set<T>>()
  readonly #sourceOf = new Map<T, string>()

  /** @throws {RangeError} when `max` or `maxPerSource` is not a positive integer. */
  constructor(options: HandshakeSlotsOptions) {
    const max = options.max
    const perSource = options.maxPerSource ?? Math.max(1, Math.floor(max / 2))
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`max must be a positive integer, got ${max}`)
    if (!Number.isInteger(perSource) || perSource < 1) throw new RangeError(`maxPerSource must be a positive integer, got ${perSource}`)
    this.max = max
    this.maxPerSource = Math.min(perSource, max)
  }

  /** Slots taken. */
  get size(): number {
    return this.#sourceOf.size
  }

  /** Slots held by `source`. */
  heldBy(source: string): number {
    return this.#bySource.get(source)?.size ?? 0
  }

  /** True when `item` holds a slot. */
  has(item: T): boolean {
    return this.#sourceOf.has(item)
  }

  /**
   * Takes a slot for `item` from `source` (a key from {@link sourceOf}). Refused when the source
   * holds `maxPerSource`, or when all slots are taken and no source holds at least two more than
   * this one; otherwise admitted, possibly by evicting the oldest item of the largest holder.
   */
  acquire(source: string, item: T): SlotGrant<T> {
    if (this.#sourceOf.has(item)) return { admitted: true }
    const held = this.heldBy(source)
    if (held >= this.maxPerSource) return { admitted: false, full: 'source', held }
    let evicted: { item: T; source: string } | undefined
    if (this.#sourceOf.size >= this.max) {
      let largest: string | undefined
      let most = 0
      for (const [s, items] of this.#bySource) {
        if (items.size > most) {
          most = items.size
          largest = s
        }
      }
      // Taking one from the largest holder must leave it holding more than this source will.
      if (largest === undefined || most < held + 2) return { admitted: false, full: 'total', held }
      const oldest = (this.#bySource.get(largest) as Set<T>).values().next().value as T
      this.release(oldest)
      evicted = { item: oldest, source: largest }
    }
    let items = this.#bySource.get(source)
    if (items === undefined) {
      items = new Set()
      this.#bySource.set(source, items)
    }
    items.add(item)
    this.#sourceOf.set(item, source)
    return evicted === undefined ? { admitted: true } : { admitted: true, evicted }
  }

  /** Frees the slot of `item`; false when it held none (never admitted, evicted, or released before). */
  release(item: T): boolean {
    const source = this.#sourceOf.get(item)
    if (source === undefined) return false
    this.#sourceOf.delete(item)
    const items = this.#bySource.get(source) as Set<T>
    items.delete(item)
    if (items.size === 0) this.#bySource.delete(source)
    return true
  }

  /** Every item holding a slot (for closing them all). */
  items(): IterableIterator<T> {
    return this.#sourceOf.keys()
  }

  /** Frees every slot. */
  clear(): void {
    this.#bySource.clear()
    this.#sourceOf.clear()
  }
}

/**
 * The source key of a remote IP address for {@link HandshakeSlots}: an IPv4 address as it is
 * (also when IPv4-mapped: `::ffff:10.0.0.1` is `10.0.0.1`), an IPv6 address as its /64 prefix
 * (`2001:db8:1:2::/64`), anything else (undefined, a path) as it is or `'?'`.
 */
export function sourceOf(address: string | undefined): string {
  if (address === undefined || address === '') return '?'
  if (isIPv4(address)) return address
  if (!isIPv6(address)) return address
  const lower = address.toLowerCase()
  const zone = lower.indexOf('%')
  const ip = zone < 0 ? lower : lower.slice(0, zone)
  const g = expandIPv6(ip)
  if (g.slice(0, 5).every((x) => x === '0') && g[5] === 'ffff') {
    const hi = Number.parseInt(g[6] as string, 16)
    const lo = Number.parseInt(g[7] as string, 16)
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  return `${g.slice(0, 4).join(':')}::/64`
}

/** The eight groups of an IPv6 address, without leading zeros (an embedded IPv4 tail becomes two groups). */
function expandIPv6(ip: string): string[] {
  let text = ip
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.split('::') as [string, string | undefined]
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const zeros = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0')
  return [...left, ...zeros, ...right].map((g) => (Number.parseInt(g, 16) || 0).toString(16))
}
