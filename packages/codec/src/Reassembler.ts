import { CorruptedFrameError, FragmentOutOfOrderError, MessageTooLargeError, ReassemblyOverflowError } from './errors.js'
import type { FragmentPdu } from './Pdu.js'

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
  readonly chunks: Uint8Array[]
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
 */
export class Reassembler {
  readonly #options: ReassemblerOptions
  readonly #pending = new Map<number, Pending>()
  #buffered = 0
  /** The message whose fragment is being added (never evicted to make room for itself). */
  #growing: number | undefined
  /** Called with what {@link evictStalest} dropped, for the owner to report it. */
  onEvict: ((messageId: number, bytes: number) => void) | undefined
  #budget: ReassemblyBudget | undefined

  constructor(options: ReassemblerOptions) {
    this.#options = options
    this.#budget = options.budget
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

  /** Bytes currently buffered for incomplete messages. */
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
      pending = { totalLength, received: 0, chunks: [], touched: 0 }
      this.#pending.set(messageId, pending)
    } else if (pending.totalLength !== totalLength || pending.received !== offset) {
      this.discard(messageId)
      throw new FragmentOutOfOrderError(messageId, `fragment of message ${messageId} at ${offset}, expected ${pending.received}`)
    }
    if (this.#buffered + chunk.length > options.maxBufferedBytes) {
      this.discard(messageId)
      throw new ReassemblyOverflowError(messageId, `reassembly would buffer more than ${options.maxBufferedBytes} bytes`)
    }
    pending.touched = ++progress
    const budget = this.#budget
    if (budget !== undefined) {
      this.#growing = messageId
      let granted: boolean
      try {
        granted = budget.acquire(this, chunk.length)
      } finally {
        this.#growing = undefined
      }
      if (!granted) {
        this.discard(messageId)
        throw new ReassemblyOverflowError(messageId, 'reassembly would exceed the memory budget shared with other peers')
      }
    }
    pending.chunks.push(Uint8Array.prototype.slice.call(chunk))
    pending.received += chunk.length
    this.#buffered += chunk.length
    if (pending.received < totalLength) return undefined
    this.#pending.delete(messageId)
    this.#buffered -= totalLength
    budget?.release(this, totalLength)
    return Buffer.concat(pending.chunks, totalLength)
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
    const bytes = (this.#pending.get(stalest) as Pending).received
    this.discard(stalest)
    this.onEvict?.(stalest, bytes)
    return bytes
  }

  /** Drops the partial state of one message. */
  discard(messageId: number): void {
    const pending = this.#pending.get(messageId)
    if (pending === undefined) return
    this.#pending.delete(messageId)
    this.#buffered -= pending.received
    if (pending.received > 0) this.#budget?.release(this, pending.received)
  }

  /** Drops every incomplete message (e.g. when the connection carrying them closes, or the association ends). */
  clear(): void {
    this.#pending.clear()
    const freed = this.#buffered
    this.#buffered = 0
    if (freed > 0) this.#budget?.release(this, freed)
  }
}
