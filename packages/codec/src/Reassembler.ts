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
}

interface Pending {
  readonly totalLength: number
  received: number
  readonly chunks: Uint8Array[]
}

/**
 * Rebuilds envelopes that were split into {@link FragmentPdu}s. Fragments of one message must
 * arrive in order (offset 0 first, each continuing where the previous ended); fragments of
 * different messages may interleave. Memory is bounded: a message declaring more than
 * `maxMessageSize`, more buffered bytes than `maxBufferedBytes` or more incomplete messages than
 * `maxPendingMessages` is refused and its partial state dropped, and bytes are buffered only as
 * they arrive (a small fragment declaring a large total allocates nothing up front).
 */
export class Reassembler {
  readonly #options: ReassemblerOptions
  readonly #pending = new Map<number, Pending>()
  #buffered = 0

  constructor(options: ReassemblerOptions) {
    this.#options = options
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
      pending = { totalLength, received: 0, chunks: [] }
      this.#pending.set(messageId, pending)
    } else if (pending.totalLength !== totalLength || pending.received !== offset) {
      this.discard(messageId)
      throw new FragmentOutOfOrderError(messageId, `fragment of message ${messageId} at ${offset}, expected ${pending.received}`)
    }
    if (this.#buffered + chunk.length > options.maxBufferedBytes) {
      this.discard(messageId)
      throw new ReassemblyOverflowError(messageId, `reassembly would buffer more than ${options.maxBufferedBytes} bytes`)
    }
    pending.chunks.push(Uint8Array.prototype.slice.call(chunk))
    pending.received += chunk.length
    this.#buffered += chunk.length
    if (pending.received < totalLength) return undefined
    this.#pending.delete(messageId)
    this.#buffered -= totalLength
    return Buffer.concat(pending.chunks, totalLength)
  }

  /** Drops the partial state of one message. */
  discard(messageId: number): void {
    const pending = this.#pending.get(messageId)
    if (pending === undefined) return
    this.#pending.delete(messageId)
    this.#buffered -= pending.received
  }

  /** Drops every incomplete message (e.g. when the connection carrying them closes). */
  clear(): void {
    this.#pending.clear()
    this.#buffered = 0
  }
}
