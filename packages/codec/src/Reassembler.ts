import { CorruptedFrameError, FragmentOutOfOrderError, MessageTooLargeError, ReassemblyOverflowError } from './errors.js'
import type { FragmentPdu } from './Pdu.js'
import { ReassemblyArena } from './ReassemblyArena.js'

/** Limits of a {@link Reassembler}. */
export interface ReassemblerOptions {
  /** Largest message accepted after reassembly (default 16 MiB). */
  readonly maxMessageSize: number
  /** Bytes buffered at most across all incomplete messages of the association (default 2 x maxMessageSize). */
  readonly maxBufferedBytes: number
  /** Incomplete messages kept at most at once (default 8). */
  readonly maxPendingMessages: number
  /** Memory shared with other reassemblers (e.g. of every peer of a node), if any: see {@link ReassemblyBudget}. */
  readonly budget?: ReassemblyBudget
  /** Where the fragments are kept (default {@link ReassemblyArena.shared}, one per process). */
  readonly arena?: ReassemblyArena
}

/**
 * Memory that several {@link Reassembler}s share, e.g. one budget for all the peers of a node.
 * A reassembler asks it before buffering each fragment and gives back what it frees; the budget
 * may make room by evicting the stalest incomplete message of any reassembler
 * ({@link Reassembler.evictStalest}).
 */
export interface ReassemblyBudget {
  /** `owner` wants to buffer `bytes` more: true to go ahead, false to refuse (that message is dropped). */
  acquire(owner: Reassembler, bytes: number): boolean
  /** `owner` freed `bytes`. */
  release(owner: Reassembler, bytes: number): void
}

interface Pending {
  readonly totalLength: number
  received: number
  /** The arena's cells holding the bytes received, in order. */
  readonly cells: number[]
  /** When it last grew, in {@link progress} ticks (the smallest is the stalest). */
  touched: number
}

/** A counter shared by all reassemblers: which incomplete message grew last, across peers. */
let progress = 0

/**
 * Rebuilds envelopes that were split into {@link FragmentPdu}s. Fragments of one message must
 * arrive in order (offset 0 first, each continuing where the previous ended); fragments of
 * different messages may interleave. Memory is bounded: a message declaring more than
 * `maxMessageSize`, more buffered bytes than `maxBufferedBytes` or more incomplete messages than
 * `maxPendingMessages` is refused and its partial state dropped, and bytes are buffered only as
 * they arrive (a small fragment declaring a large total allocates nothing up front). With a
 * {@link ReassemblyBudget}, every buffered byte is also accounted there.
 *
 * Fragments are copied into the cells of a {@link ReassemblyArena}, and buffered bytes are counted
 * in whole cells (what they really hold: a 10-byte fragment holds one 4 KiB cell with the default
 * arena); what is dropped goes back to the arena, which gives empty slabs back to the system.
 */
export class Reassembler {
  readonly #options: ReassemblerOptions
  readonly #pending = new Map<number, Pending>()
  /** Bytes received of the incomplete messages (what maxBufferedBytes bounds). */
  #received = 0
  /** Bytes of the arena's cells holding them (what the budget accounts). */
  #buffered = 0
  /** The message whose fragment is being added (never evicted to make room for itself). */
  #growing: number | undefined
  /** Called with what {@link evictStalest} dropped, for the owner to report it. */
  onEvict: ((messageId: number, bytes: number) => void) | undefined
  #budget: ReassemblyBudget | undefined
  readonly #arena: ReassemblyArena

  constructor(options: ReassemblerOptions) {
    this.#options = options
    this.#budget = options.budget
    this.#arena = options.arena ?? ReassemblyArena.shared
  }

  /** Accounts this reassembler's buffers in `budget` from now on (what it holds now is moved there). */
  useBudget(budget: ReassemblyBudget): void {
    if (budget === this.#budget) return
    const held = this.#buffered
    if (held > 0) {
      this.#budget?.release(this, held)
      this.#budget = undefined
      if (!budget.acquire(this, held)) this.clear() // no room there: what it held goes
    }
    this.#budget = budget
  }

  /**
   * Bytes currently held for incomplete messages: whole cells of the arena, what the budget
   * accounts (`maxBufferedBytes` bounds the bytes received, without the rounding).
   */
  get bufferedBytes(): number {
    return this.#buffered
  }

  /** Number of incomplete messages. */
  get pendingMessages(): number {
    return this.#pending.size
  }

  /**
   * Adds a fragment; returns the complete envelope payload when this was its last fragment.
   *
   * @throws {MessageTooLargeError} the declared total exceeds maxMessageSize.
   * @throws {FragmentOutOfOrderError} the fragment does not continue its message.
   * @throws {ReassemblyOverflowError} the buffer bounds would be exceeded.
   * @throws {CorruptedFrameError} inconsistent lengths.
   */
  push(fragment: FragmentPdu): Uint8Array | undefined {
    const { messageId, totalLength, offset, chunk } = fragment
    const options = this.#options
    let pending = this.#pending.get(messageId)
    if (totalLength > options.maxMessageSize) {
      this.discard(messageId)
      throw new MessageTooLargeError(totalLength, options.maxMessageSize)
    }
    if (chunk.length === 0 || offset + chunk.length > totalLength) {
      this.discard(messageId)
      throw new CorruptedFrameError(`fragment [${offset}, ${offset + chunk.length}) outside message of ${totalLength} bytes`)
    }
    if (pending === undefined) {
      if (offset !== 0) throw new FragmentOutOfOrderError(messageId, `first fragment of message ${messageId} starts at ${offset}`)
      if (this.#pending.size >= options.maxPendingMessages) {
        throw new ReassemblyOverflowError(messageId, `more than ${options.maxPendingMessages} fragmented messages pending`)
      }
      pending = { totalLength, received: 0, cells: [], touched: 0 }
      this.#pending.set(messageId, pending)
    } else if (pending.totalLength !== totalLength || pending.received !== offset) {
      this.discard(messageId)
      throw new FragmentOutOfOrderError(messageId, `fragment of message ${messageId} at ${offset}, expected ${pending.received}`)
    }
    const arena = this.#arena
    const newCells = arena.cellsFor(offset + chunk.length) - pending.cells.length
    const bytes = newCells * arena.cellBytes
    if (this.#received + chunk.length > options.maxBufferedBytes) {
      this.discard(messageId)
      throw new ReassemblyOverflowError(messageId, `reassembly would buffer more than ${options.maxBufferedBytes} bytes`)
    }
    pending.touched = ++progress
    const budget = this.#budget
    if (budget !== undefined && bytes > 0) {
      this.#growing = messageId
      let granted: boolean
      try {
        granted = budget.acquire(this, bytes)
      } finally {
        this.#growing = undefined
      }
      if (!granted) {
        this.discard(messageId)
        throw new ReassemblyOverflowError(messageId, 'reassembly would exceed the memory budget shared with other peers')
      }
    }
    for (let i = 0; i < newCells; i++) pending.cells.push(arena.take())
    this.#buffered += bytes
    arena.write(pending.cells, offset, chunk)
    pending.received += chunk.length
    this.#received += chunk.length
    if (pending.received < totalLength) return undefined
    const message = Buffer.allocUnsafe(totalLength)
    arena.read(pending.cells, totalLength, message)
    this.#drop(messageId, pending)
    return message
  }

  /** When the stalest incomplete message last grew (a {@link ReassemblyBudget} compares them); Infinity when none could be evicted. */
  get stalest(): number {
    let min = Number.POSITIVE_INFINITY
    for (const [id, p] of this.#pending) if (id !== this.#growing && p.received > 0 && p.touched < min) min = p.touched
    return min
  }

  /**
   * Drops the incomplete message that grew least recently (never the one being added to), reports
   * it to {@link onEvict}, and returns the bytes freed (0 when there was none).
   */
  evictStalest(): number {
    let stalest: number | undefined
    let min = Number.POSITIVE_INFINITY
    for (const [id, p] of this.#pending) {
      if (id !== this.#growing && p.received > 0 && p.touched < min) {
        min = p.touched
        stalest = id
      }
    }
    if (stalest === undefined) return 0
    const pending = this.#pending.get(stalest) as Pending
    const bytes = pending.cells.length * this.#arena.cellBytes
    this.#drop(stalest, pending)
    this.onEvict?.(stalest, bytes)
    return bytes
  }

  /** Drops the partial state of one message. */
  discard(messageId: number): void {
    const pending = this.#pending.get(messageId)
    if (pending !== undefined) this.#drop(messageId, pending)
  }

  /** Drops every incomplete message (e.g. when the connection carrying them closes, or the association ends). */
  clear(): void {
    for (const [id, pending] of this.#pending) this.#drop(id, pending)
  }

  /** Forgets `pending` and gives its cells back to the arena and its bytes back to the budget. */
  #drop(messageId: number, pending: Pending): void {
    this.#pending.delete(messageId)
    const bytes = pending.cells.length * this.#arena.cellBytes
    for (const cell of pending.cells) this.#arena.give(cell)
    pending.cells.length = 0
    this.#buffered -= bytes
    this.#received -= pending.received
    if (bytes > 0) this.#budget?.release(this, bytes)
  }
}
