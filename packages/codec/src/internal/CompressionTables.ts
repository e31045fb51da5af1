import { CompressionConflictError, CompressionTableFullError, CompressionUnknownIndexError } from '../errors.js'
import type { CompressionTableKind } from '../Pdu.js'

/** Protocol limit: indexes are `0 <= index < MAX_COMPRESSION_ENTRIES`. */
export const MAX_COMPRESSION_ENTRIES = 4096
/** Protocol limit: a compressed value is at most this many UTF-8 bytes. */
export const MAX_COMPRESSED_VALUE_BYTES = 1024

/**
 * The sending side of one table (actor paths or manifests) of one association.
 *
 * A value seen `compressAfter` times gets the next free index; the index is advertised, and used
 * in envelopes only once the peer has acked the advertisement (the peer applies it before it
 * acks, so an index never arrives before its meaning, whatever lane each travels on). Indexes
 * are never rebound within an association, which makes advertisements idempotent: repeated or
 * reordered ones are harmless.
 */
export class OutboundCompressionTable {
  readonly kind: CompressionTableKind
  readonly #maxEntries: number
  readonly #compressAfter: number
  /** value -> index, only for acked (usable) entries. */
  readonly #usable = new Map<string, number>()
  /** value -> index for every allocated entry. */
  readonly #allocated = new Map<string, number>()
  readonly #hits = new Map<string, number>()
  #pending: [number, string][] = []
  readonly #unacked = new Map<number, [number, string][]>()
  #nextIndex = 0
  #version = 0

  constructor(kind: CompressionTableKind, maxEntries: number, compressAfter: number) {
    this.kind = kind
    this.#maxEntries = Math.min(maxEntries, MAX_COMPRESSION_ENTRIES)
    this.#compressAfter = Math.max(1, compressAfter)
  }

  /** The usable index for `value`, or -1 (and the use is counted towards allocating one). */
  lookup(value: string): number {
    const index = this.#usable.get(value)
    if (index !== undefined) return index
    if (this.#allocated.has(value) || this.#nextIndex >= this.#maxEntries) return -1
    const hits = (this.#hits.get(value) ?? 0) + 1
    if (hits >= this.#compressAfter) {
      this.allocate(value)
    } else {
      // a bounded count: one-off values (temporary ask actors) must not grow it forever
      if (this.#hits.size >= this.#maxEntries * 4) this.#hits.clear()
      this.#hits.set(value, hits)
    }
    return -1
  }

  /** Allocates an index for `value` now (e.g. right after the handshake); false if the table is full or the value too long. */
  allocate(value: string): boolean {
    if (this.#allocated.has(value)) return true
    if (this.#nextIndex >= this.#maxEntries || Buffer.byteLength(value, 'utf8') > MAX_COMPRESSED_VALUE_BYTES) return false
    const index = this.#nextIndex++
    this.#allocated.set(value, index)
    this.#hits.delete(value)
    this.#pending.push([index, value])
    return true
  }

  /** Takes the entries allocated since the last call as one advertisement (or undefined). */
  /** True when entries wait to be advertised. */
  get hasPending(): boolean {
    return this.#pending.length > 0
  }

  takeAdvertisement(): { version: number; entries: [number, string][] } | undefined {
    if (this.#pending.length === 0) return undefined
    const entries = this.#pending
    this.#pending = []
    const version = ++this.#version
    this.#unacked.set(version, entries)
    return { version, entries }
  }

  /** Marks the entries of advertisement `version` usable; repeated or unknown versions are ignored. */
  onAck(version: number): void {
    const entries = this.#unacked.get(version)
    if (entries === undefined) return
    this.#unacked.delete(version)
    for (const [index, value] of entries) this.#usable.set(value, index)
  }

  /** Queues every unacked entry again, under a new version (call on a resend timer). */
  requeueUnacked(): void {
    for (const entries of this.#unacked.values()) this.#pending.push(...entries)
    this.#unacked.clear()
  }

  /** Number of usable (acked) entries. */
  get size(): number {
    return this.#usable.size
  }
}

/**
 * The receiving side of one table: index -> value as advertised by the peer. Applying an
 * advertisement is atomic (all entries or none) and idempotent.
 */
export class InboundCompressionTable {
  readonly kind: CompressionTableKind
  readonly #values: (string | undefined)[] = []

  constructor(kind: CompressionTableKind) {
    this.kind = kind
  }

  /**
   * The value bound to `index`.
   * @throws {CompressionUnknownIndexError} no such (or a stale) index.
   */
  get(index: number): string {
    const value = this.#values[index]
    if (value === undefined) throw new CompressionUnknownIndexError(this.kind, index)
    return value
  }

  /**
   * Applies advertised entries.
   * @throws {CompressionTableFullError} an index or value beyond the protocol limits.
   * @throws {CompressionConflictError} an index already bound to another value.
   */
  apply(entries: readonly (readonly [number, string])[]): void {
    for (const [index, value] of entries) {
      if (!Number.isInteger(index) || index < 0 || index >= MAX_COMPRESSION_ENTRIES) {
        throw new CompressionTableFullError(`${this.kind} compression index ${index} outside 0..${MAX_COMPRESSION_ENTRIES - 1}`)
      }
      if (Buffer.byteLength(value, 'utf8') > MAX_COMPRESSED_VALUE_BYTES) {
        throw new CompressionTableFullError(`${this.kind} compression value longer than ${MAX_COMPRESSED_VALUE_BYTES} bytes`)
      }
      const existing = this.#values[index]
      if (existing !== undefined && existing !== value) throw new CompressionConflictError(this.kind, index)
    }
    if (entries.length > 1) {
      const seen = new Map<number, string>()
      for (const [index, value] of entries) {
        const earlier = seen.get(index)
        if (earlier !== undefined && earlier !== value) throw new CompressionConflictError(this.kind, index)
        seen.set(index, value)
      }
    }
    for (const [index, value] of entries) this.#values[index] = value
  }

  /** Number of bound indexes. */
  get size(): number {
    let n = 0
    for (const v of this.#values) if (v !== undefined) n++
    return n
  }
}
