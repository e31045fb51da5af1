import { CompressionConflictError, CompressionTableFullError, CompressionUnknownIndexError } from '../errors.js'
import type { CompressionTableKind } from '../Pdu.js'

/** Protocol limit: indexes are `0 <= index < MAX_COMPRESSION_ENTRIES` (per table and generation). */
export const MAX_COMPRESSION_ENTRIES = 4096
/** Protocol limit: a compressed value is at most this many UTF-8 bytes. */
export const MAX_COMPRESSED_VALUE_BYTES = 1024
/** Protocol limit: the values of one table of one generation total at most this many UTF-8 bytes (1 MiB). */
export const MAX_COMPRESSION_TABLE_BYTES = 1024 * 1024
/** Protocol limit: compression generations are numbered 0, 1, 2, ... below 2^32. */
export const MAX_COMPRESSION_GENERATION = 0xffffffff
/** Protocol limit: a receiver holds at most this many generations of one direction's tables. */
export const MAX_INBOUND_GENERATIONS = 2
/** Default of `compressionGenerationMs`: the shortest life of a generation (docs/PROTOCOL.md §5). */
export const DEFAULT_COMPRESSION_GENERATION_MS = 5_000

/**
 * Estimated heap bytes of one table entry beyond its string's characters: the string's header,
 * the map and array slots that hold it, and (outbound) the use counters. Measured on Node 20
 * x64 with 4,096 entries of 60 to 200 characters (outbound ~30 B, inbound ~20 B plus the array
 * slot), rounded up.
 */
const OUTBOUND_ENTRY_BYTES = 64
const INBOUND_ENTRY_BYTES = 24
/** Estimated heap bytes of one pre-allocation hit counter beyond its string. */
const HIT_ENTRY_BYTES = 48

/** Heap bytes of a string's characters: one byte each for Latin-1 strings, two otherwise (V8). */
function charBytes(value: string): number {
  // A quick upper bound would be 2 x length; most paths are ASCII, so look for a wide char.
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0xff) return 2 * value.length
  return value.length
}

function utf8Bytes(value: string): number {
  return Buffer.byteLength(value, 'utf8')
}

/** Use counters per index: the current window and the one before (cheap to bump in the encoder). */
function grow(array: Uint32Array<ArrayBuffer>, minLength: number, max: number): Uint32Array<ArrayBuffer> {
  if (array.length >= minLength) return array
  const out = new Uint32Array(Math.min(max, Math.max(16, minLength, array.length * 2)))
  out.set(array)
  return out
}

const ALLOCATED = 0
const TOO_LONG = 1
const NO_ROOM = 2

/** One generation of one outbound table: index -> value, and which entries the peer acked. */
class OutGeneration {
  readonly number: number
  readonly indexOf = new Map<string, number>()
  readonly values: string[] = []
  /** Acked entries: usable in envelopes of this generation. */
  readonly usable = new Map<string, number>()
  /** UTF-8 bytes of the values (protocol limit {@link MAX_COMPRESSION_TABLE_BYTES}). */
  bytes = 0
  /** Estimated heap bytes. */
  heap = 0
  uses = new Uint32Array(0)
  previousUses = new Uint32Array(0)
  /** Allocated, not yet advertised. */
  pending: [number, string][] = []
  /** A new generation is advertised even when it starts empty (so that the peer acks it). */
  announce = false
  /** Some advertisement of it was acked. */
  announced = false
  /** The first `seedSize` entries were carried over from the previous generation; `seedLeft` of them are not acked yet. */
  seedSize = 0
  seedLeft = 0

  constructor(number: number) {
    this.number = number
  }

  add(value: string, bytes: number, maxEntries: number): number {
    const index = this.values.length
    this.values.push(value)
    this.indexOf.set(value, index)
    this.bytes += bytes
    this.heap += charBytes(value) + OUTBOUND_ENTRY_BYTES
    this.uses = grow(this.uses, index + 1, maxEntries)
    this.previousUses = grow(this.previousUses, index + 1, maxEntries)
    this.pending.push([index, value])
    return index
  }
}

/** An advertisement handed out by {@link OutboundCompressionTable.takeAdvertisements}. */
export interface OutboundAdvertisement {
  readonly generation: number
  readonly version: number
  readonly entries: [number, string][]
}

/**
 * The sending side of one table (actor paths or manifests) of one association, in generations.
 *
 * Within a generation: a value written `compressAfter` times gets the next free index; the index
 * is advertised, and used in envelopes only once the peer has acked the advertisement (the peer
 * applies it before it acks, so an index never arrives before its meaning, whatever lane each
 * travels on). Indexes are never rebound within a generation, which makes advertisements
 * idempotent: repeated or reordered ones are harmless.
 *
 * Across generations (driven by {@link OutboundCompression}): a new generation is seeded with the
 * values used recently, hottest first, and advertised; envelopes keep using the current one until
 * the peer has acked the whole seed (of both tables), then switch. New values go to the new
 * generation from the moment it is started.
 */
export class OutboundCompressionTable {
  readonly kind: CompressionTableKind
  readonly #maxEntries: number
  readonly #compressAfter: number
  #current = new OutGeneration(0)
  #next: OutGeneration | undefined
  /** `#current.usable` and `#current.uses`, for the encoder's hot path. */
  #usable = this.#current.usable
  #uses = this.#current.uses
  readonly #hits = new Map<string, number>()
  #hitsHeap = 0
  readonly #unacked = new Map<number, { gen: OutGeneration; entries: [number, string][]; at: number }>()
  /** The time of the owner's last tick: advertisements taken since are stamped with it. */
  now = 0
  #version = 0
  #closed = false
  /** Values that reached `compressAfter` but found no room (a reason to start a new generation). */
  demand = 0
  /** Values written through {@link lookup} (envelope fields, refs or manifests inside messages). */
  written = 0
  /** Of them, written as an index. */
  compressed = 0

  constructor(kind: CompressionTableKind, maxEntries: number, compressAfter: number) {
    this.kind = kind
    this.#maxEntries = Math.max(1, Math.min(maxEntries, MAX_COMPRESSION_ENTRIES))
    this.#compressAfter = Math.max(1, compressAfter)
  }

  /** The usable index for `value` in the current generation, or -1 (and the use counts towards allocating one). */
  lookup(value: string): number {
    this.written++
    const index = this.#usable.get(value)
    if (index !== undefined) {
      this.compressed++
      ;(this.#uses[index] as number)++
      return index
    }
    if (this.#closed) return -1
    const target = this.#next ?? this.#current
    if (target.indexOf.has(value)) return -1
    const hits = (this.#hits.get(value) ?? 0) + 1
    if (hits >= this.#compressAfter) {
      // a full table refuses at once (no byte count of the value on every send)
      if (target.values.length >= this.#maxEntries || this.#allocate(target, value) === NO_ROOM) this.demand++
    } else {
      // a bounded count: one-off values (temporary ask actors) must not grow it forever
      if (this.#hits.size >= this.#maxEntries * 4) this.#clearHits()
      if (!this.#hits.has(value)) this.#hitsHeap += charBytes(value) + HIT_ENTRY_BYTES
      this.#hits.set(value, hits)
    }
    return -1
  }

  /**
   * Allocates an index for `value` now (e.g. right after the handshake) in the generation being
   * filled; false if that generation is full, the value too long, or the table released.
   */
  allocate(value: string): boolean {
    if (this.#closed) return false
    return this.#allocate(this.#next ?? this.#current, value) === ALLOCATED
  }

  /** True when entries (or a new generation) wait to be advertised. */
  get hasPending(): boolean {
    const target = this.#next ?? this.#current
    return target.pending.length > 0 || target.announce
  }

  /**
   * Takes what waits to be advertised as advertisements of at most `maxBytes` each (estimated),
   * each under a version of its own (an ack makes usable exactly what that PDU carried).
   */
  takeAdvertisements(maxBytes: number): OutboundAdvertisement[] {
    const target = this.#next ?? this.#current
    if (target.pending.length === 0 && !target.announce) return []
    const out: OutboundAdvertisement[] = []
    let entries: [number, string][] = []
    let size = 48
    const flush = (): void => {
      const version = ++this.#version
      this.#unacked.set(version, { gen: target, entries, at: this.now })
      out.push({ generation: target.number, version, entries })
    }
    for (const entry of target.pending) {
      const entrySize = 8 + utf8Bytes(entry[1])
      if (size + entrySize > maxBytes && entries.length > 0) {
        flush()
        entries = []
        size = 48
      }
      entries.push(entry)
      size += entrySize
    }
    if (entries.length > 0 || out.length === 0) flush()
    target.pending = []
    target.announce = false
    return out
  }

  /**
   * Marks the entries of advertisement `version` of `generation` usable in that generation;
   * repeated, unknown or mismatched acks are ignored.
   */
  onAck(generation: number, version: number): void {
    const sent = this.#unacked.get(version)
    if (sent === undefined || sent.gen.number !== generation) return
    this.#unacked.delete(version)
    const gen = sent.gen
    if (gen !== this.#current && gen !== this.#next) return
    gen.announced = true
    for (const [index, value] of sent.entries) {
      if (gen.usable.has(value)) continue
      gen.usable.set(value, index)
      if (index < gen.seedSize) gen.seedLeft--
    }
  }

  /**
   * Queues the unacked entries of the generation being filled again, under new versions (call on a
   * resend timer): those stamped `sentBefore` or earlier (default: all). Unacked advertisements of
   * another generation are forgotten.
   */
  requeueUnacked(sentBefore = Number.POSITIVE_INFINITY): void {
    const target = this.#next ?? this.#current
    for (const [version, sent] of this.#unacked) {
      if (sent.gen === target && sent.at > sentBefore) continue
      this.#unacked.delete(version)
      if (sent.gen !== target) continue
      if (sent.entries.length === 0) target.announce = true
      else target.pending.push(...sent.entries)
    }
  }

  /** Starts the window of use counts anew (the previous window is kept): call every `windowMs`. */
  rollWindow(): void {
    const g = this.#current
    const previous = g.previousUses
    g.previousUses = g.uses
    previous.fill(0)
    g.uses = previous
    this.#uses = previous
  }

  /** Entries of the current generation unused in this window and the previous one (acked entries only). */
  coldEntries(): number {
    const g = this.#current
    let cold = 0
    for (let i = 0; i < g.values.length; i++) {
      if ((g.uses[i] as number) + (g.previousUses[i] as number) === 0 && g.usable.has(g.values[i] as string)) cold++
    }
    return cold
  }

  /** Indexes the current generation holds. */
  get allocated(): number {
    return this.#current.values.length
  }

  /** The current generation has 7/8 of its indexes or bytes taken: time to make room before values are refused. */
  get nearlyFull(): boolean {
    const g = this.#current
    return g.values.length * 8 >= this.#maxEntries * 7 || g.bytes * 8 >= MAX_COMPRESSION_TABLE_BYTES * 7
  }

  /** Indexes a generation may hold. */
  get capacity(): number {
    return this.#maxEntries
  }

  /**
   * Starts generation `number`: seeded with the entries of the current one used in this window or
   * the previous one, or allocated and not yet acked (values in demand), hottest first.
   */
  beginGeneration(number: number): void {
    const cur = this.#current
    const next = new OutGeneration(number)
    const hot: number[] = []
    for (let i = 0; i < cur.values.length; i++) {
      const value = cur.values[i] as string
      if ((cur.uses[i] as number) + (cur.previousUses[i] as number) > 0 || !cur.usable.has(value)) hot.push(i)
    }
    const heat = (i: number): number => (cur.uses[i] as number) + (cur.previousUses[i] as number)
    hot.sort((x, y) => heat(y) - heat(x) || x - y)
    for (const i of hot) {
      const value = cur.values[i] as string
      next.add(value, utf8Bytes(value), this.#maxEntries)
    }
    next.seedSize = next.seedLeft = hot.length
    next.announce = true
    // what the current generation did not advertise yet is in the seed instead
    cur.pending = []
    this.#next = next
  }

  /** The generation being advertised has its seed acked (and was acked at all). */
  get nextReady(): boolean {
    const n = this.#next
    return n !== undefined && n.announced && n.seedLeft <= 0
  }

  /** Envelopes use the new generation from now on; the previous one is dropped. */
  switchGeneration(): void {
    const n = this.#next
    if (n === undefined) return
    this.#current = n
    this.#next = undefined
    this.#usable = n.usable
    this.#uses = n.uses
    for (const [version, sent] of this.#unacked) if (sent.gen !== n) this.#unacked.delete(version)
  }

  /** Drops every entry and counter for good: lookups return -1 from now on, nothing is advertised. */
  release(): void {
    this.#closed = true
    this.#current = new OutGeneration(this.#current.number)
    this.#next = undefined
    this.#usable = this.#current.usable
    this.#uses = this.#current.uses
    this.#unacked.clear()
    this.#clearHits()
  }

  /** Number of usable (acked) entries of the current generation. */
  get size(): number {
    return this.#usable.size
  }

  /** Estimated heap bytes held by this table (every generation, pending counts). */
  get heapBytes(): number {
    return this.#current.heap + (this.#next?.heap ?? 0) + this.#hitsHeap
  }

  #clearHits(): void {
    this.#hits.clear()
    this.#hitsHeap = 0
  }

  #allocate(target: OutGeneration, value: string): typeof ALLOCATED | typeof TOO_LONG | typeof NO_ROOM {
    if (target.indexOf.has(value)) return ALLOCATED
    const bytes = utf8Bytes(value)
    if (bytes > MAX_COMPRESSED_VALUE_BYTES) return TOO_LONG
    if (target.values.length >= this.#maxEntries || target.bytes + bytes > MAX_COMPRESSION_TABLE_BYTES) return NO_ROOM
    target.add(value, bytes, this.#maxEntries)
    if (target === this.#current) this.#uses = target.uses
    if (this.#hits.delete(value)) this.#hitsHeap = Math.max(0, this.#hitsHeap - charBytes(value) - HIT_ENTRY_BYTES)
    return ALLOCATED
  }
}

/**
 * The sending side of one direction of an association: both tables, which generation envelopes
 * use, and when to start the next one. {@link tick} (on a timer) rolls the use windows, resends
 * unacked advertisements and decides; {@link onAck} switches once the new generation's seed is
 * acked in both tables.
 *
 * A new generation is started when a table has 7/8 of its room taken (or none left for values in
 * demand) and at least an eighth of its entries went unused for a window (`generationMs` to twice
 * that), or, to give memory back, when a generation has lived 12 windows and half of a table's
 * entries (at least 64) are unused. Never sooner than `generationMs` after the previous switch: the receiver keeps the
 * previous generation at least that long for envelopes still in flight.
 */
export class OutboundCompression {
  readonly refs: OutboundCompressionTable
  readonly manifests: OutboundCompressionTable
  readonly #generationMs: number
  /** The generation envelopes are written in. */
  #generation = 0
  #next: number | undefined
  #switchedAt: number | undefined
  #windowAt = 0
  #recheckAt = 0
  #now = 0
  #closed = false

  constructor(maxEntries: number, compressAfter: number, generationMs: number) {
    this.refs = new OutboundCompressionTable('actor-ref', maxEntries, compressAfter)
    this.manifests = new OutboundCompressionTable('manifest', maxEntries, compressAfter)
    this.#generationMs = Math.max(1, generationMs)
  }

  /** The generation envelopes are written in now. */
  get generation(): number {
    return this.#generation
  }

  /** The generation being advertised, if any. */
  get nextGeneration(): number | undefined {
    return this.#next
  }

  table(kind: CompressionTableKind): OutboundCompressionTable {
    return kind === 'actor-ref' ? this.refs : this.manifests
  }

  /** Applies the peer's ack; switches generations once the new one is acked in both tables. */
  onAck(kind: CompressionTableKind, generation: number, version: number): void {
    this.table(kind).onAck(generation, version)
    if (this.#next !== undefined && this.refs.nextReady && this.manifests.nextReady) {
      this.refs.switchGeneration()
      this.manifests.switchGeneration()
      this.#generation = this.#next
      this.#next = undefined
      this.#switchedAt = this.#now
      this.#recheckAt = this.#now
    }
  }

  /**
   * Starts a new generation now (whatever the timing rules); false when one is being advertised
   * already, the generation numbers are used up, or the tables were released.
   */
  startGeneration(): boolean {
    if (this.#closed || this.#next !== undefined || this.#generation >= MAX_COMPRESSION_GENERATION) return false
    const next = this.#generation + 1
    this.refs.beginGeneration(next)
    this.manifests.beginGeneration(next)
    this.#next = next
    return true
  }

  /**
   * Call on a timer (e.g. every heartbeat interval) with a monotonic clock in ms; unacked
   * advertisements sent `resendAfterMs` ago or earlier go again.
   */
  tick(now: number, resendAfterMs = 0): void {
    this.#now = now
    if (this.#closed) return
    if (this.#switchedAt === undefined) {
      this.#switchedAt = now
      this.#windowAt = now
    }
    if (now - this.#windowAt >= this.#generationMs) {
      this.refs.rollWindow()
      this.manifests.rollWindow()
      this.#windowAt = now
    }
    this.refs.requeueUnacked(now - resendAfterMs)
    this.manifests.requeueUnacked(now - resendAfterMs)
    this.refs.now = now
    this.manifests.now = now
    if (this.#next !== undefined || now - this.#switchedAt < this.#generationMs || now < this.#recheckAt) return
    const pressed = (t: OutboundCompressionTable): boolean => t.demand > 0 || t.nearlyFull
    const pressure = pressed(this.refs) || pressed(this.manifests)
    const reclaim = now - this.#switchedAt >= 12 * this.#generationMs
    if (pressure || reclaim) {
      const worth = (t: OutboundCompressionTable): boolean => {
        if (pressed(t) && t.coldEntries() >= Math.max(1, Math.floor(t.capacity / 8))) return true
        return reclaim && t.allocated >= 64 && t.coldEntries() >= Math.max(64, t.allocated / 2)
      }
      if (!(worth(this.refs) || worth(this.manifests)) || !this.startGeneration()) this.#recheckAt = now + this.#generationMs
    }
    this.refs.demand = 0
    this.manifests.demand = 0
  }

  /** Drops both tables for good. */
  release(): void {
    this.#closed = true
    this.#next = undefined
    this.refs.release()
    this.manifests.release()
  }
}

/** One generation of one inbound table. */
/** @internal */
export class InGeneration {
  readonly number: number
  readonly values: (string | undefined)[] = []
  size = 0
  bytes = 0
  heap = 0
  constructor(number: number) {
    this.number = number
  }
}

/**
 * The receiving side of one table: index -> value per generation, as advertised by the peer.
 * Envelopes select the generation their indexes belong to ({@link selectGeneration}); applying
 * an advertisement is atomic (all entries or none) and idempotent.
 */
export class InboundCompressionTable {
  readonly kind: CompressionTableKind
  readonly #owner: InboundCompression
  /** Held generations, oldest first. */
  #generations: InGeneration[] = [new InGeneration(0)]
  #selected: InGeneration | undefined = this.#generations[0]
  #selectedNumber = 0

  /** Use {@link InboundCompression}. */
  constructor(kind: CompressionTableKind, owner: InboundCompression) {
    this.kind = kind
    this.#owner = owner
  }

  /** Selects the generation of the envelope being decoded, in both tables of the direction. */
  selectGeneration(generation: number): void {
    if (generation !== this.#selectedNumber) this.#owner.select(generation)
  }

  /** @internal */
  select(generation: number): boolean {
    this.#selectedNumber = generation
    this.#selected = this.#generations.find((g) => g.number === generation)
    return this.#selected !== undefined
  }

  /**
   * The value bound to `index` in the selected generation.
   * @throws {CompressionUnknownIndexError} no such index (or a generation no longer held).
   */
  get(index: number): string {
    const value = this.#selected?.values[index]
    if (value === undefined) throw new CompressionUnknownIndexError(this.kind, index)
    return value
  }

  /** @internal Holds generation `number` (empty) from now on. */
  create(number: number): void {
    this.#generations.push(new InGeneration(number))
    if (number === this.#selectedNumber) this.#selected = this.#generations[this.#generations.length - 1]
  }

  /** @internal Drops every generation below `number`. */
  freeBelow(number: number): void {
    this.#generations = this.#generations.filter((g) => g.number >= number)
    if (this.#selected !== undefined && this.#selected.number < number) this.#selected = undefined
  }

  /**
   * Applies advertised entries to generation `number` (which the caller made sure is held), unless
   * `admit` refuses the estimated heap bytes they add (false: nothing changed).
   * @throws {CompressionTableFullError} an index, value or total beyond the protocol limits.
   * @throws {CompressionConflictError} an index already bound to another value.
   */
  apply(number: number, entries: readonly (readonly [number, string])[], admit?: (heapBytes: number) => boolean): boolean {
    const gen = this.#generations.find((g) => g.number === number)
    if (gen === undefined) throw new CompressionTableFullError(`${this.kind} compression generation ${number} is not held`)
    const { added, heap } = this.check(entries, gen)
    if (heap > 0 && admit !== undefined && !admit(heap)) return false
    for (const [index, value] of entries) {
      if (gen.values[index] !== undefined) continue
      // up to 4096 slots: fill a gap with undefined so that it stays a plain array
      while (gen.values.length < index) gen.values.push(undefined)
      gen.values[index] = value
      gen.size++
    }
    gen.bytes += added
    gen.heap += heap
    return true
  }

  /**
   * @internal Checks advertised entries against the limits and against `gen` (default: an empty
   * generation); returns the bytes they add.
   * @throws the errors of {@link apply}.
   */
  check(entries: readonly (readonly [number, string])[], gen?: InGeneration): { added: number; heap: number } {
    let added = 0
    let heap = 0
    const seen = entries.length > 1 ? new Map<number, string>() : undefined
    for (const [index, value] of entries) {
      if (!Number.isInteger(index) || index < 0 || index >= MAX_COMPRESSION_ENTRIES) {
        throw new CompressionTableFullError(`${this.kind} compression index ${index} outside 0..${MAX_COMPRESSION_ENTRIES - 1}`)
      }
      const bytes = utf8Bytes(value)
      if (bytes > MAX_COMPRESSED_VALUE_BYTES) {
        throw new CompressionTableFullError(`${this.kind} compression value longer than ${MAX_COMPRESSED_VALUE_BYTES} bytes`)
      }
      const existing = gen?.values[index]
      if (existing !== undefined && existing !== value) throw new CompressionConflictError(this.kind, index)
      if (seen !== undefined) {
        const earlier = seen.get(index)
        if (earlier !== undefined && earlier !== value) throw new CompressionConflictError(this.kind, index)
        if (earlier !== undefined) continue
        seen.set(index, value)
      }
      if (existing === undefined) {
        added += bytes
        heap += charBytes(value) + INBOUND_ENTRY_BYTES
      }
    }
    if ((gen?.bytes ?? 0) + added > MAX_COMPRESSION_TABLE_BYTES) {
      throw new CompressionTableFullError(
        `${this.kind} compression table would hold more than ${MAX_COMPRESSION_TABLE_BYTES} bytes of values in one generation`,
      )
    }
    return { added, heap }
  }

  /** Number of bound indexes in generation `number` (default: the one the peer's envelopes use now). */
  sizeOf(number: number): number {
    return this.#generations.find((g) => g.number === number)?.size ?? 0
  }

  /** Estimated heap bytes of every generation held. */
  get heapBytes(): number {
    let n = 0
    for (const g of this.#generations) n += g.heap + 8 * g.values.length
    return n
  }

  /** @internal Drops everything. */
  release(): void {
    this.#generations = []
    this.#selected = undefined
    this.#selectedNumber = -1
  }
}

/**
 * The receiving side of one direction: both tables, in at most {@link MAX_INBOUND_GENERATIONS}
 * generations. An advertisement may open the generation after the newest held (which frees all
 * but the newest), never one further; one of a generation no longer held is ignored (a late
 * resend). The generation before the one the peer's envelopes use is freed `drainMs` after the
 * first envelope of the newer one arrived (envelopes of it may still be in flight on another lane
 * until then); an envelope of a generation no longer held decodes if it holds no index, and fails
 * alone otherwise (`ERR_COMPRESSION_UNKNOWN_INDEX`).
 */
export class InboundCompression {
  readonly refs: InboundCompressionTable
  readonly manifests: InboundCompressionTable
  readonly #drainMs: number
  #oldest = 0
  #newest = 0
  /** The newest generation an envelope used, and since when (tick time). */
  #inUse = 0
  #inUseSince = 0
  #now = 0
  #closed = false
  /** Asked before entries are added: false leaves the advertisement unapplied (and unacked). */
  admit: ((heapBytes: number) => boolean) | undefined

  constructor(drainMs: number) {
    this.refs = new InboundCompressionTable('actor-ref', this)
    this.manifests = new InboundCompressionTable('manifest', this)
    this.#drainMs = drainMs
  }

  /** The newest generation the peer's envelopes used. */
  get inUse(): number {
    return this.#inUse
  }

  /** Generations held. */
  get held(): number {
    return this.#closed ? 0 : this.#newest - this.#oldest + 1
  }

  /** @internal See {@link InboundCompressionTable.selectGeneration}. */
  select(generation: number): void {
    const held = this.refs.select(generation)
    this.manifests.select(generation)
    if (held && generation > this.#inUse) {
      this.#inUse = generation
      this.#inUseSince = this.#now
    }
  }

  /**
   * Applies an advertisement of the peer. Returns false when it was ignored (a generation no
   * longer held, released tables, or {@link admit} refused the room): no ack is owed then, and the
   * peer goes on writing those values in full.
   * @throws {CompressionTableFullError} beyond the limits (a generation more than one ahead, an index, value or size).
   * @throws {CompressionConflictError} an index already bound to another value in that generation.
   */
  apply(kind: CompressionTableKind, generation: number, entries: readonly (readonly [number, string])[]): boolean {
    if (this.#closed || generation < this.#oldest) return false
    if (generation > this.#newest + 1 || generation > MAX_COMPRESSION_GENERATION) {
      throw new CompressionTableFullError(`compression generation ${generation} advertised while the newest is ${this.#newest}`)
    }
    const table = kind === 'actor-ref' ? this.refs : this.manifests
    if (generation === this.#newest + 1) {
      // checked (and admitted) before the generation opens: a refused advertisement changes nothing
      const { heap } = table.check(entries)
      if (heap > 0 && this.admit !== undefined && !this.admit(heap)) return false
      this.#open(generation)
      return table.apply(generation, entries)
    }
    return table.apply(generation, entries, this.admit)
  }

  /** Call on a timer with a monotonic clock in ms: frees what envelopes in flight can no longer need. */
  tick(now: number): void {
    this.#now = now
    if (!this.#closed && this.#inUse > this.#oldest && now - this.#inUseSince >= this.#drainMs) this.#freeBelow(this.#inUse)
  }

  /** Drops everything for good: advertisements are ignored, indexes fail. */
  release(): void {
    this.#closed = true
    this.refs.release()
    this.manifests.release()
  }

  #open(generation: number): void {
    this.refs.create(generation)
    this.manifests.create(generation)
    this.#newest = generation
    if (this.#newest - this.#oldest + 1 > MAX_INBOUND_GENERATIONS) this.#freeBelow(this.#newest - MAX_INBOUND_GENERATIONS + 1)
  }

  #freeBelow(generation: number): void {
    this.refs.freeBelow(generation)
    this.manifests.freeBelow(generation)
    this.#oldest = generation
  }
}
